//! Full disks (reliability.md B5, A5): the server's data directory on a small tmpfs filled to its
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
    MAILBOX, NEW, code, integrity_check, owa, person_types, roll_out, server_log, wait_for_agent,
    wait_for_step,
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

/// The agent's state directory fills up before the person's change: nothing reaches Exchange
/// (no change without the journal's intent), the person is told, the log names the cause; once
/// space returns the change completes.
pub(crate) async fn agent_state() -> String {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let sim = owa().await;
    let (mut host, provisional) = roll_out(&server, &sim, &server.url()).await;
    let disk = Tmpfs::mount(&host.state_dir(), "4m");
    block_in_place(|| host.start(None));
    wait_for_agent(&host, MAILBOX, Duration::from_secs(30)).await;

    let filler = disk.fill();
    let logins_before = sim.logins().len();
    let (refused_code, said) = person_types(&host, &[&provisional, NEW, NEW]);
    let changes_full = sim.changes().len();
    let logins_full = sim.logins().len() - logins_before;
    let outcome = if refused_code == 0 {
        // The intent fitted in the slack of the journal's last page: the change went ahead with
        // its intent journaled, which is what A5 asks; it must still complete exactly once.
        "went ahead (the journal's record fitted in its last page)"
    } else {
        assert!(said.contains("n'a pas pu enregistrer son suivi"), "{said}\n{}", host.log());
        assert_eq!(changes_full, 0, "no change on Exchange without the journal's intent");
        assert_eq!(logins_full, 0, "not even a logon");
        assert!(
            host.log().contains("No space left") || host.log().contains("full"),
            "the agent's log names the cause:\n{}",
            host.log()
        );
        "refused before Exchange"
    };

    // Space returns: the person tries again and the change completes.
    disk.free();
    if refused_code != 0 {
        let (code_after, said) = person_types(&host, &[&provisional, NEW, NEW]);
        assert_eq!(code_after, 0, "{said}\n{}", host.log());
    }
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
    assert_eq!(sim.changes().len(), 1, "exactly one change");
    block_in_place(|| host.plug());
    let steps =
        wait_for_step(&server, &host, "provisional", "completed", Duration::from_secs(60)).await;
    let verified = steps.iter().filter(|(_, s)| s == "verified").count();
    assert_eq!(verified, 1, "reported once: {steps:?}");
    block_in_place(|| host.stop());
    drop(disk);
    sim.stop().await;
    server.stop().await;
    format!(
        "filler {} KiB; change with the state directory full: {outcome} (exit {refused_code}, \
         {changes_full} change(s), {logins_full} logon(s) on Exchange); after freeing: 1 change, \
         server steps {:?}",
        filler / 1024,
        steps.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>()
    )
}
