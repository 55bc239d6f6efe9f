//! The operations listener's limits, from outside, on a server in this process: a half-sent
//! request and a silent connection are closed within the header timeout; connections over each
//! listener's cap (operations, gRPC) are closed at once and counted; `/metrics` serves a snapshot
//! read in the background, not the database at each scrape.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Exposition, eventually, get};
use crate::{Backend, TestServer, silent, write_file};

/// Only a guard against a hang: the header timeout is 5 s, so a connection still open after this
/// long was not closed by it. Never the measure of speed.
const GUARD: Duration = Duration::from_secs(30);

/// Reads `stream` until the server closes it, within [`GUARD`]; what it sent before.
async fn closed_by_the_server(mut stream: TcpStream, what: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "{what}: still open after {GUARD:?}");
    seen
}

/// `/metrics` parsed, once the endpoint answers again (a connection over its cap is closed
/// without an answer).
async fn scrape(ops: SocketAddr) -> Exposition {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if let Some(text) = try_get(ops, "/metrics").await {
            return Exposition::parse(&text);
        }
        assert!(tokio::time::Instant::now() < deadline, "/metrics: no answer within {GUARD:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One GET with `Connection: close`: the body of a 200 answer, `None` if the connection was closed
/// without one.
pub(super) async fn try_get(address: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer)).await.ok()?.ok()?;
    let answer = String::from_utf8(answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200 ").then(|| body.to_owned())
}

/// Finding 8: a request whose headers never end, and a connection that sends nothing, were kept
/// for over a minute. Now both are closed within the header timeout; a whole request still gets
/// its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_and_a_silent_connection_are_closed_within_the_header_timeout() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let ops = server.ops_address;
    let mut half = TcpStream::connect(ops).await.unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: sesame\r\nAccept: */*\r\n").await.unwrap();
    let silent = TcpStream::connect(ops).await.unwrap();
    let (half, silent) = tokio::join!(
        closed_by_the_server(half, "a half-sent request"),
        closed_by_the_server(silent, "a silent connection"),
    );
    // Closed, not answered (hyper may say 408 first; never a 200).
    for seen in [half, silent] {
        assert!(!String::from_utf8_lossy(&seen).contains(" 200 "), "{seen:?}");
    }
    let (status, _, body) = get(ops, "/livez").await;
    assert_eq!((status, body.as_str()), (200, "live\n"));
    server.stop().await;
}

/// Finding 8: the operations listener had no cap. Now, with `[operations] max_connections = 8`,
/// a hundred idle connections get eight places; the others are closed at once and counted, the
/// gRPC port answers sesamectl meanwhile, and the endpoint answers again once they are gone. The
/// gRPC listener has its own cap, counted the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_a_listeners_cap_are_closed_at_once_and_counted() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.operations_max_connections = 8;
        config.grpc_max_connections = Some(16);
    })
    .await
    .expect("SQLite always runs");
    let ops = server.ops_address;
    let source = silent::loopback_sources(1);
    let idle = silent::open(ops, &source, 100).await;
    tokio::time::timeout(GUARD, server.sesamectl(&["office", "list"]))
        .await
        .expect("the gRPC port answers while the operations port is full")
        .expect("sesamectl lists the offices");
    let held = &idle;
    eventually(GUARD, "the connections over the cap are closed", move || async move {
        silent::closed_by_server(held) >= 100 - 8
    })
    .await;
    drop(idle);

    let metrics = scrape(ops).await;
    let operations = [("listener", "operations")];
    assert_eq!(metrics.value("sesame_listener_connections_max", &operations), Some(8.0));
    // The 92 over the cap at least, unless some came in after a place was freed.
    let refused = metrics.value("sesame_listener_connections_refused_total", &operations);
    assert!(refused >= Some(50.0), "{refused:?} refused");
    let grpc = [("listener", "grpc")];
    assert_eq!(metrics.value("sesame_listener_connections_max", &grpc), Some(16.0));

    // The gRPC listener's own cap: silent connections from several addresses (within the
    // handshake bound of each) fill its 16 places; the others are closed at once.
    let sources = silent::loopback_sources(8);
    let idle = silent::open(server.address, &sources, 8).await;
    let held = &idle;
    eventually(GUARD, "the gRPC connections over its cap are closed", move || async move {
        silent::closed_by_server(held) >= 64 - 16
    })
    .await;
    drop(idle);
    let metrics = scrape(ops).await;
    let refused = metrics.value("sesame_listener_connections_refused_total", &grpc);
    assert!(refused >= Some(24.0), "{refused:?} refused");
    // Its places come back: sesamectl connects again.
    let running = &server;
    eventually(GUARD, "sesamectl connects again", move || async move {
        running.sesamectl(&["office", "list"]).await.is_ok()
    })
    .await;
    server.stop().await;
}

/// Finding 8: every scrape queried the database. Now one task reads the numbers (here once an
/// hour, so once in this test): scrapes after a change in the database still say the reading's
/// numbers, the reading count stays at one however many scrapes, and the reading's age grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_serve_the_background_reading_not_the_database() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.metrics_refresh = Duration::from_secs(3600);
    })
    .await
    .expect("SQLite always runs");
    let ops = server.ops_address;
    let first = scrape(ops).await;
    let refreshes =
        |metrics: &Exposition| metrics.value("sesame_metrics_snapshot_refreshes_total", &[]);
    let age = |metrics: &Exposition| metrics.value("sesame_metrics_snapshot_age_seconds", &[]);
    eventually(GUARD, "the first reading", move || async move {
        refreshes(&scrape(ops).await) == Some(1.0)
    })
    .await;
    let before = scrape(ops).await;
    assert_eq!(before.value("sesame_rotations", &[("status", "issued")]), Some(0.0));
    assert_eq!(before.value("sesame_database_up", &[]), Some(1.0));

    server.sesamectl(&["office", "add", "01234", "--name", "Office Dupont"]).await.unwrap();
    let people = "address,display_name\ndupont.jean@01234.mailnot.fr,Jean Dupont\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let address = "dupont.jean@01234.mailnot.fr";
    server.sesamectl(&["provisional", "issue", "--mailbox", address]).await.unwrap();
    // A wait, so that the age has grown (not a measure of speed).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..20 {
        scrape(ops).await;
    }
    let after = scrape(ops).await;
    assert_eq!(refreshes(&after), Some(1.0), "twenty scrapes, one reading");
    assert_eq!(after.value("sesame_rotations", &[("status", "issued")]), Some(0.0));
    assert!(age(&after) > age(&before), "{:?} then {:?}", age(&before), age(&after));
    assert!(age(&first).is_some());
    server.stop().await;
}
