//! What the environment scenarios (disk, clock, network, hostile input) share: the server's log
//! captured in memory, the code of a refused sesamectl call, SQLite's own integrity check, and a
//! workstation rolled out with the real agent binary against an OWA simulator (the administrator's
//! part of the letter's story: office, mailbox, enrollment, provisional password).

use std::sync::OnceLock;
use std::time::Duration;

use sesame_tests::agent_host::{AgentHost, change_at};
use sesame_tests::owa_sim::{OwaSim, SimOptions};
use sesame_tests::{CtlResult, LogBuffer, TestServer, write_file};
use tokio::task::block_in_place;

/// The mailbox of the rolled-out workstation.
pub(crate) const MAILBOX: &str = "dupont.jean@01234.mailnot.fr";
/// The personal password the person chooses.
pub(crate) const NEW: &str = "Etude-Lyon-2026!";

/// Everything the in-process servers log (INFO and above), from the first call on; `None` when
/// another part of the suite installed its own subscriber first.
pub(crate) fn server_log() -> Option<&'static LogBuffer> {
    static LOG: OnceLock<Option<LogBuffer>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).ok().map(|()| buffer)
    })
    .as_ref()
}

/// The gRPC code of a sesamectl call (`Ok` when it succeeded).
pub(crate) fn code(result: &CtlResult) -> tonic::Code {
    match result {
        Ok(_) => tonic::Code::Ok,
        Err(sesamectl::Error::Rpc(status)) => status.code(),
        Err(other) => panic!("not an RPC error: {other:?}"),
    }
}

/// `PRAGMA integrity_check` on the SQLite database at `path`, opened read-only beside the server.
pub(crate) async fn integrity_check(path: &std::path::Path) -> String {
    use sqlx::Connection as _;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.expect("open SQLite");
    let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .expect("run integrity_check");
    connection.close().await.expect("close SQLite");
    verdict
}

/// What the administrator does before the person sees anything: the office, the mailbox, an
/// enrolled workstation (reaching the server at `url`) assigned to it, a provisional password set
/// on the simulated Exchange. Returns the agent (not started) and the provisional password.
pub(crate) async fn roll_out(server: &TestServer, sim: &OwaSim, url: &str) -> (AgentHost, String) {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Dupont"]).await.unwrap();
    let people = format!("address,display_name\n{MAILBOX},Jean Dupont\n");
    let file = write_file(server.data_dir(), "people.csv", &people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["owa-url", "set", &sim.url()]).await.unwrap();
    let out = server.sesamectl(&["token", "create", "--office", "01234"]).await.unwrap();
    let token = out.lines().next().unwrap().to_owned();
    let host =
        block_in_place(|| AgentHost::enroll(url, &server.ca_fingerprint, &token, &sim.ca().pem()));
    let identity = sesame_agent::identity::StateDir::new(&host.state_dir()).load().unwrap();
    server.sesamectl(&["workstation", "assign", &identity.workstation_id, MAILBOX]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", MAILBOX]).await.unwrap();
    let provisional = exported_provisional(server, MAILBOX).await;
    sim.add_account(MAILBOX, &provisional, true);
    (host, provisional)
}

/// `mailbox`'s provisional password, from the office's export as the mail administrator gets it.
pub(crate) async fn exported_provisional(server: &TestServer, mailbox: &str) -> String {
    let export = server.data_dir().join("export.csv");
    let out = export.to_str().unwrap();
    server
        .sesamectl(&["provisional", "export", "--office", "01234", "--format", "csv", "--out", out])
        .await
        .unwrap();
    let mut reader = csv::Reader::from_path(&export).unwrap();
    let provisional = reader
        .records()
        .map(Result::unwrap)
        .find(|r| r[0].eq_ignore_ascii_case(mailbox))
        .map(|r| r[2].to_owned())
        .unwrap();
    std::fs::remove_file(&export).unwrap();
    provisional
}

/// An OWA simulator for the workstation.
pub(crate) async fn owa() -> OwaSim {
    OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await
}

/// Waits (at most `patience`) until `sesame-agent status` prints `needle`; returns what it
/// printed.
pub(crate) async fn wait_for_agent(host: &AgentHost, needle: &str, patience: Duration) -> String {
    let started = std::time::Instant::now();
    loop {
        let out = block_in_place(|| host.status()).1;
        if out.contains(needle) {
            return out;
        }
        assert!(
            started.elapsed() < patience,
            "`sesame-agent status` never said {needle:?}:\n{out}\nlog:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The steps the server recorded for the mailbox's rotations, as `(kind, step)`, in order.
pub(crate) async fn recorded_steps(server: &TestServer) -> Vec<(String, String)> {
    steps_of(server, MAILBOX).await
}

/// The steps the server recorded for `mailbox`'s rotations, as `(kind, step)`, in order.
pub(crate) async fn steps_of(server: &TestServer, mailbox: &str) -> Vec<(String, String)> {
    let shown = server.sesamectl(&["mailbox", "show", mailbox, "--output", "json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let kinds: Vec<(String, String)> = shown["rotations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shown["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let rotation = e["rotation_id"].as_str().unwrap_or_default();
            let kind = kinds.iter().find(|(id, _)| id == rotation).map_or("?", |(_, k)| k);
            (kind.to_owned(), e["step"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Waits (at most `patience`) until the server recorded `step` for a rotation of `kind`.
pub(crate) async fn wait_for_step(
    server: &TestServer,
    host: &AgentHost,
    kind: &str,
    step: &str,
    patience: Duration,
) -> Vec<(String, String)> {
    let started = std::time::Instant::now();
    loop {
        let steps = recorded_steps(server).await;
        if steps.iter().any(|(k, s)| k == kind && s == step) {
            return steps;
        }
        assert!(
            started.elapsed() < patience,
            "the server never recorded {kind} {step}: {steps:?}\nagent log:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The person types `lines` into `sesame-agent change`; returns its exit code and what it said.
pub(crate) fn person_types(host: &AgentHost, lines: &[&str]) -> (i32, String) {
    block_in_place(|| change_at(&host.socket(), lines, &[]))
}

/// `text` without its ANSI colour sequences (the agent's log is coloured).
pub(crate) fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
