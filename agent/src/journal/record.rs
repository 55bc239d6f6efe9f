//! The durable record file shared by the journal and the outbox: an append-only file of framed
//! records that says when it is damaged.
//!
//! ## Framing
//!
//! A file is the 8-byte [`MAGIC`] then records, each
//!
//! ```text
//! length (u32 LE) | head (u32 LE) | sum (8 bytes) | payload (length bytes) | end (2 bytes)
//! ```
//!
//! `head` is the CRC-32C of the 4 length bytes: a damaged length is seen before it is used (a
//! CRC detects every change of up to 32 bits). `sum` is the first 8 bytes of SHA-256 over the
//! length and the payload. `end` is [`END`], two non-zero bytes, so that a record whose last
//! bytes were never written (a zero-filled tail after a crash) differs from one whose bytes
//! were changed. A length over [`MAX_RECORD`] is never written.
//!
//! ## Torn tail or damage
//!
//! Every append is written and `fsync`ed before it returns, so a crash can leave at most the
//! last record unfinished. Opening cuts that **torn tail** (with a warning) only when it is at the
//! true end of the file: the header cut short, or its length running past the end, or the record
//! zero-filled from inside its header (or from its end mark) to the end of the file, and, in
//! every case, no valid record anywhere after it. Anything else (a header or checksum that does
//! not match, a wrong end mark, an impossible length, with bytes after it) is **damage**: the
//! file is refused with [`RecordError::Corrupt`], naming the file and the byte offset, after a
//! copy of it was kept beside it ([`keep_copy`], `NAME.damaged-<time>`, 0600). Nothing is cut or
//! rewritten then. Any single changed byte outside a torn tail is detected (a property test).
//! [`scan`] reads past damage, resynchronising on the next valid record, for the recovery
//! command (`crate::recovery`).
//!
//! ## The previous framing
//!
//! Files written before this framing (`length | sum | payload`, no magic, no `head`, no `end`)
//! exist on upgraded workstations. A file that does not start with [`MAGIC`] and whose first 4
//! bytes are a plausible length is read in that framing (its torn tail cut as before, a record
//! after a bad one being damage), then rewritten at once in the new framing (the same records,
//! through the atomic rewrite below): a compaction, logged. A file starting with anything else
//! is a new-framing file whose magic is damaged.
//!
//! A failed append truncates the file back, so a later append never follows garbage. Rewriting
//! (compaction) goes through a temporary file, synced, renamed over, and the directory synced.
//! Files are 0600 on Unix.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The first bytes of a file in this framing.
pub const MAGIC: [u8; 8] = *b"SESREC2\n";
/// The largest payload a record may carry.
pub const MAX_RECORD: usize = 1024 * 1024;
/// Bytes before the payload: length, its CRC and the checksum.
pub const HEADER: usize = 16;
/// The self-checked start of a header: the length and its CRC.
const HEAD: usize = 8;
/// The two bytes that end every record.
pub const END: [u8; 2] = [0x1e, 0x0a];
/// Bytes before the payload in the previous framing: length and checksum.
const LEGACY_HEADER: usize = 12;
/// At most this many copies of one damaged file with the same time are kept.
const MAX_COPIES: u32 = 100;

/// What is wrong with the bytes at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The file does not start with [`MAGIC`] nor looks like the previous framing.
    FileHeader,
    /// The length does not match its CRC.
    Length,
    /// A length over [`MAX_RECORD`]: never written by the agent.
    ImpossibleLength,
    /// The payload does not match its checksum.
    Checksum,
    /// The end mark is wrong.
    EndMark,
    /// The record stops before its end (cut short, or its end never written).
    Incomplete,
    /// A record read whole that is not what the file holds (recovery only).
    Undecodable,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Damage::FileHeader => "an unknown file header",
            Damage::Length => "a record length that does not match its check",
            Damage::ImpossibleLength => "an impossible record length",
            Damage::Checksum => "a record whose checksum does not match",
            Damage::EndMark => "a record whose end mark is wrong",
            Damage::Incomplete => "a record running past the end of the file",
            Damage::Undecodable => "a record that cannot be decoded",
        })
    }
}

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

/// CRC-32C (Castagnoli), bit by bit: it only ever covers 4 bytes.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

fn checksum(len: &[u8], payload: &[u8]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(len);
    hasher.update(payload);
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn length_at(bytes: &[u8], at: usize) -> Option<usize> {
    let field: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(field)).ok()
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// One framed record.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>, RecordError> {
    if payload.len() > MAX_RECORD {
        return Err(RecordError::TooLarge(payload.len()));
    }
    let len = u32::try_from(payload.len()).map_err(|_| RecordError::TooLarge(payload.len()))?;
    let len = len.to_le_bytes();
    let mut out = Vec::with_capacity(HEADER + payload.len() + END.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc32c(&len).to_le_bytes());
    out.extend_from_slice(&checksum(&len, payload));
    out.extend_from_slice(payload);
    out.extend_from_slice(&END);
    Ok(out)
}

/// One record read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where its frame starts in the file.
    pub offset: u64,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Bytes of a file that hold no readable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// Where they start.
    pub offset: u64,
    /// How many.
    pub bytes: u64,
    /// What is wrong at `offset`.
    pub damage: Damage,
    /// An unfinished last append (a crash), not damage: at the true end, nothing valid after.
    pub torn: bool,
}

/// Everything [`scan`] read from a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The file is in the previous framing.
    pub legacy: bool,
    /// The records read, in order (past any damage).
    pub records: Vec<Record>,
    /// The bytes that hold no record, in order.
    pub lost: Vec<Lost>,
    /// The file's size.
    pub size: u64,
}

impl Scan {
    /// The length of the valid prefix when nothing is lost but a torn tail; otherwise the
    /// first damage.
    pub fn strict(&self) -> Result<u64, Lost> {
        match self.lost.as_slice() {
            [] => Ok(self.size),
            [tail] if tail.torn && tail.offset + tail.bytes == self.size => Ok(tail.offset),
            [first, ..] => Err(*first),
        }
    }

    /// Whether the file is whole and in the current framing (nothing to rewrite or cut).
    pub fn is_intact(&self) -> bool {
        !self.legacy && self.lost.is_empty() && self.size >= MAGIC.len() as u64
    }
}

/// The framing of one file, as a reader.
trait Framing {
    /// The record whose frame starts at `at`, if it is valid: its payload's range and where the
    /// next frame starts.
    fn valid_at(bytes: &[u8], at: usize) -> Option<(std::ops::Range<usize>, usize)>;
    /// Why the frame at `at` is not valid, and whether that is consistent with an unfinished
    /// last append.
    fn failure_at(bytes: &[u8], at: usize) -> (Damage, bool);
}

struct Current;

impl Framing for Current {
    fn valid_at(bytes: &[u8], at: usize) -> Option<(std::ops::Range<usize>, usize)> {
        let head = bytes.get(at..at.checked_add(HEAD)?)?;
        if crc32c(&head[..4]).to_le_bytes() != head[4..HEAD] {
            return None;
        }
        let size = length_at(bytes, at)?;
        if size > MAX_RECORD {
            return None;
        }
        let start = at + HEADER;
        let end = start.checked_add(size)?.checked_add(END.len())?;
        let frame = bytes.get(at..end)?;
        let payload = &frame[HEADER..HEADER + size];
        if frame[frame.len() - END.len()..] != END
            || frame[HEAD..HEADER] != checksum(&head[..4], payload)
        {
            return None;
        }
        Some((start..start + size, end))
    }

    fn failure_at(bytes: &[u8], at: usize) -> (Damage, bool) {
        let rest = &bytes[at..];
        if rest.len() < HEAD {
            return (Damage::Incomplete, true);
        }
        if crc32c(&rest[..4]).to_le_bytes() != rest[4..HEAD] {
            // Zero-filled from inside the header on: the append never reached the disk.
            return (Damage::Length, all_zero(&rest[HEAD - 1..]));
        }
        let size = length_at(rest, 0).unwrap_or(usize::MAX);
        if size > MAX_RECORD {
            return (Damage::ImpossibleLength, false);
        }
        let end = HEADER + size + END.len();
        if rest.len() < end {
            return (Damage::Incomplete, true);
        }
        // Its end mark, and all after it, never written: the append was cut by a crash.
        if all_zero(&rest[end - END.len()..]) {
            return (Damage::Incomplete, true);
        }
        if rest[end - END.len()..end] != END {
            return (Damage::EndMark, false);
        }
        (Damage::Checksum, false)
    }
}

/// The previous framing: `length | sum | payload`.
struct Legacy;

impl Framing for Legacy {
    fn valid_at(bytes: &[u8], at: usize) -> Option<(std::ops::Range<usize>, usize)> {
        let size = length_at(bytes, at)?;
        if size > MAX_RECORD {
            return None;
        }
        let start = at.checked_add(LEGACY_HEADER)?;
        let end = start.checked_add(size)?;
        let frame = bytes.get(at..end)?;
        if frame[4..LEGACY_HEADER] != checksum(&frame[..4], &frame[LEGACY_HEADER..]) {
            return None;
        }
        Some((start..end, end))
    }

    fn failure_at(bytes: &[u8], at: usize) -> (Damage, bool) {
        let rest = &bytes[at..];
        if rest.len() < LEGACY_HEADER {
            return (Damage::Incomplete, true);
        }
        let size = length_at(rest, 0).unwrap_or(usize::MAX);
        if size > MAX_RECORD {
            return (Damage::ImpossibleLength, all_zero(rest));
        }
        let end = LEGACY_HEADER + size;
        if rest.len() < end {
            return (Damage::Incomplete, true);
        }
        (Damage::Checksum, all_zero(&rest[end..]))
    }
}

fn scan_with<F: Framing>(bytes: &[u8], start: usize, scan: &mut Scan) {
    let mut at = start;
    while at < bytes.len() {
        if let Some((payload, next)) = F::valid_at(bytes, at) {
            scan.records.push(Record { offset: at as u64, payload: bytes[payload].to_vec() });
            at = next;
            continue;
        }
        let (damage, unfinished) = F::failure_at(bytes, at);
        // Resynchronise: the next offset where a whole valid record starts.
        let next = (at + 1..bytes.len()).find(|o| F::valid_at(bytes, *o).is_some());
        let until = next.unwrap_or(bytes.len());
        scan.lost.push(Lost {
            offset: at as u64,
            bytes: (until - at) as u64,
            damage,
            torn: unfinished && next.is_none(),
        });
        at = until;
    }
}

/// Reads every record of a file's `bytes`, in either framing, past any damage.
pub fn scan(bytes: &[u8]) -> Scan {
    let empty =
        |legacy| Scan { legacy, records: Vec::new(), lost: Vec::new(), size: bytes.len() as u64 };
    if bytes.starts_with(&MAGIC) {
        let mut scan = empty(false);
        scan_with::<Current>(bytes, MAGIC.len(), &mut scan);
        return scan;
    }
    if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
        // A new file whose magic was being written: empty.
        let mut scan = empty(false);
        if !bytes.is_empty() {
            let bytes = bytes.len() as u64;
            scan.lost.push(Lost { offset: 0, bytes, damage: Damage::Incomplete, torn: true });
        }
        return scan;
    }
    let mut legacy = empty(true);
    if length_at(bytes, 0).is_none_or(|size| size <= MAX_RECORD) {
        scan_with::<Legacy>(bytes, 0, &mut legacy);
        return legacy;
    }
    // The magic is damaged (or the first length of a file in the previous framing): read the
    // records after it all the same, in whichever framing finds some.
    let mut current = empty(false);
    let len = bytes.len().min(MAGIC.len());
    current.lost.push(Lost {
        offset: 0,
        bytes: len as u64,
        damage: Damage::FileHeader,
        torn: false,
    });
    scan_with::<Current>(bytes, len, &mut current);
    merge_lost(&mut current.lost);
    if current.records.is_empty() {
        scan_with::<Legacy>(bytes, 0, &mut legacy);
        if !legacy.records.is_empty() {
            return legacy;
        }
    }
    current
}

/// Joins lost ranges that touch (the damaged magic and the damage right after it).
fn merge_lost(lost: &mut Vec<Lost>) {
    let mut merged: Vec<Lost> = Vec::with_capacity(lost.len());
    for item in lost.drain(..) {
        match merged.last_mut() {
            Some(last) if last.offset + last.bytes == item.offset => {
                last.bytes += item.bytes;
                last.torn = false;
            }
            _ => merged.push(item),
        }
    }
    *lost = merged;
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

/// A whole file in the current framing: [`MAGIC`] and the framed `payloads`.
pub fn framed_file<'a>(
    payloads: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, RecordError> {
    let mut bytes = MAGIC.to_vec();
    for payload in payloads {
        bytes.extend_from_slice(&frame(payload)?);
    }
    Ok(bytes)
}

/// Replaces `path` with `bytes` atomically (temporary file, sync, rename, directory sync), 0600.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    sesame_base::private_file::write_private(path, bytes)
        .map_err(|e| RecordError::io("rewrite", path, e))?;
    sync_dir(path)
}
