//! The durable record file shared by the journal and the outbox: an append-only file of framed
//! records (`framing`: a magic, then `length | CRC of length | checksum | payload | end mark`)
//! that says when it is damaged.
//!
//! Every append is written and `fsync`ed before it returns; a new file's directory is synced too.
//! Opening cuts a torn tail (an unfinished last append, at the true end of the file) with a
//! warning. Any other damage is refused with [`RecordError::Corrupt`], naming the file and the
//! byte offset, after a copy of the file was kept beside it ([`keep_copy`],
//! `NAME.damaged-<time>`, 0600); nothing is cut or rewritten then, and the service does not
//! start. `sesame-agent journal-recover` (`crate::recovery`) salvages such a file with [`scan`].
//! A file in the previous framing (no magic, no length check) is read, then rewritten at once in
//! the current one through the atomic rewrite below (a compaction, logged).
//!
//! A failed append truncates the file back, so a later append never follows garbage. Rewriting
//! (compaction) goes through a temporary file, synced, renamed over, and the directory synced.
//! Files are 0600 on Unix.

mod framing;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[cfg(test)]
pub(crate) use framing::crc32c;
pub use framing::{
    Damage, END, HEADER, Lost, MAGIC, MAX_RECORD, Record, Scan, frame, framed_file, scan,
};

/// At most this many copies of one damaged file with the same time are kept.
const MAX_COPIES: u32 = 100;

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
    /// The file is damaged (not a torn tail): refused rather than guessed.
    #[error(
        "{path} is damaged at byte {offset} ({damage}, not a torn last record); nothing was cut \
         or rewritten; {}; run `sesame-agent journal-recover` to keep what can be read and see \
         what was lost",
        copy_note(.copy)
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong there.
        damage: Damage,
        /// The copy of the damaged file kept beside it, if it could be written.
        copy: Option<PathBuf>,
    },
    /// A payload over [`MAX_RECORD`].
    #[error("a record of {0} bytes is over the limit")]
    TooLarge(usize),
    /// An earlier append failed and could not be undone; the file is no longer appended to.
    #[error("{0} is unusable after a failed write")]
    Poisoned(PathBuf),
}

fn copy_note(copy: &Option<PathBuf>) -> String {
    match copy {
        Some(copy) => format!("a copy is kept as {}", copy.display()),
        None => "a copy could not be written (see the log)".to_owned(),
    }
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

/// `YYYYMMDDTHHMMSSZ`, UTC.
fn stamp(at: std::time::SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Keeps a copy of the damaged file `path` (whose content is `bytes`) beside it, as
/// `NAME.damaged-YYYYMMDDTHHMMSSZ`, 0600, synced. The time is the damaged file's own
/// modification time, so that a service restarted in a loop keeps one copy, not one per start;
/// an identical copy already there is reused, a different one gets a `-2`, `-3`... suffix.
pub fn keep_copy(path: &Path, bytes: &[u8]) -> Result<PathBuf, RecordError> {
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| RecordError::io("read the time of", path, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = format!("{name}.damaged-{}", stamp(modified));
    for n in 1..=MAX_COPIES {
        let copy = path.with_file_name(if n == 1 { base.clone() } else { format!("{base}-{n}") });
        match fs::read(&copy) {
            Ok(existing) if existing == bytes => return Ok(copy),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                sesame_base::private_file::write_private(&copy, bytes)
                    .map_err(|e| RecordError::io("write", &copy, e))?;
                sync_dir(&copy)?;
                return Ok(copy);
            }
            Err(e) => return Err(RecordError::io("read", &copy, e)),
        }
    }
    Err(RecordError::io("write a copy of", path, io::Error::other("too many copies already")))
}

/// An open record file, positioned at its end.
#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    file: File,
    len: u64,
    poisoned: bool,
}

impl RecordFile {
    /// Opens (or creates) `path` and returns it with its records. A torn tail is cut off with a
    /// warning; damage keeps a copy of the file ([`keep_copy`]) and is refused
    /// ([`RecordError::Corrupt`]) before anything is written. A file in the previous framing
    /// is rewritten in the current one.
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
        let scan = scan(&bytes);
        let valid = match scan.strict() {
            Ok(valid) => valid,
            Err(lost) => {
                let copy = match keep_copy(path, &bytes) {
                    Ok(copy) => Some(copy),
                    Err(error) => {
                        tracing::error!(%error, "cannot keep a copy of the damaged file");
                        None
                    }
                };
                return Err(RecordError::Corrupt {
                    path: path.to_owned(),
                    offset: lost.offset,
                    damage: lost.damage,
                    copy,
                });
            }
        };
        if valid < scan.size {
            tracing::warn!(
                path = %path.display(),
                offset = valid,
                cut = scan.size - valid,
                "torn last record cut off"
            );
        }
        let records: Vec<Vec<u8>> = scan.records.into_iter().map(|r| r.payload).collect();
        let mut opened = RecordFile { path: path.to_owned(), file, len: valid, poisoned: false };
        if scan.legacy || valid < MAGIC.len() as u64 {
            if scan.legacy && !records.is_empty() {
                tracing::info!(path = %path.display(), records = records.len(), "rewritten in the current record framing");
            }
            opened.rewrite(records.iter().map(Vec::as_slice))?;
        } else if valid < scan.size {
            let file = &mut opened.file;
            file.set_len(valid).map_err(|e| RecordError::io("truncate", path, e))?;
            file.sync_all().map_err(|e| RecordError::io("sync", path, e))?;
        }
        opened
            .file
            .seek(SeekFrom::Start(opened.len))
            .map_err(|e| RecordError::io("seek", path, e))?;
        Ok((opened, records))
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
    /// directory sync), in the current framing.
    pub fn rewrite<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), RecordError> {
        let bytes = framed_file(payloads)?;
        write_file(&self.path, &bytes)?;
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

/// Replaces `path` with `bytes` atomically (temporary file, sync, rename, directory sync), 0600.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    sesame_base::private_file::write_private(path, bytes)
        .map_err(|e| RecordError::io("rewrite", path, e))?;
    sync_dir(path)
}
