//! The audit trail as administrators read it: records by office, time and sequence, and the
//! verification of the whole hash chain and of its signed heads; `signing` signs the head,
//! `shipping` copies each record out of the database.

pub mod shipping;
pub mod signing;

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::{self, AuditRecord, ChainBreak, GENESIS_HASH, HeadProblem, SignedHead};
use crate::keys::audit_signing::AuditSigningKey;
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

/// What a verification of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked and found intact.
    pub records: u64,
    /// Where the chain breaks, if it does.
    pub broken: Option<ChainBreak>,
    /// Signed heads checked.
    pub heads: u64,
    /// The first problem with the signed heads (or with the last head this server signed).
    pub head_problem: Option<HeadProblem>,
    /// The newest signed head in the database.
    pub newest_head: Option<SignedHead>,
    /// The id of the key the signatures were checked with.
    pub key_id: String,
}

impl ChainReport {
    /// Whether the chain and its signed heads are intact.
    pub fn intact(&self) -> bool {
        self.broken.is_none() && self.head_problem.is_none()
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

    /// Checks the whole chain, a page at a time, for administrators who may read every office:
    /// each record's link and hash, each signed head's signature and the hash of the record it
    /// signed, and that the database still holds the last head this server signed (its data
    /// directory keeps it). A problem is reported, not returned as an error.
    pub async fn verify_audit(&self, admin: &Admin) -> Result<ChainReport, Error> {
        if !admin.may(Permission::Read(None)) {
            return Err(denied(&Permission::Read(None)));
        }
        let signed_last = signing::read_head_file(&self.audit.head_file)?;
        let mut heads = HeadCheck { after: 0, checked: 0, problem: None };
        let (mut seq, mut hash, mut checked) = (0, GENESIS_HASH, 0u64);
        let mut hash_at_signed_last = None;
        let broken = loop {
            let page = self.store.audit_records(None, seq, MAX_AUDIT_PAGE).await?;
            if page.is_empty() {
                break None;
            }
            let result = audit::verify(seq, hash, &page);
            let good = match &result {
                Ok(_) => &page[..],
                Err(broken) => {
                    let intact = usize::try_from(first_broken_seq(broken) - seq - 1).unwrap_or(0);
                    &page[..intact.min(page.len())]
                }
            };
            heads.check(self, good).await?;
            if let Some((last_seq, _)) = signed_last
                && let Some(record) = good.iter().find(|r| r.seq == last_seq)
            {
                hash_at_signed_last = Some(record.hash);
            }
            checked += good.len() as u64;
            match result {
                Ok((s, h)) => (seq, hash) = (s, h),
                Err(broken) => {
                    let first = first_broken_seq(&broken);
                    tracing::error!(first_broken = first, problem = %broken, "the audit chain is broken");
                    break Some(broken);
                }
            }
        };
        if broken.is_none() {
            heads.beyond_the_end(self).await?;
        }
        let newest_head = self.store.latest_signed_head().await?;
        if heads.problem.is_none()
            && broken.is_none()
            && let Some((last_seq, last_hash)) = signed_last
        {
            let newest = newest_head.as_ref().map_or(0, |h| h.seq);
            heads.problem = if newest < last_seq {
                Some(HeadProblem::HeadsDeleted { seq: last_seq, newest })
            } else if hash_at_signed_last.is_none() {
                Some(HeadProblem::Truncated { seq: last_seq })
            } else if hash_at_signed_last != Some(last_hash) {
                Some(HeadProblem::HeadRewritten { seq: last_seq })
            } else {
                None
            };
        }
        if let Some(problem) = &heads.problem {
            tracing::error!(head = problem.seq(), %problem, "the audit chain's signed heads do not match");
        }
        Ok(ChainReport {
            records: checked,
            broken,
            heads: heads.checked,
            head_problem: heads.problem,
            newest_head,
            key_id: self.audit.key.id().to_owned(),
        })
    }
}

/// The signed heads checked so far, while the chain is walked.
struct HeadCheck {
    /// The last head looked at.
    after: i64,
    /// Heads checked.
    checked: u64,
    /// The first problem found.
    problem: Option<HeadProblem>,
}

impl HeadCheck {
    /// Checks the heads that sign one of `records` (verified, consecutive).
    async fn check(&mut self, services: &Services, records: &[AuditRecord]) -> Result<(), Error> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return Ok(()) };
        loop {
            let heads = services.store.signed_heads(self.after, MAX_AUDIT_PAGE).await?;
            let full = heads.len() == MAX_AUDIT_PAGE as usize;
            for head in heads {
                if head.seq > last.seq {
                    return Ok(());
                }
                self.after = head.seq;
                self.checked += 1;
                if self.problem.is_none() {
                    let record =
                        usize::try_from(head.seq - first.seq).ok().and_then(|i| records.get(i));
                    self.problem = head_problem(&services.audit.key, &head, record);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// A head after the chain's last record signs a record that was removed.
    async fn beyond_the_end(&mut self, services: &Services) -> Result<(), Error> {
        if let Some(head) = services.store.signed_heads(self.after, 1).await?.into_iter().next() {
            self.checked += 1;
            if self.problem.is_none() {
                self.problem = head_problem(&services.audit.key, &head, None);
            }
        }
        Ok(())
    }
}

/// What is wrong with a signed head, given the record at its sequence number.
fn head_problem(
    key: &AuditSigningKey,
    head: &SignedHead,
    record: Option<&AuditRecord>,
) -> Option<HeadProblem> {
    if head.key_id != key.id() {
        return Some(HeadProblem::UnknownKey { seq: head.seq, key_id: head.key_id.clone() });
    }
    if !key.verify(&head.message(), &head.signature) {
        return Some(HeadProblem::BadSignature { seq: head.seq });
    }
    match record {
        None => Some(HeadProblem::Truncated { seq: head.seq }),
        Some(record) if record.hash != head.hash => Some(HeadProblem::Rewritten { seq: head.seq }),
        Some(_) => None,
    }
}
