//! The audit trail as administrators read it: records by office, time and sequence, and the
//! verification of the whole hash chain and of its signed heads, which reports every problem it
//! finds; `signing` signs the head, `key_rotation` checks and rotates the signing key through the
//! chain, `shipping` copies each record out of the database.

pub mod key_rotation;
pub mod shipping;
pub mod signing;

use std::collections::HashSet;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::key_history::{KeyHistory, KeyRotation, KeyVerdict};
use crate::domain::audit::{self, AuditRecord, ChainBreak, GENESIS_HASH, HeadProblem, SignedHead};
use crate::keys::audit_signing::{AuditSigningKey, key_id, verify as verify_signature};
use crate::services::access::{self, denied};
use crate::services::{Error, Services};

/// What the audit trail needs beyond the store: the key that signs its head and where this server
/// keeps the last head it signed (both in the data directory), how often it signs, and where
/// records are shipped.
#[derive(Debug)]
pub struct AuditTrail {
    /// The key that signs the chain's head.
    pub key: AuditSigningKey,
    /// The file keeping the last head this server signed.
    pub head_file: PathBuf,
    /// How often the head is signed when the chain advanced.
    pub sign_interval: std::time::Duration,
    /// Where records are shipped.
    pub shipping: shipping::Shipping,
}

/// Default page of audit records.
pub const DEFAULT_AUDIT_PAGE: u32 = 1_000;
/// Largest page of audit records (also the page the verification reads at a time).
pub const MAX_AUDIT_PAGE: u32 = 5_000;

/// Which audit records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// One office's records, or those of every office the administrator may read.
    pub office: Option<crate::domain::office::Crpcen>,
    /// Only records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only records after this sequence number (0: from the start).
    pub after_seq: i64,
    /// At most this many (`None`: [`DEFAULT_AUDIT_PAGE`]; never more than [`MAX_AUDIT_PAGE`]).
    pub limit: Option<u32>,
}

/// Most problems a verification lists; it counts them all.
pub const MAX_LISTED_PROBLEMS: usize = 1_000;

/// One problem a verification found: in the chain itself, or with its signed heads and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditProblem {
    /// A record is missing, out of place, unlinked or rewritten.
    #[error(transparent)]
    Chain(#[from] ChainBreak),
    /// A signed head, a key rotation or the last head this server signed does not match.
    #[error(transparent)]
    Head(#[from] HeadProblem),
}

impl AuditProblem {
    /// The sequence number of the record or head concerned.
    pub fn seq(&self) -> i64 {
        match self {
            AuditProblem::Chain(broken) => first_broken_seq(broken),
            AuditProblem::Head(problem) => problem.seq(),
        }
    }

    /// A short name of its kind, e.g. `record_rewritten` or `bad_signature`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditProblem::Chain(broken) => broken.kind(),
            AuditProblem::Head(problem) => problem.kind(),
        }
    }
}

/// What a verification of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked.
    pub records: u64,
    /// The first break of the chain itself, if any.
    pub broken: Option<ChainBreak>,
    /// Signed heads checked.
    pub heads: u64,
    /// The first problem with the signed heads, the keys or the last head this server signed.
    pub head_problem: Option<HeadProblem>,
    /// Every problem found, by sequence number (at most [`MAX_LISTED_PROBLEMS`]).
    pub problems: Vec<AuditProblem>,
    /// How many problems were found in all.
    pub problem_count: u64,
    /// Heads signed by a key that was lost before a rotation recorded its public key: their
    /// signatures cannot be checked (the rotation's head, signed by the next key, covers them).
    pub unverifiable_heads: u64,
    /// Key rotations recorded in the chain.
    pub rotations: u64,
    /// The newest signed head in the database.
    pub newest_head: Option<SignedHead>,
    /// The id of the key this server signs with.
    pub key_id: String,
}

impl ChainReport {
    /// Whether the chain and its signed heads are intact.
    pub fn intact(&self) -> bool {
        self.problem_count == 0
    }

    /// The sequence number of the first broken record, if any.
    pub fn first_broken_seq(&self) -> Option<i64> {
        self.broken.as_ref().map(first_broken_seq)
    }
}

/// The sequence number a break is first seen at.
fn first_broken_seq(broken: &ChainBreak) -> i64 {
    match broken {
        ChainBreak::Sequence { expected, .. } => *expected,
        ChainBreak::Link { seq } | ChainBreak::Content { seq } => *seq,
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
struct Found {
    listed: Vec<AuditProblem>,
    count: u64,
    first_break: Option<ChainBreak>,
    first_head: Option<HeadProblem>,
}

impl Found {
    fn push(&mut self, problem: impl Into<AuditProblem>) {
        let problem = problem.into();
        match &problem {
            AuditProblem::Chain(b) if self.first_break.is_none() => {
                self.first_break = Some(b.clone())
            }
            AuditProblem::Head(h) if self.first_head.is_none() => self.first_head = Some(h.clone()),
            _ => {}
        }
        self.count += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(problem);
        }
    }

    /// Whether a head problem at `seq` was found already.
    fn has_head_problem(&self, seq: i64) -> bool {
        self.listed.iter().any(|p| matches!(p, AuditProblem::Head(h) if h.seq() == seq))
    }
}

impl Services {
    /// Audit records the administrator may read, in sequence order.
    pub async fn list_audit_records(
        &self,
        admin: &Admin,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRecord>, Error> {
        let limit = match query.limit {
            None => DEFAULT_AUDIT_PAGE,
            Some(n) if n <= MAX_AUDIT_PAGE => n,
            Some(_) => return Err(Error::invalid(format!("limit: at most {MAX_AUDIT_PAGE}"))),
        };
        let mut records = Vec::new();
        for office in access::listing_scope(admin, query.office.as_ref())? {
            let mut after = query.after_seq;
            // Skip what is older than `since`, a page at a time.
            loop {
                let page = self.store.audit_records(office.as_ref(), after, limit).await?;
                let done = page.len() < limit as usize;
                after = page.last().map_or(after, |r| r.seq);
                records.extend(page.into_iter().filter(|r| query.since.is_none_or(|s| r.at >= s)));
                if done || records.len() >= limit as usize {
                    break;
                }
            }
        }
        records.sort_by_key(|r| r.seq);
        records.truncate(limit as usize);
        Ok(records)
    }

    /// Checks the whole chain, a page at a time, for administrators who may read every office,
    /// and reports every problem, not only the first: each record's place, link and hash (the
    /// check takes up again after a break), each signed head's signature with the key in force at
    /// its record (the chain's key rotations say which) and the hash of the record it signed, the
    /// old key's signature on each rotation it was available for, and that the database still
    /// holds the last head this server signed (its data directory keeps it). Problems are
    /// reported, not returned as an error.
    pub async fn verify_audit(&self, admin: &Admin) -> Result<ChainReport, Error> {
        if !admin.may(Permission::Read(None)) {
            return Err(denied(&Permission::Read(None)));
        }
        let signed_last = signing::read_head_file(&self.audit.head_file)?;
        let key = &self.audit.key;
        let mut found = Found::default();
        let mut walk = HeadWalk {
            history: KeyHistory::new(key.id(), key.public_key()),
            after: 0,
            checked: 0,
            unverifiable: 0,
            vouched: HashSet::new(),
        };
        let (mut seq, mut hash, mut checked) = (0, GENESIS_HASH, 0u64);
        let mut hash_at_signed_last = None;
        loop {
            let page = self.store.audit_records(None, seq, MAX_AUDIT_PAGE).await?;
            let Some(last) = page.last() else { break };
            let (last_seq, last_hash, breaks) = audit::verify_all(seq, hash, &page);
            let edited: HashSet<i64> = breaks
                .iter()
                .filter_map(|b| match b {
                    ChainBreak::Content { seq } => Some(*seq),
                    _ => None,
                })
                .collect();
            for broken in breaks {
                found.push(broken);
            }
            for record in &page {
                match KeyRotation::from_record(record) {
                    None => {}
                    Some(Some(rotation)) if !edited.contains(&record.seq) && sound(&rotation) => {
                        walk.history.add(record.seq, rotation);
                    }
                    Some(_) => found.push(HeadProblem::BadRotation { seq: record.seq }),
                }
            }
            walk.check(self, &page, Some(last.seq), &mut found).await?;
            if let Some((noted_seq, _)) = signed_last
                && let Ok(i) = page.binary_search_by_key(&noted_seq, |r| r.seq)
            {
                hash_at_signed_last = Some(page[i].hash);
            }
            checked += page.len() as u64;
            (seq, hash) = (last_seq, last_hash);
        }
        // Heads beyond the chain's end sign records that were removed.
        walk.check(self, &[], None, &mut found).await?;
        for (at, rotation) in walk.history.rotations() {
            if let Some(old) = rotation.old.as_ref().filter(|_| rotation.old_key_available())
                && !walk.vouched.contains(at)
                && !found.has_head_problem(*at)
            {
                found.push(HeadProblem::HandOverUnsigned { seq: *at, old_key_id: old.id.clone() });
            }
        }
        if let Some((at, rotation)) = walk.history.rotations().last()
            && rotation.new_key_id != key.id()
        {
            found.push(HeadProblem::KeyNotInForce {
                seq: *at,
                chain_key_id: rotation.new_key_id.clone(),
                server_key_id: key.id().to_owned(),
            });
        }
        let newest_head = self.store.latest_signed_head().await?;
        if let Some((last_seq, last_hash)) = signed_last {
            let newest = newest_head.as_ref().map_or(0, |h| h.seq);
            if newest < last_seq {
                found.push(HeadProblem::HeadsDeleted { seq: last_seq, newest });
            } else if hash_at_signed_last.is_none() {
                if !found.has_head_problem(last_seq) {
                    found.push(HeadProblem::Truncated { seq: last_seq });
                }
            } else if hash_at_signed_last != Some(last_hash) && !found.has_head_problem(last_seq) {
                found.push(HeadProblem::HeadRewritten { seq: last_seq });
            }
        }
        found.listed.sort_by_key(AuditProblem::seq);
        if let Some(first) = found.listed.first() {
            tracing::error!(
                problems = found.count,
                first = first.seq(),
                problem = %first,
                "the audit trail does not verify"
            );
        }
        Ok(ChainReport {
            records: checked,
            broken: found.first_break,
            heads: walk.checked,
            head_problem: found.first_head,
            problems: found.listed,
            problem_count: found.count,
            unverifiable_heads: walk.unverifiable,
            rotations: walk.history.rotations().len() as u64,
            newest_head,
            key_id: key.id().to_owned(),
        })
    }
}

/// Whether a rotation's key ids are those of its public keys.
fn sound(rotation: &KeyRotation) -> bool {
    let old_sound = rotation
        .old
        .as_ref()
        .is_none_or(|old| old.public_key.as_deref().is_none_or(|public| key_id(public) == old.id));
    old_sound && key_id(&rotation.new_public_key) == rotation.new_key_id
}

/// The signed heads checked so far, while the chain is walked.
struct HeadWalk {
    /// The keys in force, from the rotations read so far.
    history: KeyHistory,
    /// The last head looked at.
    after: i64,
    /// Heads checked.
    checked: u64,
    /// Heads whose key was lost before its public key was recorded.
    unverifiable: u64,
    /// The rotation records the old key signed.
    vouched: HashSet<i64>,
}

impl HeadWalk {
    /// Checks the heads up to `upto` (`None`: all that are left) against `records` (a page of
    /// the chain, by sequence number).
    async fn check(
        &mut self,
        services: &Services,
        records: &[AuditRecord],
        upto: Option<i64>,
        found: &mut Found,
    ) -> Result<(), Error> {
        loop {
            let heads = services.store.signed_heads(self.after, MAX_AUDIT_PAGE).await?;
            let full = heads.len() == MAX_AUDIT_PAGE as usize;
            for head in heads {
                if upto.is_some_and(|upto| head.seq > upto) {
                    return Ok(());
                }
                self.after = head.seq;
                self.checked += 1;
                let record = records
                    .binary_search_by_key(&head.seq, |r| r.seq)
                    .ok()
                    .and_then(|i| records.get(i));
                if let Some(problem) = self.head_problem(&head, record) {
                    found.push(problem);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// What is wrong with a signed head, given the record at its sequence number.
    fn head_problem(
        &mut self,
        head: &SignedHead,
        record: Option<&AuditRecord>,
    ) -> Option<HeadProblem> {
        match self.history.key_for(head.seq, &head.key_id) {
            KeyVerdict::Problem(problem) => return Some(problem),
            KeyVerdict::Lost => self.unverifiable += 1,
            KeyVerdict::Verify(public_key) => {
                if !verify_signature(public_key, &head.message(), &head.signature) {
                    return Some(HeadProblem::BadSignature { seq: head.seq });
                }
                let handed_over = self.history.rotations().iter().any(|(at, r)| {
                    *at == head.seq && r.old.as_ref().is_some_and(|old| old.id == head.key_id)
                });
                if handed_over {
                    self.vouched.insert(head.seq);
                }
            }
        }
        match record {
            None => Some(HeadProblem::Truncated { seq: head.seq }),
            Some(record) if record.hash != head.hash => {
                Some(HeadProblem::Rewritten { seq: head.seq })
            }
            Some(_) => None,
        }
    }
}
