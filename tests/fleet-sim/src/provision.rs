//! `provision`: bulk enrollment of simulated workstations for benchmarks, offline, on the server's
//! data directory: keys made here, certificates signed by the data directory's CA
//! (`keys::pki::bulk`, which needs `ca.key`, readable by the server's account only), rows written
//! straight into the server's database in one transaction with one audit record
//! (`store::bulk_provision`). Both exist only in builds with sesame-server's `bulk-provision`
//! feature, which this tool alone enables. Run it while the server is stopped, or on SQLite beside
//! it (the database waits for its writer).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::SecretString;
use sesame_base::clock::{Clock, SystemClock};
use sesame_server::data_dir::DataDir;
use sesame_server::domain::audit::Actor;
use sesame_server::domain::identifier::WorkstationId;
use sesame_server::domain::office::{Crpcen, NewOffice, Text};
use sesame_server::domain::workstation::IssuedCertificate;
use sesame_server::keys::pki::bulk::BulkIssuer;
use sesame_server::store::bulk_provision::{Batch, ProvisionedWorkstation, provision_workstations};
use sesame_server::store::{self, StoreOptions};

use crate::identities::{self, AgentIdentity};

/// What to provision.
#[derive(Debug, clap::Args)]
pub(crate) struct ProvisionArgs {
    /// The server's data directory (its CA signs the certificates).
    #[arg(long)]
    data_dir: PathBuf,
    /// The server's database URL; the SQLite file in the data directory when absent.
    #[arg(long, env = "SESAME_DATABASE__URL")]
    database_url: Option<String>,
    /// The office's CRPCEN (created when missing).
    #[arg(long, default_value = "99001")]
    office: String,
    /// How many workstations.
    #[arg(long)]
    count: usize,
    /// Workstations per office (0: all in `--office`); offices are numbered from `--office` on,
    /// as a fleet of many small offices is (a change in one office invalidates only its agents'
    /// cached answers).
    #[arg(long, default_value_t = 0)]
    per_office: usize,
    /// Certificate lifetime in hours.
    #[arg(long, default_value_t = 168)]
    cert_lifetime_hours: i64,
    /// The identities file to write (mode 0600).
    #[arg(long)]
    out: PathBuf,
}

/// Runs the command.
pub(crate) async fn run(args: ProvisionArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let office = Crpcen::parse(&args.office).context("--office: five digits")?;
    let dir = DataDir::at(&args.data_dir);
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite:{}", dir.database().display()),
    };
    let options = StoreOptions {
        url: SecretString::from(url),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(60),
    };
    let now = SystemClock.now();
    let per_office = if args.per_office == 0 { args.count.max(1) } else { args.per_office };
    let first: u32 = office.as_str().parse().context("--office: five digits")?;
    let office_of = |n: usize| -> anyhow::Result<Crpcen> {
        let number = first as usize + n / per_office;
        Crpcen::parse(&format!("{number:05}")).context("too many offices after --office")
    };
    let issuer = BulkIssuer::load(&dir).context("the data directory's CA (ca.pem, ca.key)")?;
    let lifetime = time::Duration::hours(args.cert_lifetime_hours);
    let mut rows = Vec::with_capacity(args.count);
    let mut agents = Vec::with_capacity(args.count);
    let mut random = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
    let prefix = hex::encode(random);
    for n in 0..args.count {
        // Unique across runs on one database: a random prefix, then the sequence number.
        let id = WorkstationId::parse("id", &format!("ws-{prefix}{n:08x}"))?;
        let office = office_of(n)?;
        let identity = issuer.issue(id.as_str(), office.as_str(), now, lifetime)?;
        rows.push(ProvisionedWorkstation {
            hostname: format!("sim-{prefix}-{n:06}"),
            public_key: identity.public_key,
            certificate: IssuedCertificate {
                serial: identity.certificate.serial,
                not_after: identity.certificate.not_after,
            },
            id: id.clone(),
        });
        agents.push(AgentIdentity {
            workstation_id: id.into_string(),
            office: office.to_string(),
            cert_pem: identity.certificate.pem,
            key_pem: identity.key_pem,
        });
    }
    let issued = started.elapsed();
    let offices: Vec<Crpcen> = (0..args.count.div_ceil(per_office))
        .map(|k| office_of(k * per_office))
        .collect::<anyhow::Result<_>>()?;
    ensure_offices(&options, &offices, now).await?;
    let batches: Vec<(Batch<'_>, &[ProvisionedWorkstation])> = offices
        .iter()
        .zip(rows.chunks(per_office))
        .map(|(office, chunk)| {
            let batch = Batch {
                office,
                os: "linux x86_64 (simulated)",
                agent_version: crate::AGENT_VERSION,
                at: now,
            };
            (batch, chunk)
        })
        .collect();
    provision_workstations(&options, &batches).await?;
    let stored = started.elapsed();
    identities::write(&args.out, &agents)?;
    out!(
        "provisioned {} workstations in {} office(s) from {office}: keys and certificates {:.2} s, database {:.2} s, total {:.2} s",
        args.count,
        args.count.div_ceil(per_office),
        issued.as_secs_f64(),
        (stored - issued).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates the offices that do not exist yet, on one connection.
async fn ensure_offices(
    options: &StoreOptions,
    offices: &[Crpcen],
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let store = store::connect(options).await?;
    for office in offices {
        match store.get_office(office).await {
            Ok(_) => {}
            Err(store::Error::NotFound) => {
                let new = NewOffice {
                    crpcen: office.clone(),
                    name: Text::parse("name", &format!("Simulated office {office}"))?,
                    city: None,
                };
                store.create_office(&new, &Actor::system(), now).await?;
            }
            Err(other) => return Err(other.into()),
        }
    }
    store.close().await;
    Ok(())
}
