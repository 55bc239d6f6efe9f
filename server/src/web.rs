//! The dashboard edge: HTTPS pages for administrators and auditors, on a listener of its own (off
//! unless `[dashboard] listen` names an address), with the server's certificate.
//!
//! Like every edge it authenticates (a web session, [`session`]), parses, calls one service and
//! renders the answer; authorization, rules and audit are the services' (`Admin::may`), exactly
//! as for gRPC. Pages are rendered on the server from templates checked at compile time (askama,
//! escaped by default, in `server/templates/`); charts are inline SVG ([`chart`]); the one style
//! sheet is in the binary ([`assets`]). No page needs JavaScript.
//!
//! [`guard`] puts the security headers on every answer (a strict Content-Security-Policy without
//! inline script, HSTS, `frame-ancestors 'none'`, `nosniff`, no caching of pages) and refuses a
//! state-changing request that does not come from the dashboard's own pages: its `Origin` or
//! `Sec-Fetch-Site` must say same-origin, and its form must carry the session's token.
//!
//! The accept loop is the operations endpoint's: a cap on connections held (closed at once over
//! it), a handshake timeout, a header timeout and a lifetime per connection.

mod assets;
mod audit;
mod chart;
mod documents;
mod fleet;
mod format;
mod guard;
mod mailbox;
mod office;
mod page;
mod reports;
mod rollout;
mod session;
mod setup;
mod sign_in;
mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::ops::{Admitted, ConnectionCap, Metrics, serve_http1};
use crate::services::Services;

/// How long a browser has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection lives; then it is closed once the answer in flight is sent.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// How long the dashboard waits at shutdown for its connections' answers.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The largest request body: forms only (a sign-in, a filter, an action).
const MAX_BODY_BYTES: usize = 16 * 1024;
/// The most a request's head may take (cookies included).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct Web {
    pub(crate) services: Arc<Services>,
}

/// The dashboard's routes: its pages, the sign-in and the style sheet.
pub(crate) fn router(services: Arc<Services>) -> Router {
    let web = Web { services };
    Router::new()
        .route("/", get(fleet::overview))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/offices", post(setup::create_office))
        .route("/offices/{crpcen}", get(office::page))
        .route(
            "/offices/{crpcen}/mailboxes",
            post(setup::import_mailboxes).layer(DefaultBodyLimit::max(setup::MAX_IMPORT_BYTES)),
        )
        .route("/offices/{crpcen}/owa-url", post(setup::set_owa_url))
        .route("/offices/{crpcen}/assignments", post(setup::assignment))
        .route("/offices/{crpcen}/rollout", get(rollout::page))
        .route("/offices/{crpcen}/enrollment-tokens", post(rollout::create_token))
        .route("/offices/{crpcen}/rotations", post(rollout::open_rotations))
        .route("/offices/{crpcen}/letters.pdf", post(rollout::letters))
        .route("/offices/{crpcen}/export.csv", post(rollout::export))
        .route("/mailboxes/{address}", get(mailbox::page))
        .route("/audit", get(audit::page))
        .route("/audit.csv", get(audit::csv))
        .route("/reports", get(reports::page))
        .route("/reports/compliance.csv", get(reports::csv))
        .route("/reports/compliance.pdf", get(reports::pdf))
        .route(assets::STYLE_PATH, get(assets::style))
        .fallback(page::not_found)
        .layer(axum::middleware::from_fn(guard::same_origin))
        .layer(axum::middleware::map_response(guard::headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(web)
}

/// Serves the dashboard on `listener` until `shutdown` resolves, then lets the answers in flight
/// finish (for at most [`STOP_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = tls::server_config(&services.pki).map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(config);
    let cap = ConnectionCap::new("dashboard", max_connections, &metrics);
    let router = router(services);
    let (close, closing) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "dashboard: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Over the cap: the stream is dropped here, which closes the connection.
        let Some(admitted) = cap.admit() else { continue };
        let connection = Connection { tcp, remote, admitted };
        tokio::spawn(connection.run(acceptor.clone(), router.clone(), closing.clone()));
    }
    drop(listener);
    let _ = close.send(true);
    if tokio::time::timeout(STOP_GRACE, cap.all_closed()).await.is_err() {
        tracing::warn!("dashboard: connections still open at shutdown");
    }
    Ok(())
}

/// An admitted connection.
struct Connection {
    tcp: TcpStream,
    remote: SocketAddr,
    admitted: Admitted,
}

impl Connection {
    /// Completes the handshake, then serves requests until the connection ends, breaks a limit
    /// or is told to close; its place under the cap is freed when this returns.
    async fn run(self, acceptor: TlsAcceptor, router: Router, closing: watch::Receiver<bool>) {
        let Connection { tcp, remote, admitted } = self;
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%remote, %error, "dashboard: TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(Remote(remote));
            let router = router.clone();
            async move { Ok::<_, Infallible>(router.oneshot(request).await.never_fails()) }
        });
        serve_http1(
            TokioIo::new(stream),
            service,
            MAX_HEAD_BYTES,
            CONNECTION_LIFETIME,
            closing,
            "dashboard",
        )
        .await;
        drop(admitted);
    }
}

/// The address a request came from (the TCP peer), for the sign-in's limits and audit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Remote(pub(crate) SocketAddr);

/// `Result<T, Infallible>` unwrapped without a panic path.
trait NeverFails<T> {
    fn never_fails(self) -> T;
}

impl<T> NeverFails<T> for Result<T, Infallible> {
    fn never_fails(self) -> T {
        match self {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }
}
