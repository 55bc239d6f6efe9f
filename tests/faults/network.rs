//! A slow and failing network between a real agent and the server (docs/reliability.md C, G): the
//! agent reaches the server only through a [`FaultProxy`]: slow (latency, a throughput cap), then
//! dropping connections at random points, then a blackhole, then healed. Meanwhile the person
//! changes the password (Exchange is reachable) and plugs the key back in. The back-off stays
//! within its specified cap (full jitter from 5 s, doubling, at most 15 min), every step the agent
//! journaled reaches the server once the network heals, and each is recorded exactly once.

use std::time::Duration;

use sesame_tests::fault_proxy::{FaultProxy, Faults};
use sesame_tests::{Backend, TestServer};
use tokio::task::block_in_place;

use crate::environment::{
    MAILBOX, NEW, owa, person_types, recorded_steps, roll_out, wait_for_agent, wait_for_step,
};

/// The specified cap of the agent's back-off (`agent/src/backoff.rs`).
const CAP: Duration = Duration::from_secs(15 * 60);

/// The waits the agent logged after failed check-ins (`retry_in=…`).
pub(crate) fn logged_backoffs(log: &str) -> Vec<Duration> {
    let log = crate::environment::without_colours(log);
    log.lines()
        .filter(|line| line.contains("check-in failed"))
        .filter_map(|line| line.split("retry_in=").nth(1)?.split_whitespace().next())
        .filter_map(parse_debug_duration)
        .collect::<Vec<_>>()
}

/// A `Duration`'s `Debug` text (`3.2s`, `850ms`, `12µs`, `7ns`).
fn parse_debug_duration(text: &str) -> Option<Duration> {
    let text = text.trim_matches(|c: char| c == ',' || c == '"');
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => value,
        "ms" => value / 1e3,
        "µs" | "us" => value / 1e6,
        "ns" => value / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The scenario, on `backend`.
async fn slow_and_failing(backend: Backend) -> String {
    let server = TestServer::start_with(backend, |config| {
        config.agents.check_in_interval = time::Duration::seconds(3);
    })
    .await
    .expect("the database is there under CI");
    let sim = owa().await;
    let proxy = FaultProxy::start(server.address).await;
    let (mut host, provisional) = roll_out(&server, &sim, &proxy.url()).await;

    // Slow: 40 ms per chunk each way, 32 KiB/s.
    proxy.set(Faults {
        latency: Duration::from_millis(40),
        bytes_per_second: Some(32 * 1024),
        ..Faults::default()
    });
    block_in_place(|| host.start(None));
    wait_for_agent(&host, MAILBOX, Duration::from_secs(60)).await;

    // Failing: one chunk in five cuts its connection (inside a TLS handshake, or mid-request),
    // while the person changes the password.
    proxy.set(Faults {
        latency: Duration::from_millis(20),
        drop_probability: 0.2,
        ..Faults::default()
    });
    let (code, said) = person_types(&host, &[&provisional, NEW, NEW]);
    assert_eq!(code, 0, "the change needs Exchange, not the server: {said}\n{}", host.log());
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Down: every connection cut at its first chunk; the agent backs off.
    proxy.set(Faults { drop_after_bytes: Some(0), ..Faults::default() });
    block_in_place(|| host.plug());
    tokio::time::sleep(Duration::from_secs(6)).await;
    // A blackhole: everything lost, connections held open.
    proxy.set(Faults { blackhole: true, ..Faults::default() });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = proxy.stats();

    // Healed.
    proxy.set(Faults::default());
    let healed = std::time::Instant::now();
    let steps =
        wait_for_step(&server, &host, "provisional", "completed", Duration::from_secs(120)).await;
    let recovery = healed.elapsed();
    wait_for_agent(&host, "reçu par le serveur", Duration::from_secs(60)).await;
    let steps_after = recorded_steps(&server).await;
    let mut counts = std::collections::BTreeMap::new();
    for (_, step) in steps_after.iter().filter(|(kind, _)| kind == "provisional") {
        *counts.entry(step.clone()).or_insert(0usize) += 1;
    }
    for step in ["started", "changed", "verified", "completed"] {
        assert_eq!(counts.get(step), Some(&1), "{step} recorded once: {steps_after:?}");
    }
    assert_eq!(sim.changes().len(), 1, "exactly one change");
    let audit = server.sesamectl(&["audit", "verify"]).await.expect("the audit chain verifies");
    let log = host.log();
    let waits = logged_backoffs(&log);
    let attempts = proxy.accepted_at();
    let gaps: Vec<f64> =
        attempts.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect::<Vec<_>>();
    let longest_gap = gaps.iter().copied().fold(0.0, f64::max);
    let longest = waits.iter().max().copied().unwrap_or_default();
    assert!(waits.iter().all(|w| *w <= CAP), "a wait over the cap: {waits:?}");
    block_in_place(|| host.stop());
    let total = proxy.stats();
    sim.stop().await;
    server.stop().await;
    format!(
        "{backend:?}: proxy {} connections, {} dropped on purpose, {} met the blackhole, {} KiB \
         relayed; {} failed check-ins retried, waits logged {:?} (longest {:.1} s, cap {} s, \
         none over); longest gap between connection attempts {longest_gap:.1} s; healed → \
         completed recorded in {:.1} s; steps recorded {counts:?} (each once; {} events for \
         the rotation); 1 change on Exchange; audit: {}",
        total.connections,
        total.dropped,
        during.blackholed,
        total.bytes / 1024,
        waits.len(),
        waits.iter().map(|w| format!("{:.1}s", w.as_secs_f64())).collect::<Vec<_>>(),
        longest.as_secs_f64(),
        CAP.as_secs(),
        recovery.as_secs_f64(),
        steps.iter().filter(|(kind, _)| kind == "provisional").count(),
        audit.lines().next().unwrap_or_default(),
    )
}

/// On SQLite.
pub(crate) async fn sqlite() -> String {
    slow_and_failing(Backend::Sqlite).await
}

/// On PostgreSQL.
pub(crate) async fn postgres() -> String {
    slow_and_failing(Backend::Postgres).await
}
