//! The rotation journal: a durable, append-only file in the agent's state directory
//! (`rotations.journal`, 0600) of [`JournalRecord`]s, each a snapshot of one [`Rotation`] (or
//! its removal), written and synced before the step it precedes is attempted.
//!
//! Records are framed by `journal::record` (shared with the outbox): each carries a CRC of its
//! length and a checksum of its length and payload. On open a torn last record (a crash
//! mid-append) is cut off with a warning; any other damage stops the agent with
//! [`record::RecordError::Corrupt`] (the file, the byte offset, a copy kept beside it), for
//! `sesame-agent journal-recover` (`crate::recovery`) to salvage. A file in the previous framing
//! is rewritten in the current one on open. When the file outgrows its bound it is compacted: the
//! live snapshots only, written atomically. Nothing secret is ever recorded: a rotation holds the
//! provisional password only as a salted verifier, and the new password not at all. A full or
//! read-only disk is [`JournalError::is_unwritable`]; the state machine then turns the attempt
//! into `Failed(LocalStorage)` without calling OWA.

pub mod record;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

pub use crate::rotation::JournalRecord;
use crate::rotation::{Rotation, RotationId};
use record::{RecordError, RecordFile};

/// The journal's file name in the state directory.
pub const FILE_NAME: &str = "rotations.journal";
/// The size over which the journal is compacted.
pub const COMPACT_AT: u64 = 1024 * 1024;

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The record file failed (including a full or read-only disk and a corrupt middle).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A record with a valid checksum that is not a journal record (another version's?).
    #[error("journal record {index} cannot be decoded: {detail}")]
    Decode {
        /// Its position.
        index: usize,
        /// What serde said.
        detail: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode a journal record: {0}")]
    Encode(String),
}

impl JournalError {
    /// Whether the disk refused the write (full, read-only...).
    pub fn is_unwritable(&self) -> bool {
        matches!(self, JournalError::Record(e) if e.is_unwritable())
    }
}

/// The open journal and the live state it holds.
#[derive(Debug)]
pub struct Journal {
    file: RecordFile,
    live: BTreeMap<RotationId, Rotation>,
    compact_at: u64,
    compacted_size: u64,
}

impl Journal {
    /// Opens (or creates) the journal in `state_dir` and replays it.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        Journal::open_with_bound(state_dir, COMPACT_AT)
    }

    /// [`Journal::open`], compacting when the file exceeds `compact_at` bytes.
    pub fn open_with_bound(state_dir: &Path, compact_at: u64) -> Result<Journal, JournalError> {
        let (file, records) = RecordFile::open(&state_dir.join(FILE_NAME))?;
        let mut live = BTreeMap::new();
        for (index, payload) in records.iter().enumerate() {
            let record =
                decode(payload).map_err(|detail| JournalError::Decode { index, detail })?;
            apply(&mut live, record);
        }
        let compacted_size = file.size();
        Ok(Journal { file, live, compact_at, compacted_size })
    }

    /// Appends `record` durably (synced before returning) and applies it; compacts when due.
    pub fn record(&mut self, record: &JournalRecord) -> Result<(), JournalError> {
        let payload =
            serde_json::to_vec(record).map_err(|e| JournalError::Encode(e.to_string()))?;
        self.file.append(&payload)?;
        apply(&mut self.live, record.clone());
        let due = self.compact_at.max(self.compacted_size.saturating_mul(2));
        if self.file.size() > due
            && let Err(error) = self.compact()
        {
            // The record itself is durable; a failed compaction only leaves a longer file.
            tracing::warn!(%error, "journal compaction failed");
        }
        Ok(())
    }

    /// Rewrites the file with the live snapshots only, atomically.
    pub fn compact(&mut self) -> Result<(), JournalError> {
        let payloads = self
            .live
            .values()
            .map(|r| serde_json::to_vec(&JournalRecord::Snapshot(Box::new(r.clone()))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JournalError::Encode(e.to_string()))?;
        self.file.rewrite(payloads.iter().map(Vec::as_slice))?;
        self.compacted_size = self.file.size();
        Ok(())
    }

    /// The rotations, by id.
    pub fn rotations(&self) -> impl Iterator<Item = &Rotation> {
        self.live.values()
    }

    /// One rotation.
    pub fn get(&self, rotation_id: &str) -> Option<&Rotation> {
        self.live.get(rotation_id)
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.file.size()
    }
}

/// One journal record from a record's payload; what serde said when it is not one.
pub fn decode(payload: &[u8]) -> Result<JournalRecord, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

/// Applies `record` to the rotations by id, as replaying the journal does.
pub fn apply(live: &mut BTreeMap<RotationId, Rotation>, record: JournalRecord) {
    match record {
        JournalRecord::Snapshot(rotation) => {
            live.insert(rotation.id.clone(), *rotation);
        }
        JournalRecord::Forget { rotation_id } => {
            live.remove(&rotation_id);
        }
    }
}
