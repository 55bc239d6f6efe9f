//! Benchmark: the web dashboard over 100,000 mailboxes in 10,000 offices, on each backend, through
//! the whole path (a real server, HTTPS over one kept-alive connection, the session cookie): the
//! fleet overview (`/`), another page of it sorted by name, an office's page and the fleet's CSV
//! report, each timed from the request to the body's last byte. The first overview after the
//! import assesses every new mailbox and fills the compliance chart's cache (kept 5 minutes per
//! scope): it is reported apart, and so is an overview whose chart cache has expired. Then the
//! service calls behind the overview and the office page are timed on their own, so that what is
//! left (sorting, rendering, HTTP) shows.
//!
//! Run with `cargo bench -p sesame-tests --bench dashboard` (PostgreSQL when
//! `SESAME_TEST_POSTGRES_URL` is set). Prints a Markdown table; results are recorded in
//! `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // Reason: a benchmark prints its report.

#[path = "common/fleet.rs"]
mod fleet;
#[path = "common/samples.rs"]
mod samples;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fleet::{OFFICES, PER_OFFICE, crpcen};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{COOKIE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use samples::stats;
use secrecy::{ExposeSecret, SecretString};
use sesame_proto::v1 as pb;
use sesame_server::domain::office::Crpcen;
use sesame_server::domain::totp::{TotpSecret, base32_decode, step_at};
use sesame_server::services::compliance::ReportDetail;
use sesame_server::services::web_access::SignIn;
use sesame_tests::{Backend, TestServer};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const RUNS: usize = 30;
const OFFICE_RUNS: usize = 200;
const EXPIRED_RUNS: usize = 5;
const PASSWORD: &str = "un mot de passe web de banc d'essai";

/// An HTTPS client of the dashboard, signed in: one kept-alive HTTP/1.1 connection, opened again
/// (outside the timing) when the server closes it (it ends a connection after 5 minutes).
struct Dashboard {
    tls: TlsConnector,
    address: SocketAddr,
    host: String,
    cookie: String,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl Dashboard {
    fn new(server: &TestServer, token: &SecretString) -> Dashboard {
        let ca = server.read_credentials().ca_certificate;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Dashboard {
            tls: TlsConnector::from(Arc::new(config)),
            address: server.dashboard_address,
            host: format!("localhost:{}", server.dashboard_address.port()),
            cookie: format!("__Host-sesame={}", token.expose_secret()),
            sender: None,
        }
    }

    async fn open(&self) -> SendRequest<Empty<Bytes>> {
        let tcp = TcpStream::connect(self.address).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = self.tls.connect(name, tcp).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(connection);
        sender
    }

    /// `GET path`: how long from sending the request to the body's last byte, and the body.
    async fn get(&mut self, path: &str) -> (Duration, Bytes) {
        for _ in 0..3 {
            if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
                self.sender = Some(self.open().await);
            }
            let Some(sender) = self.sender.as_mut() else { continue };
            if sender.ready().await.is_err() {
                self.sender = None;
                continue;
            }
            let request = Request::get(path)
                .header(HOST, &self.host)
                .header(COOKIE, &self.cookie)
                .body(Empty::new())
                .unwrap();
            let started = Instant::now();
            let Ok(response) = sender.send_request(request).await else {
                self.sender = None;
                continue;
            };
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let took = started.elapsed();
            assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
            return (took, body);
        }
        panic!("{path}: the dashboard closed the connection three times")
    }

    /// `GET path` `runs` times.
    async fn times(&mut self, path: &str, runs: usize) -> Vec<Duration> {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(self.get(path).await.0);
        }
        samples
    }
}

/// Gives the bootstrap administrator a web password and a TOTP factor, and signs it in: the
/// session's token, the cookie's value.
async fn sign_in(server: &TestServer, client: &mut sesamectl::AdminClient) -> SecretString {
    let request = pb::SetWebPasswordRequest { password: PASSWORD.into() };
    client.set_web_password(request).await.unwrap();
    let enrolment = client.begin_totp_enrolment(pb::BeginTotpEnrolmentRequest {}).await.unwrap();
    let secret = base32_decode(&enrolment.into_inner().secret_base32).unwrap();
    let totp = TotpSecret::from_bytes(&secret).unwrap();
    let code = || format!("{:06}", totp.code(step_at(server.clock_now())));
    client.confirm_totp(pb::ConfirmTotpRequest { code: code() }).await.unwrap();
    // The confirming code is spent: the sign-in uses the next step.
    server.clock.advance(time::Duration::seconds(30));
    let password = SecretString::from(PASSWORD.to_owned());
    let code = code();
    let attempt = SignIn {
        name: "bootstrap",
        password: &password,
        code: &code,
        remote: None,
        user_agent: "dashboard bench",
    };
    server.services().web_sign_in(attempt).await.unwrap().token
}

/// Times `call` `runs` times.
async fn time_calls<T, F: Future<Output = T>>(runs: usize, call: impl Fn() -> F) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let answer = call().await;
        samples.push(started.elapsed());
        drop(answer);
    }
    samples
}

async fn run(backend: Backend, name: &str) -> Option<()> {
    let server = TestServer::start(backend).await?;
    let mut client = sesamectl::connect(&server.read_credentials()).await.unwrap();
    let setup = fleet::fill(&server, &mut client).await;
    let mailboxes = OFFICES * PER_OFFICE;
    println!(
        "| {name} | setup: {OFFICES} offices, {mailboxes} mailboxes | {:.0} s | | | |",
        setup.as_secs_f64()
    );
    // 100 days on, as in the compliance bench: every mailbox has a history (overdue at day 90).
    server.clock.advance(time::Duration::days(100));
    let token = sign_in(&server, &mut client).await;
    let mut web = Dashboard::new(&server, &token);

    let (first, body) = web.get("/").await;
    assert!(String::from_utf8_lossy(&body).contains(&crpcen(0)), "the overview lists offices");
    println!(
        "| {name} | first overview: assesses {mailboxes} new mailboxes, fills the chart cache \
         | {:.0} ms | | | 1 |",
        first.as_secs_f64() * 1000.0
    );
    // After a bulk load PostgreSQL plans from stale statistics until autovacuum analyzes the new
    // rows (within a minute or two by default); the steady state is what is measured.
    if server.database().is_postgres() {
        server
            .database()
            .execute(&["ANALYZE offices, mailboxes, mailbox_compliance, compliance_history"])
            .await;
    }
    let (first_csv, csv) = web.get("/reports/compliance.csv").await;
    assert!(csv.len() > OFFICES * 20, "a line per office: {} bytes", csv.len());
    println!(
        "| {name} | first compliance.csv (10,000 lines, {} kB) | {:.0} ms | | | 1 |",
        csv.len() / 1024,
        first_csv.as_secs_f64() * 1000.0
    );
    for path in ["/", "/?page=37&sort=name", &format!("/offices/{}", crpcen(1))] {
        web.times(path, 3).await;
    }

    let overview = web.times("/", RUNS).await;
    println!("| {name} | overview `/` (kept, at most 30 s old) | {}", stats(overview));
    // After a change the overview is read again (the chart stays kept).
    let mut recomputed = Vec::with_capacity(EXPIRED_RUNS);
    for _ in 0..EXPIRED_RUNS {
        server.services().caches.apply(&sesame_server::store::Change::OwaUrl);
        recomputed.push(web.get("/").await.0);
    }
    println!("| {name} | overview `/`, read again after a change | {}", stats(recomputed));
    let sorted = web.times("/?page=37&sort=name", RUNS).await;
    println!("| {name} | overview `/?page=37&sort=name` | {}", stats(sorted));
    let mut office = Vec::with_capacity(OFFICE_RUNS);
    for run in 0..OFFICE_RUNS {
        let path = format!("/offices/{}", crpcen(run * 7919 % OFFICES));
        office.push(web.get(&path).await.0);
    }
    println!("| {name} | office page `/offices/<crpcen>` | {}", stats(office));
    let reports = web.times("/reports/compliance.csv", 2).await;
    println!("| {name} | `/reports/compliance.csv` | {}", stats(reports));
    let mut expired = Vec::with_capacity(EXPIRED_RUNS);
    for _ in 0..EXPIRED_RUNS {
        server.clock.advance(time::Duration::minutes(6));
        expired.push(web.get("/").await.0);
    }
    println!("| {name} | overview `/`, chart cache expired | {}", stats(expired));

    // The service calls behind the pages, without HTTP, sorting or rendering.
    let services = server.services();
    let admin = services.web_session(&token).await.unwrap().admin;
    let admin = &admin;
    let list = time_calls(RUNS, || async { services.list_offices(admin).await.unwrap() }).await;
    println!("| {name} | service: `list_offices` | {}", stats(list));
    let report = time_calls(RUNS, || async {
        services.compliance_report(admin, None, None, ReportDetail::Offices).await.unwrap()
    })
    .await;
    println!("| {name} | service: `compliance_report(Offices)` | {}", stats(report));
    let trend =
        time_calls(RUNS, || async { services.compliance_trend(admin, None, 30).await.unwrap() })
            .await;
    println!("| {name} | service: `compliance_trend(30)` (cached) | {}", stats(trend));
    let mut trend = Vec::with_capacity(EXPIRED_RUNS);
    for _ in 0..EXPIRED_RUNS {
        server.clock.advance(time::Duration::minutes(6));
        trend.extend(time_calls(1, || services.compliance_trend(admin, None, 30)).await);
    }
    println!("| {name} | service: `compliance_trend(30)` (expired) | {}", stats(trend));
    let office = Crpcen::parse(&crpcen(4242)).unwrap();
    let office = &office;
    let mailboxes = time_calls(OFFICE_RUNS, || async {
        services
            .compliance_report(admin, Some(office), None, ReportDetail::Mailboxes)
            .await
            .unwrap()
    })
    .await;
    println!("| {name} | service: `compliance_report(office, Mailboxes)` | {}", stats(mailboxes));
    server.stop().await;
    Some(())
}

#[tokio::main]
async fn main() {
    println!("| backend | operation | median | p95 | max | runs |");
    println!("|---|---|---|---|---|---|");
    for (name, backend) in [("SQLite", Backend::Sqlite), ("PostgreSQL", Backend::Postgres)] {
        if run(backend, name).await.is_none() {
            println!("| {name} | skipped: SESAME_TEST_POSTGRES_URL not set | | | | |");
        }
    }
}
