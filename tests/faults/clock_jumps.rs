//! Clock jumps (docs/reliability.md D5, D6): after a provisional change, the server's clock and the
//! workstation's (`SESAME_AGENT_CLOCK_OFFSET_SECONDS`, the agent restarted as a workstation
//! waking up) jump 40 days forward, then 2 days back, then the workstation's alone back to the
//! real time while the server's stays 38 days ahead. Nothing panics; the agent's certificate,
//! expired or not yet valid in the server's eyes, is recovered with its key; the periodic rotation
//! falls due by the server's time; the agent keeps checking in and completes it.

use std::time::Duration;

use sesame_tests::agent_host::AgentHost;
use sesame_tests::owa_sim::OwaSim;
use sesame_tests::{Backend, TestServer};
use tokio::task::block_in_place;

use crate::environment::{
    MAILBOX, NEW, owa, person_types, roll_out, server_log, wait_for_agent, wait_for_step,
};

/// The personal password of the periodic change.
const NEXT: &str = "Printemps#Violons-27";

/// Restarts the agent with its clock `days` ahead of the real time; returns when.
async fn restart_at(host: &mut AgentHost, days: i64) -> std::time::Instant {
    block_in_place(|| host.stop());
    let offset = (days * 24 * 3600).to_string();
    let started = std::time::Instant::now();
    block_in_place(|| host.start_with(None, &[("SESAME_AGENT_CLOCK_OFFSET_SECONDS", &offset)]));
    wait_for_agent(host, MAILBOX, Duration::from_secs(60)).await;
    started
}

/// Waits until the agent's log says it recovered its identity more than `before` times; returns
/// how long after `since`.
async fn recovered_after(host: &AgentHost, since: std::time::Instant, before: usize) -> Duration {
    for _ in 0..600 {
        if host.log().matches("identity recovered").count() > before {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the agent never recovered its identity:\n{}", host.log());
}

/// The newest `last_seen_at` of the workstations, as the server's clock stamped it.
async fn last_seen(server: &TestServer) -> Option<time::OffsetDateTime> {
    let shown = server.sesamectl(&["workstation", "list", "--output", "json"]).await.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&shown).unwrap();
    seen.as_array()
        .or_else(|| seen["workstations"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|w| w["last_seen_at"].as_str())
        .filter_map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .max()
}

/// Waits until the server records a check-in stamped within a minute of its clock's now and
/// different from `before` (its clock may have gone back).
/// Returns how long after `since`.
async fn checked_in(
    server: &TestServer,
    host: &AgentHost,
    before: Option<time::OffsetDateTime>,
    since: std::time::Instant,
) -> Duration {
    for _ in 0..600 {
        let seen = last_seen(server).await;
        let now = server.clock_now();
        if seen != before && seen.is_some_and(|t| (t - now).abs() < time::Duration::minutes(1)) {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no check-in at the server's time {}:\nagent log:\n{}", server.clock_now(), host.log());
}

async fn jumps(backend: Backend) -> String {
    let log = server_log();
    let server = TestServer::start_with(backend, |config| {
        config.rotation_period = time::Duration::days(30);
        config.agents.check_in_interval = time::Duration::seconds(3);
    })
    .await
    .expect("the database is there under CI");
    let sim: OwaSim = owa().await;
    let (mut host, provisional) = roll_out(&server, &sim, &server.url()).await;
    block_in_place(|| host.start(None));
    wait_for_agent(&host, MAILBOX, Duration::from_secs(30)).await;
    let (code, said) = person_types(&host, &[&provisional, NEW, NEW]);
    assert_eq!(code, 0, "{said}\n{}", host.log());
    block_in_place(|| host.plug());
    wait_for_step(&server, &host, "provisional", "completed", Duration::from_secs(60)).await;

    // +40 days on both: the certificate (7 days) expired; a periodic rotation falls due.
    server.clock.advance(time::Duration::days(40));
    sim.age_passwords();
    let before = last_seen(&server).await;
    let started = restart_at(&mut host, 40).await;
    let forward = checked_in(&server, &host, before, started).await;
    wait_for_agent(&host, "périodique", Duration::from_secs(60)).await;

    // −2 days on both: the certificate issued at +40 days is not yet valid at +38.
    server.clock.advance(-time::Duration::days(2));
    let recoveries = host.log().matches("identity recovered").count();
    let started = restart_at(&mut host, 38).await;
    let backward = recovered_after(&host, started, recoveries).await;
    let stamped = last_seen(&server).await;
    let ahead = stamped.filter(|t| *t > server.clock_now()).map(|t| t - server.clock_now());

    // The workstation's clock back to the real time, the server's still 38 days ahead (a
    // workstation whose clock was reset): the deadlines are the server's.
    let started = restart_at(&mut host, 0).await;
    block_in_place(|| host.unplug());
    let (code, said) = person_types(&host, &[NEW, NEXT, NEXT]);
    assert_eq!(code, 0, "the periodic change after the jumps: {said}\n{}", host.log());
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEXT), "the ground truth");
    block_in_place(|| host.plug());
    let steps =
        wait_for_step(&server, &host, "periodic", "completed", Duration::from_secs(60)).await;
    let back = started.elapsed();
    assert_eq!(sim.changes().len(), 2, "one change per rotation");

    let agent_log = host.log();
    block_in_place(|| host.stop());
    let recovered = agent_log.matches("identity recovered").count();
    let renewed = agent_log.matches("renewed").count();
    assert!(!agent_log.contains("panicked"), "the agent panicked:\n{agent_log}");
    let server_text = log.map(|l| l.text()).unwrap_or_default();
    assert!(!server_text.contains("panicked"), "the server panicked");
    let audit = server.sesamectl(&["audit", "verify"]).await.expect("the audit chain verifies");
    sim.stop().await;
    server.stop().await;
    format!(
        "{backend:?}: +40 d: checked in {:.1} s after restart (expired certificate recovered), \
         periodic rotation due by server time; −2 d: the server refused the certificate (not \
         yet valid by its clock), recovered {:.1} s after restart, last_seen_at left ahead of \
         the server's clock by {}; workstation back to real time (server +38 d): periodic \
         change completed {:.1} s after restart ({} steps recorded); identity recovered \
         {recovered}×, renewal lines {renewed}; no panic (agent, server); audit: {}",
        forward.as_secs_f64(),
        backward.as_secs_f64(),
        ahead.map_or("nothing".to_owned(), |d| d.to_string()),
        back.as_secs_f64(),
        steps.len(),
        audit.lines().next().unwrap_or_default(),
    )
}

/// On SQLite.
pub(crate) async fn sqlite() -> String {
    jumps(Backend::Sqlite).await
}

/// On PostgreSQL.
pub(crate) async fn postgres() -> String {
    jumps(Backend::Postgres).await
}
