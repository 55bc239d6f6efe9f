//! Benchmark: what a legitimate client waits for, connection and first answer, while 1,000 silent
//! TCP connections are held open against the server, against the same without them.
//!
//! Run with `cargo bench -p sesame-tests --bench silent_sockets`. Prints a Markdown table; results
//! are recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

use std::time::{Duration, Instant};

use sesame_proto::v1::GetServerInfoRequest;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use sesame_tests::{Backend, TestServer, silent};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

const TRIES: usize = 50;
const SILENT: usize = 1_000;

/// One new TLS channel and one `GetServerInfo` on it, as an agent starting up does.
async fn connect_and_ask(server: &TestServer) -> Duration {
    let credentials = server.read_credentials();
    let started = Instant::now();
    let channel = Endpoint::from_shared(credentials.server)
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(credentials.ca_certificate)),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
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
    let silent = silent::open(server.address, &silent::loopback_sources(sources), per_source).await;
    let (mut agent, mut ctl) = (Vec::new(), Vec::new());
    for _ in 0..TRIES {
        agent.push(connect_and_ask(&server).await);
        ctl.push(sesamectl_list(&server).await);
    }
    println!("| {label} | agent: connect + GetServerInfo | {} |", summary(agent));
    println!("| {label} | sesamectl office list | {} |", summary(ctl));
    drop(silent);
    server.stop().await;
}

#[tokio::main]
async fn main() {
    println!("| silent connections | client | tries | median | min | p95 | max |");
    println!("|---|---|---|---|---|---|---|");
    run("none", 0, 0).await;
    run(&format!("{SILENT} from 4 addresses"), 4, SILENT / 4).await;
    run(&format!("{} from 64 addresses", 64 * 16), 64, 16).await;
}
