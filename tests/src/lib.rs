//! The end-to-end harness: a real Sesame server started in-process on `127.0.0.1:0` with its own
//! data directory and database (SQLite, or a PostgreSQL schema of its own), driven through the
//! real clients: sesamectl's library and the generated gRPC clients over TLS.
//!
//! The scenarios are the `#[cfg(test)]` modules under `e2e/`, compiled into this one test binary.

// Reason: a test harness fails by panicking, like the tests that use it.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sesame_base::calendar::{Calendar, LocalCalendar};
use sesame_base::clock::{Clock as _, ManualClock, SystemClock};
use sesame_base::credentials::Credentials;
use sesame_server::config::Config;
use sesame_server::store::test_support::TestDatabase;
use sesamectl::{Cli, Terminal};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod agent_host;
pub mod binaries;
pub mod browser;
pub mod connect_proxy;
pub mod fault_proxy;
pub mod link;
pub mod owa_sim;
pub mod process_memory;
pub mod silent;
pub mod tmpfs;

#[cfg(test)]
mod e2e;
#[cfg(test)]
mod tidy;

/// A log sink for tests: everything written to it is kept in memory, shared between clones.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What was written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL schema at `SESAME_TEST_POSTGRES_URL`.
    Postgres,
}

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// Where its operations endpoint (`/metrics`, `/livez`, `/readyz`) listens.
    pub ops_address: std::net::SocketAddr,
    /// Where its web dashboard (HTTPS) listens.
    pub dashboard_address: std::net::SocketAddr,
    /// The bootstrap administrator's credentials file.
    pub credentials: PathBuf,
    /// The CA certificate's fingerprint.
    pub ca_fingerprint: String,
    /// The clock the server reads; tests move it.
    pub clock: ManualClock,
    services: Arc<sesame_server::services::Services>,
    data_dir: tempfile::TempDir,
    database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), sesame_server::ServeError>>>,
}

/// A second server on the same database (see [`TestServer::start_sibling`]).
#[derive(Debug)]
pub struct Sibling {
    /// Its URL.
    pub url: String,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), sesame_server::ServeError>>>,
}

impl Sibling {
    /// Stops it gracefully.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the sibling does not panic").expect("the sibling stops cleanly");
        }
    }
}

/// What one sesamectl invocation printed, or its error.
pub type CtlResult = Result<String, sesamectl::Error>;

impl TestServer {
    /// Starts a server on a fresh database, or returns `None` when the PostgreSQL tests are skipped
    /// (never under CI).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        TestServer::start_with(backend, |_| {}).await
    }

    /// [`TestServer::start`] with the configuration adjusted first (a shorter rotation period,
    /// another check-in interval...).
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        TestServer::start_in(&std::env::temp_dir(), backend, adjust).await
    }

    /// [`TestServer::start_with`] with the data directory (and the SQLite database) made inside
    /// `parent`, such as a small tmpfs that a fault scenario fills.
    pub async fn start_in(
        parent: &Path,
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let data_dir = tempfile::tempdir_in(parent).expect("a temporary data directory");
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite(data_dir.path()),
            Backend::Postgres => TestDatabase::postgres().await?,
        };
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            data_dir: data_dir.path().join("data"),
            database_url: Some(database.url()),
            ..Config::default()
        };
        let mut config = config;
        adjust(&mut config);
        let listener = TcpListener::bind(config.listen).await.expect("bind a port");
        let address = listener.local_addr().expect("a bound address");
        let ops = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let ops_address = ops.local_addr().expect("a bound address");
        let dashboard = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let dashboard_address = dashboard.local_addr().expect("a bound address");
        // The clock starts at the real time: TLS clients check the server's certificate against the
        // system clock. Tests then move it.
        let clock = ManualClock::new(SystemClock.now());
        let server = sesame_server::Server::prepare(&config, address, Arc::new(clock.clone()))
            .await
            .expect("the server prepares");
        let credentials =
            server.bootstrap_credentials().expect("a first start writes credentials").to_path_buf();
        let ca_fingerprint = server.ca_fingerprint().to_owned();
        let services = server.services();
        let (tx, rx) = oneshot::channel::<()>();
        let listeners = sesame_server::Listeners {
            grpc: listener,
            operations: Some(ops),
            dashboard: Some(dashboard),
        };
        let task = tokio::spawn(server.serve_all(listeners, async {
            let _ = rx.await;
        }));
        Some(TestServer {
            address,
            ops_address,
            dashboard_address,
            credentials,
            ca_fingerprint,
            clock,
            services,
            data_dir,
            database,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Starts a second server on the same database, as a PostgreSQL deployment runs several: its own
    /// data directory holding copies of the first one's CA, escrow key and audit signing key, its
    /// own port. Returns its URL and a handle that stops it.
    pub async fn start_sibling(&self) -> Sibling {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create the sibling's data directory");
        for file in ["ca.pem", "ca.key", "escrow.key", "audit-signing.key"] {
            std::fs::copy(self.data_dir().join("data").join(file), data.join(file))
                .expect("copy shared material");
        }
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            data_dir: data,
            ..self.config()
        };
        let listener = TcpListener::bind(config.listen).await.expect("bind a port");
        let address = listener.local_addr().expect("a bound address");
        let server = sesame_server::Server::prepare(&config, address, Arc::new(self.clock.clone()))
            .await
            .expect("the sibling prepares");
        assert!(
            server.bootstrap_credentials().is_none(),
            "the database already has its administrator"
        );
        assert_eq!(
            server.ca_fingerprint(),
            self.ca_fingerprint,
            "both servers present the same CA"
        );
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = rx.await;
        }));
        Sibling {
            url: format!("https://{address}"),
            _dir: dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving gracefully, keeping the database and the data directory, as an
    /// administrator stops the service before working on its files; [`TestServer::resume`]
    /// starts it again.
    pub async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task does not panic").expect("the server stops cleanly");
        }
    }

    /// Starts a halted server again on its port, database and data directory (with the default
    /// configuration otherwise): `Err` when [`sesame_server::Server::prepare`] refuses.
    pub async fn resume(&mut self) -> Result<(), sesame_server::StartError> {
        assert!(self.task.is_none(), "halt the server first");
        let config = self.config();
        let server =
            sesame_server::Server::prepare(&config, self.address, Arc::new(self.clock.clone()))
                .await?;
        let listener = TcpListener::bind(self.address).await.expect("bind the same port again");
        let ops = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        self.ops_address = ops.local_addr().expect("a bound address");
        let dashboard = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        self.dashboard_address = dashboard.local_addr().expect("a bound address");
        self.services = server.services();
        let (tx, rx) = oneshot::channel::<()>();
        let listeners = sesame_server::Listeners {
            grpc: listener,
            operations: Some(ops),
            dashboard: Some(dashboard),
        };
        self.task = Some(tokio::spawn(server.serve_all(listeners, async {
            let _ = rx.await;
        })));
        self.shutdown = Some(tx);
        Ok(())
    }

    /// The server's services, to call what no RPC offers (signing the audit chain's head).
    pub fn services(&self) -> &sesame_server::services::Services {
        &self.services
    }

    /// The dashboard's address, `https://localhost:PORT` (a name its certificate carries).
    pub fn dashboard_url(&self) -> String {
        format!("https://localhost:{}", self.dashboard_address.port())
    }

    /// The server's certificate (DER), which the dashboard presents: a browser in a test trusts
    /// exactly it.
    pub fn server_certificate_der(&self) -> Vec<u8> {
        let pem = std::fs::read_to_string(self.data_dir().join("data").join("server.pem"))
            .expect("the server certificate");
        let body: String = pem
            .lines()
            .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE"))
            .skip(1)
            .take_while(|line| !line.starts_with("-----END"))
            .collect();
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(body).expect("PEM base64")
    }

    /// The directory holding the data directory (`data/`) and the SQLite database.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The server's configuration (the same database and data directory), for tools that run
    /// beside it such as `sesame-server admin create`.
    pub fn config(&self) -> Config {
        Config {
            listen: self.address,
            data_dir: self.data_dir.path().join("data"),
            database_url: Some(self.database.url()),
            ..Config::default()
        }
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// The time on the server's clock.
    pub fn clock_now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The test database.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// Everything the database holds, as an attacker with a copy would see it: `pg_dump`'s output,
    /// or the bytes of the SQLite files (database, WAL), as text.
    pub async fn database_dump(&self) -> String {
        if self.database.is_postgres() {
            return self.database.dump_text().await;
        }
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.data_dir()).expect("a readable data directory") {
            let path = entry.expect("a directory entry").path();
            if path.to_string_lossy().contains("sesame.db") {
                bytes.extend(std::fs::read(&path).expect("a readable database file"));
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bootstrap credentials.
    pub fn read_credentials(&self) -> Credentials {
        Credentials::read(&self.credentials).expect("readable credentials")
    }

    /// A TLS channel to the server trusting its CA, without any credential.
    pub async fn anonymous_channel(&self) -> tonic::transport::Channel {
        let credentials = self.read_credentials();
        tonic::transport::Endpoint::from_shared(credentials.server)
            .expect("the server's URL")
            .tls_config(tonic::transport::ClientTlsConfig::new().ca_certificate(
                tonic::transport::Certificate::from_pem(credentials.ca_certificate),
            ))
            .expect("a TLS configuration")
            .connect()
            .await
            .expect("a connection to the test server")
    }

    /// Runs `sesamectl ARGS` with the bootstrap credentials and returns what it printed.
    pub async fn sesamectl(&self, args: &[&str]) -> CtlResult {
        let credentials = self.credentials.display().to_string();
        let mut argv = vec!["sesamectl", "--credentials", credentials.as_str()];
        argv.extend_from_slice(args);
        run_sesamectl(&argv).await
    }

    /// [`TestServer::sesamectl`] as if run at `now` on a machine whose calendar is `calendar`.
    pub async fn sesamectl_at(
        &self,
        args: &[&str],
        now: OffsetDateTime,
        calendar: &dyn Calendar,
    ) -> CtlResult {
        let credentials = self.credentials.display().to_string();
        let mut argv = vec!["sesamectl", "--credentials", credentials.as_str()];
        argv.extend_from_slice(args);
        run_sesamectl_at(&argv, now, calendar).await
    }

    /// Stops the server gracefully and removes its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task does not panic").expect("the server stops cleanly");
        }
        let TestServer { database, .. } = self;
        database.destroy().await;
    }
}

/// Runs sesamectl with a full argument vector (starting with `sesamectl`), now, in this
/// machine's calendar.
pub async fn run_sesamectl(argv: &[&str]) -> CtlResult {
    run_sesamectl_at(argv, SystemClock.now(), &LocalCalendar::new()).await
}

/// Runs sesamectl as if at `now`, on a machine whose calendar is `calendar`.
pub async fn run_sesamectl_at(
    argv: &[&str],
    now: OffsetDateTime,
    calendar: &dyn Calendar,
) -> CtlResult {
    let cli = <Cli as clap::Parser>::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("bad test arguments: {e}"));
    let mut out = Vec::new();
    sesamectl::run(cli, Terminal { out: &mut out, progress: false, now, calendar }).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

/// Writes a file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path
}
