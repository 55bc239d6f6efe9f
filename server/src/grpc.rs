//! The gRPC edge: the TLS endpoint, limits, and the two services. Only this module (and
//! sesamectl) knows protobuf; it converts to domain types at once.

mod admin;
mod agent;
mod check_in;
mod frame_limit;
mod parse;
mod rate_limit;
mod status;
pub(crate) mod tls;

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
use crate::services::Services;

/// Why the endpoint stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS configuration was refused.
    #[error("TLS configuration error")]
    Tls(#[from] tls::TlsError),
    /// The transport failed.
    #[error("gRPC transport error")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves both services over TLS on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish.
pub(crate) async fn serve(
    state: Arc<Services>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let config = tls::server_config(&state.pki, state.clock.clone())?;
    let (connections, acceptor) = tls::incoming(listener, config);
    // FrameLimit answers RESOURCE_EXHAUSTED first; tonic's own limit stays behind it.
    let admin = AdminServiceServer::new(AdminApi::new(state.clone()))
        .max_decoding_message_size(MAX_ADMIN_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let admin = FrameLimit::new(admin, MAX_ADMIN_REQUEST_BYTES);
    let agent = AgentServiceServer::new(AgentApi::new(state))
        .max_decoding_message_size(MAX_AGENT_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let agent = FrameLimit::new(agent, MAX_AGENT_REQUEST_BYTES);
    let served = Server::builder()
        .timeout(Duration::from_secs(120))
        .max_concurrent_streams(Some(128))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .add_service(admin)
        .add_service(agent)
        .serve_with_incoming_shutdown(connections, shutdown)
        .await;
    acceptor.abort();
    Ok(served?)
}

/// Formats a time for the wire: RFC 3339, UTC.
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
