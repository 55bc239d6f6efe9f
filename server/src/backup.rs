//! Backups of a server, taken while it runs (`sesame-server backup`), restored into a new data
//! directory (`restore`) and checked in a throw-away one (`verify`); `archive` is the file format.
//!
//! An archive holds what a server cannot be rebuilt without: the SQLite database (a consistent
//! snapshot, `store::snapshot`; with PostgreSQL, `pg_dump` backs the database up beside it), the
//! CA and server certificates and keys, the escrow key, the audit signing key, the last signed
//! head this server noted and the audit shipping positions. It holds private keys: it is written
//! with mode 0600 and must be kept like the data directory.
//!
//! The order keeps verification true: the keys, the noted head and the shipping positions are
//! read before the database is copied, so the copy holds every head the file notes and every
//! record shipped (a restored server may ship a record again, never skip one); the keys are read
//! again after, and a change (an `audit rotate-key` meanwhile) fails the backup.

pub mod archive;
pub mod restore;
#[cfg(test)]
mod tests;
pub mod verify;

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::store;
use archive::{ArchiveError, DatabaseKind, Entry, Manifest, Source};

/// The database's name in an archive (and in a default data directory).
pub const DATABASE: &str = "sesame.db";
/// The escrow key's name in an archive.
pub const ESCROW_KEY: &str = "escrow.key";
/// The audit signing key's name in an archive.
pub const AUDIT_SIGNING_KEY: &str = "audit-signing.key";

/// Every file an archive may hold but the database: its name (in the archive and in the data
/// directory), whether it is private, and whether every archive has it.
pub(crate) const FILES: &[(&str, bool, bool)] = &[
    ("ca.pem", false, true),
    ("ca.key", true, true),
    ("server.pem", false, false),
    ("server.key", true, false),
    (ESCROW_KEY, true, true),
    (AUDIT_SIGNING_KEY, true, true),
    ("admin.credentials", true, false),
    ("audit-head", true, false),
    ("audit-ship-syslog.position", false, false),
    ("audit-ship-file.position", false, false),
];

/// Why a backup could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The data directory does not exist.
    #[error("no data directory at {0}: give the one the server uses (--data-dir or --config)")]
    NoDataDir(String),
    /// A file every backup needs is missing.
    #[error("{0} is missing: is this the data directory of a server that has started once?")]
    Missing(String),
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be copied.
    #[error("cannot take a snapshot of the database {url}")]
    Snapshot {
        /// The database (no password).
        url: String,
        /// The cause.
        #[source]
        source: store::Error,
    },
    /// A key changed while the backup ran.
    #[error("{0} changed while the backup ran (a key rotation?): run the backup again")]
    KeyChanged(String),
    /// The archive could not be written.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Where a server keeps each file of an archive, from its configuration.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) data_dir: DataDir,
    /// The escrow key (`escrow_key_file`, else the data directory's).
    pub(crate) escrow_key: PathBuf,
    /// The audit signing key (`[audit] signing_key_file`, else the data directory's).
    pub(crate) audit_signing_key: PathBuf,
}

impl Layout {
    pub(crate) fn of(config: &Config) -> Layout {
        let data_dir = DataDir::at(&config.data_dir);
        Layout {
            escrow_key: config.escrow_key_file.clone().unwrap_or_else(|| data_dir.escrow_key()),
            audit_signing_key: config
                .audit
                .signing_key_file
                .clone()
                .unwrap_or_else(|| data_dir.audit_signing_key()),
            data_dir,
        }
    }

    /// Where the file named `name` in an archive lives.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        match name {
            ESCROW_KEY => self.escrow_key.clone(),
            AUDIT_SIGNING_KEY => self.audit_signing_key.clone(),
            other => self.data_dir.root().join(other),
        }
    }
}

/// The SQLite file a `sqlite:` URL names (`None` for PostgreSQL).
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// Reads a file into memory that is wiped when dropped; `None` when it does not exist.
fn read_file(path: &Path) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, BackupError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(zeroize::Zeroizing::new(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BackupError::Read { path: path.display().to_string(), source }),
    }
}

/// Takes a backup of the server `config` describes into a new archive at `out`, while it runs:
/// see the module's documentation for what it holds and in which order it is read.
pub async fn backup(
    config: &Config,
    out: &Path,
    now: OffsetDateTime,
) -> Result<Manifest, BackupError> {
    if !config.data_dir.is_dir() {
        return Err(BackupError::NoDataDir(config.data_dir.display().to_string()));
    }
    if out.exists() {
        return Err(ArchiveError::Exists { path: out.display().to_string() }.into());
    }
    let layout = Layout::of(config);
    let mut entries = Vec::new();
    for (name, private, required) in FILES {
        let path = layout.path_of(name);
        match read_file(&path)? {
            Some(bytes) => {
                entries.push(Entry { name, private: *private, source: Source::Bytes(bytes) })
            }
            None if *required => return Err(BackupError::Missing(path.display().to_string())),
            None => {}
        }
    }
    let url = config.effective_database_url();
    let url = url.expose_secret();
    let scratch_dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".sesame-backup-")
        .tempdir_in(scratch_dir)
        .map_err(|source| BackupError::Read { path: scratch_dir.display().to_string(), source })?;
    let (database, schema_version) = match sqlite_path(url) {
        Some(path) => {
            if !path.exists() {
                return Err(BackupError::Missing(path.display().to_string()));
            }
            let copy = scratch.path().join(DATABASE);
            let version = store::snapshot::snapshot_sqlite(url, &copy)
                .await
                .map_err(|source| BackupError::Snapshot { url: store::redact_url(url), source })?;
            entries.push(Entry { name: DATABASE, private: true, source: Source::File(copy) });
            (DatabaseKind::Sqlite, Some(version))
        }
        None => (DatabaseKind::Postgresql, None),
    };
    // Read again after the snapshot: a key replaced meanwhile would not match the copied chain.
    for key in [&layout.escrow_key, &layout.audit_signing_key, &layout.data_dir.ca_key()] {
        let before = entries.iter().find_map(|e| match &e.source {
            Source::Bytes(bytes) if layout.path_of(e.name) == *key => Some(bytes.as_slice()),
            _ => None,
        });
        if before != read_file(key)?.as_ref().map(|b| b.as_slice()) {
            return Err(BackupError::KeyChanged(key.display().to_string()));
        }
    }
    let manifest = Manifest {
        format: archive::FORMAT,
        sesame_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        created_at: now,
        database,
        members: Vec::new(),
    };
    let written = archive::write(out, manifest, &entries)?;
    drop(scratch);
    Ok(written)
}

/// A manifest as an administrator reads it.
#[derive(Debug)]
pub struct ManifestSummary<'a>(pub &'a Manifest);

impl fmt::Display for ManifestSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let created = m
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| m.created_at.to_string());
        writeln!(f, "  taken at {created} by sesame-server {}", m.sesame_version)?;
        match (m.database, m.schema_version) {
            (DatabaseKind::Sqlite, Some(v)) => {
                writeln!(f, "  database: SQLite, schema version {v}")?
            }
            (DatabaseKind::Sqlite, None) => writeln!(f, "  database: SQLite")?,
            (DatabaseKind::Postgresql, _) => writeln!(
                f,
                "  database: PostgreSQL, not in the archive (back it up with pg_dump: README)"
            )?,
        }
        for member in &m.members {
            let kind = if member.private { "private" } else { "public" };
            writeln!(
                f,
                "  {:<28} {:>12} bytes  {kind:<7}  sha256 {}",
                member.name, member.size, member.sha256
            )?;
        }
        Ok(())
    }
}
