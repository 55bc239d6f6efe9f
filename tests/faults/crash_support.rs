//! The crash scenarios' harness: the real `sesame-server` binary as a process (started with its
//! failpoints armed, killed with SIGKILL or aborting at one, restarted on the same data directory,
//! port and database), its administrators' client (sesamectl's library), enrolled agents' gRPC
//! clients (their own certificates), and the checks made after a crash: the database read behind
//! the server's back (SQLite's `PRAGMA integrity_check`, counts), `/readyz`, the audit chain.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sesame_agent::identity::StateDir;
use sesame_agent::uplink::{Enrollment, enroll};
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use sesame_tests::binaries::workspace_binary;
use sesame_tests::{CtlResult, run_sesamectl};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The database a server process runs on, as the tests read it behind its back.
#[derive(Debug, Clone)]
pub(crate) enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (a schema of its own, or a private instance).
    Postgres(String),
}

impl Database {
    /// The URL the server is given.
    pub(crate) fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite:{}", path.display()),
            Database::Postgres(url) => url.clone(),
        }
    }

    /// One number (`SELECT COUNT(*) ...`), with `$1` bound to `arg` when given.
    pub(crate) async fn count(&self, sql: &str, arg: Option<&str>) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Database::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                if let Some(arg) = arg {
                    query = query.bind(arg.to_owned());
                }
                let n = query.fetch_one(&mut conn).await.unwrap();
                let _ = conn.close().await;
                n
            }
            Database::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                if let Some(arg) = arg {
                    query = query.bind(arg.to_owned());
                }
                let n = query.fetch_one(&mut conn).await.unwrap();
                let _ = conn.close().await;
                n
            }
        }
    }

    /// SQLite's `PRAGMA integrity_check` ("ok"), or "ok" for PostgreSQL (its own recovery).
    pub(crate) async fn integrity(&self) -> String {
        match self {
            Database::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let _ = conn.close().await;
                rows.join("; ")
            }
            Database::Postgres(_) => "ok".to_owned(),
        }
    }
}

/// A real `sesame-server serve` process on a fixed port, data directory and database.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    /// Holds the data directory, the logs and the files the tests write.
    pub(crate) dir: tempfile::TempDir,
    /// The database.
    pub(crate) database: Database,
    /// The gRPC port.
    pub(crate) port: u16,
    /// The operations endpoint's port (`/readyz`).
    pub(crate) ops_port: u16,
    /// The CA's fingerprint, from the first start's banner.
    pub(crate) ca_fingerprint: String,
    extra_env: Vec<(String, String)>,
    child: Option<Child>,
}

/// A free port on the loopback (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ServerProcess {
    /// Starts a server on `database`, in `dir`, with `extra_env` (`SESAME_<SECTION>__<KEY>`), its
    /// failpoints armed as `crash_at` says; waits until it is ready.
    pub(crate) async fn start(
        dir: tempfile::TempDir,
        database: Database,
        extra_env: &[(&str, &str)],
        crash_at: Option<&str>,
    ) -> ServerProcess {
        let mut server = ServerProcess {
            dir,
            database,
            port: free_port(),
            ops_port: free_port(),
            ca_fingerprint: String::new(),
            extra_env: extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            child: None,
        };
        server.restart(crash_at).await;
        let banner = std::fs::read_to_string(server.dir.path().join("stdout.log")).unwrap();
        server.ca_fingerprint = banner
            .lines()
            .find_map(|l| l.strip_prefix("CA certificate SHA-256 fingerprint: "))
            .unwrap()
            .to_owned();
        server
    }

    /// The server's URL.
    pub(crate) fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// What it logged (all runs).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Starts it again (it must not be running), failpoints armed as `crash_at` says; returns how
    /// long it took to be ready (`/readyz` 200).
    pub(crate) async fn restart(&mut self, crash_at: Option<&str>) -> Duration {
        assert!(self.child.is_none(), "the server is still running");
        let started = Instant::now();
        let append = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .unwrap()
        };
        let mut command = Command::new(workspace_binary("sesame-server"));
        command
            .arg("serve")
            .current_dir(self.dir.path())
            .env("SESAME_SERVER__LISTEN", format!("127.0.0.1:{}", self.port))
            .env("SESAME_SERVER__DATA_DIR", self.dir.path().join("data"))
            .env("SESAME_DATABASE__URL", self.database.url())
            .env("SESAME_OPERATIONS__LISTEN", format!("127.0.0.1:{}", self.ops_port))
            .env("SESAME_SERVER_CRASH_AT", crash_at.unwrap_or(""))
            .env_remove("SESAME_CREDENTIALS")
            .stdin(Stdio::null())
            .stdout(append("stdout.log"))
            .stderr(append("stderr.log"));
        for (name, value) in &self.extra_env {
            command.env(name, value);
        }
        self.child = Some(command.spawn().unwrap());
        for _ in 0..600 {
            if self.ready().await == Some(200) {
                return started.elapsed();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the server exited at start ({status}):\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never became ready:\n{}", self.log());
    }

    /// `/readyz`'s status code, or `None` when it does not answer within a second.
    pub(crate) async fn ready(&self) -> Option<u16> {
        let ask = async {
            let mut stream =
                tokio::net::TcpStream::connect(("127.0.0.1", self.ops_port)).await.ok()?;
            stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.ok()?;
            let text = String::from_utf8_lossy(&answer);
            text.split_whitespace().nth(1)?.parse().ok()
        };
        tokio::time::timeout(Duration::from_secs(3), ask).await.ok().flatten()
    }

    /// Sends SIGKILL (a real `kill -9`) and reaps the process.
    pub(crate) fn kill(&mut self) {
        let mut child = self.child.take().expect("a running server");
        child.kill().unwrap();
        let _ = child.wait();
    }

    /// Waits (at most 20 s) until the process ends by itself (an abort at a failpoint).
    pub(crate) async fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("a running server");
        for _ in 0..400 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        panic!("the server did not stop at its failpoint:\n{}", self.log());
    }

    /// Waits for the abort at a failpoint and checks that it was one (SIGABRT).
    pub(crate) async fn expect_abort(&mut self, point: &str) {
        use std::os::unix::process::ExitStatusExt as _;
        let status = self.wait_exit().await;
        assert_eq!(status.signal(), Some(6), "{point}: the server aborted: {status}");
        assert!(
            self.log().contains(&format!("failpoint {point} reached")),
            "{point}: reached:\n{}",
            self.log()
        );
    }

    /// `sesamectl ARGS` with the bootstrap administrator's credentials.
    pub(crate) async fn ctl(&self, args: &[&str]) -> CtlResult {
        let credentials = self.dir.path().join("data/admin.credentials");
        let credentials = credentials.display().to_string();
        let mut argv = vec!["sesamectl", "--credentials", credentials.as_str()];
        argv.extend_from_slice(args);
        run_sesamectl(&argv).await
    }

    /// Checks the audit chain with `sesamectl audit verify`.
    pub(crate) async fn audit_verifies(&self) {
        let out = self.ctl(&["audit", "verify"]).await.unwrap();
        assert!(out.contains("The audit trail is intact"), "{out}");
    }

    /// Writes a file in the test's directory.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Enrolls a workstation of `office` (which exists); returns its agent's gRPC client and id.
    pub(crate) async fn enroll_agent(&self, office: &str, name: &str) -> Agent {
        let out = self.ctl(&["token", "create", "--office", office]).await.unwrap();
        let token = out.lines().next().unwrap().to_owned();
        let state = StateDir::new(&self.dir.path().join("agents").join(name));
        let url = self.url();
        enroll(
            &state,
            Enrollment {
                server: &url,
                ca_fingerprint: &self.ca_fingerprint,
                token: SecretString::from(token),
            },
        )
        .await
        .unwrap();
        let identity = state.load().unwrap();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&identity.ca_pem))
            .identity(Identity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
        let channel = Endpoint::from_shared(url)
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .timeout(Duration::from_secs(20))
            .connect_lazy();
        Agent { client: AgentServiceClient::new(channel), id: identity.workstation_id }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An enrolled workstation's client.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// Its gRPC client (mutual TLS with its own certificate).
    pub(crate) client: AgentServiceClient<Channel>,
    /// Its workstation id.
    pub(crate) id: String,
}

/// A CSV import of `rows` mailboxes named `prefix.N@01234.mailnot.fr`.
pub(crate) fn mailbox_csv(prefix: &str, rows: usize) -> String {
    let mut csv = String::from("address,display_name\n");
    for n in 0..rows {
        csv.push_str(&format!("{prefix}.{n}@01234.mailnot.fr,Personne {n}\n"));
    }
    csv
}

/// How many mailboxes of an import made by [`mailbox_csv`] with `prefix` exist.
pub(crate) async fn mailboxes_of(database: &Database, prefix: &str) -> i64 {
    database
        .count("SELECT COUNT(*) FROM mailboxes WHERE address LIKE $1", Some(&format!("{prefix}.%")))
        .await
}

/// The path of a file in `dir`, as text.
pub(crate) fn text(path: &Path) -> String {
    path.display().to_string()
}
