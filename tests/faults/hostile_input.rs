//! Hostile input on the gRPC port (docs/reliability.md F2): 10,000 malformed or oversized gRPC messages
//! over real HTTP/2 and TLS (invalid protobuf, lengths that lie, a prefix claiming 4 GiB, messages
//! over the limit, 10,000-deep nesting, the compressed flag without an encoding, unknown methods,
//! garbage for an unauthenticated admin call), then random bytes before and after a TLS handshake
//! and half-open connections. Every request gets a precise gRPC code (never UNKNOWN, never
//! INTERNAL but for the compressed flag without an encoding, which gRPC's spec makes INTERNAL) or
//! its connection closed; memory stays bounded; descriptors and tasks come back to
//! their baseline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use rand::{Rng as _, RngCore as _};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use sesame_proto::limits::MAX_AGENT_REQUEST_BYTES;
use sesame_tests::process_memory::memory_of;
use sesame_tests::{Backend, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// gRPC requests sent.
const MESSAGES: usize = 10_000;
/// HTTP/2 connections they are spread over.
const CONNECTIONS: usize = 10;
/// Requests in flight on one connection.
const IN_FLIGHT: usize = 32;
/// Raw TCP connections of each kind of garbage.
const RAW: usize = 100;

/// The kinds of malformed request, in turn.
#[derive(Debug, Clone, Copy)]
enum Kind {
    InvalidProtobuf,
    ShortBody,
    FourGiB,
    Oversized,
    DeepNesting,
    CompressedFlag,
    UnknownMethod,
    UnknownService,
    AdminGarbage,
}

const KINDS: [Kind; 9] = [
    Kind::InvalidProtobuf,
    Kind::ShortBody,
    Kind::FourGiB,
    Kind::Oversized,
    Kind::DeepNesting,
    Kind::CompressedFlag,
    Kind::UnknownMethod,
    Kind::UnknownService,
    Kind::AdminGarbage,
];

/// A gRPC message frame: the compressed flag, the declared length, the bytes.
fn frame(compressed: bool, declared: u32, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(u8::from(compressed));
    out.extend_from_slice(&declared.to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The path and body of one malformed request of `kind`.
fn request(kind: Kind) -> (&'static str, Bytes) {
    let info = "/sesame.v1.AgentService/GetServerInfo";
    match kind {
        Kind::InvalidProtobuf => {
            // A field 1 (string) claiming more bytes than follow, then noise.
            let mut payload = vec![0x0a, 0xff, 0x7f];
            payload.extend(random_bytes(rand::rng().random_range(1..64)));
            (info, frame(false, payload.len() as u32, &payload))
        }
        Kind::ShortBody => {
            let payload = random_bytes(10);
            (info, frame(false, 100, &payload))
        }
        Kind::FourGiB => (info, frame(false, u32::MAX, &random_bytes(16))),
        Kind::Oversized => {
            let payload = vec![0x20; MAX_AGENT_REQUEST_BYTES + 1];
            (info, frame(false, payload.len() as u32, &payload))
        }
        Kind::DeepNesting => {
            // 10,000 nested start-group tags of an unknown field 2 (wire type 3).
            let payload = vec![0x13; 10_000];
            (info, frame(false, payload.len() as u32, &payload))
        }
        Kind::CompressedFlag => {
            let payload = random_bytes(32);
            (info, frame(true, payload.len() as u32, &payload))
        }
        Kind::UnknownMethod => ("/sesame.v1.AgentService/Nope", frame(false, 0, &[])),
        Kind::UnknownService => ("/nope.v9.Nothing/Call", frame(false, 0, &[])),
        Kind::AdminGarbage => {
            let payload = random_bytes(128);
            ("/sesame.v1.AdminService/CreateOffice", frame(false, payload.len() as u32, &payload))
        }
    }
}

/// A TLS client trusting the server's CA, offering HTTP/2.
fn connector(server: &TestServer) -> TlsConnector {
    let credentials = server.read_credentials();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(credentials.ca_certificate.as_bytes()) {
        roots.add(cert.expect("a PEM certificate")).expect("a CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsConnector::from(Arc::new(config))
}

fn server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
}

/// The gRPC code of an HTTP/2 response (trailers-only, or in the trailers), as text.
async fn outcome(response: hyper::Response<hyper::body::Incoming>) -> String {
    let in_headers = response.headers().get("grpc-status").cloned();
    let http = response.status();
    let code = match in_headers {
        Some(code) => Some(code),
        None => match response.into_body().collect().await {
            Ok(collected) => collected.trailers().and_then(|t| t.get("grpc-status").cloned()),
            Err(_) => return "closed".to_owned(),
        },
    };
    match code.and_then(|c| c.to_str().ok().and_then(|c| c.parse::<i32>().ok())) {
        Some(code) => format!("{:?}", tonic::Code::from_i32(code)),
        None => format!("HTTP {}", http.as_u16()),
    }
}

/// Sends `count` malformed requests on one connection; returns the outcome of each.
async fn one_connection(server: &TestServer, first: usize, count: usize) -> Vec<(Kind, String)> {
    let tcp = TcpStream::connect(server.address).await.expect("connect");
    let tls = connector(server).connect(server_name(), tcp).await.expect("a TLS handshake");
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("an HTTP/2 connection");
    let driver = tokio::spawn(connection);
    let authority = server.address.to_string();
    let results = futures_util::stream::iter(first..first + count)
        .map(|i| {
            let mut sender = sender.clone();
            let kind = KINDS[i % KINDS.len()];
            let (path, body) = request(kind);
            let request = hyper::Request::post(format!("https://{authority}{path}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(Full::new(body))
                .expect("a request");
            async move {
                let answer = match sender.ready().await {
                    Ok(()) => match sender.send_request(request).await {
                        Ok(response) => outcome(response).await,
                        Err(_) => "closed".to_owned(),
                    },
                    Err(_) => "closed".to_owned(),
                };
                (kind, answer)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    drop(sender);
    driver.abort();
    results
}

/// Raw connections: random bytes instead of a handshake; a handshake then random bytes; the
/// HTTP/2 preface then random frames; half a ClientHello then silence. Returns how many the
/// server closed within the wait, per kind.
async fn raw_garbage(server: &TestServer) -> BTreeMap<&'static str, (usize, usize)> {
    let mut closed: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RAW * 4 {
        let address = server.address;
        let connector = connector(server);
        tasks.spawn(async move {
            let kind =
                ["bytes before TLS", "bytes after TLS", "frames after preface", "half hello"]
                    [i % 4];
            let Ok(mut tcp) = TcpStream::connect(address).await else { return (kind, true) };
            let garbage = random_bytes(rand::rng().random_range(1..4096));
            let wait = Duration::from_secs(15);
            let ended = match kind {
                "bytes before TLS" => {
                    let _ = tcp.write_all(&garbage).await;
                    read_to_close(&mut tcp, wait).await
                }
                "half hello" => {
                    // A TLS record header promising a 512-byte ClientHello, and 3 bytes of it.
                    let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]).await;
                    read_to_close(&mut tcp, wait).await
                }
                _ => match connector.connect(server_name(), tcp).await {
                    Ok(mut tls) => {
                        if kind == "frames after preface" {
                            let _ = tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
                        }
                        let _ = tls.write_all(&garbage).await;
                        let _ = tls.flush().await;
                        read_to_close(&mut tls, wait).await
                    }
                    Err(_) => true,
                },
            };
            (kind, ended)
        });
    }
    while let Some(result) = tasks.join_next().await {
        let (kind, ended) = result.expect("a raw connection task");
        let entry = closed.entry(kind).or_default();
        entry.1 += 1;
        if ended {
            entry.0 += 1;
        }
    }
    closed
}

/// Reads until the server closes (true) or `wait` passes (false).
async fn read_to_close<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, wait: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Open descriptors of this process.
fn descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn rss() -> f64 {
    memory_of(std::process::id()).map_or(0.0, |(rss, _)| rss)
}

/// The scenario.
pub(crate) async fn malformed_messages() -> String {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    // A first well-formed exchange, so that the baseline has the server warmed up.
    let _ = one_connection(&server, 6, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds_before = descriptors();
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let rss_before = rss();
    let peak = Arc::new(AtomicU64::new(rss_before.to_bits()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::SeqCst) {
                let now = rss();
                if now > f64::from_bits(peak.load(Ordering::SeqCst)) {
                    peak.store(now.to_bits(), Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let per = MESSAGES / CONNECTIONS;
    let server_ref = &server;
    let outcomes: Vec<(Kind, String)> = futures_util::stream::iter(0..CONNECTIONS)
        .map(|c| one_connection(server_ref, c * per, per))
        .buffer_unordered(CONNECTIONS)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    let raw = raw_garbage(&server).await;

    // Still serving: a well-formed call on a fresh connection.
    let info = {
        let mut agent = sesame_proto::v1::agent_service_client::AgentServiceClient::new(
            server.anonymous_channel().await,
        );
        agent
            .get_server_info(sesame_proto::v1::GetServerInfoRequest {
                agent_version: "0.1.0".into(),
            })
            .await
            .expect("the server still answers")
            .into_inner()
    };
    assert!(info.agent_version_supported);
    sampling.store(false, Ordering::SeqCst);
    let _ = sampler.await;
    // Connections wind down.
    let mut fds_after = descriptors();
    let mut tasks_after = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    for _ in 0..50 {
        if fds_after <= fds_before + 2 && tasks_after <= tasks_before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        fds_after = descriptors();
        tasks_after = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    }
    let rss_after = rss();
    let rss_peak = f64::from_bits(peak.load(Ordering::SeqCst));

    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (kind, code) in &outcomes {
        *by_code.entry(code.clone()).or_default() += 1;
        *by_kind.entry(format!("{kind:?}")).or_default().entry(code.clone()).or_default() += 1;
    }
    // gRPC's compression spec requires INTERNAL for the compressed flag without an encoding;
    // anything else INTERNAL would blame the server for what the client sent.
    let imprecise: Vec<_> = by_kind
        .iter()
        .filter(|(kind, codes)| {
            codes.keys().any(|c| {
                (c == "Internal" && kind.as_str() != "CompressedFlag")
                    || c == "Unknown"
                    || c.starts_with("HTTP")
            })
        })
        .collect();
    assert!(imprecise.is_empty(), "imprecise answers: {imprecise:?}");
    assert_eq!(outcomes.len(), MESSAGES);
    assert!(rss_peak - rss_before < 50.0, "RSS grew {rss_before:.0} → {rss_peak:.0} MiB");
    assert!(fds_after <= fds_before + 2, "descriptors {fds_before} → {fds_after}");
    assert!(tasks_after <= tasks_before + 2, "tasks {tasks_before} → {tasks_after}");
    let raw_closed: usize = raw.values().map(|(c, _)| c).sum();
    assert_eq!(raw_closed, RAW * 4, "every garbage connection closed by the server: {raw:?}");
    server.stop().await;
    format!(
        "{} gRPC messages on {CONNECTIONS} connections: {by_kind:?}; totals {by_code:?}; {} raw \
         connections closed by the server (of {}): {raw:?}; RSS {rss_before:.1} → peak \
         {rss_peak:.1} → {rss_after:.1} MiB (growth {:.1} MiB); descriptors {fds_before} → \
         {fds_after}; tasks {tasks_before} → {tasks_after}",
        outcomes.len(),
        raw_closed,
        RAW * 4,
        rss_peak - rss_before,
    )
}
