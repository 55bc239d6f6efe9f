//! The backup archive's format, written and read whole: one file, every byte of it covered by a
//! SHA-256, so that a flipped byte, a truncated copy or a stray tail is named, never restored.
//!
//! ```text
//! "SESAMEBK"                      8 bytes, the magic
//! format                          u32, big-endian (FORMAT)
//! manifest length                 u32, big-endian (at most MAX_MANIFEST)
//! manifest                        JSON (Manifest): versions, time, database kind, members
//! members                         each member's bytes, in the manifest's order
//! SHA-256                         32 bytes, of everything before it
//! ```
//!
//! Each member also has its own SHA-256 and size in the manifest. An archive is written to a
//! hidden temporary file beside its destination (mode 0600: it holds private keys), synced, then
//! renamed into place; it never replaces a file. Reading checks the length first (truncation is
//! told as such), then extracts each member while hashing it, then the whole file's hash.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sesame_base::private_file;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The first bytes of every archive.
pub const MAGIC: &[u8; 8] = b"SESAMEBK";
/// The format this server writes and reads.
pub const FORMAT: u32 = 1;
/// The largest manifest read, in bytes.
const MAX_MANIFEST: u32 = 1 << 20;
/// The magic, the format and the manifest's length.
const HEADER_LEN: u64 = 16;
/// The final SHA-256.
const TRAILER_LEN: u64 = 32;

/// Which database the server used, and so whether the archive holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// The embedded database, in the archive as `sesame.db`.
    Sqlite,
    /// PostgreSQL: not in the archive; `pg_dump` backs it up beside it.
    Postgresql,
}

impl DatabaseKind {
    /// Its name in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgresql => "postgresql",
        }
    }
}

/// What an archive holds, written at its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The archive format ([`FORMAT`]).
    pub format: u32,
    /// The version of the sesame-server that wrote it.
    pub sesame_version: String,
    /// The database's schema version (its last migration), when the archive holds it.
    pub schema_version: Option<i64>,
    /// When the backup was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Which database the server used.
    pub database: DatabaseKind,
    /// The files, in the order their bytes follow the manifest.
    pub members: Vec<Member>,
}

impl Manifest {
    /// The member named `name`, if the archive holds it.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its file name (no directory).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256, in lowercase hexadecimal.
    pub sha256: String,
    /// Whether it is a secret. Every file is restored with mode 0600; the flag stays in the
    /// format, which older archives and servers share.
    pub private: bool,
}

/// Where a member's bytes come from when an archive is written.
pub enum Source {
    /// Bytes read already (a key: wiped when dropped, never shown by `Debug`).
    Bytes(zeroize::Zeroizing<Vec<u8>>),
    /// A file, streamed (the database snapshot).
    File(PathBuf),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes(bytes) => write!(f, "Bytes([REDACTED; {}])", bytes.len()),
            Source::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// A member to write.
#[derive(Debug)]
pub struct Entry {
    /// Its file name.
    pub name: &'static str,
    /// Whether it is a secret.
    pub private: bool,
    /// Its bytes.
    pub source: Source,
}

/// Why an archive could not be written or read. Each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The destination exists already.
    #[error("{path} exists already: choose another name (a backup never replaces a file)")]
    Exists {
        /// The destination.
        path: String,
    },
    /// The file does not start with the magic.
    #[error("{path} is not a Sesame backup archive (it does not start with SESAMEBK)")]
    NotAnArchive {
        /// The file.
        path: String,
    },
    /// A format this server does not read.
    #[error(
        "{path} is in archive format {found}; this sesame-server reads format {FORMAT}: use the \
         version that wrote it"
    )]
    UnknownFormat {
        /// The file.
        path: String,
        /// Its format.
        found: u32,
    },
    /// The file is shorter than its header and manifest say.
    #[error(
        "{path} is truncated: it should be {expected} bytes long and is {actual} (an interrupted \
         copy or a full disk?)"
    )]
    Truncated {
        /// The file.
        path: String,
        /// Its length as written.
        expected: u64,
        /// Its length now.
        actual: u64,
    },
    /// The file is longer than its manifest says.
    #[error("{path} has {extra} bytes after the archive's end: it is not the file as written")]
    TrailingBytes {
        /// The file.
        path: String,
        /// How many.
        extra: u64,
    },
    /// The manifest cannot be read.
    #[error("{path}: the manifest is damaged ({reason})")]
    Manifest {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A member's bytes do not match its SHA-256.
    #[error(
        "{path}: member {member} does not match its SHA-256 in the manifest: the archive is damaged"
    )]
    MemberChecksum {
        /// The file.
        path: String,
        /// The member.
        member: String,
    },
    /// The file does not match its final SHA-256.
    #[error(
        "{path}: the archive's final SHA-256 does not match its contents: the archive is damaged"
    )]
    Checksum {
        /// The file.
        path: String,
    },
}

/// An I/O error on `path`.
fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io { path: path.display().to_string(), source }
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The size and SHA-256 of a source.
fn measure(source: &Source) -> io::Result<(u64, String)> {
    match source {
        Source::Bytes(bytes) => Ok((bytes.len() as u64, hex::encode(Sha256::digest(bytes)))),
        Source::File(path) => {
            let mut hashing = Hashing { inner: io::sink(), hash: Sha256::new() };
            let size = io::copy(&mut BufReader::new(File::open(path)?), &mut hashing)?;
            Ok((size, hex::encode(hashing.hash.finalize())))
        }
    }
}

/// Writes an archive of `entries` at `out` (mode 0600, never over an existing file) with
/// `manifest`'s fields, its members filled in, and returns the manifest written.
pub fn write(
    out: &Path,
    mut manifest: Manifest,
    entries: &[Entry],
) -> Result<Manifest, ArchiveError> {
    if out.exists() {
        return Err(ArchiveError::Exists { path: out.display().to_string() });
    }
    manifest.members.clear();
    for entry in entries {
        let path = match &entry.source {
            Source::File(path) => path.as_path(),
            Source::Bytes(_) => out,
        };
        let (size, sha256) = measure(&entry.source).map_err(io_error(path))?;
        manifest.members.push(Member {
            name: entry.name.to_owned(),
            size,
            sha256,
            private: entry.private,
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Manifest {
        path: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let manifest_len =
        u32::try_from(json.len()).ok().filter(|n| *n <= MAX_MANIFEST).ok_or_else(|| {
            ArchiveError::Manifest {
                path: out.display().to_string(),
                reason: "too large".to_owned(),
            }
        })?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.partial"));
    let written = (|| {
        let file = private_file::create_with_mode(&tmp, private_file::PRIVATE_MODE)
            .map_err(io_error(&tmp))?;
        let mut w = Hashing { inner: BufWriter::new(file), hash: Sha256::new() };
        let mut put = |bytes: &[u8]| w.write_all(bytes).map_err(io_error(&tmp));
        put(MAGIC)?;
        put(&FORMAT.to_be_bytes())?;
        put(&manifest_len.to_be_bytes())?;
        put(&json)?;
        for entry in entries {
            match &entry.source {
                Source::Bytes(bytes) => w.write_all(bytes).map_err(io_error(&tmp))?,
                Source::File(path) => {
                    let mut file = BufReader::new(File::open(path).map_err(io_error(path))?);
                    io::copy(&mut file, &mut w).map_err(io_error(&tmp))?;
                }
            }
        }
        let Hashing { inner, hash } = w;
        let mut inner = inner;
        inner.write_all(&hash.finalize()).map_err(io_error(&tmp))?;
        let file = inner.into_inner().map_err(|e| io_error(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_error(&tmp))?;
        if out.exists() {
            return Err(ArchiveError::Exists { path: out.display().to_string() });
        }
        fs::rename(&tmp, out).map_err(io_error(out))?;
        private_file::sync_dir(dir).map_err(io_error(dir))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| manifest)
}

/// Whether a member name is a plain file name (no directory, nothing hidden).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A reader that hashes what goes through it.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads the archive at `path`: checks its header, manifest and length, extracts every member
/// into the directory `into` (each file 0600) while checking its SHA-256, then checks the whole
/// file's. On any error, what was extracted is the caller's to remove (a temporary directory).
pub fn extract(path: &Path, into: &Path) -> Result<Manifest, ArchiveError> {
    let shown = || path.display().to_string();
    let file = File::open(path).map_err(io_error(path))?;
    let actual = file.metadata().map_err(io_error(path))?.len();
    let mut reader = HashingReader { inner: BufReader::new(file), hash: Sha256::new() };
    let mut magic = [0u8; 8];
    if actual < 8 || reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(ArchiveError::NotAnArchive { path: shown() });
    }
    if actual < HEADER_LEN + TRAILER_LEN {
        return Err(ArchiveError::Truncated {
            path: shown(),
            expected: HEADER_LEN + TRAILER_LEN,
            actual,
        });
    }
    let mut number = || {
        let mut bytes = [0u8; 4];
        reader.read_exact(&mut bytes).map(|()| u32::from_be_bytes(bytes)).map_err(io_error(path))
    };
    let (format, manifest_len) = (number()?, number()?);
    if format != FORMAT {
        return Err(ArchiveError::UnknownFormat { path: shown(), found: format });
    }
    if manifest_len > MAX_MANIFEST {
        return Err(ArchiveError::Manifest {
            path: shown(),
            reason: format!("{manifest_len} bytes long, more than any archive's"),
        });
    }
    let with_manifest = HEADER_LEN + u64::from(manifest_len) + TRAILER_LEN;
    if actual < with_manifest {
        return Err(ArchiveError::Truncated { path: shown(), expected: with_manifest, actual });
    }
    let mut json = vec![0u8; manifest_len as usize];
    reader.read_exact(&mut json).map_err(io_error(path))?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| ArchiveError::Manifest { path: shown(), reason: e.to_string() })?;
    check_members(&manifest).map_err(|reason| ArchiveError::Manifest { path: shown(), reason })?;
    let expected = manifest
        .members
        .iter()
        .try_fold(with_manifest, |sum, m| sum.checked_add(m.size))
        .ok_or_else(|| ArchiveError::Manifest {
            path: shown(),
            reason: "member sizes overflow".to_owned(),
        })?;
    if actual < expected {
        return Err(ArchiveError::Truncated { path: shown(), expected, actual });
    }
    if actual > expected {
        return Err(ArchiveError::TrailingBytes { path: shown(), extra: actual - expected });
    }
    for member in &manifest.members {
        let target = into.join(&member.name);
        let file = private_file::create_with_mode(&target, private_file::PRIVATE_MODE)
            .map_err(io_error(&target))?;
        let mut w = Hashing { inner: BufWriter::new(file), hash: Sha256::new() };
        let copied =
            io::copy(&mut (&mut reader).take(member.size), &mut w).map_err(io_error(path))?;
        if copied != member.size {
            return Err(ArchiveError::Truncated { path: shown(), expected, actual });
        }
        let Hashing { inner, hash } = w;
        let file = inner.into_inner().map_err(|e| io_error(&target)(e.into_error()))?;
        file.sync_all().map_err(io_error(&target))?;
        if hex::encode(hash.finalize()) != member.sha256 {
            return Err(ArchiveError::MemberChecksum {
                path: shown(),
                member: member.name.clone(),
            });
        }
    }
    let HashingReader { inner: mut rest, hash } = reader;
    let mut trailer = [0u8; TRAILER_LEN as usize];
    rest.read_exact(&mut trailer).map_err(io_error(path))?;
    if hash.finalize()[..] != trailer[..] {
        return Err(ArchiveError::Checksum { path: shown() });
    }
    Ok(manifest)
}

/// Checks that the members have plain, distinct file names and well-formed checksums.
fn check_members(manifest: &Manifest) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for member in &manifest.members {
        if !plain_name(&member.name) {
            return Err(format!("member name {:?} is not a plain file name", member.name));
        }
        if !seen.insert(member.name.as_str()) {
            return Err(format!("member {} appears twice", member.name));
        }
        if member.sha256.len() != 64 || !member.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("member {} has no SHA-256", member.name));
        }
    }
    Ok(())
}
