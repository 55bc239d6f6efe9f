//! The operations endpoints end to end: `/metrics` scraped after real calls (parsed by the text
//! exposition's rules, not compared as text), `/livez` and `/readyz`; the standard health service
//! and server reflection on the gRPC port, with the real clients over TLS and no credential; and,
//! on a PostgreSQL database and role of the test's own, readiness and health turning when the
//! role loses its right to connect and coming back when it gets it again. The listeners' limits
//! (header timeout, connection caps, the metrics' snapshot) in `listener`, and the real
//! `sesame-server` under a low descriptor limit in `descriptors`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use prost::Message;
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_client::AdminServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{channel, status_code};
use crate::{TestServer, write_file};

mod descriptors;
mod exposition;
mod handshakes;
mod listener;
mod readiness;

use self::exposition::Exposition;

/// The gRPC services the server answers for, as health and reflection name them.
const ADMIN: &str = "sesame.v1.AdminService";
const AGENT: &str = "sesame.v1.AgentService";

/// One HTTP/1.1 GET on the operations endpoint: the status code, the headers (lower-case names)
/// and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The status health reports for `service`.
async fn health(channel: Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    let request = HealthCheckRequest { service: service.to_owned() };
    let answer = HealthClient::new(channel).check(request).await?;
    Ok(answer.into_inner().status())
}

/// Calls `poll` until it returns true, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut poll: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !poll().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metrics_describe_calls_check_ins_rotations_and_the_pool(server: &TestServer) {
    // An OK call (its code in the trailers) and an error before any message (trailers-only:
    // its code in the headers).
    server.sesamectl(&["office", "add", "01234", "--name", "Office Dupont"]).await.unwrap();
    let anonymous = AdminServiceClient::new(channel(server).await);
    let refused = anonymous.clone().list_offices(pb::ListOfficesRequest {}).await;
    assert_eq!(status_code(refused), Code::Unauthenticated);
    let people = "address,display_name\ndupont.jean@01234.mailnot.fr,Jean Dupont\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let address = "dupont.jean@01234.mailnot.fr";
    server.sesamectl(&["provisional", "issue", "--mailbox", address]).await.unwrap();
    // A check-in from an enrolled agent.
    let dir = tempfile::tempdir().unwrap();
    let mut agent = super::reports::agent(server, dir.path(), "ws").await.0;
    agent.heartbeat(pb::HeartbeatRequest::default()).await.unwrap();

    // The database's numbers come from a reading in the background (every second here): the
    // issued rotation shows at the next one.
    let ops = server.ops_address;
    eventually(Duration::from_secs(30), "the issued rotation in /metrics", move || async move {
        let text = get(ops, "/metrics").await.2;
        Exposition::parse(&text).value("sesame_rotations", &[("status", "issued")]) == Some(1.0)
    })
    .await;
    let (status, headers, text) = get(server.ops_address, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert!(headers["content-type"].starts_with("application/openmetrics-text"), "{headers:?}");
    let metrics = Exposition::parse(&text);
    for (family, kind) in [
        ("sesame_rpc_duration_seconds", "histogram"),
        ("sesame_check_ins", "counter"),
        ("sesame_rotations", "gauge"),
        ("sesame_mailboxes", "gauge"),
        ("sesame_database_up", "gauge"),
        ("sesame_database_connections", "gauge"),
        ("sesame_database_connections_max", "gauge"),
    ] {
        assert_eq!(metrics.kind(family), Some(kind), "{family} in\n{text}");
    }
    let calls = |service: &str, method: &str, code: &str| {
        metrics.value(
            "sesame_rpc_duration_seconds_count",
            &[("service", service), ("method", method), ("code", code)],
        )
    };
    assert!(calls(ADMIN, "CreateOffice", "OK") >= Some(1.0), "{text}");
    assert!(calls(ADMIN, "ListOffices", "UNAUTHENTICATED") >= Some(1.0), "{text}");
    assert!(calls(AGENT, "Heartbeat", "OK") >= Some(1.0), "{text}");
    assert!(metrics.value("sesame_check_ins_total", &[]) >= Some(1.0), "{text}");
    assert_eq!(metrics.value("sesame_database_up", &[]), Some(1.0));
    let statuses: BTreeSet<&str> =
        metrics.samples("sesame_rotations").filter_map(|s| s.label("status")).collect();
    let expected = ["cancelled", "completed", "delivered", "expired", "failed", "issued"];
    assert_eq!(statuses, expected.into_iter().collect());
    assert_eq!(metrics.value("sesame_rotations", &[("status", "issued")]), Some(1.0));
    // Every compliance state, and the mailbox whose provisional password was just issued.
    let states: BTreeSet<&str> =
        metrics.samples("sesame_mailboxes").filter_map(|s| s.label("state")).collect();
    assert_eq!(states.len(), 8, "{text}");
    let pending = metrics.value("sesame_mailboxes", &[("state", "provisional_pending")]);
    assert!(pending >= Some(1.0), "{text}");
    let max = metrics.value("sesame_database_connections_max", &[]).unwrap();
    let in_use = metrics.value("sesame_database_connections", &[("state", "in_use")]).unwrap();
    let idle = metrics.value("sesame_database_connections", &[("state", "idle")]).unwrap();
    assert!(max >= 1.0 && in_use + idle <= max, "{in_use} + {idle} <= {max}");

    let (status, _, body) = get(server.ops_address, "/livez").await;
    assert_eq!((status, body.as_str()), (200, "live\n"));
    let (status, _, body) = get(server.ops_address, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let (status, _, _) = get(server.ops_address, "/nothing-here").await;
    assert_eq!(status, 404);
}

async fn health_and_reflection_answer_without_credentials(server: &TestServer) {
    let channel = channel(server).await;
    for service in ["", ADMIN, AGENT] {
        assert_eq!(health(channel.clone(), service).await.unwrap(), ServingStatus::Serving);
    }
    let unknown = health(channel.clone(), "sesame.v1.Nothing").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request =
        |message| ServerReflectionRequest { host: String::new(), message_request: Some(message) };
    let requests = vec![
        request(MessageRequest::ListServices(String::new())),
        request(MessageRequest::FileContainingSymbol(format!("{ADMIN}.ListOffices"))),
    ];
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let listed = answers.message().await.unwrap().unwrap().message_response.unwrap();
    let MessageResponse::ListServicesResponse(listed) = listed else { panic!("{listed:?}") };
    let names: BTreeSet<String> = listed.service.into_iter().map(|s| s.name).collect();
    for name in [ADMIN, AGENT, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(names.contains(name), "{name} not in {names:?}");
    }
    let files = answers.message().await.unwrap().unwrap().message_response.unwrap();
    let MessageResponse::FileDescriptorResponse(files) = files else { panic!("{files:?}") };
    let files: Vec<prost_types::FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap())
        .collect();
    let admin = files.iter().find(|f| f.name() == "sesame/v1/admin.proto").unwrap();
    let methods: Vec<&str> = admin.service[0].method.iter().map(|m| m.name()).collect();
    assert!(methods.contains(&"ListOffices") && methods.contains(&"IssueProvisional"));

    // The older reflection protocol, which some tools still speak.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let mut answers = Alpha::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let listed = answers.message().await.unwrap().unwrap().message_response.unwrap();
    let AlphaResponse::ListServicesResponse(listed) = listed else { panic!("{listed:?}") };
    assert!(listed.service.iter().any(|s| s.name == ADMIN), "{listed:?}");
}

on_both_backends!(
    with |config| config.metrics_refresh = Duration::from_secs(1);
    metrics_describe_calls_check_ins_rotations_and_the_pool,
    health_and_reflection_answer_without_credentials,
);

/// A client watching health (as gRPC clients with health checking do) is told NOT_SERVING when
/// the server stops, and its stream ends, so that it does not hold up the graceful shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watching_client_sees_the_shutdown_and_does_not_hold_it_up() {
    let server = TestServer::start(crate::Backend::Sqlite).await.expect("SQLite always runs");
    let request = HealthCheckRequest { service: String::new() };
    let mut watch =
        HealthClient::new(channel(&server).await).watch(request).await.unwrap().into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);
    let stopped = tokio::spawn(server.stop());
    let mut seen = Vec::new();
    while let Some(update) = watch.message().await.unwrap() {
        seen.push(update.status());
    }
    assert_eq!(seen.last(), Some(&ServingStatus::NotServing), "{seen:?}");
    tokio::time::timeout(Duration::from_secs(30), stopped).await.unwrap().unwrap();
}
