//! `echo-server`: the peer the server is measured against. A bare tonic `AgentService` whose
//! `Heartbeat` answers a constant response, with no authentication and no database, behind the
//! same mutual TLS as sesame-server (its certificate chain and key, client certificates verified
//! against its CA, TLS 1.3 and 1.2, ALPN h2, loaded from the server's data directory) and the same
//! tonic settings (timeout, streams per connection, HTTP/2 keep-alive, TCP_NODELAY). One tokio
//! worker by default, so that one core serves it as one serves sesame-server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sesame_proto::limits::{MAX_AGENT_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_server::{AgentService, AgentServiceServer};
use sesame_server::data_dir::DataDir;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::Server;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

/// The echo server's settings.
#[derive(Debug, clap::Args)]
pub(crate) struct EchoArgs {
    /// The sesame-server data directory whose TLS material to use.
    #[arg(long)]
    data_dir: PathBuf,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7543")]
    listen: SocketAddr,
}

/// The constant answers.
#[derive(Debug, Default)]
struct Echo;

#[tonic::async_trait]
impl AgentService for Echo {
    async fn get_server_info(
        &self,
        _: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::GetServerInfoResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }

    async fn enroll(
        &self,
        _: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }

    async fn renew(
        &self,
        _: Request<pb::RenewRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }

    async fn get_recovery_challenge(
        &self,
        _: Request<pb::GetRecoveryChallengeRequest>,
    ) -> Result<Response<pb::GetRecoveryChallengeResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }

    async fn recover(
        &self,
        _: Request<pb::RecoverRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }

    async fn heartbeat(
        &self,
        _: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        Ok(Response::new(pb::HeartbeatResponse {
            workstation_id: "ws-0000000000000000".to_owned(),
            office: "99001".to_owned(),
            server_time: "2026-01-01T00:00:00Z".to_owned(),
            check_in_interval_seconds: 60,
            owa_url: String::new(),
            rotations_pending: Some(false),
        }))
    }

    async fn report_steps(
        &self,
        _: Request<pb::ReportStepsRequest>,
    ) -> Result<Response<pb::ReportStepsResponse>, Status> {
        Ok(Response::new(pb::ReportStepsResponse::default()))
    }

    async fn get_pending_rotations(
        &self,
        _: Request<pb::GetPendingRotationsRequest>,
    ) -> Result<Response<pb::GetPendingRotationsResponse>, Status> {
        Ok(Response::new(pb::GetPendingRotationsResponse::default()))
    }
}

/// The server's TLS configuration, as sesame-server builds it from its data directory.
fn server_config(dir: &DataDir) -> anyhow::Result<Arc<ServerConfig>> {
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let ca_pem = read(dir.ca_cert())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("ca.pem")?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(read(dir.server_cert())?.as_bytes())
            .collect::<Result<_, _>>()
            .context("server.pem")?;
    chain.push(ca);
    let key =
        PrivateKeyDer::from_pem_slice(read(dir.server_key())?.as_bytes()).context("server.key")?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS connection tonic can serve.
struct Conn(TlsStream<TcpStream>);

impl Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Runs the echo server until interrupted.
pub(crate) async fn run(args: EchoArgs) -> anyhow::Result<()> {
    crate::raise_descriptor_limit();
    let config = server_config(&DataDir::at(&args.data_dir))?;
    let listener = TcpListener::bind(args.listen).await?;
    out!("echo server listening on {}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Conn, std::io::Error>>(1024);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let accepted =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await;
                if let Ok(Ok(tls)) = accepted {
                    let _ = tx.send(Ok(Conn(tls))).await;
                }
            });
        }
    });
    let agent = AgentServiceServer::new(Echo)
        .max_decoding_message_size(MAX_AGENT_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    Server::builder()
        .timeout(Duration::from_secs(120))
        .max_concurrent_streams(Some(128))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .add_service(agent)
        .serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(rx), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
