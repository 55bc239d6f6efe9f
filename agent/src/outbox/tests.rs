//! Tests of the outbox: order across restarts, acknowledgements, the bound and what it drops,
//! delivery, and the spread of the back-off.

use std::time::Duration;

use sesame_base::rotation::FailureReason;
use time::macros::datetime;

use super::*;

fn draft(n: usize, step: Step) -> ReportDraft {
    ReportDraft {
        rotation_id: sesame_base::ids::RotationId::parse("id", &format!("rot-{n}")).unwrap(),
        step,
        occurred_at: datetime!(2026-11-29 03:00 UTC),
        key_evidence: None,
        detail: format!("report {n}"),
        local_account: None,
    }
}

fn details(outbox: &Outbox) -> Vec<String> {
    outbox.peek(usize::MAX).into_iter().map(|r| r.detail).collect()
}

#[test]
fn reports_come_back_in_order_after_restarts_and_acks_remove_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(outbox.push(draft(n, Step::Started)).unwrap().unwrap());
    }
    drop(outbox);
    let mut outbox = Outbox::open(dir.path()).unwrap();
    assert_eq!(details(&outbox), (0..20).map(|n| format!("report {n}")).collect::<Vec<_>>());
    assert_eq!(outbox.ack(&ids[..5]).unwrap(), 5);
    assert_eq!(outbox.ack(&ids[..5]).unwrap(), 0, "acking twice is harmless");
    outbox.push(draft(20, Step::Verified)).unwrap();
    drop(outbox);
    let outbox = Outbox::open(dir.path()).unwrap();
    let expected: Vec<String> = (5..21).map(|n| format!("report {n}")).collect();
    assert_eq!(details(&outbox), expected);
    assert_eq!(outbox.peek(2).len(), 2);
}

#[test]
fn report_ids_are_version_4_uuids() {
    let id = new_report_id();
    let id = id.as_str();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    assert_ne!(new_report_id(), new_report_id());
}

#[test]
fn overflow_drops_the_oldest_non_final_reports_first_and_never_a_final_one() {
    let dir = tempfile::tempdir().unwrap();
    let bounds = Bounds { max_reports: 5, max_bytes: 1 << 20 };
    let mut outbox = Outbox::open_with_bounds(dir.path(), bounds).unwrap();
    outbox.push(draft(0, Step::Verified)).unwrap();
    outbox.push(draft(1, Step::Started)).unwrap();
    outbox.push(draft(2, Step::Failed(FailureReason::NeedsHuman))).unwrap();
    outbox.push(draft(3, Step::Pending)).unwrap();
    outbox.push(draft(4, Step::Completed)).unwrap();
    outbox.push(draft(5, Step::Changed)).unwrap(); // drops 1
    outbox.push(draft(6, Step::Verified)).unwrap(); // drops 3
    assert_eq!(outbox.len(), 5);
    assert_eq!(outbox.dropped(), 2);
    assert_eq!(details(&outbox), ["report 0", "report 2", "report 4", "report 5", "report 6"]);
    outbox.push(draft(7, Step::Completed)).unwrap(); // drops 5
    // Only final reports left: a new non-final one is itself dropped, a final one refused.
    assert_eq!(outbox.push(draft(8, Step::Started)).unwrap(), None);
    assert!(matches!(outbox.push(draft(9, Step::Verified)), Err(OutboxError::Full)));
    assert_eq!(outbox.dropped(), 4);
    drop(outbox);
    let outbox = Outbox::open_with_bounds(dir.path(), bounds).unwrap();
    assert_eq!(outbox.dropped(), 4, "drops are counted durably");
    assert_eq!(details(&outbox), ["report 0", "report 2", "report 4", "report 6", "report 7"]);
}

#[test]
fn the_byte_bound_holds_and_compaction_keeps_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let bounds = Bounds { max_reports: 10_000, max_bytes: 8 * 1024 };
    let mut outbox = Outbox::open_with_bounds(dir.path(), bounds).unwrap();
    for n in 0..600 {
        outbox.push(draft(n, Step::Started)).unwrap();
        assert!(outbox.bytes() <= bounds.max_bytes);
    }
    let ids: Vec<sesame_base::ids::ReportId> =
        outbox.peek(10).into_iter().map(|r| r.report_id).collect();
    outbox.ack(&ids).unwrap();
    let before = details(&outbox);
    let dropped = outbox.dropped();
    assert!(dropped > 400, "{dropped}");
    let size = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
    assert!(size < 64 * 1024 + 3 * 8 * 1024, "the file is compacted: {size} bytes");
    drop(outbox);
    let outbox = Outbox::open_with_bounds(dir.path(), bounds).unwrap();
    assert_eq!(details(&outbox), before);
    assert_eq!(outbox.dropped(), dropped);
}

#[test]
fn the_default_bound_is_ten_thousand_reports_or_ten_mebibytes() {
    assert_eq!(Bounds::default(), Bounds { max_reports: 10_000, max_bytes: 10 * 1024 * 1024 });
}

#[derive(Debug)]
struct Down;

impl From<OutboxError> for Down {
    fn from(_: OutboxError) -> Down {
        Down
    }
}

#[tokio::test]
async fn delivery_removes_answered_reports_and_keeps_the_rest_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    for n in 0..5 {
        outbox.push(draft(n, Step::Started)).unwrap();
    }
    let failed =
        outbox.deliver_once(3, |_| async { Err::<Vec<(ReportId, Receipt)>, _>(Down) }).await;
    assert!(failed.is_err());
    assert_eq!(outbox.len(), 5);
    let sent = outbox
        .deliver_once(3, |batch| async move {
            Ok::<_, Down>(
                batch
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let receipt = match i {
                            0 => Receipt::Recorded,
                            1 => Receipt::Duplicate,
                            _ => Receipt::Rejected("closed".into()),
                        };
                        (r.report_id, receipt)
                    })
                    .collect(),
            )
        })
        .await
        .unwrap();
    assert_eq!(sent, 3);
    assert_eq!(details(&outbox), ["report 3", "report 4"]);
}

#[test]
fn delivery_backs_off_and_starts_over_after_a_success() {
    let mut delivery = Delivery::new(Duration::from_secs(5), Duration::from_secs(900));
    for _ in 0..40 {
        assert!(delivery.failed() <= Duration::from_secs(900));
    }
    delivery.succeeded();
    assert!(delivery.failed() <= Duration::from_secs(10));
}

/// Over 10,000 draws at the cap the waits spread over the whole range: no tenth of it holds more
/// than twice its share.
#[test]
fn backoff_at_the_cap_is_spread_evenly() {
    let cap = Duration::from_secs(900);
    let mut buckets = [0u32; 10];
    for _ in 0..10_000 {
        let wait = crate::backoff::backoff(40, Duration::from_secs(5), cap);
        assert!(wait <= cap);
        let bucket = (wait.as_secs_f64() / cap.as_secs_f64() * 10.0) as usize;
        buckets[bucket.min(9)] += 1;
    }
    let mean = 10_000 / 10;
    assert!(buckets.iter().all(|b| *b <= 2 * mean), "{buckets:?}");
    assert!(buckets.iter().all(|b| *b >= mean / 2), "{buckets:?}");
}

/// Issue 19: a changed byte in the outbox's middle used to empty it at the next start.
#[test]
fn a_damaged_outbox_is_refused_with_a_copy_and_its_torn_tail_cut() {
    use crate::journal::record::{Damage, MAGIC, RecordError};
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    for n in 0..4 {
        outbox.push(draft(n, Step::Started)).unwrap();
    }
    drop(outbox);
    let path = dir.path().join(FILE_NAME);
    let good = std::fs::read(&path).unwrap();
    // A torn last record is cut: three reports left.
    std::fs::write(&path, &good[..good.len() - 7]).unwrap();
    assert_eq!(Outbox::open(dir.path()).unwrap().len(), 3);
    // The length of the first record (offset 2 of its frame).
    let mut bytes = good.clone();
    bytes[MAGIC.len() + 2] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let error = Outbox::open(dir.path()).unwrap_err();
    let OutboxError::Record(RecordError::Corrupt { offset, damage, copy: Some(copy), .. }) = &error
    else {
        panic!("{error}")
    };
    assert_eq!((*offset, *damage), (MAGIC.len() as u64, Damage::Length));
    assert_eq!(std::fs::read(copy).unwrap(), bytes);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut");
}

#[test]
fn replay_leaves_the_reports_the_outbox_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    let ids: Vec<sesame_base::ids::ReportId> =
        (0..5).map(|n| outbox.push(draft(n, Step::Started)).unwrap().unwrap()).collect();
    outbox.ack(&ids[1..3]).unwrap();
    let expected = outbox.peek(usize::MAX);
    drop(outbox);
    let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
    let read = crate::journal::record::scan(&bytes);
    let payloads: Vec<&[u8]> = read.records.iter().map(|r| r.payload.as_slice()).collect();
    assert!(payloads.iter().all(|p| is_record(p)));
    assert_eq!(replay(payloads).unwrap(), expected);
    assert!(!is_record(b"{\"Snapshot\":{}}"));
}

/// Reports as agents wrote them before `Step` and `FailureReason` were shared (the variant names,
/// `"Started"`, `{"Failed":"KeyPresent"}`).
const PUSHES_BEFORE_SHARED_STEPS: [&str; 2] = [
    concat!(
        r#"{"Push":{"report":{"report_id":"0b6c1f9e-3a52-4d7e-9c1a-5f2e8d4b7a10","#,
        r#""rotation_id":"rot-1","step":"Started","occurred_at":[2026,333,3,0,0,0,0,0,0],"#,
        r#""key_evidence":{"ObservedAbsent":{"at":[2026,333,3,1,0,0,0,0,0]}},"detail":"report 1","#,
        r#""local_account":{"id":"marie","detail":"uid 1001"}},"evicted":[]}}"#,
    ),
    concat!(
        r#"{"Push":{"report":{"report_id":"0b6c1f9e-3a52-4d7e-9c1a-5f2e8d4b7a11","#,
        r#""rotation_id":"rot-1","step":{"Failed":"KeyPresent"},"#,
        r#""occurred_at":[2026,333,3,0,0,0,0,0,0],"key_evidence":null,"detail":"report 1","#,
        r#""local_account":null},"evicted":[]}}"#,
    ),
];

#[test]
fn an_outbox_written_before_the_shared_steps_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = PUSHES_BEFORE_SHARED_STEPS.map(str::as_bytes);
    let bytes = crate::journal::record::framed_file(payloads).unwrap();
    std::fs::write(dir.path().join(FILE_NAME), bytes).unwrap();
    assert!(payloads.iter().all(|p| is_record(p)));
    let outbox = Outbox::open(dir.path()).unwrap();
    let steps: Vec<Step> = outbox.peek(usize::MAX).iter().map(|r| r.step).collect();
    assert_eq!(steps, [Step::Started, Step::Failed(FailureReason::KeyPresent)]);
    assert_eq!(replay(payloads).unwrap(), outbox.peek(usize::MAX));
}
