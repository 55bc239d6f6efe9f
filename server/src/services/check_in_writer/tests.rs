//! The check-in writer against a fake store: check-ins folded per workstation, one write per
//! flush, backpressure at capacity, failed flushes kept for the next, the background task's
//! windows and its last flush at shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sesame_base::clock::ManualClock;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::{CheckInSink, CheckInWriter};
use crate::domain::check_in::{CheckInRecord, KeyPresence, KeyState};
use crate::services::testing::T0;
use crate::store;

/// Keeps every batch written; fails while `failing` is set.
#[derive(Default)]
struct FakeSink {
    batches: Mutex<Vec<Vec<CheckInRecord>>>,
    failing: Mutex<bool>,
}

#[async_trait]
impl CheckInSink for FakeSink {
    async fn write(
        &self,
        records: &[CheckInRecord],
        _at: OffsetDateTime,
    ) -> Result<(), store::Error> {
        if *self.failing.lock().unwrap() {
            return Err(store::Error::Unavailable("the database is down".into()));
        }
        self.batches.lock().unwrap().push(records.to_vec());
        Ok(())
    }
}

impl FakeSink {
    fn batches(&self) -> Vec<Vec<CheckInRecord>> {
        self.batches.lock().unwrap().clone()
    }
}

fn writer(sink: &Arc<FakeSink>, window: Duration, capacity: usize) -> CheckInWriter {
    CheckInWriter::new(sink.clone(), Arc::new(ManualClock::new(T0)), window, capacity)
}

fn seen(ws: &str, serial: &str, seconds: i64) -> CheckInRecord {
    CheckInRecord::new(ws, serial, None, T0 + time::Duration::seconds(seconds))
}

#[tokio::test]
async fn check_ins_are_folded_per_workstation_and_written_in_one_batch() {
    let sink = Arc::new(FakeSink::default());
    let writer = writer(&sink, Duration::from_secs(60), 100);
    writer.flush().await.unwrap();
    assert!(sink.batches().is_empty(), "nothing pending, nothing written");

    let key = KeyState { presence: KeyPresence::Absent, since: None };
    writer.enqueue(seen("ws-b", "b1", 1).with_key(Some(key.clone()))).await;
    writer.enqueue(seen("ws-a", "a1", 1)).await;
    writer.enqueue(CheckInRecord::new("ws-b", "b2", Some("0.2.0"), T0)).await;
    writer.enqueue(seen("ws-b", "b2", 3)).await;
    assert_eq!(writer.stats().pending, 2);
    writer.flush().await.unwrap();

    let batches = sink.batches();
    assert_eq!(batches.len(), 1, "one write for the whole window");
    let ids: Vec<&str> = batches[0].iter().map(|r| r.workstation_id.as_str()).collect();
    assert_eq!(ids, ["ws-a", "ws-b"], "one row per workstation, in id order");
    let b = &batches[0][1];
    assert_eq!((b.serial.as_str(), b.other_serial.as_deref()), ("b2", Some("b1")));
    assert_eq!(b.seen_at, T0 + time::Duration::seconds(3));
    assert_eq!(b.agent_version.as_deref(), Some("0.2.0"));
    assert_eq!(b.key.as_ref().map(|(k, _)| k), Some(&key));
    let stats = writer.stats();
    assert_eq!((stats.pending, stats.rows_written), (0, 2));
}

#[tokio::test]
async fn a_full_queue_makes_new_workstations_wait_for_a_flush() {
    let sink = Arc::new(FakeSink::default());
    let writer = writer(&sink, Duration::from_secs(60), 2);
    writer.enqueue(seen("ws-1", "s", 0)).await;
    writer.enqueue(seen("ws-2", "s", 0)).await;
    let third = tokio::spawn({
        let writer = writer.clone();
        async move { writer.enqueue(seen("ws-3", "s", 0)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!third.is_finished(), "a third workstation waits");
    // A workstation already pending is folded, without waiting.
    tokio::time::timeout(Duration::from_secs(5), writer.enqueue(seen("ws-1", "s", 1)))
        .await
        .unwrap();
    assert_eq!(writer.stats().pending, 2);

    writer.flush().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), third).await.unwrap().unwrap();
    assert_eq!(writer.stats().pending, 1);
    assert_eq!(sink.batches()[0].len(), 2, "nothing was dropped");
    writer.flush().await.unwrap();
    assert_eq!(sink.batches()[1][0].workstation_id, "ws-3");
}

#[tokio::test]
async fn a_failed_flush_keeps_its_rows_for_the_next() {
    let sink = Arc::new(FakeSink::default());
    let writer = writer(&sink, Duration::from_secs(60), 100);
    writer.enqueue(seen("ws-1", "s1", 0)).await;
    writer.enqueue(seen("ws-2", "s2", 0)).await;
    *sink.failing.lock().unwrap() = true;
    assert!(writer.flush().await.is_err());
    assert_eq!((writer.stats().pending, writer.stats().failed_flushes), (2, 1));

    // A later check-in of ws-1 is folded over the one put back.
    writer.enqueue(CheckInRecord::new("ws-1", "s1", Some("0.3.0"), T0)).await;
    *sink.failing.lock().unwrap() = false;
    writer.flush().await.unwrap();
    let batches = sink.batches();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 2);
    assert_eq!(batches[0][0].agent_version.as_deref(), Some("0.3.0"));
    assert_eq!(writer.stats().pending, 0);
}

#[tokio::test]
async fn the_background_task_flushes_each_window_and_at_shutdown() {
    let sink = Arc::new(FakeSink::default());
    let writer = writer(&sink, Duration::from_millis(20), 100);
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(writer.clone().run(stopping));
    writer.enqueue(seen("ws-1", "s", 0)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sink.batches().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no flush within a window");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A check-in just before the shutdown is written by it.
    writer.enqueue(seen("ws-2", "s", 0)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    let written: Vec<String> =
        sink.batches().concat().into_iter().map(|r| r.workstation_id).collect();
    assert_eq!(written, ["ws-1", "ws-2"]);
}
