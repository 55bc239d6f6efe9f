//! Benchmark: what a legitimate client waits for, connection and first answer, while 1,000 silent
//! TCP connections are held open against the server, against the same without them. The attacker
//! keeps the pressure up: every connection the server closes is opened again at once.
//!
//! Run with `cargo bench -p sesame-tests --bench silent_sockets`. Prints a Markdown table; results
//! are recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame_proto::v1::GetServerInfoRequest;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use sesame_tests::{Backend, TestServer, silent};

const TRIES: usize = 50;
const SILENT: usize = 1_000;

/// One new TLS channel and one `GetServerInfo` on it, as an agent starting up does.
async fn connect_and_ask(server: &TestServer) -> Duration {
    let started = Instant::now();
    let channel = server.anonymous_channel().await;
    AgentServiceClient::new(channel)
        .get_server_info(GetServerInfoRequest { agent_version: "0.1.0".into() })
        .await
        .unwrap();
    started.elapsed()
}

/// One new sesamectl run (credentials read, TLS channel, `ListOffices`).
async fn sesamectl_list(server: &TestServer) -> Duration {
    let started = Instant::now();
    server.sesamectl(&["office", "list"]).await.unwrap();
    started.elapsed()
}

/// Holds `per_source` silent connections from each of `sources` open until aborted, opening again
/// those the server closes; counts the connections opened.
fn keep_pressure(
    target: SocketAddr,
    sources: Vec<Ipv4Addr>,
    per_source: usize,
    opened: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut held: Vec<_> = Vec::new();
        for &source in &sources {
            held.push(silent::open(target, &[source], per_source).await);
            opened.fetch_add(per_source as u64, Ordering::Relaxed);
        }
        loop {
            for (streams, &source) in held.iter_mut().zip(&sources) {
                streams
                    .retain(|stream| silent::closed_by_server(std::slice::from_ref(stream)) == 0);
                let missing = per_source - streams.len();
                streams.extend(silent::open(target, &[source], missing).await);
                opened.fetch_add(missing as u64, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = samples[(samples.len() * 95).div_ceil(100) - 1];
    format!(
        "{} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(p95),
        ms(samples[samples.len() - 1])
    )
}

/// Measures both clients with `per_source` silent connections from each of `sources` addresses.
async fn run(label: &str, sources: u8, per_source: usize) {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let opened = Arc::new(AtomicU64::new(0));
    let attacker = keep_pressure(
        server.address,
        silent::loopback_sources(sources),
        per_source,
        opened.clone(),
    );
    // Let the attacker open all its connections first.
    let all = (usize::from(sources) * per_source) as u64;
    while opened.load(Ordering::Relaxed) < all {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_start = opened.load(Ordering::Relaxed);
    let started = Instant::now();
    let (mut agent, mut ctl) = (Vec::new(), Vec::new());
    for _ in 0..TRIES {
        agent.push(connect_and_ask(&server).await);
        ctl.push(sesamectl_list(&server).await);
    }
    let reopened = opened.load(Ordering::Relaxed) - at_start;
    let rate = reopened as f64 / started.elapsed().as_secs_f64();
    println!("| {label} | agent: connect + GetServerInfo | {} | {rate:.0}/s |", summary(agent));
    println!("| {label} | sesamectl office list | {} | |", summary(ctl));
    attacker.abort();
    let _ = attacker.await;
    server.stop().await;
}

#[tokio::main]
async fn main() {
    println!(
        "| silent connections | client | tries | median | min | p95 | max | reopened by the attacker |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    run("none", 0, 0).await;
    run(&format!("{SILENT} from 4 addresses"), 4, SILENT / 4).await;
    run(&format!("{} from 64 addresses", 64 * 16), 64, 16).await;
}
