//! `sesame-server backup verify`: restores an archive into a throw-away directory (removed after,
//! whatever happens) and checks it as a restored server would use it: the manifest and every
//! checksum, the database's integrity (before it is migrated to this version's schema, as a
//! restored server would), what it holds, every escrowed password against the archive's escrow key,
//! and the whole audit chain and every signed head with the archive's audit signing key and noted
//! head (`Services::verify_audit`, as `sesamectl audit verify` does).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::archive::{self, ArchiveError, Manifest};
use super::restore::{RestoreError, check_manifest};
use super::{AUDIT_SIGNING_KEY, DATABASE, ESCROW_KEY, ManifestSummary};
use crate::data_dir::DataDir;
use crate::domain::admin::{Admin, AdminRole};
use crate::keys::audit_signing::AuditSigningKey;
use crate::keys::escrow::EscrowKey;
use crate::services::Services;
use crate::services::audit::{AuditTrail, ChainReport};
use crate::store::snapshot::{self, Inventory};
use crate::store::{self, StoreOptions};
use crate::{keys, services};
use sesame_base::clock::SharedClock;

/// Why an archive could not be checked at all (a problem found in what it holds is reported in
/// [`Verified::problems`] instead).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The archive is damaged, truncated or not an archive.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The manifest is not one a backup writes.
    #[error(transparent)]
    Manifest(#[from] RestoreError),
    /// The throw-away directory could not be made.
    #[error("cannot make a temporary directory in {path}")]
    Scratch {
        /// Where.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("the archive's database cannot be opened or migrated")]
    Database(#[source] store::Error),
    /// The escrow key does not load.
    #[error("the archive's escrow key does not load")]
    Escrow(#[from] keys::escrow::EscrowError),
    /// The audit signing key does not load.
    #[error("the archive's audit signing key does not load")]
    AuditKey(#[from] keys::audit_signing::AuditKeyError),
    /// The certificates do not load.
    #[error("the archive's certificates do not load")]
    Pki(#[from] keys::pki::Error),
    /// The audit trail could not be read.
    #[error("the audit trail cannot be read: {0:?}")]
    Audit(services::Error),
}

/// What a verification found.
#[derive(Debug)]
pub struct Verified {
    /// The archive's manifest (its checksums all matched).
    pub manifest: Manifest,
    /// The CA certificate's SHA-256 fingerprint, which agents pin.
    pub ca_fingerprint: String,
    /// The escrow key's id.
    pub escrow_key_id: String,
    /// The audit signing key's id.
    pub audit_key_id: String,
    /// The database's checks, when the archive holds it.
    pub database: Option<DatabaseChecks>,
    /// Every problem found; empty when the archive is sound.
    pub problems: Vec<String>,
}

impl Verified {
    /// Whether nothing is wrong.
    pub fn sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What the archive's database holds and how it checked.
#[derive(Debug)]
pub struct DatabaseChecks {
    /// Its schema version as backed up.
    pub schema_version: i64,
    /// The schema version it was migrated to for the checks.
    pub checked_at_version: i64,
    /// What it holds.
    pub inventory: Inventory,
    /// How many escrowed passwords the archive's escrow key opened.
    pub escrows_opened: usize,
    /// The audit trail's verification.
    pub chain: ChainReport,
}

/// An auditor that exists only for the verification (never stored).
fn verifier() -> Admin {
    Admin {
        id: 0,
        name: "backup-verify".to_owned(),
        role: AdminRole::Auditor,
        offices: Vec::new(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        revoked_at: None,
    }
}

/// Checks the archive at `path` in a temporary directory made in `scratch` (the system's
/// temporary directory when `None`) and removed before returning.
pub async fn verify(
    path: &Path,
    scratch: Option<&Path>,
    clock: SharedClock,
) -> Result<Verified, VerifyError> {
    let parent = scratch.map_or_else(std::env::temp_dir, Path::to_path_buf);
    let dir = tempfile::Builder::new()
        .prefix("sesame-backup-verify-")
        .tempdir_in(&parent)
        .map_err(|source| VerifyError::Scratch { path: parent.display().to_string(), source })?;
    let data = dir.path().join("data");
    sesame_base::private_file::create_private_dir(&data)
        .map_err(|source| VerifyError::Scratch { path: data.display().to_string(), source })?;
    let checked = check(path, &data, clock).await;
    // Removes the restored keys and database, whatever the outcome.
    drop(dir);
    checked
}

/// The checks, on the archive extracted into `data`.
async fn check(path: &Path, data: &Path, clock: SharedClock) -> Result<Verified, VerifyError> {
    let manifest = archive::extract(path, data)?;
    check_manifest(&manifest)?;
    let escrow = EscrowKey::load_or_create(&data.join(ESCROW_KEY), false)?;
    let audit_key = AuditSigningKey::load(&data.join(AUDIT_SIGNING_KEY))?;
    let data_dir = DataDir::at(data);
    let pki = keys::pki::load_or_create(&data_dir, &[], clock.now())?;
    let mut verified = Verified {
        ca_fingerprint: pki.ca_fingerprint.clone(),
        escrow_key_id: escrow.id().to_owned(),
        audit_key_id: audit_key.id().to_owned(),
        database: None,
        problems: Vec::new(),
        manifest,
    };
    if verified.manifest.member(DATABASE).is_none() {
        return Ok(verified);
    }
    let file = data.join(DATABASE);
    let before = snapshot::check_sqlite(&file).await.map_err(VerifyError::Database)?;
    for problem in &before.problems {
        verified.problems.push(format!("database integrity: {problem}"));
    }
    if verified.manifest.schema_version.is_some_and(|v| v != before.schema_version) {
        verified.problems.push(format!(
            "the database is at schema version {}, the manifest says {:?}",
            before.schema_version, verified.manifest.schema_version
        ));
    }
    if !before.problems.is_empty() {
        return Ok(verified);
    }
    let store = store::connect(&StoreOptions {
        url: SecretString::from(format!("sqlite:{}", file.display())),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(30),
    })
    .await
    .map_err(VerifyError::Database)?;
    let escrows_key = EscrowKey::load_or_create(&data.join(ESCROW_KEY), false)?;
    let services = Services {
        caches: services::cache::Caches::new(Default::default(), false),
        check_in_writer: services::check_in_writer::CheckInWriter::for_store(
            store.clone(),
            clock.clone(),
            Duration::from_secs(1),
        ),
        store,
        clock,
        mail_domain: Default::default(),
        pki: Arc::new(pki),
        agents: Default::default(),
        escrow: escrows_key,
        provisional_validity: time::Duration::days(1),
        rotation_period: time::Duration::days(1),
        audit: AuditTrail {
            key: audit_key,
            head_file: data_dir.audit_head(),
            sign_interval: Duration::from_secs(3600),
            shipping: Default::default(),
        },
        sign_in_limiter: Default::default(),
    };
    let chain = services.verify_audit(&verifier()).await;
    services.store.close().await;
    let chain = chain.map_err(VerifyError::Audit)?;
    for problem in &chain.problems {
        verified.problems.push(format!("audit trail: {problem}"));
    }
    if chain.problem_count > chain.problems.len() as u64 {
        verified.problems.push(format!(
            "audit trail: {} more problems",
            chain.problem_count - chain.problems.len() as u64
        ));
    }
    let inventory = snapshot::inventory(&file).await.map_err(VerifyError::Database)?;
    let mut escrows_opened = 0;
    for (mailbox, rotation, sealed) in &inventory.escrows {
        match escrow.open(sealed, *mailbox, rotation) {
            Ok(_) => escrows_opened += 1,
            Err(_) => verified.problems.push(format!(
                "the escrowed password of rotation {rotation} does not open with the archive's \
                 escrow key (sealed by key {})",
                sealed.key_id
            )),
        }
    }
    verified.database = Some(DatabaseChecks {
        schema_version: before.schema_version,
        checked_at_version: snapshot::latest_schema_version().max(before.schema_version),
        inventory,
        escrows_opened,
        chain,
    });
    Ok(verified)
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Archive: format {}, every checksum matches", self.manifest.format)?;
        write!(f, "{}", ManifestSummary(&self.manifest))?;
        writeln!(f, "Keys: CA fingerprint {}", self.ca_fingerprint)?;
        writeln!(
            f,
            "  escrow key {}, audit signing key {}",
            self.escrow_key_id, self.audit_key_id
        )?;
        match &self.database {
            None if self.manifest.member(DATABASE).is_none() => writeln!(
                f,
                "Database: not in the archive (PostgreSQL): restore the pg_dump taken after this \
                 archive into a fresh database and run `sesamectl audit verify` there"
            )?,
            None => writeln!(f, "Database: damaged, not checked further")?,
            Some(db) => {
                let i = &db.inventory;
                writeln!(
                    f,
                    "Database: integrity ok, schema version {} (checked at version {})",
                    db.schema_version, db.checked_at_version
                )?;
                writeln!(
                    f,
                    "  {} offices, {} mailboxes, {} workstations, {} administrators",
                    i.offices, i.mailboxes, i.workstations, i.administrators
                )?;
                let rotations: Vec<String> =
                    i.rotations.iter().map(|(status, n)| format!("{n} {status}")).collect();
                let rotations =
                    if rotations.is_empty() { "none".to_owned() } else { rotations.join(", ") };
                writeln!(f, "  rotations: {rotations}")?;
                writeln!(
                    f,
                    "  escrowed passwords: {} of {} open with the archive's escrow key",
                    db.escrows_opened,
                    i.escrows.len()
                )?;
                let newest = db
                    .chain
                    .newest_head
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |h| format!("record {}", h.seq));
                writeln!(
                    f,
                    "Audit trail: {} records, {} signed heads checked (newest: {newest}), {} key \
                     rotations, key {}",
                    db.chain.records, db.chain.heads, db.chain.rotations, db.chain.key_id
                )?;
            }
        }
        if self.problems.is_empty() {
            writeln!(f, "The backup verifies: a server restored from it starts with all of this.")
        } else {
            writeln!(f, "THE BACKUP DOES NOT VERIFY: {} problem(s)", self.problems.len())?;
            for problem in &self.problems {
                writeln!(f, "  - {problem}")?;
            }
            Ok(())
        }
    }
}
