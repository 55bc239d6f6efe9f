//! Benchmark: the resident memory of a real `sesame-server` process under write traffic. The
//! release binary is started on a fresh data directory (SQLite, or a PostgreSQL schema of its own)
//! and driven by eight concurrent clients with a fixed mix of calls, most of them failing writes
//! (a CreateOffice that conflicts or is malformed, imports of invalid rows, bad password policies,
//! tokens for unknown offices), some successful writes, reads, and agent calls from an enrolled
//! workstation. Every `SESAME_MEMORY_EVERY` calls it prints the server's `VmRSS` and `VmHWM`
//! (peak), read from `/proc/<pid>/status`; the client's own memory is not in the figures.
//!
//! ```text
//! cargo build --release -p sesame-server -p sesame-tests --bins
//! cargo bench -p sesame-tests --bench memory
//! ```
//!
//! Settings (environment): `SESAME_MEMORY_CALLS` (default 100,000), `SESAME_MEMORY_EVERY`
//! (default 10,000), `SESAME_MEMORY_BACKEND=postgres` (with `SESAME_TEST_POSTGRES_URL`),
//! `SESAME_SERVER_BIN` (default `<target>/release/sesame-server`). Anything else in the
//! environment (`MALLOC_ARENA_MAX`, `SESAME_DATABASE__MAX_CONNECTIONS`...) reaches the server.
//! Results are recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // Reason: a benchmark prints its report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use sesame_agent::identity::StateDir;
use sesame_agent::uplink::{Enrollment, enroll};
use sesame_base::credentials::Credentials;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use sesame_server::store::test_support::TestDatabase;
use sesamectl::AdminClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const WORKERS: u64 = 8;
/// Offices created by successful CreateOffice calls at most; later ones conflict.
const MAX_OFFICES: u64 = 500;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory_of(pid: u32) -> (f64, f64) {
    sesame_tests::process_memory::memory_of(pid).expect("the process's /proc status")
}

fn server_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("SESAME_SERVER_BIN") {
        return bin.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("release/sesame-server")
}

/// The running server process; killed when dropped.
struct Server {
    child: Child,
    credentials: PathBuf,
    ca_fingerprint: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path, database_url: Option<&SecretString>) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(server_binary());
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("SESAME_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("SESAME_DATABASE__URL", url.expose_secret());
    }
    let mut child =
        command.spawn().expect("the release sesame-server binary (see the doc comment)");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut ca_fingerprint = String::new();
    let credentials = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the server stopped before serving");
        if let Some(f) = line.trim().strip_prefix("CA certificate SHA-256 fingerprint: ") {
            f.clone_into(&mut ca_fingerprint);
        }
        if let Some(path) =
            line.trim().strip_prefix("Bootstrap administrator credentials written to ")
        {
            break PathBuf::from(path);
        }
    };
    Server { child, credentials, ca_fingerprint, _stdout: stdout }
}

/// What each worker talks through.
struct Clients {
    admin: AdminClient,
    agent: AgentServiceClient<Channel>,
}

async fn agent_client(credentials: &Credentials, state: &StateDir) -> AgentServiceClient<Channel> {
    let identity = state.load().unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&credentials.ca_certificate))
        .identity(Identity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    let channel = Endpoint::from_shared(credentials.server.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    AgentServiceClient::new(channel)
}

fn rows(rows: &[(&str, &str)]) -> pb::ImportMailboxesRequest {
    pb::ImportMailboxesRequest {
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, (address, name))| pb::MailboxRow {
                line: i as u64 + 2,
                address: (*address).to_owned(),
                display_name: (*name).to_owned(),
                logon_name: String::new(),
                local_account: String::new(),
            })
            .collect(),
        dry_run: false,
    }
}

fn policy(min_length: u32) -> pb::SetPasswordPolicyRequest {
    pb::SetPasswordPolicyRequest {
        office: "01234".to_owned(),
        policy: Some(pb::PasswordPolicy {
            min_length,
            require_lower: true,
            require_upper: true,
            require_digit: true,
            require_special: min_length.is_multiple_of(2),
            provisional_length: 16,
            ..Default::default()
        }),
    }
}

/// Call number `n` of the mix: 20 kinds in turn. Returns whether it succeeded.
async fn one_call(clients: &mut Clients, n: u64, offices: &AtomicU64) -> bool {
    let admin = &mut clients.admin;
    let agent = &mut clients.agent;
    let ok = |r: Result<(), tonic::Status>| r.is_ok();
    match n % 20 {
        // Failing writes (12 of 20).
        0 | 1 => ok(admin
            .create_office(pb::CreateOfficeRequest {
                crpcen: "01234".into(),
                name: "Conflit".into(),
                city: String::new(),
            })
            .await
            .map(drop)),
        2 => ok(admin
            .create_office(pb::CreateOfficeRequest {
                crpcen: format!("{n}x"),
                name: "x".repeat((n % 300) as usize),
                city: "\u{0}".into(),
            })
            .await
            .map(drop)),
        3 | 4 => ok(admin
            .import_mailboxes(tokio_stream::iter([rows(&[
                ("not an address", "Nobody"),
                (&format!("dupont.jean{n}@99999.mailnot.fr"), "Jean Dupont"),
                ("martin.paul@01234.mailnot.fr", ""),
                ("@01234.mailnot.fr", &"x".repeat((n % 500) as usize)),
            ])]))
            .await
            .map(drop)),
        5 | 6 => ok(admin.set_password_policy(policy(1000 + (n % 7) as u32)).await.map(drop)),
        7 => ok(admin
            .create_enrollment_token(pb::CreateEnrollmentTokenRequest {
                office: format!("{:05}", 90_000 + n % 9_000),
                uses: 1,
                ttl_seconds: 3_600,
            })
            .await
            .map(drop)),
        8 => ok(admin
            .revoke_workstation(pb::RevokeWorkstationRequest { id: format!("ws-{n}") })
            .await
            .map(drop)),
        9 => ok(admin
            .issue_provisional(pb::IssueProvisionalRequest {
                mailbox: format!("personne{n}@01234.mailnot.fr"),
                ..Default::default()
            })
            .await
            .map(drop)),
        10 => ok(agent
            .recover(pb::RecoverRequest {
                workstation_id: format!("{n}"),
                challenge: vec![7; (n % 100) as usize],
                signature: vec![9; 64],
            })
            .await
            .map(drop)),
        11 => ok(agent
            .get_recovery_challenge(pb::GetRecoveryChallengeRequest {
                workstation_id: format!("{n}"),
            })
            .await
            .map(drop)),
        // Successful writes (3 of 20).
        12 => {
            let next = offices.fetch_add(1, Ordering::Relaxed);
            let crpcen =
                if next < MAX_OFFICES { format!("{:05}", 10_000 + next) } else { "01234".into() };
            ok(admin
                .create_office(pb::CreateOfficeRequest {
                    crpcen,
                    name: format!("Office {n}"),
                    city: "Lyon".into(),
                })
                .await
                .map(drop))
        }
        13 => ok(admin.set_password_policy(policy(12 + (n % 5) as u32)).await.map(drop)),
        14 => ok(admin
            .import_mailboxes(tokio_stream::iter([rows(&[
                ("dupont.jean@01234.mailnot.fr", &format!("Jean Dupont {}", n % 3)),
                ("durand.marie@01234.mailnot.fr", "Marie Durand"),
            ])]))
            .await
            .map(drop)),
        // Reads (3 of 20).
        15 => ok(admin.who_am_i(pb::WhoAmIRequest {}).await.map(drop)),
        16 => ok(admin.get_office(pb::GetOfficeRequest { crpcen: "01234".into() }).await.map(drop)),
        17 => ok(admin
            .list_mailboxes(pb::ListMailboxesRequest {
                office: "01234".into(),
                ..Default::default()
            })
            .await
            .map(drop)),
        // Agent calls (2 of 20).
        18 => ok(agent
            .heartbeat(pb::HeartbeatRequest { agent_version: "0.1.0".into(), ..Default::default() })
            .await
            .map(drop)),
        _ => ok(agent.get_pending_rotations(pb::GetPendingRotationsRequest {}).await.map(drop)),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = setting("SESAME_MEMORY_CALLS", 100_000);
    let every = setting("SESAME_MEMORY_EVERY", 10_000).max(1);
    let dir = tempfile::tempdir().unwrap();
    let database = match std::env::var("SESAME_MEMORY_BACKEND").as_deref() {
        Ok("postgres") => Some(TestDatabase::postgres().await.expect("SESAME_TEST_POSTGRES_URL")),
        _ => None,
    };
    let server =
        start_server(&dir.path().join("data"), database.as_ref().map(TestDatabase::url).as_ref());
    let pid = server.child.id();
    let credentials = Credentials::read(&server.credentials).unwrap();

    // An office with two mailboxes, and one enrolled workstation.
    let mut admin = sesamectl::connect(&credentials).await.unwrap();
    admin
        .create_office(pb::CreateOfficeRequest {
            crpcen: "01234".into(),
            name: "Étude".into(),
            city: String::new(),
        })
        .await
        .unwrap();
    let token = admin
        .create_enrollment_token(pb::CreateEnrollmentTokenRequest {
            office: "01234".into(),
            uses: 1,
            ttl_seconds: 3_600,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let state = StateDir::new(&dir.path().join("agent"));
    let ca_fingerprint = server.ca_fingerprint.clone();
    enroll(
        &state,
        Enrollment {
            server: &credentials.server,
            ca_fingerprint: &ca_fingerprint,
            token: token.into(),
        },
    )
    .await
    .unwrap();

    let backend = if database.is_some() { "PostgreSQL" } else { "SQLite" };
    let arenas = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "default".into());
    println!("server pid {pid}, {backend}, MALLOC_ARENA_MAX={arenas}, {WORKERS} clients\n");
    println!("| calls | RSS | peak (VmHWM) | elapsed | calls/s | ok |");
    println!("|---|---|---|---|---|---|");
    let started = Instant::now();
    let report = move |done: u64, succeeded: u64| {
        let (rss, peak) = memory_of(pid);
        let secs = started.elapsed().as_secs_f64();
        println!(
            "| {done} | {rss:.1} MiB | {peak:.1} MiB | {secs:.0} s | {:.0} | {succeeded} |",
            done as f64 / secs.max(0.001)
        );
    };
    report(0, 0);

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let succeeded = Arc::new(AtomicU64::new(0));
    let offices = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let mut clients = Clients {
            admin: sesamectl::connect(&credentials).await.unwrap(),
            agent: agent_client(&credentials, &state).await,
        };
        let (next, done, succeeded, offices) =
            (next.clone(), done.clone(), succeeded.clone(), offices.clone());
        let credentials = credentials.clone();
        let state = state.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= calls {
                    break;
                }
                // Now and then a new connection, as sesamectl runs and restarting agents open.
                if n % 1_000 == 999 {
                    clients.admin = sesamectl::connect(&credentials).await.unwrap();
                    clients.agent = agent_client(&credentials, &state).await;
                }
                if one_call(&mut clients, n, &offices).await {
                    succeeded.fetch_add(1, Ordering::Relaxed);
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % every == 0 {
                    report(finished, succeeded.load(Ordering::Relaxed));
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    drop(server);
    if let Some(database) = database {
        database.destroy().await;
    }
}
