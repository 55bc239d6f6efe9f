//! The bytes of a record file: how records are framed, and how a file's bytes are read back,
//! telling a torn tail from damage and reading past damage.
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
//! Every append is synced before it returns, so a crash can leave at most the last record
//! unfinished. [`scan`] marks as **torn** ([`Lost::torn`]) only bytes at the true end of the
//! file: a header cut short, or a length running past the end, or a record zero-filled from
//! inside its header (or from its end mark) to the end of the file, and, in every case, no valid
//! record anywhere after it. Anything else (a header or checksum that does not match, a wrong
//! end mark, an impossible length, with bytes after it) is damage; [`Scan::strict`] gives the
//! first. Any single changed byte outside a torn tail is detected (a property test). [`scan`]
//! reads past damage, resynchronising on the next offset where a whole valid record starts.
//!
//! ## The previous framing
//!
//! Files written before this framing (`length | sum | payload`, no magic, no `head`, no `end`)
//! exist on upgraded workstations. A file that does not start with [`MAGIC`] and whose first 4
//! bytes are a plausible length (at most [`MAX_RECORD`]) is read in that framing
//! ([`Scan::legacy`]), with the same rule for its torn tail. Any single changed byte of the magic
//! makes its first 4 bytes an impossible length ("SESR" is over 5 MiB as a length): such a file
//! is a current one with a damaged magic.

use std::fmt;

use sha2::{Digest, Sha256};

use super::RecordError;

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
