//! The audit trail as administrators read it: records by office, time and sequence, and the
//! verification of the whole hash chain.

use time::OffsetDateTime;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::{self, AuditRecord, ChainBreak, GENESIS_HASH};
use crate::services::access::{self, denied};
use crate::services::{Error, Services};

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
}

impl ChainReport {
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

    /// Checks the whole chain, a page at a time, for administrators who may read every office.
    pub async fn verify_audit(&self, admin: &Admin) -> Result<ChainReport, Error> {
        if !admin.may(Permission::Read(None)) {
            return Err(denied(&Permission::Read(None)));
        }
        let (mut seq, mut hash, mut checked) = (0, GENESIS_HASH, 0u64);
        loop {
            let page = self.store.audit_records(None, seq, MAX_AUDIT_PAGE).await?;
            if page.is_empty() {
                return Ok(ChainReport { records: checked, broken: None });
            }
            match audit::verify(seq, hash, &page) {
                Ok((s, h)) => {
                    checked += page.len() as u64;
                    (seq, hash) = (s, h);
                }
                Err(broken) => {
                    let first = first_broken_seq(&broken);
                    tracing::error!(first_broken = first, problem = %broken, "the audit chain is broken");
                    return Ok(ChainReport { records: checked, broken: Some(broken) });
                }
            }
        }
    }
}
