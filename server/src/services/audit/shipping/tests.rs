//! Tests of audit shipping: one JSON line per record, in order, none repeated or lost across
//! restarts and torn writes; the syslog datagrams against a socket the test binds.

use std::sync::Arc;

use super::{ShipTarget, Sink, record_line, start_position, syslog_line};
use crate::domain::audit::{AuditRecord, GENESIS_HASH, verify};
use crate::services::testing::{Fixture, T0};

fn target(dir: &std::path::Path, name: &str) -> ShipTarget {
    ShipTarget { path: dir.join(name), position: dir.join(format!("{name}.position")) }
}

/// The records a shipped file holds, each line parsed back.
fn shipped(path: &std::path::Path) -> Vec<AuditRecord> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(parse).collect()
}

fn parse(line: &str) -> AuditRecord {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let hash = |field: &str| -> [u8; 32] {
        hex::decode(v[field].as_str().unwrap()).unwrap().try_into().unwrap()
    };
    AuditRecord {
        seq: v["seq"].as_i64().unwrap(),
        at: time::OffsetDateTime::parse(
            v["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap(),
        actor: v["actor"].as_str().unwrap().to_owned(),
        action: v["action"].as_str().unwrap().to_owned(),
        office: v["office"].as_str().map(str::to_owned),
        target: v["target"].as_str().unwrap().to_owned(),
        details: v["details"].as_str().unwrap().to_owned(),
        prev_hash: hash("prev_hash"),
        hash: hash("hash"),
    }
}

#[tokio::test]
async fn the_file_gets_each_record_once_in_order_across_restarts() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path(), "audit.jsonl");
    f.office("01234").await;
    f.office("01235").await;
    let mut position = start_position(Sink::File, &target).unwrap();
    assert_eq!(position, 0);
    f.services.ship_committed(Sink::File, &target, &mut position).await;
    assert_eq!(position, 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o007, 0, "not world-readable: {mode:o}");
    }
    // A crash after the lines were flushed, before the position was noted: the file says where.
    std::fs::remove_file(&target.position).unwrap();
    f.office("01236").await;
    let mut position = start_position(Sink::File, &target).unwrap();
    assert_eq!(position, 2);
    f.services.ship_committed(Sink::File, &target, &mut position).await;
    // A torn last line is cut, and its record shipped again whole.
    let mut text = std::fs::read_to_string(&target.path).unwrap();
    text.push_str("{\"seq\":4,\"act");
    std::fs::write(&target.path, text).unwrap();
    std::fs::write(&target.position, "3\n").unwrap();
    f.office("01237").await;
    let mut position = start_position(Sink::File, &target).unwrap();
    assert_eq!(position, 3);
    f.services.ship_committed(Sink::File, &target, &mut position).await;
    let lines = shipped(&target.path);
    assert_eq!(lines.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // The lines are the records as stored: the chain can be recomputed from them.
    assert_eq!(verify(0, GENESIS_HASH, &lines).unwrap().0, 4);
    assert_eq!(lines, f.services.store.audit_records(None, 0, 10).await.unwrap());
    // A log rotation that moved the file away: the position file says where to go on.
    std::fs::rename(&target.path, dir.path().join("audit.jsonl.1")).unwrap();
    f.office("01238").await;
    let mut position = start_position(Sink::File, &target).unwrap();
    f.services.ship_committed(Sink::File, &target, &mut position).await;
    assert_eq!(shipped(&target.path).iter().map(|r| r.seq).collect::<Vec<_>>(), [5]);
}

/// A datagram's length, or a failure after 30 s (the shipper polls every second).
#[cfg(unix)]
async fn within(recv: impl Future<Output = std::io::Result<usize>>) -> usize {
    tokio::time::timeout(std::time::Duration::from_secs(30), recv).await.unwrap().unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn syslog_gets_one_datagram_per_record_and_a_stop_ships_what_is_committed() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let target = target(dir.path(), "log");
    let socket = tokio::net::UnixDatagram::bind(&target.path).unwrap();
    f.office("01234").await;
    f.office("01235").await;
    let services = Arc::new(f.services);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let shipper =
        tokio::spawn(services.clone().run_shipper(Sink::Syslog, target.clone(), stopping));
    let mut buffer = vec![0u8; 128 * 1024];
    let mut received = Vec::new();
    for _ in 0..2 {
        let n = within(socket.recv(&mut buffer)).await;
        received.push(String::from_utf8(buffer[..n].to_vec()).unwrap());
    }
    // Committed just before the stop: shipped before the shipper returns.
    let office = crate::services::testing::new_office("01236", "Office");
    services
        .store
        .create_office(&office, &crate::domain::audit::Actor::system(), T0)
        .await
        .unwrap();
    stop.send(true).unwrap();
    shipper.await.unwrap();
    let n = within(socket.recv(&mut buffer)).await;
    received.push(String::from_utf8(buffer[..n].to_vec()).unwrap());
    let records = services.store.audit_records(None, 0, 10).await.unwrap();
    for (line, record) in received.iter().zip(&records) {
        let json = line.strip_prefix("<86>sesame-audit: ").unwrap();
        assert_eq!(parse(json), *record);
    }
    assert_eq!(std::fs::read_to_string(&target.position).unwrap(), "3\n");
    // Restarted: nothing is sent again.
    assert_eq!(start_position(Sink::Syslog, &target).unwrap(), 3);
}

#[test]
fn an_oversized_record_goes_to_syslog_without_its_details() {
    let record = AuditRecord {
        seq: 7,
        at: T0,
        actor: "system".to_owned(),
        action: "mailbox.import".to_owned(),
        office: Some("01234".to_owned()),
        target: "01234".to_owned(),
        details: format!("{{\"created\":[\"{}\"]}}", "x".repeat(super::SYSLOG_MAX)),
        prev_hash: [1; 32],
        hash: [2; 32],
    };
    assert!(record_line(&record).contains("xxxx"));
    let line = syslog_line(&record);
    assert!(line.len() < 1024, "{line}");
    let v: serde_json::Value =
        serde_json::from_str(line.strip_prefix("<86>sesame-audit: ").unwrap()).unwrap();
    assert_eq!((v["seq"].as_i64(), v["details_left_out"].as_bool()), (Some(7), Some(true)));
    assert_eq!(v["hash"].as_str().unwrap(), hex::encode([2; 32]));
}
