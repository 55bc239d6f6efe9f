//! `setup-rotations`: work for the simulated agents' rotation path, through the real admin gRPC
//! API as sesamectl uses it (the credentials file the server wrote): M mailboxes imported into the
//! office, each assigned to one simulated workstation (the first M of the identities file), and a
//! provisional rotation issued for each, so that a `run` exercises `GetPendingRotations` and
//! `ReportSteps`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use sesame_base::credentials::Credentials;
use sesame_proto::v1 as pb;

use crate::identities;

/// Rows per import message.
const CHUNK_ROWS: usize = 1_000;

/// The settings.
#[derive(Debug, clap::Args)]
pub(crate) struct SetupArgs {
    /// The administrator's credentials file (`admin.credentials` in the data directory).
    #[arg(long)]
    credentials: PathBuf,
    /// The identities file written by `provision`.
    #[arg(long)]
    identities: PathBuf,
    /// How many mailboxes (and workstations given one each).
    #[arg(long)]
    mailboxes: usize,
    /// The mail domain the server is configured with.
    #[arg(long, default_value = "mailnot.fr")]
    mail_domain: String,
}

/// Runs the command.
pub(crate) async fn run(args: SetupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let identities = identities::read(&args.identities, Some(args.mailboxes))?;
    anyhow::ensure!(
        identities.len() == args.mailboxes,
        "the identities file holds only {} workstations",
        identities.len()
    );
    let office = identities[0].office.clone();
    let credentials = Credentials::read(&args.credentials)?;
    let mut client = sesamectl::connect(&credentials).await?;
    let suffix = format!("{}-{}", std::process::id(), started.elapsed().as_nanos() % 1_000_000);
    // Each mailbox in its workstation's office.
    let addresses: Vec<String> = identities
        .iter()
        .enumerate()
        .map(|(n, identity)| format!("sim{n}.p{suffix}@{}.{}", identity.office, args.mail_domain))
        .collect();
    let rows: Vec<pb::MailboxRow> = addresses
        .iter()
        .enumerate()
        .map(|(n, address)| pb::MailboxRow {
            line: n as u64 + 1,
            address: address.clone(),
            display_name: format!("Simulated {n}"),
            logon_name: String::new(),
            local_account: String::new(),
        })
        .collect();
    let chunks: Vec<pb::ImportMailboxesRequest> = rows
        .chunks(CHUNK_ROWS)
        .map(|chunk| pb::ImportMailboxesRequest { rows: chunk.to_vec(), dry_run: false })
        .collect();
    let imported = client
        .import_mailboxes(tokio_stream::iter(chunks))
        .await
        .context("importing the mailboxes")?
        .into_inner();
    for (address, identity) in addresses.iter().zip(&identities) {
        client
            .assign_workstation(pb::AssignWorkstationRequest {
                workstation_id: identity.workstation_id.clone(),
                mailbox: address.clone(),
                mailboxes: Vec::new(),
            })
            .await
            .with_context(|| format!("assigning {address}"))?;
    }
    let mut issued = 0;
    for address in &addresses {
        let answer = client
            .issue_provisional(pb::IssueProvisionalRequest {
                mailbox: address.clone(),
                office: String::new(),
            })
            .await
            .with_context(|| format!("issuing a provisional password for {address}"))?
            .into_inner();
        issued += answer.issued.len();
    }
    out!(
        "{} mailboxes imported ({} new) from office {office} on, assigned, {issued} provisional rotations issued, in {:.2} s",
        args.mailboxes,
        imported.created,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
