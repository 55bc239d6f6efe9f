//! Benchmark: one whole OWA password change by the agent's client against the Exchange simulator
//! on loopback (logon page, login, expired-password page, change, verifying login, log-off: ten
//! HTTPS requests, twelve for a direct change), must-change and direct, and the cost of refusing a
//! hostile 50 MB page. Each run builds its own client (TLS configuration and system roots
//! included), as the agent does for each rotation.
//!
//! Run with `cargo bench -p sesame-tests --bench owa_change`. Prints a Markdown table; results are
//! recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sesame_agent::owa::{ChangeOutcome, HttpSettings, OwaClient, OwaEndpoint, OwaLogon};
use sesame_base::clock::SystemClock;
use sesame_tests::owa_sim::{Behaviour, OwaSim, SimOptions};

const RUNS: usize = 200;

fn client(sim: &OwaSim) -> OwaClient {
    let settings = HttpSettings {
        extra_roots: vec![sim.ca().der()],
        resolve: vec![(sim.host().to_owned(), sim.address())],
        ..HttpSettings::default()
    };
    let endpoint = OwaEndpoint::parse(&sim.url()).unwrap();
    OwaClient::new(endpoint, &settings, Arc::new(SystemClock)).unwrap()
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = samples[samples.len() * 95 / 100];
    format!(
        "{} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(p95),
        ms(samples[samples.len() - 1])
    )
}

async fn changes(must_change: bool) -> Vec<Duration> {
    let sim = OwaSim::start(SimOptions::default()).await;
    let mut samples = Vec::new();
    for i in 0..RUNS {
        let user = format!("nom{i}.prenom@12345.mailnot.fr");
        sim.add_account(&user, "Provisoire-2026!", must_change);
        let (current, new) =
            (SecretString::from("Provisoire-2026!"), SecretString::from("Etude-2026!x"));
        let started = Instant::now();
        let outcome = client(&sim)
            .change_password(&OwaLogon::new(user.clone(), None), &current, &new)
            .await
            .unwrap();
        samples.push(started.elapsed());
        assert_eq!(outcome, ChangeOutcome::ChangedAndVerified);
    }
    sim.stop().await;
    samples
}

async fn huge_pages() -> Vec<Duration> {
    let sim = OwaSim::start(SimOptions {
        behaviour: Behaviour::HugePageChunked,
        ..SimOptions::default()
    })
    .await;
    let mut samples = Vec::new();
    for _ in 0..RUNS / 10 {
        let password = SecretString::from("Provisoire-2026!");
        let started = Instant::now();
        let refused =
            client(&sim).login(&OwaLogon::new("a@12345.mailnot.fr", None), &password).await;
        samples.push(started.elapsed());
        assert!(refused.is_err());
    }
    sim.stop().await;
    samples
}

#[tokio::main]
async fn main() {
    println!("| case | runs | median | min | p95 | max |");
    println!("|---|---|---|---|---|---|");
    println!("| must-change password, changed and verified | {} |", summary(changes(true).await));
    println!("| direct change (not expired), verified | {} |", summary(changes(false).await));
    println!("| 50 MB chunked logon page refused at 2 MiB | {} |", summary(huge_pages().await));
}
