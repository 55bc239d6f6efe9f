//! The gRPC edge: the TLS endpoint, limits, and the two services, beside the standard health
//! (`health`) and reflection services; every call timed by `rpc_metrics`. Only this module (and
//! sesamectl) knows protobuf; it converts to domain types at once.

mod admin;
mod agent;
mod check_in;
mod frame_limit;
mod health;
mod parse;
mod rpc_metrics;
mod status;
pub(crate) mod tls;

#[cfg(test)]
mod fuzz;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sesame_proto::limits::{MAX_ADMIN_REQUEST_BYTES, MAX_AGENT_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use sesame_proto::v1::admin_service_server::AdminServiceServer;
use sesame_proto::v1::agent_service_server::AgentServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;

pub(crate) use self::admin::AdminApi;
pub(crate) use self::agent::AgentApi;
use self::frame_limit::FrameLimit;
use self::rpc_metrics::{KnownMethods, RpcMetrics};
use crate::ops::{ConnectionCap, Metrics};
use crate::services::Services;

/// The shortest wait before a silent connection is pinged.
const MIN_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Why the endpoint stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS configuration was refused.
    #[error("TLS configuration error")]
    Tls(#[from] tls::TlsError),
    /// The transport failed.
    #[error("gRPC transport error")]
    Transport(#[from] tonic::transport::Error),
    /// The reflection service could not read the file descriptors.
    #[error("gRPC reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The operations endpoint failed.
    #[error("operations endpoint")]
    Operations(#[source] std::io::Error),
}

/// Serves both services, with health and reflection, over TLS on `listener` until `shutdown`
/// resolves, then lets in-flight requests finish. Every call is recorded in `metrics`. At most
/// `max_connections` connections at once (handshakes and established).
pub(crate) async fn serve(
    state: Arc<Services>,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    max_connections: usize,
    handshakes: tls::HandshakeLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let config = tls::server_config(&state.pki, state.clock.clone())?;
    // HTTP/2 pings find dead peers. An agent's own check-ins show its connection alive, so a ping
    // goes out only when one is late: an idle agent's connection carries nothing but check-ins.
    let check_in = state.agents.check_in_interval.unsigned_abs();
    let ping_interval = (check_in + check_in / 2).max(MIN_PING_INTERVAL);
    let health = health::service(&state).await;
    // The reflection services add their own descriptors.
    let described = [sesame_proto::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET];
    let reflection_v1 = reflection_builder(&described).build_v1()?;
    let reflection_v1alpha = reflection_builder(&described).build_v1alpha()?;
    let methods = Arc::new(KnownMethods::from_descriptor_sets(&[
        sesame_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]));
    let cap = ConnectionCap::new("grpc", max_connections, &metrics);
    let timed = Timed { metrics, methods };
    // FrameLimit answers RESOURCE_EXHAUSTED first; tonic's own limit stays behind it.
    let admin = AdminServiceServer::new(AdminApi::new(state.clone()))
        .max_decoding_message_size(MAX_ADMIN_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let admin = timed.wrap(FrameLimit::new(admin, MAX_ADMIN_REQUEST_BYTES));
    let agent = AgentServiceServer::new(AgentApi::new(state.clone(), timed.metrics.clone()))
        .max_decoding_message_size(MAX_AGENT_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let agent = timed.wrap(FrameLimit::new(agent, MAX_AGENT_REQUEST_BYTES));
    let watcher = health::watch(state, health.reporter.clone(), health.status);
    let reporter = health.reporter.clone();
    let shutdown = async move {
        shutdown.await;
        health::stop(&reporter).await;
    };
    let counted = timed.metrics.handshakes();
    let (connections, acceptor) = tls::incoming(listener, config, cap, handshakes, counted);
    let served = Server::builder()
        .timeout(Duration::from_secs(120))
        .max_concurrent_streams(Some(128))
        .http2_keepalive_interval(Some(ping_interval))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .add_service(admin)
        .add_service(agent)
        .add_service(timed.wrap(FrameLimit::new(health.service, MAX_AGENT_REQUEST_BYTES)))
        .add_service(timed.wrap(FrameLimit::new(reflection_v1, MAX_AGENT_REQUEST_BYTES)))
        .add_service(timed.wrap(FrameLimit::new(reflection_v1alpha, MAX_AGENT_REQUEST_BYTES)))
        .serve_with_incoming_shutdown(connections, shutdown)
        .await;
    acceptor.abort();
    watcher.abort();
    Ok(served?)
}

/// What wraps each service so that its calls are timed.
struct Timed {
    metrics: Arc<Metrics>,
    methods: Arc<KnownMethods>,
}

impl Timed {
    fn wrap<S>(&self, service: S) -> RpcMetrics<S> {
        RpcMetrics::new(service, self.metrics.clone(), self.methods.clone())
    }
}

/// A reflection builder describing the services in `sets`.
fn reflection_builder<'b>(sets: &[&'b [u8]]) -> tonic_reflection::server::Builder<'b> {
    sets.iter().fold(tonic_reflection::server::Builder::configure(), |builder, set| {
        builder.register_encoded_file_descriptor_set(set)
    })
}

/// Formats a time for the wire: RFC 3339, UTC.
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
