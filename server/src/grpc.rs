//! The gRPC edge: the TLS endpoint, limits, and the two services. Only this module (and
//! sesamectl) knows protobuf; it converts to domain types at once.

mod admin_service;
mod agent_service;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sesame_proto::v1::admin_service_server::AdminServiceServer;
use sesame_proto::v1::agent_service_server::AgentServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};

pub(crate) use self::admin_service::AdminApi;
pub(crate) use self::agent_service::AgentApi;
use crate::clock::SharedClock;
use crate::domain::MailDomain;
use crate::pki::Pki;
use crate::store::SharedStore;

/// Largest admin request message (one import chunk), in bytes.
pub const MAX_ADMIN_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest agent request message, in bytes.
pub const MAX_AGENT_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response message, in bytes (a page of mailboxes stays far below).
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What every RPC handler shares. Holds no state of its own: everything lives in the store.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) store: SharedStore,
    pub(crate) clock: SharedClock,
    pub(crate) mail_domain: MailDomain,
}

/// Why the endpoint stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS identity was refused or the transport failed.
    #[error("gRPC transport error")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves both services over TLS on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish.
pub(crate) async fn serve(
    state: Arc<AppState>,
    pki: &Pki,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let identity = Identity::from_pem(&pki.server_cert_pem, pki.server_key());
    let admin = AdminServiceServer::new(AdminApi::new(state.clone()))
        .max_decoding_message_size(MAX_ADMIN_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let agent = AgentServiceServer::new(AgentApi::new(state))
        .max_decoding_message_size(MAX_AGENT_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    Server::builder()
        .tls_config(ServerTlsConfig::new().identity(identity))?
        .timeout(Duration::from_secs(120))
        .max_concurrent_streams(Some(128))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .add_service(admin)
        .add_service(agent)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// Formats a time for the wire: RFC 3339, UTC.
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
