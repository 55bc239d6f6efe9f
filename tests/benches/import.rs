//! Benchmark: importing 10,000 mailboxes through the whole path (CSV parsing in sesamectl, the TLS
//! gRPC stream, validation, one database transaction) on each backend, first import and re-import.
//!
//! Run with `cargo bench -p sesame-tests --bench import` (PostgreSQL when
//! `SESAME_TEST_POSTGRES_URL` is set). Prints a Markdown table; results are recorded in
//! `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

use std::time::{Duration, Instant};

use sesame_tests::{Backend, TestServer, write_file};

const ROWS: usize = 10_000;
const OFFICES: usize = 20;
const RUNS: usize = 5;

fn csv() -> String {
    let mut csv = String::from("address,display_name\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "nom{i}.prenom@{:05}.mailnot.fr,Prénom Nom {i}\n",
            30_000 + i % OFFICES
        ));
    }
    csv
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.0} ms | {:.0} ms | {:.0} ms | {:.0} rows/s",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        ROWS as f64 / samples[samples.len() / 2].as_secs_f64()
    )
}

async fn run(backend: Backend) -> Option<(Vec<Duration>, Vec<Duration>)> {
    let text = csv();
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let server = TestServer::start(backend).await?;
        for i in 0..OFFICES {
            server
                .sesamectl(&["office", "add", &format!("{:05}", 30_000 + i), "--name", "Office"])
                .await
                .unwrap();
        }
        let file = write_file(server.data_dir(), "bench.csv", &text);
        let path = file.to_str().unwrap();
        let started = Instant::now();
        server.sesamectl(&["mailbox", "import", path]).await.unwrap();
        first.push(started.elapsed());
        let started = Instant::now();
        let out = server.sesamectl(&["mailbox", "import", path]).await.unwrap();
        again.push(started.elapsed());
        assert!(out.starts_with("Nothing to change"), "{out}");
        server.stop().await;
    }
    Some((first, again))
}

#[tokio::main]
async fn main() {
    println!("| backend | operation | median | min | max | throughput (median) |");
    println!("|---|---|---|---|---|---|");
    for (name, backend) in [("SQLite", Backend::Sqlite), ("PostgreSQL", Backend::Postgres)] {
        let Some((first, again)) = run(backend).await else {
            println!("| {name} | skipped: SESAME_TEST_POSTGRES_URL not set | | | | |");
            continue;
        };
        println!("| {name} | import {ROWS} new | {} |", summary(first));
        println!("| {name} | re-import, unchanged | {} |", summary(again));
    }
}
