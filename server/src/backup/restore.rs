//! `sesame-server restore`: puts an archive's files where the configuration says a server keeps
//! them, into a data directory that holds no database and no key yet (never over one).
//!
//! The whole archive is checked (`archive::extract` into a staging directory inside the data
//! directory) before anything lands; each file is then written beside its place with its mode
//! (0600, certificates too: every file the server writes is private), synced and renamed; the database comes last, so that an
//! interrupted restore leaves no database a server could start on with missing keys.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::archive::{self, ArchiveError, DatabaseKind, Manifest};
use super::{DATABASE, FILES, Layout, sqlite_path};
use crate::config::Config;
use sesame_base::private_file;

/// Why an archive was not restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The destination already holds a database or keys.
    #[error(
        "refusing to restore over existing files: {}. Restore into a new data directory (and a \
         new database path), or stop the server and move these files aside first",
        .0.join(", ")
    )]
    NotEmpty(Vec<String>),
    /// The archive holds SQLite, the configuration names PostgreSQL (or the other way round).
    #[error(
        "the archive holds a {archive} backup, but the configuration's database is {configured}: \
         restore with the configuration the backup was taken with"
    )]
    WrongDatabase {
        /// What the archive holds.
        archive: &'static str,
        /// What the configuration names.
        configured: &'static str,
    },
    /// A member the archive must hold is missing, or one no server writes is there.
    #[error("the archive's manifest is not one sesame-server writes: {0}")]
    Unexpected(String),
    /// The archive is damaged or unreadable.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Writing a file failed.
    #[error("cannot write {path}")]
    Write {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What was restored where.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Each file written, in order.
    pub files: Vec<PathBuf>,
}

/// The error of writing `path`.
fn write_error(path: &Path) -> impl FnOnce(io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Write { path: path.display().to_string(), source }
}

/// Checks that the manifest's members are those a backup writes.
pub(crate) fn check_manifest(manifest: &Manifest) -> Result<(), RestoreError> {
    for member in &manifest.members {
        if member.name != DATABASE && !FILES.iter().any(|(name, _, _)| *name == member.name) {
            return Err(RestoreError::Unexpected(format!("unknown member {}", member.name)));
        }
    }
    for (name, _, required) in FILES {
        if *required && manifest.member(name).is_none() {
            return Err(RestoreError::Unexpected(format!("no {name}")));
        }
    }
    let has_database = manifest.member(DATABASE).is_some();
    if has_database != (manifest.database == DatabaseKind::Sqlite) {
        return Err(RestoreError::Unexpected(format!(
            "a {} backup {} a database",
            manifest.database.as_str(),
            if has_database { "with" } else { "without" }
        )));
    }
    Ok(())
}

/// Copies `from` to `to` through a temporary file beside it with mode 0600, synced, then renamed.
fn place(from: &Path, to: &Path) -> Result<(), RestoreError> {
    let dir = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.exists() {
        private_file::create_private_dir(dir).map_err(write_error(dir))?;
    }
    let mode = private_file::PRIVATE_MODE;
    fs::File::open(from)
        .and_then(|mut file| private_file::copy_atomic(to, &mut file, mode))
        .map_err(write_error(to))?;
    private_file::sync_dir(dir).map_err(write_error(dir))
}

/// Restores the archive at `from` where `config` says the server keeps its files (the data
/// directory, the SQLite database, the key files it names), refusing any that exists already.
pub fn restore(from: &Path, config: &Config) -> Result<Restored, RestoreError> {
    let layout = Layout::of(config);
    let url = config.effective_database_url();
    let database = sqlite_path(url.expose_secret());
    let mut targets: Vec<(&str, PathBuf)> =
        FILES.iter().map(|(name, _, _)| (*name, layout.path_of(name))).collect();
    let mut present: Vec<String> = targets
        .iter()
        .filter(|(name, path)| {
            // The shipping positions and the noted head alone do not make a server.
            !name.ends_with(".position") && path.exists()
        })
        .map(|(_, path)| path.display().to_string())
        .collect();
    if let Some(db) = &database {
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", db.display()));
            if path.exists() {
                present.push(path.display().to_string());
            }
        }
    }
    if !present.is_empty() {
        return Err(RestoreError::NotEmpty(present));
    }
    let root = layout.data_dir.root();
    private_file::create_private_dir(root).map_err(write_error(root))?;
    let staging =
        tempfile::Builder::new().prefix(".restore-").tempdir_in(root).map_err(write_error(root))?;
    let manifest = archive::extract(from, staging.path())?;
    check_manifest(&manifest)?;
    match (manifest.database, &database) {
        (DatabaseKind::Sqlite, None) => {
            return Err(RestoreError::WrongDatabase {
                archive: "SQLite",
                configured: "PostgreSQL",
            });
        }
        (DatabaseKind::Postgresql, Some(_)) => {
            return Err(RestoreError::WrongDatabase {
                archive: "PostgreSQL",
                configured: "SQLite",
            });
        }
        _ => {}
    }
    let mut files = Vec::new();
    targets.retain(|(name, _)| manifest.member(name).is_some());
    for (name, to) in &targets {
        place(&staging.path().join(name), to)?;
        files.push(to.clone());
    }
    if let Some(db) = database.filter(|_| manifest.member(DATABASE).is_some()) {
        place(&staging.path().join(DATABASE), &db)?;
        files.push(db);
    }
    drop(staging);
    Ok(Restored { manifest, files })
}
