//! Audit shipping end to end: with `[audit] ship_file` and `ship_syslog` (a fake `/dev/log` the
//! test binds), each record reaches the file as one parseable JSON line and the socket as one
//! datagram, in order, once.

use std::path::PathBuf;
use std::time::Duration;

use crate::TestServer;

/// The fake syslog socket, in the server's data directory.
fn syslog_socket(server: &TestServer) -> PathBuf {
    server.data_dir().join("data/fake-dev-log")
}

fn ship_everywhere(config: &mut sesame_server::config::Config) {
    config.audit.ship_file = Some(config.data_dir.join("audit.jsonl"));
    config.audit.ship_syslog = true;
    config.audit.syslog_socket = config.data_dir.join("fake-dev-log");
}

async fn each_record_is_shipped_once_in_order(server: &TestServer) {
    // The socket appears after the server started: the shipper retries at each poll.
    let socket = tokio::net::UnixDatagram::bind(syslog_socket(server)).unwrap();
    for (crpcen, name) in [("01234", "Étude Dupont"), ("01235", "Étude l'Olivier")] {
        server.sesamectl(&["office", "add", crpcen, "--name", name]).await.unwrap();
    }
    let store = server.database().open().await;
    let records = store.audit_records(None, 0, 1_000).await.unwrap();
    store.close().await;
    assert_eq!(records.len(), 3, "the bootstrap administrator and two offices");

    let file = server.data_dir().join("data/audit.jsonl");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.lines().count() >= records.len() || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let shipped: Vec<serde_json::Value> =
        lines.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(shipped.len(), records.len(), "{lines}");
    for (line, record) in shipped.iter().zip(&records) {
        assert_eq!(line["seq"], record.seq);
        assert_eq!(line["action"], record.action.as_str());
        assert_eq!(line["details"], record.details.as_str());
        let hash: String = record.hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(line["hash"], hash.as_str());
    }

    let mut buffer = vec![0u8; 64 * 1024];
    let mut seqs = Vec::new();
    while seqs.len() < records.len() {
        let n = tokio::time::timeout(Duration::from_secs(30), socket.recv(&mut buffer))
            .await
            .expect("a datagram within 30 s")
            .unwrap();
        let line = std::str::from_utf8(&buffer[..n]).unwrap();
        let json = line.strip_prefix("<86>sesame-audit: ").expect("an authpriv.info line");
        seqs.push(
            serde_json::from_str::<serde_json::Value>(json).unwrap()["seq"].as_i64().unwrap(),
        );
    }
    assert_eq!(seqs, records.iter().map(|r| r.seq).collect::<Vec<_>>());
}

on_both_backends!(with ship_everywhere; each_record_is_shipped_once_in_order);
