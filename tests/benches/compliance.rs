//! Benchmark: compliance reports over 100,000 mailboxes in 10,000 offices, on each backend,
//! through the whole path (a real server, TLS gRPC, the admin client): the fleet's summary (its
//! totals), the fleet report with a line per office, one office's report (with each mailbox),
//! and the summary at a past date (from the history). Every report first sweeps the deadlines
//! passed and signs the audit head. The first report after the import also assesses every new
//! mailbox. On PostgreSQL the tables are then analyzed, as autovacuum would soon after a bulk load.
//!
//! Run with `cargo bench -p sesame-tests --bench compliance` (PostgreSQL when
//! `SESAME_TEST_POSTGRES_URL` is set). Prints a Markdown table; results are recorded in
//! `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

#[path = "common/fleet.rs"]
mod fleet;
#[path = "common/samples.rs"]
mod samples;

use std::time::Instant;

use fleet::{OFFICES, PER_OFFICE, crpcen};
use samples::stats;
use sesame_proto::v1 as pb;
use sesame_tests::{Backend, TestServer};

const FLEET_RUNS: usize = 30;
const OFFICE_RUNS: usize = 200;

async fn run(backend: Backend, name: &str) -> Option<()> {
    let server = TestServer::start(backend).await?;
    let mut client = sesamectl::connect(&server.read_credentials()).await.unwrap();
    let setup = fleet::fill(&server, &mut client).await;
    println!(
        "| {name} | setup: {OFFICES} offices, {} mailboxes | {:.0} s | | | |",
        OFFICES * PER_OFFICE,
        setup.as_secs_f64()
    );
    let imported = server.clock_now();
    // A day on, then 100 days on: every mailbox has a history (registered, never enrolled,
    // overdue at day 90).
    server.clock.advance(time::Duration::days(100));
    let started = Instant::now();
    let first = client.get_compliance_report(pb::GetComplianceReportRequest::default()).await;
    let first = first.unwrap().into_inner();
    assert_eq!(first.mailboxes, (OFFICES * PER_OFFICE) as u64);
    println!(
        "| {name} | first report: assesses {} new mailboxes | {:.0} ms | | | 1 |",
        first.mailboxes,
        started.elapsed().as_secs_f64() * 1000.0
    );

    // After a bulk load PostgreSQL plans from stale statistics until autovacuum analyzes the new
    // rows (within a minute or two by default); the steady state is what is measured.
    if server.database().is_postgres() {
        server
            .database()
            .execute(&["ANALYZE offices, mailboxes, mailbox_compliance, compliance_history"])
            .await;
    }
    let summary_request =
        || pb::GetComplianceReportRequest { summary_only: true, ..Default::default() };
    let mut summaries = Vec::new();
    for _ in 0..FLEET_RUNS {
        let started = Instant::now();
        let report = client.get_compliance_report(summary_request()).await;
        summaries.push(started.elapsed());
        let report = report.unwrap().into_inner();
        assert_eq!((report.offices_reported, report.offices.len()), (OFFICES as u64, 0));
    }
    println!("| {name} | fleet summary (100,000 mailboxes) | {}", stats(summaries));

    let mut fleet = Vec::new();
    for _ in 0..FLEET_RUNS {
        let started = Instant::now();
        let report = client.get_compliance_report(pb::GetComplianceReportRequest::default()).await;
        fleet.push(started.elapsed());
        assert_eq!(report.unwrap().into_inner().offices.len(), OFFICES);
    }
    println!("| {name} | fleet report (10,000 offices) | {}", stats(fleet));

    let mut office = Vec::new();
    for run in 0..OFFICE_RUNS {
        let request = pb::GetComplianceReportRequest {
            office: crpcen(run * 7919 % OFFICES),
            ..Default::default()
        };
        let started = Instant::now();
        let report = client.get_compliance_report(request).await;
        office.push(started.elapsed());
        assert_eq!(report.unwrap().into_inner().offices[0].mailbox_states.len(), PER_OFFICE);
    }
    println!("| {name} | one office, with its mailboxes | {}", stats(office));

    let at = (imported + time::Duration::days(50))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut past = Vec::new();
    for _ in 0..FLEET_RUNS / 3 {
        let request = pb::GetComplianceReportRequest { at: at.clone(), ..summary_request() };
        let started = Instant::now();
        let report = client.get_compliance_report(request).await;
        past.push(started.elapsed());
        assert_eq!(report.unwrap().into_inner().mailboxes, (OFFICES * PER_OFFICE) as u64);
    }
    println!("| {name} | fleet summary at a past date | {}", stats(past));
    server.stop().await;
    Some(())
}

#[tokio::main]
async fn main() {
    println!("| backend | operation | median | p95 | max | runs |");
    println!("|---|---|---|---|---|---|");
    for (name, backend) in [("SQLite", Backend::Sqlite), ("PostgreSQL", Backend::Postgres)] {
        if run(backend, name).await.is_none() {
            println!("| {name} | skipped: SESAME_TEST_POSTGRES_URL not set | | | | |");
        }
    }
}
