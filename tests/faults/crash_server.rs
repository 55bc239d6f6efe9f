//! B1 and B3: the real `sesame-server` killed during each write a client waits for, on SQLite and
//! on PostgreSQL (a schema of its own), then restarted on the same data directory and database.
//!
//! An abort (as `kill -9`) at each of the server's failpoints (`sesame_base::failpoint`): inside
//! an import's transaction and after its commit, after the provisional passwords' escrow, after a
//! disclosure's and a delivery's audit records, after step reports' commit (the one that confirms
//! the change and destroys the escrow), after a check-in flush's commit, after a cancellation's
//! commit; an error injected after an import's commit (the client gets `UNAVAILABLE`, the
//! import is whole); and a real SIGKILL at a random moment during a stream of
//! imports and during a check-in burst. After each restart: nothing confirmed is lost (every
//! request answered OK before the kill is there), nothing half-written is visible (an import is
//! all or nothing, every open rotation has its escrow and its audit record), SQLite's
//! `PRAGMA integrity_check` says ok, the audit chain verifies; an agent retrying its step reports
//! after the kill gets them acknowledged as already recorded (`DUPLICATE`, what it treats as its
//! original `RECORDED`) and each has exactly one audit record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;
use sesame_base::clock::{Clock as _, SystemClock};
use sesame_proto::v1 as pb;
use sesame_server::store::test_support::TestDatabase;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::crash_support::{Agent, Database, ServerProcess, mailbox_csv, mailboxes_of, text};

/// The office every scenario works in.
const OFFICE: &str = "01234";
/// Rows of the import killed inside its transaction and after its commit.
const BIG_IMPORT: usize = 300;
/// Rows of each import of the stream killed at a random moment.
const SMALL_IMPORT: usize = 40;
/// Workstations in the check-in burst.
const WORKSTATIONS: usize = 6;

/// What one backend's run measured.
#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    recover: Vec<Duration>,
    imports_confirmed: usize,
    imports_found: usize,
    rotations: i64,
    check_ins_confirmed: usize,
    check_ins_found: usize,
}

impl Figures {
    fn line(&self, backend: &str) -> String {
        let max = self.recover.iter().max().copied().unwrap_or_default();
        let mean =
            self.recover.iter().sum::<Duration>().as_secs_f64() / self.recover.len().max(1) as f64;
        format!(
            "{backend}: {} kills ({} aborts at failpoints, 2 SIGKILL; 1 injected error), restart to ready mean {:.2} s max {:.2} s; \
             imports confirmed before the random kill {} found {}/{}; {} rotations escrowed, each \
             with its audit record; check-ins confirmed >1 s before the kill {} found {}; reports \
             retried: 3 DUPLICATE, 1 audit record each; integrity ok, audit chain intact",
            self.kills,
            self.kills.saturating_sub(2),
            mean,
            max.as_secs_f64(),
            self.imports_confirmed,
            self.imports_found,
            self.imports_confirmed,
            self.rotations,
            self.check_ins_confirmed,
            self.check_ins_found,
        )
    }
}

/// B1/B3 on SQLite.
pub(crate) async fn on_sqlite() -> String {
    if !cfg!(debug_assertions) {
        return "skipped: a release build has no failpoints".to_owned();
    }
    let dir = tempfile::tempdir().unwrap();
    let database = Database::Sqlite(dir.path().join("sesame.db"));
    run(dir, database).await.line("SQLite")
}

/// B1/B3 on PostgreSQL (a schema of its own on `SESAME_TEST_POSTGRES_URL`).
pub(crate) async fn on_postgres() -> String {
    if !cfg!(debug_assertions) {
        return "skipped: a release build has no failpoints".to_owned();
    }
    let Some(test_database) = TestDatabase::postgres().await else {
        return "skipped: SESAME_TEST_POSTGRES_URL is not set".to_owned();
    };
    use secrecy::ExposeSecret as _;
    let database = Database::Postgres(test_database.url().expose_secret().to_owned());
    let figures = run(tempfile::tempdir().unwrap(), database).await;
    test_database.destroy().await;
    figures.line("PostgreSQL")
}

/// After a crash: the database is sound (checked while the server is down), then the server
/// starts again with `next` armed.
async fn recover(server: &mut ServerProcess, figures: &mut Figures, next: Option<&str>) {
    figures.kills += 1;
    let integrity = server.database.integrity().await;
    assert_eq!(integrity, "ok", "integrity after a crash");
    figures.recover.push(server.restart(next).await);
}

async fn run(dir: tempfile::TempDir, database: Database) -> Figures {
    let mut figures = Figures::default();
    let env =
        [("SESAME_AGENTS__ENROLL_BURST", "100"), ("SESAME_AGENTS__ENROLL_PER_MINUTE", "1000")];
    let mut server =
        ServerProcess::start(dir, database.clone(), &env, Some("import:in-transaction")).await;
    server.ctl(&["office", "add", OFFICE, "--name", "Étude"]).await.unwrap();
    let mut agents = Vec::new();
    for n in 0..WORKSTATIONS {
        agents.push(server.enroll_agent(OFFICE, &format!("ws{n}")).await);
    }

    // An import killed inside its transaction: nothing of it is visible.
    let big = server.write("big.csv", &mailbox_csv("big", BIG_IMPORT));
    assert!(server.ctl(&["mailbox", "import", &text(&big)]).await.is_err());
    server.expect_abort("import:in-transaction").await;
    recover(&mut server, &mut figures, Some("import:committed")).await;
    assert_eq!(mailboxes_of(&database, "big").await, 0, "an import is all or nothing");
    server.audit_verifies().await;

    // Killed after its commit, before the answer: all of it is there, and the retry changes
    // nothing.
    assert!(server.ctl(&["mailbox", "import", &text(&big)]).await.is_err());
    server.expect_abort("import:committed").await;
    recover(&mut server, &mut figures, Some("issue:escrowed")).await;
    assert_eq!(mailboxes_of(&database, "big").await, BIG_IMPORT as i64);
    let again = server.ctl(&["mailbox", "import", &text(&big)]).await.unwrap();
    assert_eq!(mailboxes_of(&database, "big").await, BIG_IMPORT as i64, "{again}");

    // A stream of imports, SIGKILL at a random moment.
    random_kill_during_imports(&mut server, &mut figures).await;
    recover(&mut server, &mut figures, Some("issue:escrowed")).await;
    for batch in 0..figures.imports_confirmed + 1 {
        let found = mailboxes_of(&database, &format!("s{batch}")).await;
        if batch < figures.imports_confirmed {
            assert_eq!(found, SMALL_IMPORT as i64, "a confirmed import is there");
            figures.imports_found += 1;
        } else {
            assert!(found == 0 || found == SMALL_IMPORT as i64, "all or nothing: {found}");
        }
    }

    // Provisional passwords issued for the office, killed after their escrow: every open rotation
    // has its escrow and its audit record.
    let mailbox = "big.0@01234.mailnot.fr";
    server.ctl(&["workstation", "assign", &agents[0].id, mailbox]).await.unwrap();
    assert!(server.ctl(&["provisional", "issue", "--office", OFFICE]).await.is_err());
    server.expect_abort("issue:escrowed").await;
    recover(&mut server, &mut figures, Some("disclosure:audited")).await;
    let open = database
        .count("SELECT COUNT(*) FROM rotations WHERE status IN ('issued', 'delivered')", None)
        .await;
    let mailboxes = database.count("SELECT COUNT(*) FROM mailboxes", None).await;
    assert_eq!(open, mailboxes, "the issue committed as a whole");
    let without_escrow = database
        .count(
            "SELECT COUNT(*) FROM rotations WHERE status IN ('issued', 'delivered') \
             AND ciphertext IS NULL",
            None,
        )
        .await;
    let without_record = database
        .count(
            "SELECT COUNT(*) FROM rotations r WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
             WHERE a.action = 'rotation.open' AND a.details LIKE '%' || r.id || '%')",
            None,
        )
        .await;
    assert_eq!((without_escrow, without_record), (0, 0), "escrow and audit record, or neither");
    figures.rotations = open;

    // A disclosure killed after its audit record: the record is there, nothing left the server.
    let export = server.dir.path().join("export.csv");
    let exports = "SELECT COUNT(*) FROM audit_log WHERE action = $1";
    let before = database.count(exports, Some("provisional.export")).await;
    let args = ["provisional", "export", "--office", OFFICE, "--format", "csv", "--out"];
    let mut argv = args.to_vec();
    let export_text = text(&export);
    argv.push(&export_text);
    assert!(server.ctl(&argv).await.is_err());
    server.expect_abort("disclosure:audited").await;
    assert!(!export.exists(), "no password left the server");
    recover(&mut server, &mut figures, Some("delivery:audited")).await;
    assert_eq!(database.count(exports, Some("provisional.export")).await, before + 1);

    // A delivery to a workstation killed after its audit record: the record is there.
    let mut agent = agents[0].clone();
    let delivered = agent.client.get_pending_rotations(pb::GetPendingRotationsRequest {}).await;
    assert!(delivered.is_err());
    server.expect_abort("delivery:audited").await;
    recover(&mut server, &mut figures, Some("report:confirmed")).await;
    assert_eq!(database.count(exports, Some("provisional.deliver")).await, 1);

    // B1: step reports killed after their commit, before the answer; the agent retries.
    let pending = agent
        .client
        .get_pending_rotations(pb::GetPendingRotationsRequest {})
        .await
        .unwrap()
        .into_inner();
    let rotation = pending.rotations[0].rotation_id.clone();
    let reports = pb::ReportStepsRequest {
        reports: [pb::RotationStep::Started, pb::RotationStep::Changed, pb::RotationStep::Verified]
            .iter()
            .enumerate()
            .map(|(n, step)| step_report(&format!("r{n}-{rotation}"), &rotation, *step))
            .collect(),
    };
    assert!(agent.client.report_steps(reports.clone()).await.is_err());
    server.expect_abort("report:confirmed").await;
    recover(&mut server, &mut figures, None).await;
    let retried = agent.client.report_steps(reports).await.unwrap().into_inner();
    let outcomes: Vec<_> = retried.results.iter().map(|r| r.outcome()).collect();
    assert_eq!(outcomes, vec![pb::report_result::Outcome::Duplicate; 3], "{retried:?}");
    for step in ["started", "changed", "verified"] {
        let action = format!("rotation.report.{step}");
        let sql =
            format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND target = $1");
        let records = database.count(&sql, Some(&rotation)).await;
        assert_eq!(records, 1, "exactly one audit record for {action}");
    }
    let closed = database
        .count(
            "SELECT COUNT(*) FROM rotations WHERE status = 'completed' AND ciphertext IS NULL",
            None,
        )
        .await;
    assert_eq!(closed, 1, "the verified rotation is closed, its escrow destroyed");

    // A check-in burst, SIGKILL at a random moment.
    random_kill_during_check_ins(&mut server, &mut figures, &agents, "check-ins:written").await;

    // A check-in's flush killed after its commit: the check-in answered before it is there.
    let mut client = agents[1].client.clone();
    let request = pb::HeartbeatRequest { agent_version: "0.1.0".into(), ..Default::default() };
    let answer = client.heartbeat(request).await.unwrap().into_inner();
    let answered = OffsetDateTime::parse(&answer.server_time, &Rfc3339).unwrap();
    server.expect_abort("check-ins:written").await;
    recover(&mut server, &mut figures, Some("cancel:committed")).await;
    assert!(last_seen(&server, &agents[1].id).await >= answered, "the check-in was written");

    // Rotations cancelled, killed after the commit: none is open, no escrow is left.
    assert!(server.ctl(&["provisional", "cancel", "--office", OFFICE]).await.is_err());
    server.expect_abort("cancel:committed").await;
    recover(&mut server, &mut figures, Some("import:committed=error")).await;
    let open = "SELECT COUNT(*) FROM rotations WHERE status IN ('issued', 'delivered') \
                OR (ciphertext IS NOT NULL AND status NOT IN ('issued', 'delivered'))";
    assert_eq!(database.count(open, None).await, 0, "cancelled as a whole, escrow destroyed");
    let cancels = "SELECT COUNT(*) FROM audit_log WHERE action = $1";
    assert!(database.count(cancels, Some("rotation.cancel")).await >= 1);

    // An error injected after an import's commit: the client is told to retry (UNAVAILABLE), the
    // import is whole, the server goes on.
    let late = server.write("late.csv", &mailbox_csv("late", 10));
    match server.ctl(&["mailbox", "import", &text(&late)]).await {
        Err(sesamectl::Error::Rpc(status)) => {
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}")
        }
        other => panic!("an injected error answers UNAVAILABLE: {other:?}"),
    }
    assert_eq!(mailboxes_of(&database, "late").await, 10);
    server.audit_verifies().await;
    server.kill();
    assert_eq!(database.integrity().await, "ok");
    figures
}

/// A workstation's last-seen time as `sesamectl workstation list` shows it.
async fn last_seen(server: &ServerProcess, id: &str) -> OffsetDateTime {
    let listed = server.ctl(&["workstation", "list", "--output", "json"]).await.unwrap();
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let rows = listed.as_array().cloned().unwrap_or_default();
    let row = rows.iter().find(|r| r["id"] == id).unwrap();
    OffsetDateTime::parse(row["last_seen_at"].as_str().unwrap(), &Rfc3339).unwrap()
}

fn step_report(id: &str, rotation: &str, step: pb::RotationStep) -> pb::StepReport {
    let key_evidence = (step == pb::RotationStep::Started).then(|| pb::KeyEvidence {
        kind: pb::key_evidence::Kind::ObservedAbsent.into(),
        observed_at: SystemClock.now().format(&Rfc3339).unwrap(),
        detail: String::new(),
    });
    pb::StepReport {
        report_id: id.into(),
        rotation_id: rotation.into(),
        step: step.into(),
        occurred_at: SystemClock.now().format(&Rfc3339).unwrap(),
        failure: 0,
        key_evidence,
        detail: "fault suite".into(),
        local_account: None,
    }
}

/// Imports of [`SMALL_IMPORT`] rows one after the other until a SIGKILL at a random moment;
/// counts those answered OK.
async fn random_kill_during_imports(server: &mut ServerProcess, figures: &mut Figures) {
    let files: Vec<String> =
        (0..150)
            .map(|batch| {
                text(&server.write(
                    &format!("s{batch}.csv"),
                    &mailbox_csv(&format!("s{batch}"), SMALL_IMPORT),
                ))
            })
            .collect();
    let confirmed = Arc::new(Mutex::new(0usize));
    let credentials = text(&server.dir.path().join("data/admin.credentials"));
    let stream = {
        let confirmed = confirmed.clone();
        tokio::spawn(async move {
            for file in files {
                let argv = ["sesamectl", "--credentials", &credentials, "mailbox", "import", &file];
                if sesame_tests::run_sesamectl(&argv).await.is_err() {
                    return;
                }
                *confirmed.lock().unwrap() += 1;
            }
        })
    };
    let delay = rand::rng().random_range(200..800);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    server.kill();
    stream.await.unwrap();
    figures.imports_confirmed = *confirmed.lock().unwrap();
    assert!(figures.imports_confirmed > 0, "imports went through before the kill");
}

/// Every workstation checks in as fast as it can until a SIGKILL at a random moment; after the
/// restart (with `next` armed), each one's last-seen time covers every check-in answered more
/// than a second (ten flush windows) before the kill: a crash loses at most the last window of
/// check-ins.
async fn random_kill_during_check_ins(
    server: &mut ServerProcess,
    figures: &mut Figures,
    agents: &[Agent],
    next: &str,
) {
    let mut tasks = Vec::new();
    for agent in agents {
        let mut client = agent.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut answered: Vec<OffsetDateTime> = Vec::new();
            loop {
                let request =
                    pb::HeartbeatRequest { agent_version: "0.1.0".into(), ..Default::default() };
                match client.heartbeat(request).await {
                    Ok(answer) => answered.push(
                        OffsetDateTime::parse(&answer.into_inner().server_time, &Rfc3339).unwrap(),
                    ),
                    Err(status) if status.code() == tonic::Code::ResourceExhausted => {}
                    Err(_) => return answered,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let delay = rand::rng().random_range(1000..2500);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let killed_at = SystemClock.now();
    server.kill();
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap());
    }
    figures.kills += 1;
    assert_eq!(server.database.integrity().await, "ok");
    figures.recover.push(server.restart(Some(next)).await);
    for (agent, times) in agents.iter().zip(&answered) {
        let confirmed: Vec<&OffsetDateTime> =
            times.iter().filter(|t| **t < killed_at - time::Duration::seconds(1)).collect();
        figures.check_ins_confirmed += confirmed.len();
        let Some(last) = confirmed.last() else { continue };
        let seen = last_seen(server, &agent.id).await;
        assert!(seen >= **last, "{}: last seen {seen}, answered at {last}", agent.id);
        figures.check_ins_found += confirmed.len();
    }
    assert!(figures.check_ins_confirmed > 0, "check-ins went through before the kill");
}
