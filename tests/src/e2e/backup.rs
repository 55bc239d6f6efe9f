//! Backup and restore (`sesame_server::backup`, what `sesame-server backup`, `restore` and
//! `backup verify` run): a backup taken while administrators write holds every write acknowledged
//! before it began; one taken while workstations check in (the real agent uplink) and enroll holds
//! every workstation enrolled before it began and each one's last check-in answered a flush window
//! (`agents.check_in_flush_ms`) before it, and the restored server answers their certificates; a
//! server restored from it in a fresh data directory has its offices, rotations, escrowed
//! passwords and an intact audit trail; `backup verify` passes a sound archive and names a flipped
//! byte, a truncation and a broken chain; with PostgreSQL, the archive and a `pg_dump` restored
//! with `pg_restore` into a fresh database give back a working server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sesame_agent::identity::StateDir;
use sesame_agent::uplink::Uplink;
use sesame_base::clock::{Clock as _, SystemClock};
use sesame_server::backup::{self, archive::DatabaseKind, verify::verify};
use sesame_server::config::Config;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::identity::{token, try_enroll};
use crate::{Backend, CtlResult, TestServer, write_file};

/// A server started on a restored data directory (and database).
struct Restored {
    url: String,
    credentials: PathBuf,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), sesame_server::ServeError>>,
}

impl Restored {
    /// Starts a server with `config` (listening at `config.listen`), which must find its
    /// administrator in the database.
    async fn start(config: &Config) -> Restored {
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = sesame_server::Server::prepare(config, address, Arc::new(SystemClock))
            .await
            .expect("a server starts on the restored data directory");
        assert!(server.bootstrap_credentials().is_none(), "the administrators came back");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Restored {
            url: format!("https://{address}"),
            credentials: config.data_dir.join("admin.credentials"),
            stop,
            task,
        }
    }

    /// Runs sesamectl with the restored bootstrap credentials, against this server.
    async fn sesamectl(&self, args: &[&str]) -> CtlResult {
        let credentials = self.credentials.display().to_string();
        let mut argv = vec!["sesamectl", "--credentials", &credentials, "--server", &self.url];
        argv.extend_from_slice(args);
        crate::run_sesamectl(&argv).await
    }

    /// Asserts that the server has `offices` and office 01234, discloses the provisional
    /// passwords `before` (the restored escrow key opens them) and that its audit trail verifies.
    async fn assert_whole(&self, offices: &[String], before: &[(String, String)], dir: &Path) {
        let listed = self.sesamectl(&["office", "list", "-o", "json"]).await.unwrap();
        for crpcen in offices.iter().map(String::as_str).chain(["01234"]) {
            assert!(listed.contains(&format!("\"{crpcen}\"")), "office {crpcen} lost");
        }
        let after =
            exported(async |args: &[&str]| self.sesamectl(args).await, &dir.join("after.csv"))
                .await;
        assert_eq!(after, before, "the restored escrow key discloses the same passwords");
        let audit = self.sesamectl(&["audit", "verify"]).await.unwrap();
        assert!(audit.starts_with("The audit trail is intact"), "{audit}");
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// An office with two mailboxes and a provisional password issued for each; returns the
/// passwords as exported (address, password).
async fn office_with_provisional_passwords(
    server: &TestServer,
    dir: &Path,
) -> Vec<(String, String)> {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Dupont"]).await.unwrap();
    let people = "address,display_name\n\
                  dupont.jean@01234.mailnot.fr,Jean Dupont\n\
                  durand.marie@01234.mailnot.fr,Marie Durand\n";
    let file = write_file(dir, "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();
    exported(async |args: &[&str]| server.sesamectl(args).await, &dir.join("before.csv")).await
}

/// `provisional export --office 01234` through `run`, as (address, password) pairs.
async fn exported(run: impl AsyncFn(&[&str]) -> CtlResult, path: &Path) -> Vec<(String, String)> {
    let out = path.to_str().unwrap();
    run(&["provisional", "export", "--office", "01234", "--format", "csv", "--out", out])
        .await
        .unwrap();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut rows: Vec<(String, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_owned(), r[2].to_owned())).collect();
    rows.sort();
    rows
}

/// A server's configuration with a fresh data directory in `parent`, the database in it (the
/// default layout), listening at `listen`.
fn fresh_config(parent: &Path, listen: std::net::SocketAddr) -> Config {
    Config { listen, data_dir: parent.join("data"), database_url: None, ..Config::default() }
}

/// Enrolls a workstation of office 01234 (the real agent library) with its state in `dir`;
/// returns its id and state directory.
async fn enrolled(server: &TestServer, dir: &Path) -> (String, StateDir) {
    let token = token(server, "01234", &[]).await;
    let state = StateDir::new(dir);
    try_enroll(server, &state, &token).await.unwrap();
    (state.load().unwrap().workstation_id, state)
}

/// Each workstation's last-seen time as the server's `workstation list` shows it.
fn last_seen(listed: &str) -> std::collections::HashMap<String, OffsetDateTime> {
    let listed: Vec<serde_json::Value> = serde_json::from_str(listed).unwrap();
    let time = |row: &serde_json::Value| {
        OffsetDateTime::parse(row["last_seen_at"].as_str().unwrap(), &Rfc3339).unwrap()
    };
    listed.iter().map(|row| (row["id"].as_str().unwrap().to_owned(), time(row))).collect()
}

/// A file's permission bits.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Whether a directory is empty (what a verification leaves in its scratch directory).
fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_holds_every_acknowledged_write_and_restores_whole() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = office_with_provisional_passwords(&server, dir.path()).await;
    assert_eq!(before.len(), 2);
    server.services().sign_audit_head(server.clock_now()).await.unwrap();

    // Four administrators' scripts add offices while the backup runs.
    let started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let server = Arc::new(server);
    let mut writers = Vec::new();
    for writer in 0..4u32 {
        let (server, started, stop) = (server.clone(), started.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let (mut acknowledged_before, mut after) = (Vec::new(), 0u32);
            for i in 0..60u32 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let crpcen = format!("{}", 20_000 + writer * 1_000 + i);
                let name = format!("Étude {crpcen}");
                server.sesamectl(&["office", "add", &crpcen, "--name", &name]).await.unwrap();
                // Acknowledged: before the backup began, or not.
                if started.load(Ordering::SeqCst) {
                    after += 1;
                } else {
                    acknowledged_before.push(crpcen);
                }
            }
            (acknowledged_before, after)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let archive = dir.path().join("sesame.backup");
    started.store(true, Ordering::SeqCst);
    let taken = std::time::Instant::now();
    let manifest = backup::backup(&server.config(), &archive, SystemClock.now()).await.unwrap();
    let took = taken.elapsed();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut acknowledged, mut after) = (Vec::new(), 0);
    for writer in writers {
        let (before, later) = writer.await.unwrap();
        acknowledged.extend(before);
        after += later;
    }
    println!(
        "backup under load: {} offices acknowledged before it began, {after} after; took {took:?}",
        acknowledged.len()
    );
    assert!(!acknowledged.is_empty(), "writes were acknowledged before the backup");
    assert_eq!(manifest.database, DatabaseKind::Sqlite);
    assert_eq!(mode(&archive), 0o600, "the archive holds private keys");

    let scratch = tempfile::tempdir().unwrap();
    let verified = verify(&archive, Some(scratch.path()), Arc::new(SystemClock)).await.unwrap();
    assert!(verified.sound(), "{verified}");
    assert!(empty(scratch.path()), "nothing of the archive is left behind");
    let checks = verified.database.as_ref().unwrap();
    assert!(checks.inventory.offices as usize > acknowledged.len(), "{verified}");
    let open: u64 = checks.inventory.rotations.iter().map(|(_, n)| n).sum();
    assert_eq!(open, 2, "{verified}");
    assert_eq!(checks.escrows_opened, 2, "{verified}");
    assert!(checks.chain.heads >= 1, "{verified}");
    let summary = verified.to_string();
    assert!(summary.contains("The backup verifies"), "{summary}");

    // Restore into a fresh data directory, the database in it (the default layout).
    let fresh = tempfile::tempdir().unwrap();
    let config = fresh_config(fresh.path(), "127.0.0.1:0".parse().unwrap());
    let restored = backup::restore::restore(&archive, &config).unwrap();
    assert_eq!(restored.manifest, manifest);
    let data = &config.data_dir;
    assert_eq!(mode(data), 0o700);
    for private in
        ["ca.key", "server.key", "escrow.key", "audit-signing.key", "sesame.db", "ca.pem"]
    {
        assert_eq!(mode(&data.join(private)), 0o600, "{private}");
    }
    let refused = backup::restore::restore(&archive, &config).unwrap_err().to_string();
    assert!(refused.starts_with("refusing to restore over existing files"), "{refused}");

    let server = Arc::into_inner(server).unwrap();
    let restarted = Restored::start(&config).await;
    restarted.assert_whole(&acknowledged, &before, fresh.path()).await;
    restarted.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_while_agents_check_in_holds_every_workstation_and_their_acknowledged_check_ins() {
    // Workstations enroll as fast as they can, all from one address.
    let unlimited = |config: &mut Config| config.agents.attempts_burst = 10_000;
    let server = Arc::new(TestServer::start_with(Backend::Sqlite, unlimited).await.unwrap());
    let window = server.config().agents.check_in_flush;
    let dir = tempfile::tempdir().unwrap();
    let mut workstations = Vec::new();
    for n in 0..4 {
        workstations.push(enrolled(&server, &dir.path().join(format!("agent-{n}"))).await);
    }

    // The server's clock follows the real one: each check-in has its own time.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop) = (server.clock.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                clock.set(SystemClock.now());
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };
    // Every workstation checks in continuously (the real agent uplink); each answer is kept as
    // (when it was received, the server's time it carries, which becomes the last-seen time).
    let mut agents = Vec::new();
    for (_, state) in &workstations {
        let (uplink, stop) = (Uplink::new(state.clone(), Arc::new(SystemClock)), stop.clone());
        agents.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let beat = uplink.heartbeat().await.unwrap();
                let at = OffsetDateTime::parse(&beat.server_time, &Rfc3339).unwrap();
                answered.push((SystemClock.now(), at));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            answered
        }));
    }
    // And new workstations enroll, each acknowledged at a known time.
    let enroller = {
        let (server, stop, dir) = (server.clone(), stop.clone(), dir.path().to_path_buf());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..100 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (id, _) = enrolled(&server, &dir.join(format!("late-{n}"))).await;
                acknowledged.push((SystemClock.now(), id));
            }
            acknowledged
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let archive = dir.path().join("sesame.backup");
    let began = SystemClock.now();
    let manifest = backup::backup(&server.config(), &archive, began).await.unwrap();
    let took = SystemClock.now() - began;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut answered = Vec::new();
    for agent in agents {
        answered.push(agent.await.unwrap());
    }
    let enrollments = enroller.await.unwrap();
    ticker.await.unwrap();
    let address = server.address;
    Arc::into_inner(server).unwrap().stop().await;

    // Restored in a fresh data directory, served at the same address (the agents' identities name it).
    let fresh = tempfile::tempdir().unwrap();
    let config = fresh_config(fresh.path(), address);
    let restored = backup::restore::restore(&archive, &config).unwrap();
    assert_eq!(restored.manifest, manifest);
    let restarted = Restored::start(&config).await;
    let seen =
        last_seen(&restarted.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap());

    // Every workstation enrolled before the backup began is known.
    let enrolled_before: Vec<&String> = workstations
        .iter()
        .map(|(id, _)| id)
        .chain(enrollments.iter().filter(|(at, _)| *at < began).map(|(_, id)| id))
        .collect();
    for id in &enrolled_before {
        assert!(seen.contains_key(*id), "workstation {id}, enrolled before the backup, is lost");
    }
    // Each workstation's last check-in answered a flush window before the backup began is there
    // (check-ins are written once per window), with an allowance for that window's write to commit.
    let cutoff = began - window - time::Duration::milliseconds(50);
    let (mut before, mut during, mut while_it_ran) = (0, 0, 0);
    for ((id, _), answers) in workstations.iter().zip(&answered) {
        let confirmed: Vec<_> =
            answers.iter().filter(|(received, _)| *received <= cutoff).collect();
        before += confirmed.len();
        during += answers.iter().filter(|(received, _)| *received > began).count();
        while_it_ran +=
            answers.iter().filter(|(received, _)| (began..began + took).contains(received)).count();
        let (_, last) = confirmed.last().expect("check-ins were answered before the backup");
        assert!(
            seen[id] >= *last,
            "{id}: last seen {} in the backup, answered at {last}",
            seen[id]
        );
    }
    assert!(during > 0, "agents kept checking in once the backup began");
    println!(
        "backup while agents check in: {} workstations enrolled before it began, {} after; \
         {before} check-ins answered a flush window before it, {during} after it began \
         ({while_it_ran} while it ran); took {took}",
        enrolled_before.len(),
        enrollments.len() + workstations.len() - enrolled_before.len(),
    );

    // The restored workstations check in again with their identity (the restored CA's certificates).
    for (id, state) in &workstations {
        let beat = Uplink::new(state.clone(), Arc::new(SystemClock)).heartbeat().await.unwrap();
        assert_eq!(&beat.workstation_id, id);
    }
    restarted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_flipped_byte_a_truncation_and_a_broken_chain() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    for (crpcen, name) in [("01234", "Étude Dupont"), ("01235", "Étude Martin")] {
        server.sesamectl(&["office", "add", crpcen, "--name", name]).await.unwrap();
    }
    server.services().sign_audit_head(server.clock_now()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let check = |path: PathBuf| {
        let scratch = scratch.path().to_path_buf();
        async move { verify(&path, Some(&scratch), Arc::new(SystemClock)).await }
    };
    let good = dir.path().join("good.backup");
    backup::backup(&server.config(), &good, SystemClock.now()).await.unwrap();
    let verified = check(good.clone()).await.unwrap();
    assert!(verified.sound(), "{verified}");
    let bytes = std::fs::read(&good).unwrap();

    // A flipped byte anywhere: in the database, in the manifest's text.
    for at in [bytes.len() / 2, 40] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x01;
        let path = dir.path().join(format!("flipped-{at}.backup"));
        std::fs::write(&path, &flipped).unwrap();
        let error = check(path).await.unwrap_err().to_string();
        // In the database: its checksum; in the manifest: the manifest no longer reads.
        assert!(error.contains("is damaged"), "byte {at}: {error}");
        assert!(empty(scratch.path()), "nothing is left behind after an error");
    }
    let truncated = dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let error = check(truncated.clone()).await.unwrap_err().to_string();
    assert!(error.contains("is truncated: it should be"), "{error}");
    let refused = backup::restore::restore(
        &truncated,
        &Config { data_dir: dir.path().join("never"), database_url: None, ..Config::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(refused.contains("is truncated"), "{refused}");
    assert!(!dir.path().join("never/sesame.db").exists(), "nothing restored from a bad archive");

    // A record edited behind the server's back: the copy verifies its chain.
    server
        .database()
        .execute(&[
            "DROP TRIGGER audit_log_no_update",
            "UPDATE audit_log SET details = '{\"name\":\"Étude Forgée\"}' WHERE seq = 2",
        ])
        .await;
    let broken = dir.path().join("broken.backup");
    backup::backup(&server.config(), &broken, SystemClock.now()).await.unwrap();
    let verified = check(broken).await.unwrap();
    assert!(!verified.sound());
    let summary = verified.to_string();
    assert!(summary.contains("THE BACKUP DOES NOT VERIFY"), "{summary}");
    assert!(summary.contains("record 2: content does not match its hash"), "{summary}");
    assert!(empty(scratch.path()));
    server.stop().await;
}

/// Runs `sesame-server ARGS` (the real binary) and returns its status, standard output and error.
async fn sesame_server(args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(crate::binaries::workspace_binary("sesame-server"))
        .args(args)
        .output()
        .await
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_back_up_verify_and_restore() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Dupont"]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("sesame.backup");
    let (data, url) = (server.config().data_dir, server.database().url());
    let (data, archive_arg) = (data.to_str().unwrap(), archive.to_str().unwrap());
    let url = secrecy::ExposeSecret::expose_secret(&url).to_owned();
    let backup_args = ["backup", "--data-dir", data, "--database-url", &url, "--out", archive_arg];
    let (ok, out, err) = sesame_server(&backup_args).await;
    assert!(ok, "{err}");
    assert!(out.starts_with(&format!("Backup written to {archive_arg} (mode 0600):")), "{out}");
    assert!(out.contains("It holds private keys"), "{out}");

    let (ok, out, err) = sesame_server(&["backup", "verify", archive_arg]).await;
    assert!(ok, "{err}");
    assert!(out.contains("1 offices") && out.contains("The backup verifies"), "{out}");

    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x80;
    let damaged = dir.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let (ok, _, err) = sesame_server(&["backup", "verify", damaged.to_str().unwrap()]).await;
    assert!(!ok && err.contains("is damaged"), "{err}");

    let fresh = dir.path().join("fresh");
    let fresh_arg = fresh.to_str().unwrap();
    let (ok, out, err) =
        sesame_server(&["restore", "--from", archive_arg, "--data-dir", fresh_arg]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("wrote {fresh_arg}/sesame.db")), "{out}");
    let (ok, _, err) =
        sesame_server(&["restore", "--from", archive_arg, "--data-dir", fresh_arg]).await;
    assert!(!ok && err.contains("refusing to restore over existing files"), "{err}");
    server.stop().await;
}

mod postgres;
