//! Benchmark: writing check-ins, the check-in writer's flush (`CheckInStore::record_check_ins`: one
//! transaction, multi-row statements) against its peer, a raw batched upsert of the same rows
//! into a plain table with the same columns (sqlx, one transaction, multi-row statements of the
//! same size, same database, same run); and one check-in per transaction, the shape of the write
//! path before the writer. Every check-in carries an agent version and a key state, as agents
//! send them; no mailbox is offline (the common case: no reassessment).
//!
//! Run with `cargo bench -p sesame-tests --bench check_in_writes` (PostgreSQL too when
//! `SESAME_TEST_POSTGRES_URL` is set; `SESAME_BENCH_QUICK=1` for tiny sizes, a smoke test). Prints
//! a Markdown table; results are recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // Reason: a benchmark prints its report.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sesame_server::domain::audit::Actor;
use sesame_server::domain::check_in::{CheckInRecord, KeyPresence, KeyState};
use sesame_server::domain::identifier::WorkstationId;
use sesame_server::domain::office::{Crpcen, NewOffice, Text};
use sesame_server::domain::token::{Token, TokenKind};
use sesame_server::domain::workstation::{
    IssuedCertificate, MachineInfo, NewEnrollmentToken, NewWorkstation,
};
use sesame_server::store::SharedStore;
use sesame_server::store::test_support::{POSTGRES_URL_VAR, TestDatabase};
use sqlx::Connection;
use time::OffsetDateTime;

/// Rows per multi-row statement, as the store uses.
const CHUNK: usize = 250;

struct Sizes {
    batches: Vec<usize>,
    one_by_one: usize,
    runs: usize,
}

fn sizes() -> Sizes {
    if std::env::var_os("SESAME_BENCH_QUICK").is_some() {
        Sizes { batches: vec![10, 300], one_by_one: 10, runs: 1 }
    } else {
        Sizes { batches: vec![1_000, 16_700], one_by_one: 1_000, runs: 5 }
    }
}

/// When the benchmark's fleet enrolls (time is a parameter, even here).
fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap()
}

fn key() -> KeyState {
    KeyState {
        presence: KeyPresence::Present { device: "08e6:3437 bus 1 port 2".into() },
        since: None,
    }
}

fn record(i: usize, at: OffsetDateTime) -> CheckInRecord {
    CheckInRecord::new(&format!("ws-{i}"), &format!("s-{i}"), Some("0.2.0"), at)
        .with_key(Some(key()))
}

/// Office 01234 with `n` workstations `ws-0`… holding certificates `s-0`…: one enrolled, the
/// others copied from it in one statement.
async fn fleet(db: &TestDatabase, store: &SharedStore, n: usize) {
    let actor = Actor::system();
    let now = start();
    let office = NewOffice {
        crpcen: Crpcen::parse("01234").unwrap(),
        name: Text::parse("name", "Étude").unwrap(),
        city: None,
    };
    store.create_office(&office, &actor, now).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: office.crpcen.clone(),
        uses: 1,
        expires_at: now + time::Duration::hours(1),
    };
    store.create_enrollment_token(&new, &actor, now).await.unwrap();
    let seed = NewWorkstation {
        id: WorkstationId::parse("id", "ws-0").unwrap(),
        machine: MachineInfo {
            hostname: Text::parse("hostname", "poste").unwrap(),
            os: Text::parse("os", "windows x86_64").unwrap(),
            agent_version: Text::parse("agent_version", "0.1.0").unwrap(),
        },
        public_key: vec![4; 65],
        certificate: IssuedCertificate {
            serial: "s-0".into(),
            not_after: now + time::Duration::days(7),
        },
    };
    store.enroll_workstation(&token.hash(), &seed, now).await.unwrap();
    let copies = format!(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
         INSERT INTO workstations (id, office, hostname, os, agent_version, public_key, status, \
         generation, current_serial, current_confirmed, previous_serial, cert_not_after, \
         last_seen_at, enrolled_at) \
         SELECT 'ws-' || n.i, office, hostname, os, agent_version, public_key, status, \
         generation, 's-' || n.i, current_confirmed, previous_serial, cert_not_after, \
         last_seen_at, enrolled_at FROM workstations CROSS JOIN n WHERE id = 'ws-0'",
        last = n - 1
    );
    // The peer's table: the same columns, a plain table, its rows there already (an upsert that
    // updates, as check-ins do).
    let timestamp = if db.is_postgres() { "TIMESTAMPTZ" } else { "TEXT" };
    let peer = format!(
        "CREATE TABLE bench_raw (id TEXT PRIMARY KEY NOT NULL, current_serial TEXT NOT NULL, \
         current_confirmed BOOLEAN NOT NULL, agent_version TEXT NOT NULL, \
         last_seen_at {timestamp} NOT NULL, key_presence TEXT, \
         key_device TEXT NOT NULL DEFAULT '', key_reason TEXT NOT NULL DEFAULT '', \
         key_since {timestamp}, key_reported_at {timestamp})"
    );
    let fill = "INSERT INTO bench_raw (id, current_serial, current_confirmed, agent_version, \
                last_seen_at) SELECT id, current_serial, current_confirmed, agent_version, \
                last_seen_at FROM workstations";
    db.execute(&[&copies, &peer, fill]).await;
}

/// The SQL of one chunk of the peer's upsert.
fn peer_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = |n: usize| r * 8 + n + 1;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7)
            )
        })
        .collect();
    format!(
        "INSERT INTO bench_raw (id, current_serial, current_confirmed, agent_version, \
         last_seen_at, key_presence, key_device, key_reported_at) VALUES {} \
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, \
         current_confirmed = bench_raw.current_confirmed \
           OR bench_raw.current_serial = excluded.current_serial, \
         agent_version = excluded.agent_version, key_presence = excluded.key_presence, \
         key_device = excluded.key_device, key_reported_at = excluded.key_reported_at",
        values.join(", ")
    )
}

/// The peer: `rows` check-ins upserted raw, in one transaction, `CHUNK` rows a statement.
macro_rules! peer_flush {
    ($conn:expr, $rows:expr, $at:expr) => {{
        let mut tx = $conn.begin().await.unwrap();
        let records: Vec<CheckInRecord> = (0..$rows).map(|i| record(i, $at)).collect();
        for chunk in records.chunks(CHUNK) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(peer_sql(chunk.len())));
            for r in chunk {
                query = query
                    .bind(r.workstation_id.as_str())
                    .bind(r.serial.as_str())
                    .bind(false)
                    .bind(r.agent_version.as_deref().unwrap_or(""))
                    .bind(r.seen_at)
                    .bind("present")
                    .bind("08e6:3437 bus 1 port 2")
                    .bind(r.seen_at);
            }
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }};
}

/// A connection of the peer's: SQLite as the store opens it (WAL, `synchronous=FULL`).
enum Peer {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Peer {
    async fn connect(db: &TestDatabase) -> Peer {
        let url = secrecy::ExposeSecret::expose_secret(&db.url()).to_owned();
        if db.is_postgres() {
            Peer::Postgres(sqlx::PgConnection::connect(&url).await.unwrap())
        } else {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            Peer::Sqlite(sqlx::SqliteConnection::connect_with(&options).await.unwrap())
        }
    }

    async fn flush(&mut self, rows: usize, at: OffsetDateTime) {
        match self {
            Peer::Sqlite(conn) => peer_flush!(conn, rows, at),
            Peer::Postgres(conn) => peer_flush!(conn, rows, at),
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn rate(rows: usize, took: Duration) -> String {
    format!(
        "{:.0} rows/s | {:.1} µs",
        rows as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / rows as f64
    )
}

async fn run(name: &str, db: TestDatabase, sizes: &Sizes) {
    let store = db.open().await;
    let largest = sizes.batches.iter().copied().max().unwrap_or(1).max(sizes.one_by_one);
    fleet(&db, &store, largest).await;
    let mut peer = Peer::connect(&db).await;
    let mut at = start();
    for &rows in &sizes.batches {
        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..sizes.runs {
            at += time::Duration::seconds(1);
            let records: Vec<CheckInRecord> = (0..rows).map(|i| record(i, at)).collect();
            let started = Instant::now();
            store.record_check_ins(&records, at).await.unwrap();
            ours.push(started.elapsed());
            at += time::Duration::seconds(1);
            let started = Instant::now();
            peer.flush(rows, at).await;
            raw.push(started.elapsed());
        }
        let (ours, raw) = (median(ours), median(raw));
        println!(
            "| {name} | one flush of {rows} | {} | {:.1} ms | {} | {:.1} ms | {:.2} |",
            rate(rows, ours),
            ours.as_secs_f64() * 1e3,
            rate(rows, raw),
            raw.as_secs_f64() * 1e3,
            ours.as_secs_f64() / raw.as_secs_f64()
        );
    }
    // Before the writer: one transaction (one commit, one fsync) per check-in.
    let rows = sizes.one_by_one;
    at += time::Duration::seconds(1);
    let started = Instant::now();
    for i in 0..rows {
        store.record_check_ins(&[record(i, at)], at).await.unwrap();
    }
    let ours = started.elapsed();
    println!(
        "| {name} | {rows} one per transaction (before) | {} | {:.1} ms | | | | |",
        rate(rows, ours),
        ours.as_secs_f64() * 1e3
    );
    drop(peer);
    store.close().await;
    db.destroy().await;
}

#[tokio::main]
async fn main() {
    let sizes = sizes();
    println!(
        "| backend | write | ours: rows/s | µs/row | time | raw peer: rows/s | µs/row | time | ours ÷ raw |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    run("SQLite", TestDatabase::sqlite(dir.path()), &sizes).await;
    if std::env::var_os(POSTGRES_URL_VAR).is_some()
        && let Some(db) = TestDatabase::postgres().await
    {
        run("PostgreSQL", db, &sizes).await;
    }
}
