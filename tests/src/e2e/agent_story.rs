//! The letter's whole story with the real binaries and no browser: an administrator imports the
//! mailbox, enrolls and assigns the workstation, points the agents at OWA and issues a provisional
//! password; the real `sesame-agent run` (on a simulated USB bus, its rusb code running for real)
//! receives it; the person, key unplugged, types the provisional password and a new one twice into
//! `sesame-agent change`; the change is verified against the Exchange simulator's ground truth;
//! the person plugs the key back in; the server shows the rotation completed with its evidence
//! and no escrowed password; the audit trail verifies; no secret in any log or file left behind.
//! A day later (the period, shortened for the test) the periodic change runs the same way with the
//! current password. Then the same with a crash (`kill -9`, as the crash points abort) at every
//! step.

use std::time::Duration;

use tokio::task::block_in_place;

use super::identity::token;
use crate::agent_host::{AgentHost, change_at, umockdev_available};
use crate::owa_sim::{OwaSim, SimOptions};
use crate::{TestServer, write_file};

pub(super) const MAILBOX: &str = "dupont.jean@01234.mailnot.fr";
pub(super) const NEW: &str = "Etude-Lyon-2026!";
/// The personal password chosen at the periodic change.
const NEXT: &str = "Printemps#Violons-27";

/// What the administrator does before the person sees anything: returns the agent (not started)
/// and the provisional password (from the export, as the mail administrator gets it).
pub(super) async fn roll_out(server: &TestServer, sim: &OwaSim) -> (AgentHost, String) {
    roll_out_via(server, sim, &server.url()).await
}

/// [`roll_out`] with the agent reaching the server at `url` (through a [`crate::link::Link`]).
pub(super) async fn roll_out_via(
    server: &TestServer,
    sim: &OwaSim,
    url: &str,
) -> (AgentHost, String) {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Dupont"]).await.unwrap();
    let people = format!("address,display_name\n{MAILBOX},Jean Dupont\n");
    let file = write_file(server.data_dir(), "people.csv", &people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["owa-url", "set", &sim.url()]).await.unwrap();
    let token = token(server, "01234", &[]).await;
    let host =
        block_in_place(|| AgentHost::enroll(url, &server.ca_fingerprint, &token, &sim.ca().pem()));
    let identity = sesame_agent::identity::StateDir::new(&host.state_dir()).load().unwrap();
    server.sesamectl(&["workstation", "assign", &identity.workstation_id, MAILBOX]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", MAILBOX]).await.unwrap();
    let export = server.data_dir().join("export.csv");
    server
        .sesamectl(&[
            "provisional",
            "export",
            "--office",
            "01234",
            "--format",
            "csv",
            "--out",
            export.to_str().unwrap(),
        ])
        .await
        .unwrap();
    let mut reader = csv::Reader::from_path(&export).unwrap();
    let provisional = reader.records().next().unwrap().unwrap()[2].to_owned();
    std::fs::remove_file(&export).unwrap();
    // The mail administrator sets it on Exchange, to be changed at the next logon.
    sim.add_account(MAILBOX, &provisional, true);
    (host, provisional)
}

/// Waits until `sesame-agent status` lists the mailbox (the first check-in delivered it).
pub(super) async fn wait_for_delivery(host: &AgentHost) {
    wait_for_agent(host, MAILBOX).await;
}

/// Waits until `sesame-agent status` prints `needle`; returns what it printed.
pub(super) async fn wait_for_agent(host: &AgentHost, needle: &str) -> String {
    let mut out = String::new();
    for _ in 0..200 {
        out = block_in_place(|| host.status()).1;
        if out.contains(needle) {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`sesame-agent status` never said {needle:?}:\n{out}\nlog:\n{}", host.log());
}

/// `sesame-agent change` typed with the key still in: the service says to unplug it and waits,
/// nothing reaches Exchange meanwhile; the person unplugs it and the change goes on. Returns what
/// the command ended with.
async fn change_after_unplugging(
    host: &mut AgentHost,
    sim: &OwaSim,
    lines: &[&str],
) -> (i32, String) {
    let logins = sim.logins().len();
    let change = {
        let socket = host.socket();
        let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        std::thread::spawn(move || {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            change_at(&socket, &lines, &[])
        })
    };
    for _ in 0..100 {
        if host.log().contains("waiting for the key to be unplugged") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.logins().len(), logins, "nothing is sent while the key is in");
    block_in_place(|| host.unplug());
    let (code, out) = block_in_place(|| change.join().unwrap());
    assert!(out.contains("Débranchez votre clé REAL"), "{out}");
    (code, out)
}

/// `sesamectl mailbox show ADDRESS --output json`, parsed.
pub(super) async fn mailbox_json(server: &TestServer, address: &str) -> serde_json::Value {
    let shown = server.sesamectl(&["mailbox", "show", address, "--output", "json"]).await.unwrap();
    serde_json::from_str(&shown).unwrap()
}

/// Waits until the mailbox has a rotation of `kind` with `status`; returns the mailbox.
pub(super) async fn wait_for_rotation(
    server: &TestServer,
    host: &AgentHost,
    kind: &str,
    status: &str,
) -> serde_json::Value {
    let mut shown = serde_json::Value::Null;
    for _ in 0..600 {
        shown = mailbox_json(server, MAILBOX).await;
        let found = shown["rotations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["kind"].as_str() == Some(kind) && r["status"].as_str() == Some(status));
        if found {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind} rotation {status} on the server: {shown:#}\nagent log:\n{}", host.log());
}

/// Waits until the server lists the rotation with `status`.
pub(super) async fn wait_for_status(server: &TestServer, host: &AgentHost, status: &str) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        last = server
            .sesamectl(&["provisional", "list", "--office", "01234", "--output", "json"])
            .await
            .unwrap();
        if last.contains(&format!("\"status\": \"{status}\""))
            || last.contains(&format!("\"status\":\"{status}\""))
        {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never showed the rotation {status}: {last}\nagent log:\n{}", host.log());
}

/// No password anywhere: the agent's log and files, the server's database.
pub(super) async fn assert_no_secret(server: &TestServer, host: &AgentHost, secrets: &[&str]) {
    let files = host.files_text();
    let dump = server.database_dump().await;
    for secret in secrets {
        assert!(!host.log().contains(secret), "a password in the agent's log");
        assert!(!files.contains(secret), "a password in the agent's files");
        assert!(!dump.contains(secret), "a password in the server's database");
    }
}

async fn the_letter_runs_end_to_end(server: &TestServer) {
    if !umockdev_available() {
        return;
    }
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, provisional) = roll_out(server, &sim).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;

    // A typo in the provisional password costs nothing on Exchange.
    let (code, out) = block_in_place(|| host.change(&["Wrong-Typo-123!", NEW, NEW], &[]));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("provisoire"), "{out}");
    assert!(sim.logins().is_empty(), "no logon for a typo");

    // With the key plugged in, nothing starts: the service asks for it to be unplugged and waits;
    // once it is out, the change goes on.
    block_in_place(|| host.plug());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, out) = change_after_unplugging(&mut host, &sim, &[&provisional, NEW, NEW]).await;
    assert_eq!(code, 0, "{out}\n{}", host.log());
    assert!(out.contains("Outlook"), "{out}");
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
    assert_eq!(sim.changes().len(), 1, "exactly one change");
    assert!(!sim.is_locked(MAILBOX));

    // The person re-enters it in Outlook, then plugs the key back in.
    block_in_place(|| host.plug());
    wait_for_status(server, &host, "completed").await;
    let shown = server.sesamectl(&["mailbox", "show", MAILBOX, "--output", "json"]).await.unwrap();
    assert!(shown.contains("completed"), "{shown}");
    assert!(shown.contains("observed_absent"), "the key evidence: {shown}");
    let audit = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(
        audit.contains("intact") || audit.contains("OK") || audit.contains("verified"),
        "{audit}"
    );

    // A period later (one day in these tests, 90 by default), the workstation is switched on:
    // at its first check-in the server opens the periodic rotation. The person unplugs the key
    // and types the current password and a new one twice.
    server.clock.advance(time::Duration::hours(25));
    sim.age_passwords();
    block_in_place(|| host.stop());
    block_in_place(|| host.start(None));
    // The server gives the due date (the compliance limit), which the person is told.
    wait_for_agent(&host, "(périodique, à faire avant le").await;
    let (code, out) = change_after_unplugging(&mut host, &sim, &[NEW, NEXT, NEXT]).await;
    assert_eq!(code, 0, "{out}\n{}", host.log());
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEXT), "the ground truth");
    assert_eq!(sim.changes().len(), 2, "one change per rotation");
    block_in_place(|| host.plug());
    let shown = wait_for_rotation(server, &host, "periodic", "completed").await;
    let verified = &shown["last_verified_change"];
    assert_eq!(verified["kind"], "periodic", "{shown:#}");
    assert_eq!(verified["key_evidence"]["kind"], "observed_absent", "{shown:#}");
    assert_eq!(shown["open_rotation"], serde_json::Value::Null, "{shown:#}");

    block_in_place(|| host.stop());
    assert_no_secret(server, &host, &[&provisional, NEW, NEXT]).await;
    sim.stop().await;
}

/// The crash points of the service, in the order of a change.
const CRASH_POINTS: [&str; 5] =
    ["journaled:started", "owa-answered", "journaled:verified", "reported:verified", "delivered"];

/// `sesame-agent change --mailbox MAILBOX` as a person would answer it: asked for the three
/// passwords, or (after an interruption) for the new one alone.
async fn person_changes(host: &AgentHost, mailbox: &str, provisional: &str) -> (i32, String) {
    let (_, question) = block_in_place(|| host.change(&[], &["--mailbox", mailbox]));
    if question.contains("interrompu") {
        block_in_place(|| host.change(&[NEW], &["--mailbox", mailbox]))
    } else {
        block_in_place(|| host.change(&[provisional, NEW, NEW], &["--mailbox", mailbox]))
    }
}

/// A `kill -9` at each step of the change (one mailbox per step), then a restart and the person
/// finishing: the true state, exactly one change on Exchange, no lockout, the server agrees.
async fn a_crash_at_every_step_ends_in_the_true_state(server: &TestServer) {
    if !umockdev_available() {
        return;
    }
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, _) = roll_out(server, &sim).await;
    let identity = sesame_agent::identity::StateDir::new(&host.state_dir()).load().unwrap();
    let mailboxes: Vec<String> =
        (0..CRASH_POINTS.len()).map(|i| format!("martin.crash{i}@01234.mailnot.fr")).collect();
    let people: String = mailboxes.iter().map(|m| format!("{m},Crash Test\n")).collect();
    let file =
        write_file(server.data_dir(), "crash.csv", &format!("address,display_name\n{people}"));
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    for mailbox in &mailboxes {
        server
            .sesamectl(&["workstation", "assign", &identity.workstation_id, mailbox])
            .await
            .unwrap();
        server.sesamectl(&["provisional", "issue", "--mailbox", mailbox]).await.unwrap();
    }
    let export = server.data_dir().join("crash-export.csv");
    server
        .sesamectl(&[
            "provisional",
            "export",
            "--office",
            "01234",
            "--format",
            "csv",
            "--out",
            export.to_str().unwrap(),
        ])
        .await
        .unwrap();
    let mut reader = csv::Reader::from_path(&export).unwrap();
    let passwords: Vec<(String, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_owned(), r[2].to_owned())).collect();
    std::fs::remove_file(&export).unwrap();
    for (mailbox, password) in &passwords {
        sim.add_account(mailbox, password, true);
    }
    let provisional_of = |mailbox: &str| {
        passwords.iter().find(|(m, _)| m.eq_ignore_ascii_case(mailbox)).unwrap().1.clone()
    };
    for (point, mailbox) in CRASH_POINTS.iter().zip(&mailboxes) {
        let provisional = provisional_of(mailbox);
        let changes_before = sim.changes().len();
        block_in_place(|| host.start(Some(point)));
        wait_for_delivery(&host).await;
        let (_, first) = person_changes(&host, mailbox, &provisional).await;
        // The service aborted at the point (or later, for "delivered", at the next check-in).
        tokio::time::sleep(Duration::from_millis(300)).await;
        block_in_place(|| host.kill());
        block_in_place(|| host.start(None));
        let mut after = String::new();
        for _ in 0..5 {
            let (code, text) = person_changes(&host, mailbox, &provisional).await;
            after.push_str(&text);
            if code == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let context =
            format!("{point}: first run:\n{first}\nafter:\n{after}\nlog:\n{}", host.log());
        assert_eq!(sim.password_of(mailbox).as_deref(), Some(NEW), "{context}");
        assert_eq!(sim.changes().len(), changes_before + 1, "exactly one change; {context}");
        assert!(!sim.is_locked(mailbox), "no lockout; {context}");
        block_in_place(|| host.stop());
    }
    // Every rotation ends verified on the server.
    block_in_place(|| host.start(None));
    for mailbox in &mailboxes {
        let mut shown = String::new();
        for _ in 0..300 {
            shown =
                server.sesamectl(&["mailbox", "show", mailbox, "--output", "json"]).await.unwrap();
            if shown.contains("last_verified_change") && shown.contains("verified_at") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(shown.contains("verified_at"), "{mailbox}: {shown}\n{}", host.log());
    }
    let audit = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(!audit.to_lowercase().contains("broken"), "{audit}");
    block_in_place(|| host.stop());
    let secrets: Vec<&str> = passwords.iter().map(|(_, p)| p.as_str()).chain([NEW]).collect();
    assert_no_secret(server, &host, &secrets).await;
    sim.stop().await;
}

on_both_backends!(
    with agent_config;
    the_letter_runs_end_to_end,
    a_crash_at_every_step_ends_in_the_true_state,
);

/// The server for the agent's stories: a rotation period of one day, so that a test can reach the
/// periodic change by moving the server's clock a day, well inside the workstation certificate's
/// life.
pub(super) fn agent_config(config: &mut sesame_server::config::Config) {
    config.rotation_period = time::Duration::days(1);
}
