//! The durable record file shared by the journal and the outbox: an append-only file of framed
//! records, each `length (u32 LE) | checksum (8 bytes) | payload`, the checksum being the first 8
//! bytes of SHA-256 over the length and the payload.
//!
//! Every append is written and `fsync`ed before it returns; a new file's directory is synced too.
//! Opening reads every valid record; a torn or corrupt **last** record (a crash in the middle of
//! an append; a zero-filled tail) is cut off, but a corrupt record followed by others is refused
//! ([`RecordError::Corrupt`]): that is damage, not a crash, and guessing would lose state. A
//! failed append truncates the file back, so a later append never follows garbage. Rewriting
//! (compaction) goes through a temporary file, synced, renamed over, and the directory synced.
//! Files are 0600 on Unix.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The largest payload a record may carry.
pub const MAX_RECORD: usize = 1024 * 1024;
/// Bytes before the payload: length and checksum.
pub const HEADER: usize = 12;

/// Why a record file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The disk is full, read-only, over quota or not writable by the agent.
    #[error("cannot write {path}: {source}")]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Any other input/output error.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A damaged record is followed by valid ones: refused rather than guessed.
    #[error("{path} is corrupt at byte {offset}: a damaged record is followed by others")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
    },
    /// A payload over [`MAX_RECORD`].
    #[error("a record of {0} bytes is over the limit")]
    TooLarge(usize),
    /// An earlier append failed and could not be undone; the file is no longer appended to.
    #[error("{0} is unusable after a failed write")]
    Poisoned(PathBuf),
}

impl RecordError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> RecordError {
        use io::ErrorKind as K;
        match source.kind() {
            K::StorageFull | K::ReadOnlyFilesystem | K::QuotaExceeded | K::PermissionDenied
                if action != "read" =>
            {
                RecordError::Unwritable { path: path.to_owned(), source }
            }
            _ => RecordError::Io { action, path: path.to_owned(), source },
        }
    }

    /// Whether the storage refused a write (full, read-only, over quota, not allowed).
    pub fn is_unwritable(&self) -> bool {
        matches!(self, RecordError::Unwritable { .. } | RecordError::Poisoned(_))
    }
}

/// An open record file, positioned at its end.
#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    file: File,
    len: u64,
    poisoned: bool,
}

fn checksum(len: &[u8; 4], payload: &[u8]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(len);
    hasher.update(payload);
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// One framed record.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>, RecordError> {
    if payload.len() > MAX_RECORD {
        return Err(RecordError::TooLarge(payload.len()));
    }
    let len = u32::try_from(payload.len()).map_err(|_| RecordError::TooLarge(payload.len()))?;
    let len = len.to_le_bytes();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(&len, payload));
    out.extend_from_slice(payload);
    Ok(out)
}

/// The records of `bytes` and the length of the valid prefix; `Err(offset)` for a damaged record
/// followed by more data.
pub fn parse(bytes: &[u8]) -> Result<(Vec<Vec<u8>>, usize), usize> {
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            return Ok((records, at)); // a torn header
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&rest[..4]);
        let size = u32::from_le_bytes(len) as usize;
        let end = HEADER.saturating_add(size);
        if size > MAX_RECORD {
            return if rest.iter().all(|b| *b == 0) { Ok((records, at)) } else { Err(at) };
        }
        if rest.len() < end {
            return Ok((records, at)); // a torn payload
        }
        let payload = &rest[HEADER..end];
        if rest[4..HEADER] != checksum(&len, payload) {
            // The last record, or a zero-filled tail: a crash. Anything else: damage.
            let tail_is_zero = rest[end..].iter().all(|b| *b == 0);
            return if tail_is_zero { Ok((records, at)) } else { Err(at) };
        }
        records.push(payload.to_vec());
        at += end;
    }
    Ok((records, at))
}

fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, sesame_base::private_file::PRIVATE_MODE);
    options
}

/// Syncs the directory holding `path`, so that a creation or rename survives a crash.
fn sync_dir(path: &Path) -> Result<(), RecordError> {
    #[cfg(unix)]
    {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| RecordError::io("sync the directory of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl RecordFile {
    /// Opens (or creates) `path` and returns it with its valid records; a torn tail is cut off.
    pub fn open(path: &Path) -> Result<(RecordFile, Vec<Vec<u8>>), RecordError> {
        let created = !path.exists();
        let mut file =
            options().create(true).open(path).map_err(|e| RecordError::io("open", path, e))?;
        if created {
            file.sync_all().map_err(|e| RecordError::io("sync", path, e))?;
            sync_dir(path)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| RecordError::io("read", path, e))?;
        let (records, valid) = parse(&bytes)
            .map_err(|at| RecordError::Corrupt { path: path.to_owned(), offset: at as u64 })?;
        let len = valid as u64;
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), cut = bytes.len() - valid, "torn last record cut off");
            file.set_len(len).map_err(|e| RecordError::io("truncate", path, e))?;
            file.sync_all().map_err(|e| RecordError::io("sync", path, e))?;
        }
        file.seek(SeekFrom::Start(len)).map_err(|e| RecordError::io("seek", path, e))?;
        Ok((RecordFile { path: path.to_owned(), file, len, poisoned: false }, records))
    }

    /// Appends one record and syncs it before returning.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), RecordError> {
        if self.poisoned {
            return Err(RecordError::Poisoned(self.path.clone()));
        }
        let framed = frame(payload)?;
        let written = self.file.write_all(&framed).and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += framed.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Undo a partial write, so that the next append does not follow garbage.
                let undone = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.len)).map(|_| ()))
                    .and_then(|()| self.file.sync_all());
                if undone.is_err() {
                    self.poisoned = true;
                }
                Err(RecordError::io("append to", &self.path, error))
            }
        }
    }

    /// Replaces the whole file with `payloads`, atomically (temporary file, sync, rename,
    /// directory sync).
    pub fn rewrite<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), RecordError> {
        let mut bytes = Vec::new();
        for payload in payloads {
            bytes.extend_from_slice(&frame(payload)?);
        }
        sesame_base::private_file::write_private(&self.path, &bytes)
            .map_err(|e| RecordError::io("rewrite", &self.path, e))?;
        sync_dir(&self.path)?;
        let mut file =
            options().open(&self.path).map_err(|e| RecordError::io("open", &self.path, e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| RecordError::io("seek", &self.path, e))?;
        self.file = file;
        self.len = bytes.len() as u64;
        self.poisoned = false;
        Ok(())
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
