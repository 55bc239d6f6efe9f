//! The TLS endpoint: rustls with TLS 1.2 and 1.3 and AEAD suites only, the server's certificate
//! chain (leaf and CA, so that agents can check the CA against the fingerprint they were given),
//! and optional client certificates verified against the CA at the time of the server's [`Clock`].
//!
//! The accept loop never waits: each connection is admitted at once, within the listener's cap on
//! connections held (handshakes and established, [`ConnectionCap`]), and to a handshake, within a
//! bound per source address and overall, or closed at once. Handshakes run in their own tasks with
//! a timeout, so a slow or silent client never holds up the others. Each connection carries a [`PeerInfo`] that handlers read from the request extensions;
//! the client certificate is checked again on every request (see `agent_service`).

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, HandshakeKind, RootCertStore, ServerConfig,
    SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use self::admission::{Admission, Evicted, Ticket};
use self::tickets::Tickets;
use crate::keys::pki::Pki;
use crate::ops::{Admitted, ConnectionCap, HandshakeMetrics};
use sesame_base::clock::SharedClock;

mod admission;
mod tickets;

/// How long a client has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The caps on handshakes in progress (`[server] handshakes_per_address`, `handshakes_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandshakeLimits {
    /// Most handshakes in progress at once from one source address (an IPv6 /64): a legitimate
    /// client has one, a site behind one NAT a few; its newest beyond that are closed at once.
    pub(crate) per_address: usize,
    /// Most handshakes in progress at once.
    pub(crate) total: usize,
}
/// How often refused and timed-out handshakes are logged, counted.
const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate or key is not valid PEM.
    #[error("invalid certificate or key PEM")]
    Pem,
    /// rustls refused the configuration.
    #[error("TLS configuration refused")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client certificate verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The crypto provider: ring, whose suites are all AEAD (AES-GCM, ChaCha20-Poly1305) with forward
/// secrecy.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration the server runs with.
pub(crate) fn server_config(pki: &Pki, clock: SharedClock) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let ca =
        CertificateDer::from_pem_slice(pki.ca_cert_pem.as_bytes()).map_err(|_| TlsError::Pem)?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let clock_for_tickets = clock.clone();
    let verifier = Arc::new(ClockedClientVerifier { inner, clock });
    let mut chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::Pem)?;
    chain.push(ca);
    let key =
        PrivateKeyDer::from_pem_slice(pki.server_key().as_bytes()).map_err(|_| TlsError::Pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // Resumption: an agent reconnecting after a network failure or a server restart presents a
    // ticket instead of making a full handshake (no signature, no certificate chain), so a
    // reconnect storm costs a fraction of the handshakes. Tickets are stateless, sealed under a key
    // derived from the server key that changes every 12 hours (so they survive a restart), and
    // carry the client certificate, which every request checks against the store as after a full
    // handshake. One ticket is enough for an agent's one connection.
    config.ticketer = Arc::new(Tickets::new(pki.server_key(), clock_for_tickets));
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// Verifies client certificates against the CA at the server clock's time, not the system's.
struct ClockedClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    clock: SharedClock,
}

impl fmt::Debug for ClockedClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClockedClientVerifier").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ClockedClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let now = self.clock.now().unix_timestamp();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
        self.inner.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Who is at the other end of a connection.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    /// The client's address.
    pub(crate) remote: SocketAddr,
    /// The client certificate, verified against the CA during the handshake, if one was sent.
    pub(crate) client_cert: Option<CertificateDer<'static>>,
}

/// An accepted TLS connection.
pub(crate) struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: PeerInfo,
    /// Its place under the listener's cap, freed when the connection is dropped.
    _admitted: Admitted,
}

impl Connected for TlsConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts connections on `listener`, completes their handshakes concurrently, and yields the
/// established ones. The returned task runs until aborted.
///
/// The loop never waits for a slot: a connection is admitted at once under `cap` and to a
/// handshake (see [`admission`]), or closed at once; refusals are reported counted, every
/// [`REPORT_INTERVAL`].
pub(crate) fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    cap: ConnectionCap,
    limits: HandshakeLimits,
    handshakes: HandshakeMetrics,
) -> (tokio_stream::wrappers::ReceiverStream<std::io::Result<TlsConn>>, tokio::task::JoinHandle<()>)
{
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    let admission = Admission::new(limits.per_address, limits.total);
    let task = tokio::spawn(async move {
        let mut report = tokio::time::interval(REPORT_INTERVAL);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = report.tick() => {
                    report_pressure(&admission, &cap);
                    continue;
                }
            };
            // Refused: the stream is dropped here, which closes the connection.
            let Some(admitted) = cap.admit() else { continue };
            let Ok((ticket, evicted)) = admission.admit(remote.ip()) else { continue };
            let _ = tcp.set_nodelay(true);
            let handshake =
                Handshake { tcp, remote, ticket, evicted, admission: admission.clone(), admitted };
            tokio::spawn(handshake.run(acceptor.clone(), tx.clone(), handshakes.clone()));
        }
    });
    (tokio_stream::wrappers::ReceiverStream::new(rx), task)
}

/// An admitted connection on its way to an established TLS session.
struct Handshake {
    tcp: TcpStream,
    remote: SocketAddr,
    ticket: Ticket,
    evicted: Evicted,
    admission: Admission,
    admitted: Admitted,
}

impl Handshake {
    /// Completes the handshake within [`HANDSHAKE_TIMEOUT`] unless told to give way, then frees
    /// its slot and hands the connection over.
    async fn run(
        self,
        acceptor: TlsAcceptor,
        tx: mpsc::Sender<std::io::Result<TlsConn>>,
        handshakes: HandshakeMetrics,
    ) {
        let Handshake { tcp, remote, ticket, evicted, admission, admitted } = self;
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)) => outcome,
            // A less crowded address needed the slot: the connection is closed.
            _ = evicted => return,
        };
        drop(ticket);
        match outcome {
            Ok(Ok(stream)) => {
                let session = stream.get_ref().1;
                match session.handshake_kind() {
                    Some(HandshakeKind::Resumed) => handshakes.resumed.inc(),
                    _ => handshakes.full.inc(),
                };
                let client_cert = session
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.clone().into_owned());
                let peer = PeerInfo { remote, client_cert };
                let _ = tx.send(Ok(TlsConn { stream, peer, _admitted: admitted })).await;
            }
            Ok(Err(error)) => tracing::debug!(%remote, %error, "TLS handshake failed"),
            Err(_) => admission.count_timeout(),
        }
    }
}

/// Logs, in one line, the connections refused or ended since the last report, if any.
fn report_pressure(admission: &Admission, cap: &ConnectionCap) {
    let refused_cap = cap.take_refused();
    if refused_cap > 0 {
        tracing::warn!(
            refused = refused_cap,
            max = cap.max(),
            "gRPC endpoint: connections over its cap closed"
        );
    }
    let (counts, in_progress) = admission.take_counts();
    if counts.is_empty() {
        return;
    }
    if counts.refused_address_full + counts.refused_full + counts.evicted > 0 {
        tracing::warn!(
            refused_address_full = counts.refused_address_full,
            refused_full = counts.refused_full,
            evicted = counts.evicted,
            timed_out = counts.timed_out,
            in_progress,
            "TLS handshakes refused under pressure"
        );
    } else {
        tracing::info!(timed_out = counts.timed_out, in_progress, "TLS handshakes timed out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aead_suites_with_forward_secrecy_are_offered() {
        let provider = provider();
        assert!(!provider.cipher_suites.is_empty());
        for suite in &provider.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.contains("GCM") || name.contains("CHACHA20_POLY1305"),
                "{name} is not AEAD"
            );
            if name.starts_with("TLS_ECDHE") || name.starts_with("TLS13") {
                continue;
            }
            panic!("{name} lacks forward secrecy");
        }
    }
}
