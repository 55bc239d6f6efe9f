//! The agents' side of mutual TLS: a rustls client configuration per identity (trusting the
//! server's CA only, ALPN h2, TLS 1.3 session resumption on or off), and a tonic connector that
//! binds a chosen loopback source address before connecting, so that many agents spread over
//! several addresses (ports per address, and the server's handshakes-per-address bound).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use hyper_util::rt::TokioIo;
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::identities::AgentIdentity;

/// A client configuration presenting `identity`, trusting `ca_pem`; `resume`: keep TLS sessions
/// (tickets) to resume later connections of this configuration.
pub(crate) fn client_config(
    ca_pem: &str,
    identity: Option<&AgentIdentity>,
    resume: bool,
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.context("the CA certificate")?)?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .context("an agent certificate")?;
            let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
                .context("an agent key")?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// Handshakes completed, and how many of them resumed a session.
#[derive(Debug, Default)]
pub(crate) struct HandshakeCounts {
    /// Completed handshakes.
    pub(crate) full: AtomicU64,
    /// Resumed handshakes.
    pub(crate) resumed: AtomicU64,
}

/// Connects to `server` from `local` (any address when `None`) over TLS with `config`.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    server: SocketAddr,
    local: Option<IpAddr>,
    config: Arc<ClientConfig>,
    counts: Option<Arc<HandshakeCounts>>,
}

impl Connector {
    /// A connector; `counts`, when given, counts its handshakes by kind.
    pub(crate) fn new(
        server: SocketAddr,
        local: Option<IpAddr>,
        config: Arc<ClientConfig>,
        counts: Option<Arc<HandshakeCounts>>,
    ) -> Connector {
        Connector { server, local, config, counts }
    }

    async fn connect(self) -> std::io::Result<TokioIo<TlsStream<TcpStream>>> {
        let socket =
            if self.server.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if let Some(local) = self.local {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        let tcp = socket.connect(self.server).await?;
        tcp.set_nodelay(true)?;
        // The server certificate names 127.0.0.1 and localhost.
        let name = ServerName::IpAddress(self.server.ip().into());
        let tls = TlsConnector::from(self.config).connect(name, tcp).await?;
        if let Some(counts) = &self.counts {
            let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            let counter = if resumed { &counts.resumed } else { &counts.full };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(TokioIo::new(tls))
    }
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        Box::pin(self.clone().connect())
    }
}

/// The endpoint agents use: HTTP/2 keep-alive on (as the server's 30 s), timeouts as the agent's.
/// The scheme is `http` because the connector brings its own TLS.
pub(crate) fn endpoint(server: SocketAddr) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(format!("http://{server}"))?
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true))
}

/// A connected channel through `connector`.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    connector: Connector,
) -> Result<Channel, tonic::transport::Error> {
    endpoint.connect_with_connector(connector).await
}

/// The source addresses to spread agents over: `127.0.0.2` and the next `count - 1`, or none when
/// `count` is 0 (the system picks).
pub(crate) fn source_addresses(count: u8) -> Vec<IpAddr> {
    (0..count).map(|n| IpAddr::from([127, 0, 0, 2 + n])).collect()
}

/// Resolves `host:port` (the first address).
pub(crate) fn resolve(server: &str) -> anyhow::Result<SocketAddr> {
    let trimmed = server.trim_start_matches("https://").trim_start_matches("http://");
    std::net::ToSocketAddrs::to_socket_addrs(trimmed)?
        .next()
        .with_context(|| format!("{server}: no address"))
}
