//! The audit trail: an append-only, hash-chained record of every state change.
//!
//! Each record holds the hash of the one before it, so deleting, editing, reordering or inserting a
//! record breaks the chain at that point; [`verify`] names the first broken record. Records are
//! written in the same database transaction as the change they describe, so there is never a change
//! without its record.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::admin::Admin;
use crate::domain::office::Crpcen;

/// The hash that the first record chains to.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Who did something: an administrator, or the server itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// An administrator, recorded as `admin:<id>:<name>`.
    pub fn admin(admin: &Admin) -> Actor {
        Actor(format!("admin:{}:{}", admin.id, admin.name))
    }

    /// An agent, recorded as `workstation:<id>`.
    pub fn workstation(id: &str) -> Actor {
        Actor(format!("workstation:{id}"))
    }

    /// An enrollment token (the workstation it enrolls does not exist yet), as `enrollment_token:<id>`.
    pub fn enrollment_token(id: i64) -> Actor {
        Actor(format!("enrollment_token:{id}"))
    }

    /// The server acting on its own (bootstrap, expiry).
    pub fn system() -> Actor {
        Actor("system".to_owned())
    }

    /// The recorded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who did it.
    pub actor: Actor,
    /// What was done, e.g. `office.create`.
    pub action: &'static str,
    /// The office concerned, when there is one (for per-office listings).
    pub office: Option<Crpcen>,
    /// What it was done to, e.g. a CRPCEN or an address.
    pub target: String,
    /// Further facts as a JSON object. Never a secret.
    pub details: serde_json::Value,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written.
    pub at: OffsetDateTime,
    /// Who did it (see [`Actor`]).
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The office concerned, if any.
    pub office: Option<String>,
    /// What it was done to.
    pub target: String,
    /// Further facts, as JSON text.
    pub details: String,
    /// The previous record's hash.
    pub prev_hash: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

/// The fields of a record, before its hash is known.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    /// Position in the chain.
    pub seq: i64,
    /// When it was written.
    pub at: OffsetDateTime,
    /// Who did it.
    pub actor: &'a str,
    /// What was done.
    pub action: &'a str,
    /// The office concerned, if any.
    pub office: Option<&'a str>,
    /// What it was done to.
    pub target: &'a str,
    /// JSON text.
    pub details: &'a str,
}

/// The hash of a record: SHA-256 over a versioned, length-prefixed encoding of every field and the
/// previous hash, so no two different records can encode alike.
pub fn record_hash(prev_hash: &[u8; 32], fields: &RecordFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sesame-audit-v1");
    h.update(prev_hash);
    h.update(fields.seq.to_be_bytes());
    h.update(unix_micros(fields.at).to_be_bytes());
    for part in
        [fields.actor, fields.action, fields.office.unwrap_or(""), fields.target, fields.details]
    {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update([u8::from(fields.office.is_some())]);
    h.finalize().into()
}

/// Microseconds since the Unix epoch: the precision records are hashed (and stored) at.
pub fn unix_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record is missing or out of place: its sequence number is not the expected one.
    #[error(
        "record {found}: expected sequence number {expected} (a record was removed, inserted or reordered)"
    )]
    Sequence {
        /// The sequence number expected at this position.
        expected: i64,
        /// The one found.
        found: i64,
    },
    /// A record does not chain to the one before it.
    #[error(
        "record {seq}: does not chain to the previous record (a record before it was removed or edited)"
    )]
    Link {
        /// The record's sequence number.
        seq: i64,
    },
    /// A record's content does not match its hash.
    #[error("record {seq}: content does not match its hash (the record was edited)")]
    Content {
        /// The record's sequence number.
        seq: i64,
    },
}

/// Checks a run of records that starts after a record with hash `prev_hash` and sequence number
/// `prev_seq` (0 and [`GENESIS_HASH`] for the whole chain). Returns the last hash and sequence.
pub fn verify<'a>(
    mut prev_seq: i64,
    mut prev_hash: [u8; 32],
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(i64, [u8; 32]), ChainBreak> {
    for record in records {
        if record.seq != prev_seq + 1 {
            return Err(ChainBreak::Sequence { expected: prev_seq + 1, found: record.seq });
        }
        if record.prev_hash != prev_hash {
            return Err(ChainBreak::Link { seq: record.seq });
        }
        let fields = RecordFields {
            seq: record.seq,
            at: record.at,
            actor: &record.actor,
            action: &record.action,
            office: record.office.as_deref(),
            target: &record.target,
            details: &record.details,
        };
        if record_hash(&prev_hash, &fields) != record.hash {
            return Err(ChainBreak::Content { seq: record.seq });
        }
        prev_seq = record.seq;
        prev_hash = record.hash;
    }
    Ok((prev_seq, prev_hash))
}

#[cfg(test)]
mod tests;
