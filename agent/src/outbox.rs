//! The report outbox: a durable, bounded FIFO of step [`Report`]s waiting for the server
//! (`reports.outbox` in the state directory, 0600), in the record format of
//! [`crate::journal::record`]: synced appends, each record with a CRC of its length and a
//! checksum of its length and payload; a torn last record is cut off with a warning, any other
//! damage stops the agent naming the file and the offset, with a copy of the file kept beside it,
//! for `sesame-agent journal-recover` ([`replay`] serves it).
//!
//! Reports are delivered in order ([`Outbox::peek`]) and removed once the server answered for
//! them ([`Outbox::ack`]); they survive restarts in order. The bound is [`Bounds::default`]:
//! 10,000 reports or 10 MiB. On overflow the oldest non-terminal reports (Pending, Started,
//! Changed) are dropped first, never a Verified, Completed or Failed one; drops are counted
//! ([`Outbox::dropped`]). [`Delivery`] paces attempts with [`crate::backoff::backoff`] (full jitter,
//! capped), so that agents do not all come back at once after a server restart.
//!
//! ```ignore
//! let sent = outbox.deliver_once(100, |batch| uplink.report_steps(batch)).await;
//! let wait = match sent { Ok(_) if outbox.is_empty() => { delivery.succeeded(); idle }
//!                         Ok(_) => { delivery.succeeded(); Duration::ZERO }
//!                         Err(_) => delivery.failed() };
//! ```

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sesame_base::rotation::Step;
use sesame_local::account::LocalAccount;
use time::OffsetDateTime;

use crate::journal::record::{RecordError, RecordFile};
use crate::rotation::{KeyEvidence, ReportDraft};
use sesame_base::ids::{ReportId, RotationId};

/// The outbox's file name in the state directory.
pub const FILE_NAME: &str = "reports.outbox";
/// Reports sent in one request at most (the contract's limit).
pub const MAX_BATCH: usize = 100;

/// One step report, as the agent keeps it (the uplink converts it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The idempotency key: a UUID v4.
    pub report_id: ReportId,
    /// The rotation.
    pub rotation_id: RotationId,
    /// The step reached (`Failed` carries the reason).
    pub step: Step,
    /// When (the agent's clock).
    pub occurred_at: OffsetDateTime,
    /// On Started: how the key's absence was established.
    pub key_evidence: Option<KeyEvidence>,
    /// Plain words for an administrator, never a password.
    pub detail: String,
    /// The local account that acted (see [`ReportDraft::local_account`]); absent in reports
    /// written by older agents.
    #[serde(default)]
    pub local_account: Option<LocalAccount>,
}

impl Report {
    /// A report from the machine's draft, with a fresh report id.
    pub fn new(draft: ReportDraft) -> Report {
        Report {
            report_id: new_report_id(),
            rotation_id: draft.rotation_id,
            step: draft.step,
            occurred_at: draft.occurred_at,
            key_evidence: draft.key_evidence,
            detail: draft.detail,
            local_account: draft.local_account,
        }
    }

    /// Verified, Completed and Failed reports are never dropped on overflow.
    pub fn is_terminal(&self) -> bool {
        matches!(self.step, Step::Verified | Step::Completed | Step::Failed(_))
    }
}

/// A new report id from the system's random source (a version 4 UUID): the one place the agent
/// mints them.
pub fn new_report_id() -> ReportId {
    ReportId::mint(rand::rng().random())
}

/// How much the outbox holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Reports.
    pub max_reports: usize,
    /// Bytes of encoded reports.
    pub max_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { max_reports: 10_000, max_bytes: 10 * 1024 * 1024 }
    }
}

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The record file failed (including a full or read-only disk and a corrupt middle).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A record with a valid checksum that is not an outbox record.
    #[error("outbox record {index} cannot be decoded: {detail}")]
    Decode {
        /// Its position.
        index: usize,
        /// What serde said.
        detail: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode an outbox record: {0}")]
    Encode(String),
    /// Full of reports that may not be dropped.
    #[error("the outbox is full of final reports")]
    Full,
}

#[derive(Debug, Serialize, Deserialize)]
enum OutboxRecord {
    Push { report: Report, evicted: Vec<ReportId> },
    Ack { report_ids: Vec<ReportId> },
    Dropped { count: u64 },
}

/// The reports an outbox file's records leave waiting, replayed as [`Outbox::open`] does, oldest
/// first (for `sesame-agent journal-recover`, which may replay records with gaps between them).
pub fn replay<'a>(
    payloads: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Report>, OutboxError> {
    let mut waiting: VecDeque<Report> = VecDeque::new();
    for (index, payload) in payloads.into_iter().enumerate() {
        match decode(payload).map_err(|detail| OutboxError::Decode { index, detail })? {
            OutboxRecord::Push { report, evicted } => {
                waiting.retain(|r| !evicted.contains(&r.report_id));
                waiting.push_back(report);
            }
            OutboxRecord::Ack { report_ids } => {
                waiting.retain(|r| !report_ids.contains(&r.report_id));
            }
            OutboxRecord::Dropped { .. } => {}
        }
    }
    Ok(waiting.into())
}

/// Whether `payload` is an outbox record.
pub fn is_record(payload: &[u8]) -> bool {
    decode(payload).is_ok()
}

fn decode(payload: &[u8]) -> Result<OutboxRecord, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

/// What the server answered for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Recorded now.
    Recorded,
    /// Recorded before.
    Duplicate,
    /// Never accepted (unknown or closed rotation...): dropped.
    Rejected(String),
}

/// The open outbox.
#[derive(Debug)]
pub struct Outbox {
    file: RecordFile,
    pending: VecDeque<(Report, usize)>,
    bytes: usize,
    dropped: u64,
    bounds: Bounds,
}

fn encode(record: &OutboxRecord) -> Result<Vec<u8>, OutboxError> {
    serde_json::to_vec(record).map_err(|e| OutboxError::Encode(e.to_string()))
}

fn size_of(report: &Report) -> Result<usize, OutboxError> {
    serde_json::to_vec(report).map(|v| v.len()).map_err(|e| OutboxError::Encode(e.to_string()))
}

impl Outbox {
    /// Opens (or creates) the outbox in `state_dir` with the default bounds.
    pub fn open(state_dir: &Path) -> Result<Outbox, OutboxError> {
        Outbox::open_with_bounds(state_dir, Bounds::default())
    }

    /// Opens (or creates) the outbox in `state_dir` with `bounds`.
    pub fn open_with_bounds(state_dir: &Path, bounds: Bounds) -> Result<Outbox, OutboxError> {
        let (file, records) = RecordFile::open(&state_dir.join(FILE_NAME))?;
        let mut outbox = Outbox { file, pending: VecDeque::new(), bytes: 0, dropped: 0, bounds };
        for (index, payload) in records.iter().enumerate() {
            let record = decode(payload).map_err(|detail| OutboxError::Decode { index, detail })?;
            outbox.apply(record)?;
        }
        Ok(outbox)
    }

    fn apply(&mut self, record: OutboxRecord) -> Result<(), OutboxError> {
        match record {
            OutboxRecord::Push { report, evicted } => {
                self.remove(&evicted);
                self.dropped += evicted.len() as u64;
                let size = size_of(&report)?;
                self.bytes += size;
                self.pending.push_back((report, size));
            }
            OutboxRecord::Ack { report_ids } => self.remove(&report_ids),
            OutboxRecord::Dropped { count } => self.dropped += count,
        }
        Ok(())
    }

    fn remove(&mut self, ids: &[ReportId]) {
        let mut bytes = self.bytes;
        self.pending.retain(|(report, size)| {
            let keep = !ids.contains(&report.report_id);
            if !keep {
                bytes -= size;
            }
            keep
        });
        self.bytes = bytes;
    }

    /// Queues a report from the machine's draft, durably; `Ok(None)` when it was itself dropped
    /// (a non-terminal report with the outbox full of final ones).
    pub fn push(&mut self, draft: ReportDraft) -> Result<Option<ReportId>, OutboxError> {
        let report = Report::new(draft);
        let id = report.report_id.clone();
        Ok(self.push_report(report)?.then_some(id))
    }

    /// Queues `report` durably, dropping the oldest non-terminal reports when over the bound;
    /// false when `report` itself was dropped.
    pub fn push_report(&mut self, report: Report) -> Result<bool, OutboxError> {
        let size = size_of(&report)?;
        let mut evicted = Vec::new();
        let (mut count, mut bytes) = (self.pending.len(), self.bytes);
        let mut candidates = self.pending.iter().filter(|(r, _)| !r.is_terminal());
        while count + 1 > self.bounds.max_reports || bytes + size > self.bounds.max_bytes {
            match candidates.next() {
                Some((old, old_size)) => {
                    evicted.push(old.report_id.clone());
                    count -= 1;
                    bytes -= old_size;
                }
                None if !report.is_terminal() => {
                    self.file.append(&encode(&OutboxRecord::Dropped { count: 1 })?)?;
                    self.dropped += 1;
                    return Ok(false);
                }
                None => return Err(OutboxError::Full),
            }
        }
        let record = OutboxRecord::Push { report, evicted };
        self.file.append(&encode(&record)?)?;
        if !matches!(&record, OutboxRecord::Push { evicted, .. } if evicted.is_empty()) {
            tracing::warn!("outbox full: oldest non-final reports dropped");
        }
        self.apply(record)?;
        self.compact_if_due()?;
        Ok(true)
    }

    /// The first `n` reports, oldest first.
    pub fn peek(&self, n: usize) -> Vec<Report> {
        self.pending.iter().take(n).map(|(r, _)| r.clone()).collect()
    }

    /// The newest report waiting, if any.
    pub fn newest(&self) -> Option<&Report> {
        self.pending.back().map(|(r, _)| r)
    }

    /// Removes the reports with these ids, durably; returns how many were there.
    pub fn ack(&mut self, report_ids: &[ReportId]) -> Result<usize, OutboxError> {
        let known: Vec<ReportId> = report_ids
            .iter()
            .filter(|id| self.pending.iter().any(|(r, _)| &r.report_id == *id))
            .cloned()
            .collect();
        if known.is_empty() {
            return Ok(0);
        }
        let record = OutboxRecord::Ack { report_ids: known.clone() };
        self.file.append(&encode(&record)?)?;
        self.apply(record)?;
        self.compact_if_due()?;
        Ok(known.len())
    }

    /// Sends the first `batch` reports (at most [`MAX_BATCH`]) with `send`, and removes those the
    /// server answered for (recorded, duplicate or rejected); returns how many.
    pub async fn deliver_once<F, Fut, E>(&mut self, batch: usize, send: F) -> Result<usize, E>
    where
        F: FnOnce(Vec<Report>) -> Fut,
        Fut: Future<Output = Result<Vec<(ReportId, Receipt)>, E>>,
        E: From<OutboxError>,
    {
        let reports = self.peek(batch.clamp(1, MAX_BATCH));
        if reports.is_empty() {
            return Ok(0);
        }
        let receipts = send(reports).await?;
        let mut done = Vec::with_capacity(receipts.len());
        for (id, receipt) in receipts {
            if let Receipt::Rejected(reason) = &receipt {
                tracing::warn!(report_id = %id, %reason, "report rejected by the server; dropped");
            }
            done.push(id);
        }
        Ok(self.ack(&done)?)
    }

    fn compact_if_due(&mut self) -> Result<(), OutboxError> {
        let live = self.bytes as u64;
        if self.file.size() <= live.saturating_mul(2).saturating_add(64 * 1024) {
            return Ok(());
        }
        let mut payloads = vec![encode(&OutboxRecord::Dropped { count: self.dropped })?];
        for (report, _) in &self.pending {
            payloads.push(encode(&OutboxRecord::Push { report: report.clone(), evicted: vec![] })?);
        }
        self.file.rewrite(payloads.iter().map(Vec::as_slice))?;
        Ok(())
    }

    /// Reports waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Reports dropped on overflow, ever (kept across compactions).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes of encoded reports waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Paces delivery attempts: after each failure a full-jitter back-off, capped.
#[derive(Debug, Clone)]
pub struct Delivery {
    failures: u32,
    base: Duration,
    cap: Duration,
}

impl Delivery {
    /// Backs off from `base`, doubling, never over `cap`.
    pub fn new(base: Duration, cap: Duration) -> Delivery {
        Delivery { failures: 0, base, cap }
    }

    /// A delivery went through: the next failure starts from `base` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// A delivery failed: how long to wait before the next one.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        crate::backoff::backoff(self.failures, self.base, self.cap)
    }
}
