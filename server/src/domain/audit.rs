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

    /// Someone not signed in, on the web dashboard's sign-in page: `web`.
    pub fn web() -> Actor {
        Actor("web".to_owned())
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

impl ChainBreak {
    /// A short name of its kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ChainBreak::Sequence { .. } => "record_missing_or_out_of_place",
            ChainBreak::Link { .. } => "record_unlinked",
            ChainBreak::Content { .. } => "record_rewritten",
        }
    }
}

/// Checks a run of records that starts after a record with hash `prev_hash` and sequence number
/// `prev_seq` (0 and [`GENESIS_HASH`] for the whole chain). Returns the last hash and sequence.
pub fn verify<'a>(
    prev_seq: i64,
    prev_hash: [u8; 32],
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(i64, [u8; 32]), ChainBreak> {
    // The first break `verify_all` names is the one a check that stops there would meet.
    let (seq, hash, breaks) = verify_all(prev_seq, prev_hash, records);
    match breaks.into_iter().next() {
        Some(first) => Err(first),
        None => Ok((seq, hash)),
    }
}

/// Checks a run of records like [`verify`], but goes on past each break to report them all: after
/// a break the chain is taken up again from the record found (its stored hash), so an edited
/// record, a removed one and a rewritten link further on are each named. Returns the last sequence
/// number and hash, and the breaks in order.
pub fn verify_all<'a>(
    mut prev_seq: i64,
    mut prev_hash: [u8; 32],
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> (i64, [u8; 32], Vec<ChainBreak>) {
    let mut breaks = Vec::new();
    for record in records {
        if record.seq != prev_seq + 1 {
            breaks.push(ChainBreak::Sequence { expected: prev_seq + 1, found: record.seq });
        } else if record.prev_hash != prev_hash {
            breaks.push(ChainBreak::Link { seq: record.seq });
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
        if record_hash(&record.prev_hash, &fields) != record.hash {
            breaks.push(ChainBreak::Content { seq: record.seq });
        }
        prev_seq = record.seq;
        prev_hash = record.hash;
    }
    (prev_seq, prev_hash, breaks)
}

/// A signed head of the chain: the audit signing key's signature over a record's sequence number
/// and hash, at a time. A head signs the whole chain up to it, since each record's hash covers the
/// one before. Signing a head is not itself an audit record (that would move the head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    /// The sequence number of the record signed.
    pub seq: i64,
    /// That record's hash.
    pub hash: [u8; 32],
    /// When it was signed.
    pub signed_at: OffsetDateTime,
    /// The id of the key that signed it (`keys::audit_signing::key_id`).
    pub key_id: String,
    /// The Ed25519 signature over [`head_message`].
    pub signature: Vec<u8>,
}

impl SignedHead {
    /// The signed record's hash, in hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The signature, in standard base64.
    pub fn signature_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.signature)
    }

    /// The message its signature is over.
    pub fn message(&self) -> Vec<u8> {
        head_message(self.seq, &self.hash, self.signed_at)
    }
}

/// What a head's signature is over: a domain-separated, fixed-format text,
/// `sesame-audit-head-v1\n<seq>\n<hash hex>\n<signed_at in Unix microseconds>\n`.
pub fn head_message(seq: i64, hash: &[u8; 32], signed_at: OffsetDateTime) -> Vec<u8> {
    format!("sesame-audit-head-v1\n{seq}\n{}\n{}\n", hex::encode(hash), unix_micros(signed_at))
        .into_bytes()
}

/// What is wrong with the signed heads, or with the last head this server signed (kept in its
/// data directory).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadProblem {
    /// The head's signature does not verify: the head was forged or altered.
    #[error("signed head {seq}: bad signature (the head was forged or altered)")]
    BadSignature {
        /// The head's sequence number.
        seq: i64,
    },
    /// The head names a key that is neither this server's nor one the chain records.
    #[error(
        "signed head {seq}: signed by key {key_id}, which is neither this server's key nor one \
         recorded in the chain (the head was forged, or the key was replaced without \
         `sesame-server audit rotate-key`)"
    )]
    UnknownKey {
        /// The head's sequence number.
        seq: i64,
        /// The key it names.
        key_id: String,
    },
    /// The head names a key the chain records, but not the one in force at its record.
    #[error(
        "signed head {seq}: signed by key {key_id}, but the chain's key at that record is \
         {expected} (a head forged with a retired key, or a server still signing with the key \
         before a rotation)"
    )]
    WrongKey {
        /// The head's sequence number.
        seq: i64,
        /// The key it names.
        key_id: String,
        /// The key in force at that record.
        expected: String,
    },
    /// A key rotation record the old key should have vouched for has no head signed by it.
    #[error(
        "record {seq} (audit key rotation): the old key {old_key_id} was available but did not \
         sign it (the rotation record was forged, or its signed head was removed)"
    )]
    HandOverUnsigned {
        /// The rotation record's sequence number.
        seq: i64,
        /// The key that should have signed it.
        old_key_id: String,
    },
    /// A key rotation record that does not describe a usable key.
    #[error(
        "record {seq} (audit key rotation): malformed, or its key id does not match its public key"
    )]
    BadRotation {
        /// The rotation record's sequence number.
        seq: i64,
    },
    /// The chain hands over to a key this server does not sign with.
    #[error(
        "record {seq}: the chain's key since this rotation is {chain_key_id}, but this server \
         signs with key {server_key_id}"
    )]
    KeyNotInForce {
        /// The last rotation record's sequence number.
        seq: i64,
        /// The key the chain names.
        chain_key_id: String,
        /// The server's key.
        server_key_id: String,
    },
    /// The record at the head's sequence number no longer has the signed hash.
    #[error(
        "signed head {seq}: the record no longer has the signed hash (the chain was rewritten)"
    )]
    Rewritten {
        /// The head's sequence number.
        seq: i64,
    },
    /// The head signs a record that no longer exists.
    #[error(
        "signed head {seq}: the record is missing (the chain was truncated or the record deleted)"
    )]
    Truncated {
        /// The head's sequence number.
        seq: i64,
    },
    /// This server signed a head the database no longer holds.
    #[error(
        "this server signed head {seq}, but the newest signed head in the database is {newest} \
         (signed heads were deleted or the chain was truncated)"
    )]
    HeadsDeleted {
        /// The head this server signed last (its data directory says).
        seq: i64,
        /// The newest head in the database (0: none).
        newest: i64,
    },
    /// The head this server signed last does not match the record at its sequence number.
    #[error(
        "this server signed head {seq} with another hash (the chain or the signed heads were \
         rewritten)"
    )]
    HeadRewritten {
        /// The head's sequence number.
        seq: i64,
    },
}

impl HeadProblem {
    /// A short name of its kind.
    pub fn kind(&self) -> &'static str {
        match self {
            HeadProblem::BadSignature { .. } => "bad_signature",
            HeadProblem::UnknownKey { .. } => "unknown_key",
            HeadProblem::WrongKey { .. } => "wrong_key",
            HeadProblem::HandOverUnsigned { .. } => "rotation_not_vouched",
            HeadProblem::BadRotation { .. } => "bad_rotation",
            HeadProblem::KeyNotInForce { .. } => "key_not_in_force",
            HeadProblem::Rewritten { .. } => "signed_record_rewritten",
            HeadProblem::Truncated { .. } => "signed_record_missing",
            HeadProblem::HeadsDeleted { .. } => "heads_deleted",
            HeadProblem::HeadRewritten { .. } => "noted_head_rewritten",
        }
    }

    /// The sequence number of the head concerned.
    pub fn seq(&self) -> i64 {
        match self {
            HeadProblem::BadSignature { seq }
            | HeadProblem::UnknownKey { seq, .. }
            | HeadProblem::WrongKey { seq, .. }
            | HeadProblem::HandOverUnsigned { seq, .. }
            | HeadProblem::BadRotation { seq }
            | HeadProblem::KeyNotInForce { seq, .. }
            | HeadProblem::Rewritten { seq }
            | HeadProblem::Truncated { seq }
            | HeadProblem::HeadsDeleted { seq, .. }
            | HeadProblem::HeadRewritten { seq } => *seq,
        }
    }
}

pub mod key_history;

#[cfg(test)]
mod tests;
