//! The standard gRPC health service (`grpc.health.v1.Health`, from `tonic-health`) on the gRPC
//! port: the server as a whole (`""`) and each of its services are SERVING while the database
//! answers and NOT_SERVING while it does not, as a task re-checks every [`CHECK_INTERVAL`]. Like
//! `GetServerInfo`, it needs no client certificate and no token.

use std::sync::Arc;
use std::time::Duration;

use sesame_base::error_chain::chain;
use sesame_proto::v1::admin_service_server::AdminServiceServer;
use sesame_proto::v1::agent_service_server::AgentServiceServer;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::{AdminApi, AgentApi};
use crate::ops::READY_TIMEOUT;
use crate::services::Services;

/// How often the database is checked.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// The names whose health is reported: the server as a whole, then each service.
const NAMES: [&str; 3] = [
    "",
    <AdminServiceServer<AdminApi> as NamedService>::NAME,
    <AgentServiceServer<AgentApi> as NamedService>::NAME,
];

/// The health service and what keeps it current.
pub(crate) struct Health<S> {
    /// The service to add to the router.
    pub(crate) service: S,
    /// Sets the statuses.
    pub(crate) reporter: HealthReporter,
    /// The status the first check set.
    pub(crate) status: ServingStatus,
}

/// The health service, its statuses already set from a first check of the database.
pub(crate) async fn service(
    state: &Services,
) -> Health<
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
> {
    let (reporter, service) = tonic_health::server::health_reporter();
    let status = check(state, None).await;
    set_all(&reporter, status).await;
    Health { service, reporter, status }
}

/// Re-checks the database every [`CHECK_INTERVAL`] and updates the statuses when the answer
/// changes from `serving`, until aborted.
pub(crate) fn watch(
    state: Arc<Services>,
    reporter: HealthReporter,
    mut serving: ServingStatus,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CHECK_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let now = check(&state, Some(serving)).await;
            if now != serving {
                set_all(&reporter, now).await;
                serving = now;
            }
        }
    })
}

/// At shutdown: sets every name to NOT_SERVING, so that balancers stop sending calls, then
/// forgets them, which ends the clients' `Watch` streams (an open stream would otherwise hold the
/// graceful shutdown up forever). A `Check` during the drain gets NOT_FOUND.
pub(crate) async fn stop(reporter: &HealthReporter) {
    set_all(reporter, ServingStatus::NotServing).await;
    let mut reporter = reporter.clone();
    for name in NAMES {
        reporter.clear_service_status(name).await;
    }
}

/// SERVING when the database answers in time, else NOT_SERVING; logs when it changes from
/// `before`.
async fn check(state: &Services, before: Option<ServingStatus>) -> ServingStatus {
    match state.check_ready(READY_TIMEOUT).await {
        Ok(()) => {
            if before == Some(ServingStatus::NotServing) {
                tracing::info!("the database answers again: serving");
            }
            ServingStatus::Serving
        }
        Err(error) => {
            if before != Some(ServingStatus::NotServing) {
                tracing::warn!(error = %chain(&error), "the database does not answer: not serving");
            }
            ServingStatus::NotServing
        }
    }
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in NAMES {
        reporter.set_service_status(name, status).await;
    }
}
