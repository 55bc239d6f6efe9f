//! The operations edge: a plain-HTTP listener of its own (off unless `[operations] listen` names
//! an address) for the machines that watch the server: `/metrics` (Prometheus, [`Metrics`]),
//! `/livez` (the process answers) and `/readyz` (the database answers).
//!
//! It has no TLS and no authentication: it belongs on the loopback or a management network. It
//! tells counts and states only, never a name, an address or a secret, and a failure only as a
//! short fixed reason; causes go to the logs. Like every edge it calls `Services` and knows
//! nothing of the store.

pub(crate) mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sesame_base::error_chain::chain;
use tokio::net::TcpListener;

pub(crate) use self::metrics::Metrics;
use crate::services::Services;

/// How long `/readyz` waits for the database's answer.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scrape waits for the database's numbers.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the OpenMetrics text exposition `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share.
#[derive(Debug, Clone)]
struct Ops {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
}

/// Serves the operations endpoint on `listener` until `shutdown` resolves, then lets requests in
/// flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .route("/livez", get(live))
        .route("/readyz", get(ready))
        .with_state(Ops { services, metrics });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// `/livez`: the process is up and answering.
async fn live() -> &'static str {
    "live\n"
}

/// `/readyz`: 200 while the database answers a trivial query in time, else 503 with the reason.
async fn ready(State(ops): State<Ops>) -> Response {
    match ops.services.check_ready(READY_TIMEOUT).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => {
            tracing::debug!(error = %chain(&error), "readiness probe: not ready");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}\n")).into_response()
        }
    }
}

/// `/metrics`: every metric, the scrape-time gauges read from the database now.
async fn scrape(State(ops): State<Ops>) -> Response {
    let snapshot = ops.services.operations_snapshot(SCRAPE_TIMEOUT).await;
    match ops.metrics.render(&snapshot) {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot write the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}
