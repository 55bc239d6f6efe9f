//! Full disks (docs/reliability.md B5, A5): the server's data directory on a small tmpfs filled to its
//! last page while the server runs, on SQLite (the database is there) and on PostgreSQL (the audit
//! head file and the audit shipper's file and position are); and the agent's state directory
//! (journal, outbox) full while the person changes a password. Writes fail with a precise code and
//! a logged cause, reads go on, nothing accepted is lost, nothing is corrupt, and everything works
//! again once the filler is deleted, without a restart.

use std::time::Duration;

use sesame_tests::tmpfs::Tmpfs;
use sesame_tests::{Backend, TestServer};
use tokio::task::block_in_place;
use tonic::Code;

use crate::environment::{
    MAILBOX, NEW, code, exported_provisional, integrity_check, owa, roll_out, server_log, steps_of,
    wait_for_agent,
};

/// The server's data directory fills up, on SQLite.
pub(crate) async fn server_sqlite() -> String {
    server_disk_full(Backend::Sqlite).await
}

/// The server's data directory fills up, on PostgreSQL.
pub(crate) async fn server_postgres() -> String {
    server_disk_full(Backend::Postgres).await
}

/// The offices listed by the server.
async fn listed(server: &TestServer) -> String {
    server.sesamectl(&["office", "list"]).await.expect("reads work on a full disk")
}

async fn server_disk_full(backend: Backend) -> String {
    let log = server_log();
    let mount = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&mount.path().join("disk"), "24m");
    let shipped = disk.path().join("audit.jsonl");
    let ship = shipped.clone();
    let server = TestServer::start_in(disk.path(), backend, move |config| {
        config.audit.ship_file = Some(ship);
    })
    .await
    .expect("the database is there under CI");
    let database = server.data_dir().join("sesame.db");
    let mut accepted = Vec::new();
    for i in 0..5 {
        let crpcen = format!("{:05}", 10_000 + i);
        server.sesamectl(&["office", "add", &crpcen, "--name", "Étude"]).await.unwrap();
        accepted.push(crpcen);
    }
    server.sesamectl(&["report"]).await.expect("a report signs the audit head");

    // The disk fills up while the server runs.
    let filler = disk.fill();
    let mut refused = None;
    let mut accepted_while_full = 0;
    let name = format!("Étude {}", "x".repeat(150));
    for i in 5..3_000 {
        let crpcen = format!("{:05}", 10_000 + i);
        let result = server.sesamectl(&["office", "add", &crpcen, "--name", &name]).await;
        match code(&result) {
            Code::Ok => {
                accepted.push(crpcen);
                accepted_while_full += 1;
                if backend == Backend::Postgres && accepted_while_full >= 20 {
                    break;
                }
            }
            other => {
                refused = Some((other, result.unwrap_err().to_string()));
                break;
            }
        }
    }
    // The audit shipper (polling every second) tries to append while the disk is full.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let report = server.sesamectl(&["report"]).await;
    let report_code = code(&report);
    match backend {
        Backend::Sqlite => {
            let (write_code, message) = refused.clone().expect("a write fails on a full disk");
            assert_eq!(write_code, Code::ResourceExhausted, "{message}");
            // Nothing was added since the last signature: the signed head is as stored.
            assert!(
                matches!(report_code, Code::Ok | Code::ResourceExhausted),
                "signing the audit head on a full disk: {report:?}"
            );
        }
        Backend::Postgres => {
            assert!(refused.is_none(), "the database is elsewhere: {refused:?}");
            // The chain advanced: its new head must be noted in the data directory.
            assert_eq!(
                report_code,
                Code::ResourceExhausted,
                "the head file on a full disk: {report:?}"
            );
        }
    }
    let shown = listed(&server).await;
    assert!(accepted.iter().all(|c| shown.contains(c.as_str())), "nothing accepted is lost");
    let full_check = match backend {
        Backend::Sqlite => integrity_check(&database).await,
        Backend::Postgres => "n/a".to_owned(),
    };
    assert_eq!(full_check.to_lowercase(), if backend == Backend::Sqlite { "ok" } else { "n/a" });
    let logged = log.map(|l| l.text());
    if let Some(text) = &logged {
        assert!(text.contains("storage is full"), "the log names the cause:\n{text}");
    }

    // Space comes back: writes succeed again, without a restart.
    disk.free();
    let crpcen = "19999".to_owned();
    server.sesamectl(&["office", "add", &crpcen, "--name", "Étude"]).await.expect("writes again");
    accepted.push(crpcen);
    server.sesamectl(&["report"]).await.expect("the audit head is signed again");
    let shown = listed(&server).await;
    assert!(accepted.iter().all(|c| shown.contains(c.as_str())), "nothing accepted is lost");
    let after_check = match backend {
        Backend::Sqlite => integrity_check(&database).await,
        Backend::Postgres => "n/a".to_owned(),
    };
    let audit = server.sesamectl(&["audit", "verify"]).await.expect("the audit chain verifies");
    // The shipper catches up (it polls every second): every record once, in order, no torn line.
    let head = std::fs::read_to_string(server.data_dir().join("data/audit-head")).unwrap();
    let head_seq: usize = head.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap();
    let mut lines = 0;
    for _ in 0..100 {
        let text = std::fs::read_to_string(&shipped).unwrap_or_default();
        let seqs: Vec<i64> = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a torn shipped line {line:?}: {e}"));
                value["seq"].as_i64().expect("a sequence number")
            })
            .collect();
        assert!(
            seqs.iter().enumerate().all(|(i, s)| *s == i as i64 + 1),
            "each record shipped once, in order: {seqs:?}"
        );
        lines = seqs.len();
        if lines >= head_seq {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lines >= head_seq, "the shipper caught up: {lines} of {head_seq} lines");
    let figures = format!(
        "{backend:?}: filler {} KiB; {accepted_while_full} office(s) accepted while full then \
         {}; report (signs the head) {report_code:?}; reads ok; integrity_check {full_check} \
         (full), {after_check} (after); log names the cause: {}; after freeing: writes ok, \
         {} offices all there, audit verify: {}, {lines} audit lines shipped once in order, \
         head file at seq {head_seq}",
        filler / 1024,
        refused.map_or("no refusal".to_owned(), |(c, _)| format!("refused {c:?}")),
        logged.map_or("not captured", |_| "yes"),
        accepted.len(),
        audit.lines().next().unwrap_or_default(),
    );
    server.stop().await;
    drop(disk);
    figures
}

/// The other mailboxes of the workstation.
const OTHERS: [&str; 3] =
    ["martin.paul@01234.mailnot.fr", "durand.marie@01234.mailnot.fr", "petit.luc@01234.mailnot.fr"];

/// Adds `mailbox` to the rolled-out workstation with its provisional password; returns it.
async fn another_mailbox(
    server: &TestServer,
    sim: &sesame_tests::owa_sim::OwaSim,
    host: &sesame_tests::agent_host::AgentHost,
    mailbox: &str,
) -> String {
    let file = sesame_tests::write_file(
        server.data_dir(),
        "another.csv",
        &format!("address,display_name\n{mailbox},Autre Personne\n"),
    );
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let identity = sesame_agent::identity::StateDir::new(&host.state_dir()).load().unwrap();
    server.sesamectl(&["workstation", "assign", &identity.workstation_id, mailbox]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", mailbox]).await.unwrap();
    let provisional = exported_provisional(server, mailbox).await;
    sim.add_account(mailbox, &provisional, true);
    provisional
}

/// Logons Exchange saw for `mailbox`.
fn logons_of(sim: &sesame_tests::owa_sim::OwaSim, mailbox: &str) -> usize {
    sim.logins().iter().filter(|l| l.user.eq_ignore_ascii_case(mailbox)).count()
}

/// The agent's state directory fills up before the person's changes: no change on Exchange
/// without the journal's intent (A5): a change whose journal record no longer fits is refused
/// before any logon, the person is told and the log names the cause; a record that still fits
/// in the last page of the journal file is written first and the change goes ahead (then the
/// second mailbox tries, with less room left). Once space returns the refused changes complete,
/// each step reported once.
pub(crate) async fn agent_state() -> String {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let sim = owa().await;
    let (mut host, first) = roll_out(&server, &sim, &server.url()).await;
    let mut mailboxes = vec![(MAILBOX.to_owned(), first)];
    for other in OTHERS {
        mailboxes.push((other.to_owned(), another_mailbox(&server, &sim, &host, other).await));
    }
    let disk = Tmpfs::mount(&host.state_dir(), "4m");
    block_in_place(|| host.start(None));
    for (mailbox, _) in &mailboxes {
        wait_for_agent(&host, mailbox, Duration::from_secs(30)).await;
    }
    let types = |mailbox: &str, lines: &[&str]| {
        block_in_place(|| host.change(lines, &["--mailbox", mailbox]))
    };

    // Full: each change appends to the journal what still fits in its file's last page, until
    // a record does not fit.
    let filler = disk.fill();
    let mut outcomes = Vec::new();
    let mut refused_before_exchange = 0;
    for (mailbox, provisional) in &mailboxes {
        let changes_before = sim.changes().len();
        let (code, said) = types(mailbox, &[provisional, NEW, NEW]);
        let logons = logons_of(&sim, mailbox);
        if code == 0 {
            outcomes.push("went ahead (its records fitted in the journal)".to_owned());
            continue;
        }
        assert!(said.contains("n'a pas pu enregistrer son suivi"), "{said}\n{}", host.log());
        let log = host.log();
        assert!(log.contains("No space left on device"), "the log names the cause:\n{log}");
        if logons > 0 {
            // Its intent was journaled; a later record did not fit: it converges after.
            outcomes.push(format!("stopped after Exchange, intent journaled (exit {code})"));
            continue;
        }
        assert_eq!(sim.changes().len(), changes_before, "no change without the journal's intent");
        outcomes.push(format!("refused before Exchange (exit {code}, 0 logons)"));
        refused_before_exchange += 1;
        break;
    }
    assert!(refused_before_exchange > 0, "a full journal refused no change: {outcomes:?}");

    // Space returns: the person tries again and the changes complete.
    disk.free();
    for (mailbox, provisional) in &mailboxes {
        if sim.password_of(mailbox).as_deref() != Some(NEW) {
            let (code, said) = types(mailbox, &[provisional, NEW, NEW]);
            assert_eq!(code, 0, "{mailbox}: {said}\n{}", host.log());
        }
        assert_eq!(sim.password_of(mailbox).as_deref(), Some(NEW), "the ground truth");
    }
    assert_eq!(sim.changes().len(), mailboxes.len(), "exactly one change per mailbox");
    block_in_place(|| host.plug());
    for (mailbox, _) in &mailboxes {
        let mut steps = Vec::new();
        for _ in 0..300 {
            steps = steps_of(&server, mailbox).await;
            if steps.iter().any(|(_, s)| s == "completed") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for step in ["started", "changed", "verified", "completed"] {
            let count = steps.iter().filter(|(_, s)| s == step).count();
            assert_eq!(count, 1, "{mailbox}: {step} once: {steps:?}\n{}", host.log());
        }
    }
    block_in_place(|| host.stop());
    drop(disk);
    sim.stop().await;
    server.stop().await;
    format!(
        "filler {} KiB; changes with the state directory full, in turn: {outcomes:?}; after \
         freeing: every change done, 1 per mailbox on Exchange ({} mailboxes), each completed \
         and verified once on the server",
        filler / 1024,
        mailboxes.len(),
    )
}
