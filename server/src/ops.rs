//! The operations edge: a plain-HTTP listener of its own (off unless `[operations] listen` names
//! an address) for the machines that watch the server: `/metrics` (Prometheus, [`Metrics`]),
//! `/livez` (the process answers) and `/readyz` (the database answers).
//!
//! It has no TLS and no authentication: it belongs on the loopback or a management network. It
//! tells counts and states only, never a name, an address or a secret, and a failure only as a
//! short fixed reason; causes go to the logs. Like every edge it calls `Services` and knows
//! nothing of the store.
//!
//! Nobody can make it hold what another listener needs: its accept loop admits at most
//! `[operations] max_connections` connections ([`ConnectionCap`], newcomers over it closed at once
//! and counted), each must send its request's headers within [`HEADER_TIMEOUT`] (which also ends
//! an idle connection) and lives at most [`CONNECTION_LIFETIME`]. A scrape never queries the
//! database: one background task reads `Services::operations_snapshot` every
//! `[operations] metrics_refresh_seconds` and scrapes serve the last reading, with its age;
//! `/readyz` runs one check at a time and reuses its result for [`READY_REUSE`].

pub(crate) mod connection_cap;
pub(crate) mod metrics;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use sesame_base::error_chain::chain;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

pub(crate) use self::connection_cap::{Admitted, ConnectionCap};
pub(crate) use self::metrics::{HandshakeMetrics, Metrics};
use crate::services::Services;
use crate::services::operations::OperationsSnapshot;

/// How long `/readyz` waits for the database's answer.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `/readyz` answers with the last check's result before checking again.
const READY_REUSE: Duration = Duration::from_secs(1);
/// How long a reading of the metrics' numbers waits for the database.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection has to send a request's headers, from its start or from the end of the
/// previous answer: an idle connection is closed after as long.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection lives; then it is closed once the answer in flight, if any, is sent.
pub(crate) const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// How long a connection told to close may take to finish the answer in flight.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The most a request's head may take (hyper's smallest read buffer).
const MAX_HEAD_BYTES: usize = 8192;
/// How often connections refused over the cap are logged, counted.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// How long the endpoint waits at shutdown for its connections' answers.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The content type of the OpenMetrics text exposition `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of every other answer.
const TEXT: &str = "text/plain; charset=utf-8";

/// How the endpoint runs (from the configuration and the descriptor limit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// The most connections it holds at once.
    pub(crate) max_connections: usize,
    /// How often the metrics' numbers are read from the database.
    pub(crate) refresh: Duration,
}

/// A reading of the metrics' numbers and when it was taken.
#[derive(Debug)]
struct Taken {
    snapshot: OperationsSnapshot,
    at: Instant,
}

/// What the handlers share.
#[derive(Debug, Clone)]
struct Ops {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    /// The last reading, `None` until the first.
    snapshot: watch::Receiver<Option<Taken>>,
    /// When the endpoint started (the age of the numbers before the first reading).
    started: Instant,
    readiness: Arc<Readiness>,
}

/// The last readiness check, behind a lock that lets one check run at a time.
#[derive(Debug, Default)]
struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

/// Serves the operations endpoint on `listener` until `shutdown` resolves, then lets the answers
/// in flight finish (for at most [`STOP_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new("operations", settings.max_connections, &metrics);
    let (taken, snapshot) = watch::channel(None);
    let refresher =
        tokio::spawn(refresh(services.clone(), metrics.clone(), settings.refresh, taken));
    let readiness = Arc::default();
    let ops = Ops { services, metrics, snapshot, started: Instant::now(), readiness };
    let (close, closing) = watch::channel(false);
    let mut report = tokio::time::interval(REPORT_INTERVAL);
    report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "operations endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = report.tick() => {
                report_refused(&cap);
                continue;
            }
        };
        // Over the cap: the stream is dropped here, which closes the connection.
        let Some(admitted) = cap.admit() else { continue };
        tokio::spawn(connection(tcp, admitted, ops.clone(), closing.clone()));
    }
    drop(listener);
    let _ = close.send(true);
    if tokio::time::timeout(STOP_GRACE, cap.all_closed()).await.is_err() {
        tracing::warn!("operations endpoint: connections still open at shutdown");
    }
    report_refused(&cap);
    refresher.abort();
    Ok(())
}

/// Serves one connection until it ends, breaks a limit, or is told to close; its place under the
/// cap is freed when this returns.
async fn connection(tcp: TcpStream, admitted: Admitted, ops: Ops, closing: watch::Receiver<bool>) {
    let service = service_fn(move |request: Request<Incoming>| {
        let ops = ops.clone();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        async move { Ok::<_, Infallible>(ops.answer(&method, &path).await) }
    });
    serve_http1(
        TokioIo::new(tcp),
        service,
        MAX_HEAD_BYTES,
        CONNECTION_LIFETIME,
        closing,
        "operations endpoint",
    )
    .await;
    drop(admitted);
}

/// Serves HTTP/1.1 on one connection (each request's head within [`HEADER_TIMEOUT`] and at most
/// `max_head` bytes) until it ends, breaks a limit, lives `lifetime`, or `closing` turns true;
/// then lets the answer in flight finish for at most [`CLOSE_GRACE`]. The operations endpoint's
/// and the dashboard's connections.
pub(crate) async fn serve_http1<I, S>(
    io: I,
    service: S,
    max_head: usize,
    lifetime: Duration,
    mut closing: watch::Receiver<bool>,
    listener: &'static str,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(max_head);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        _ = closing.wait_for(|close| *close) => None,
        () = tokio::time::sleep(lifetime) => None,
    };
    match ended {
        Some(Ok(())) => {}
        Some(Err(error)) => tracing::debug!(%error, listener, "connection ended"),
        None => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
        }
    }
}

/// Reads the metrics' numbers now and then every `every`, for the scrapes to serve.
async fn refresh(
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    every: Duration,
    taken: watch::Sender<Option<Taken>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let at = Instant::now();
        let snapshot = services.operations_snapshot(SCRAPE_TIMEOUT).await;
        metrics.count_snapshot_refresh();
        taken.send_replace(Some(Taken { snapshot, at }));
    }
}

/// Logs, in one line, the connections refused over the cap since the last report, if any.
fn report_refused(cap: &ConnectionCap) {
    let refused = cap.take_refused();
    if refused > 0 {
        tracing::warn!(
            refused,
            max = cap.max(),
            "operations endpoint: connections over its cap closed"
        );
    }
}

impl Ops {
    /// The answer to one request.
    async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if *method != Method::GET && *method != Method::HEAD {
            let mut answer = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            answer.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return answer;
        }
        match path {
            "/metrics" => self.scrape(),
            "/livez" => text(StatusCode::OK, "live\n"),
            "/readyz" => self.ready().await,
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// `/readyz`: 200 while the database answers a trivial query in time, else 503 with the
    /// reason. One check at a time; a result less than [`READY_REUSE`] old is told again.
    async fn ready(&self) -> Response<Full<Bytes>> {
        let mut last = self.readiness.last.lock().await;
        let reused = last
            .as_ref()
            .filter(|(at, _)| at.elapsed() < READY_REUSE)
            .map(|(_, result)| result.clone());
        let result = match reused {
            Some(result) => result,
            None => {
                let result = self.services.check_ready(READY_TIMEOUT).await.map_err(|error| {
                    tracing::debug!(error = %chain(&error), "readiness probe: not ready");
                    error.to_string()
                });
                *last = Some((Instant::now(), result.clone()));
                result
            }
        };
        drop(last);
        match result {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")),
        }
    }

    /// `/metrics`: every metric, the database's numbers from the last reading.
    fn scrape(&self) -> Response<Full<Bytes>> {
        let rendered = {
            let taken = self.snapshot.borrow();
            match &*taken {
                Some(taken) => self.metrics.render(Some(&taken.snapshot), taken.at.elapsed()),
                None => self.metrics.render(None, self.started.elapsed()),
            }
        };
        match rendered {
            Ok(body) => {
                let mut answer = text(StatusCode::OK, body);
                answer
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
                answer
            }
            Err(error) => {
                tracing::error!(%error, "cannot write the metrics");
                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
            }
        }
    }
}

/// A plain-text answer.
fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(body.into()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
    answer
}
