//! [`CheckInWriter`]: the one owner of the check-ins waiting to be written. An agent's check-in
//! is folded into its workstation's pending record ([`CheckInRecord::absorb`]) and answered at
//! once; a background task ([`CheckInWriter::run`]) writes everything pending once per flush
//! window, in one transaction with multi-row statements ([`CheckInStore::record_check_ins`]).
//!
//! The invariants: last-seen times, certificate confirmations and key and OWA states may lag by
//! at most one window, and a crash loses at most one window of them (a failed flush keeps its rows
//! for the next window). Audited facts never go through here. Three exceptions keep every reader
//! exact: a check-in that confirms a new certificate is written before it is answered (the fork
//! rule reads `current_confirmed`), reads that show what check-ins write call
//! [`CheckInWriter::flush`] first, and the server's shutdown flushes what is pending.
//!
//! Memory is bounded: beyond [`DEFAULT_CAPACITY`] workstations pending (or in a flush), a check-in
//! waits for the next flush (asked for at once) instead of growing the queue or being dropped.
//!
//! [`CheckInStore::record_check_ins`]: crate::store::CheckInStore::record_check_ins

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sesame_base::clock::SharedClock;
use sesame_base::error_chain::chain;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::domain::check_in::CheckInRecord;
use crate::domain::office::Text;
use crate::services::workstations::agent::AgentIdentity;
use crate::services::workstations::check_in::CheckIn;
use crate::services::{Error, Services};
use crate::store::{self, CheckInStore};

/// The most workstations pending (or being written) at once.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// How many times the shutdown tries to write what is pending.
const FINAL_ATTEMPTS: u32 = 3;

/// Where flushed check-ins go: the store, or a fake in tests.
#[async_trait]
pub trait CheckInSink: Send + Sync {
    /// Writes one flush's records (one per workstation) at `at`, all or nothing.
    async fn write(
        &self,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<(), store::Error>;
}

#[async_trait]
impl CheckInSink for Arc<dyn CheckInStore> {
    async fn write(
        &self,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<(), store::Error> {
        self.record_check_ins(records, at).await
    }
}

/// What the writer reports to the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Workstations waiting for a flush, or in one.
    pub pending: u64,
    /// How long the last flush that wrote something took.
    pub last_flush: Duration,
    /// Rows written since the start.
    pub rows_written: u64,
    /// Flushes that failed since the start.
    pub failed_flushes: u64,
}

/// The check-ins not written yet. Cloned handles share one queue.
#[derive(Clone)]
pub struct CheckInWriter {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Arc<dyn CheckInSink>,
    clock: SharedClock,
    window: Duration,
    capacity: usize,
    queue: Mutex<Queue>,
    /// Told when a flush ends (room made, or rows put back).
    flushed: Notify,
    /// Told when the queue is full: the background task flushes without waiting for the window.
    full: Notify,
    /// One flush at a time; held across the write.
    turn: Arc<tokio::sync::Mutex<()>>,
    last_flush_micros: AtomicU64,
    rows_written: AtomicU64,
    failed_flushes: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Per workstation id, its folded check-ins.
    pending: HashMap<String, CheckInRecord>,
    /// Rows taken by the flush under way.
    in_flight: usize,
}

impl fmt::Debug for CheckInWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckInWriter")
            .field("window", &self.inner.window)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl CheckInWriter {
    /// A writer to `store`, flushing every `window`.
    pub fn for_store(
        store: Arc<dyn CheckInStore>,
        clock: SharedClock,
        window: Duration,
    ) -> CheckInWriter {
        CheckInWriter::new(Arc::new(store), clock, window, DEFAULT_CAPACITY)
    }

    /// A writer to `sink`, flushing every `window`, holding at most `capacity` workstations.
    pub fn new(
        sink: Arc<dyn CheckInSink>,
        clock: SharedClock,
        window: Duration,
        capacity: usize,
    ) -> CheckInWriter {
        CheckInWriter {
            inner: Arc::new(Inner {
                sink,
                clock,
                window,
                capacity: capacity.max(1),
                queue: Mutex::new(Queue::default()),
                flushed: Notify::new(),
                full: Notify::new(),
                turn: Arc::new(tokio::sync::Mutex::new(())),
                last_flush_micros: AtomicU64::new(0),
                rows_written: AtomicU64::new(0),
                failed_flushes: AtomicU64::new(0),
            }),
        }
    }

    /// The flush window.
    pub fn window(&self) -> Duration {
        self.inner.window
    }

    /// Folds `record` into its workstation's pending one. When the queue holds its capacity of
    /// other workstations, waits for a flush to make room (and asks for one now).
    pub async fn enqueue(&self, record: CheckInRecord) {
        let mut record = Some(record);
        loop {
            let flushed = self.inner.flushed.notified();
            tokio::pin!(flushed);
            flushed.as_mut().enable();
            {
                let mut queue = self.inner.lock();
                let Some(next) = record.take() else { return };
                if let Some(pending) = queue.pending.get_mut(&next.workstation_id) {
                    pending.absorb(next);
                    return;
                }
                if queue.pending.len() + queue.in_flight < self.inner.capacity {
                    queue.pending.insert(next.workstation_id.clone(), next);
                    return;
                }
                record = Some(next);
            }
            self.inner.full.notify_one();
            flushed.await;
        }
    }

    /// Writes everything pending now, after the flush under way if any: once it returns `Ok`,
    /// every check-in enqueued before the call is in the database. Cheap when nothing is pending.
    /// The write goes on if the caller stops waiting; when it fails, its rows stay pending.
    pub async fn flush(&self) -> Result<(), store::Error> {
        {
            let queue = self.inner.lock();
            if queue.pending.is_empty() && queue.in_flight == 0 {
                return Ok(());
            }
        }
        let inner = self.inner.clone();
        match tokio::spawn(async move { inner.flush().await }).await {
            Ok(done) => done,
            Err(join) => Err(store::Error::Internal(Box::new(join))),
        }
    }

    /// What the metrics show.
    pub fn stats(&self) -> WriterStats {
        let pending = {
            let queue = self.inner.lock();
            queue.pending.len() + queue.in_flight
        };
        WriterStats {
            pending: pending as u64,
            last_flush: Duration::from_micros(self.inner.last_flush_micros.load(Ordering::Relaxed)),
            rows_written: self.inner.rows_written.load(Ordering::Relaxed),
            failed_flushes: self.inner.failed_flushes.load(Ordering::Relaxed),
        }
    }

    /// Flushes once per window (sooner when the queue is full) until `stopping` turns true or its
    /// sender is dropped; then writes what is pending, trying a few times. A failed flush is
    /// logged, and its rows wait for the next window.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.inner.window);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.inner.full.notified() => {}
                _ = stopping.wait_for(|stop| *stop) => break,
            }
            if let Err(error) = self.flush().await {
                tracing::warn!(
                    error = %chain(&error),
                    pending = self.stats().pending,
                    "cannot write the check-ins; retrying at the next window"
                );
            }
        }
        for attempt in 1..=FINAL_ATTEMPTS {
            match self.flush().await {
                Ok(()) => return,
                Err(error) if attempt < FINAL_ATTEMPTS => {
                    tracing::warn!(error = %chain(&error), attempt, "cannot write the check-ins at shutdown; retrying");
                    tokio::time::sleep(self.inner.window).await;
                }
                Err(error) => {
                    tracing::error!(
                        error = %chain(&error),
                        lost = self.stats().pending,
                        "cannot write the check-ins at shutdown: their last-seen times are lost"
                    );
                }
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One flush: takes what is pending, writes it, puts it back if the write failed.
    async fn flush(&self) -> Result<(), store::Error> {
        let _turn = self.turn.clone().lock_owned().await;
        let mut batch: Vec<CheckInRecord> = {
            let mut queue = self.lock();
            let pending = std::mem::take(&mut queue.pending);
            queue.in_flight = pending.len();
            pending.into_values().collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        // The same order on every server: concurrent flushes lock rows in one order.
        batch.sort_by(|a, b| a.workstation_id.cmp(&b.workstation_id));
        let started = Instant::now();
        let written = self.sink.write(&batch, self.clock.now()).await.and_then(|()| {
            // Written, then failed (test builds only): the rows go back and are written again.
            sesame_base::failpoint::hit("check-ins:written")
                .map_err(|e| store::Error::Unavailable(Box::new(e)))
        });
        {
            let mut queue = self.lock();
            queue.in_flight = 0;
            match &written {
                Ok(()) => {
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.last_flush_micros.store(micros, Ordering::Relaxed);
                    self.rows_written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    self.failed_flushes.fetch_add(1, Ordering::Relaxed);
                    for mut earlier in batch {
                        if let Some(later) = queue.pending.remove(&earlier.workstation_id) {
                            earlier.absorb(later);
                        }
                        queue.pending.insert(earlier.workstation_id.clone(), earlier);
                    }
                }
            }
        }
        self.flushed.notify_waiters();
        written
    }
}

impl Services {
    /// Queues an agent's check-in for the next flush and answers the server's time. The first
    /// check-in with a new certificate is written before the answer: until it is, the certificate
    /// before it is still accepted, and that window must not grow by a flush window.
    pub(crate) async fn queue_check_in(
        &self,
        agent: &AgentIdentity,
        check_in: &CheckIn,
    ) -> Result<OffsetDateTime, Error> {
        let now = self.clock.now();
        let ws = &agent.workstation;
        let version = check_in.agent_version.as_ref().map(Text::as_str);
        let record = CheckInRecord::new(ws.id.as_str(), &agent.serial, version, now)
            .with_key(check_in.key.clone())
            .with_readiness(check_in.readiness.clone());
        self.check_in_writer.enqueue(record).await;
        if !ws.current_confirmed && agent.serial == ws.current_serial {
            self.check_in_writer.flush().await?;
        }
        Ok(now)
    }

    /// Writes the check-ins answered so far, before a read that shows what they change
    /// (last-seen times, key states, readiness, compliance).
    pub(crate) async fn settle_check_ins(&self) -> Result<(), Error> {
        Ok(self.check_in_writer.flush().await?)
    }
}

#[cfg(test)]
mod tests;
