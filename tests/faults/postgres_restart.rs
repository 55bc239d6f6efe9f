//! B3's other half: PostgreSQL restarted under load. A private PostgreSQL instance (initdb into a
//! temporary directory with the newest `/usr/lib/postgresql/*/bin`, run as the `postgres` user on a free port: the shared instance on 5432 is
//! never touched), the real `sesame-server` on it, agents checking in and an administrator
//! reading and writing; then `pg_ctl stop -m immediate` (PostgreSQL's own crash) and, seconds
//! later, a start. While it is down the server answers `UNAVAILABLE` (never `INTERNAL`, never a
//! panic) and `/readyz` says not ready; once it is back the server recovers by itself, without a
//! restart; nothing it confirmed is lost (offices created, check-ins answered).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::crash_support::{Database, ServerProcess};

/// Where Debian's PostgreSQL programs are (the newest version installed), if any.
fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL instance of our own, stopped (immediately) when dropped.
#[derive(Debug)]
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-l", &log, "-s"])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {args:?}: {status}");
    }

    fn init(bin: PathBuf) -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let chown = Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()).status();
        assert!(chown.unwrap().success());
        let pg = PrivatePostgres { bin, dir, port };
        let initdb = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg.bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(pg.data())
            .output()
            .unwrap();
        assert!(initdb.status.success(), "initdb: {}", String::from_utf8_lossy(&initdb.stderr));
        pg.start();
        pg
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["-w", "-o", &options, "start"]);
    }

    fn crash(&self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-s", "-m", "immediate", "stop"])
            .status();
    }
}

/// The phase a request is counted in: the one it ended in when the outage began or ended while it
/// ran (a request that started before the crash and ended after it saw the outage).
fn phase_of(started: String, phase: &Mutex<String>) -> String {
    let ended = phase.lock().unwrap().clone();
    if ended == started { started } else { ended }
}

/// What the load saw: per phase, the answers by code.
type Tally = Arc<Mutex<BTreeMap<String, usize>>>;

fn count(tally: &Tally, phase: &str, code: &str) {
    *tally.lock().unwrap().entry(format!("{phase}:{code}")).or_default() += 1;
}

/// The scenario.
pub(crate) async fn restart_under_load() -> String {
    let Some(bin) = pg_bin() else {
        assert!(std::env::var_os("CI").is_none(), "PostgreSQL's programs are needed under CI");
        return "skipped: no PostgreSQL programs (initdb)".to_owned();
    };
    let pg = PrivatePostgres::init(bin);
    let env = [("SESAME_DATABASE__ACQUIRE_TIMEOUT_SECS", "2")];
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir, Database::Postgres(pg.url()), &env, None).await;
    server.ctl(&["office", "add", "01234", "--name", "Étude"]).await.unwrap();
    let mut agents = Vec::new();
    for n in 0..3 {
        agents.push(server.enroll_agent("01234", &format!("ws{n}")).await);
    }

    let phase = Arc::new(Mutex::new("before".to_owned()));
    let tally: Tally = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created = Arc::new(Mutex::new(Vec::<String>::new()));
    let answered = Arc::new(Mutex::new(BTreeMap::<String, OffsetDateTime>::new()));
    let mut load = Vec::new();
    for agent in &agents {
        let (mut client, id) = (agent.client.clone(), agent.id.clone());
        let (phase, tally, stop, answered) =
            (phase.clone(), tally.clone(), stop.clone(), answered.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let request =
                    pb::HeartbeatRequest { agent_version: "0.1.0".into(), ..Default::default() };
                let started = phase.lock().unwrap().clone();
                let answer = client.heartbeat(request).await;
                let now = phase_of(started, &phase);
                match answer {
                    Ok(answer) => {
                        let at = OffsetDateTime::parse(&answer.into_inner().server_time, &Rfc3339)
                            .unwrap();
                        answered.lock().unwrap().insert(id.clone(), at);
                        count(&tally, &now, "check-in OK");
                    }
                    Err(status) => count(&tally, &now, &format!("check-in {:?}", status.code())),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let credentials = server.dir.path().join("data/admin.credentials").display().to_string();
    {
        let (phase, tally, stop, created) =
            (phase.clone(), tally.clone(), stop.clone(), created.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let started = phase.lock().unwrap().clone();
                let office = format!("{:05}", 20_000 + n);
                let write = [
                    "sesamectl",
                    "--credentials",
                    &credentials,
                    "office",
                    "add",
                    &office,
                    "--name",
                    "Étude",
                ];
                let written = sesame_tests::run_sesamectl(&write).await;
                let now = phase_of(started, &phase);
                match written {
                    Ok(_) => {
                        created.lock().unwrap().push(office);
                        count(&tally, &now, "write OK");
                    }
                    Err(sesamectl::Error::Rpc(status)) => {
                        count(&tally, &now, &format!("write {:?}", status.code()))
                    }
                    Err(other) => count(&tally, &now, &format!("write client error: {other}")),
                }
                let read = ["sesamectl", "--credentials", &credentials, "office", "list"];
                let started = phase.lock().unwrap().clone();
                let listed = sesame_tests::run_sesamectl(&read).await;
                let now = phase_of(started, &phase);
                match listed {
                    Ok(_) => count(&tally, &now, "read OK"),
                    Err(sesamectl::Error::Rpc(status)) => {
                        count(&tally, &now, &format!("read {:?}", status.code()))
                    }
                    Err(other) => count(&tally, &now, &format!("read client error: {other}")),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    *phase.lock().unwrap() = "down".to_owned();
    tokio::task::block_in_place(|| pg.crash());
    let mut not_ready = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ready = server.ready().await;
        assert_ne!(ready, Some(200), "/readyz says not ready while PostgreSQL is down");
        not_ready += 1;
    }
    *phase.lock().unwrap() = "back".to_owned();
    tokio::task::block_in_place(|| pg.start());
    let back = Instant::now();
    let mut recovered = None;
    for _ in 0..300 {
        let read = server.ctl(&["office", "list"]).await;
        if read.is_ok() && server.ready().await == Some(200) {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("the server recovers by itself once PostgreSQL is back");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    // Nothing confirmed is lost: every office created, every check-in answered.
    let listed = server.ctl(&["office", "list", "--output", "json"]).await.unwrap();
    let created = created.lock().unwrap().clone();
    for office in &created {
        assert!(listed.contains(office.as_str()), "office {office} was confirmed: lost");
    }
    let shown = server.ctl(&["workstation", "list", "--output", "json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let rows = shown.as_array().cloned().unwrap_or_default();
    for (id, last) in answered.lock().unwrap().iter() {
        let row = rows.iter().find(|r| r["id"] == id.as_str()).unwrap();
        let seen = OffsetDateTime::parse(row["last_seen_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(seen >= *last, "{id}: check-in answered at {last}, last seen {seen}");
    }
    let tally = tally.lock().unwrap().clone();
    let log = server.log();
    assert!(!log.contains("panicked"), "no panic:\n{log}");
    for (key, n) in &tally {
        assert!(
            !key.contains("Internal") && !key.contains("Unknown") && !key.contains("client error"),
            "{key}: {n} (UNAVAILABLE expected while PostgreSQL is down)\n{tally:?}"
        );
        if key.starts_with("before:") {
            assert!(key.ends_with(" OK"), "{key}: {n} before the outage");
        }
    }
    assert!(tally.keys().any(|k| k.starts_with("down:") && k.contains("Unavailable")), "{tally:?}");
    server.audit_verifies().await;
    server.kill();
    let outage: Vec<String> = tally
        .iter()
        .filter(|(k, _)| k.starts_with("down:") || k.starts_with("back:"))
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!(
        "answers during and after the outage by code: {}; /readyz not ready {not_ready}/{not_ready} \
         polls while down; recovered {:.2} s after PostgreSQL was back (no server restart); {} \
         offices and {} workstations' check-ins confirmed, none lost",
        outage.join(", "),
        recovered.as_secs_f64(),
        created.len(),
        answered.lock().unwrap().len(),
    )
}
