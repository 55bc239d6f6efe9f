//! The admin API's doors: credentials, certificate verification, message limits, and what the
//! database keeps of a token.

use secrecy::ExposeSecret;
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_client::AdminServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::channel;
use crate::{Backend, TestServer, run_sesamectl, write_file};

fn with_auth<T>(message: T, header: Option<&MetadataValue<tonic::metadata::Ascii>>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(h) = header {
        request.metadata_mut().insert("authorization", h.clone());
    }
    request
}

fn code<T>(result: Result<tonic::Response<T>, Status>) -> Code {
    result.map(|_| Code::Ok).unwrap_or_else(|s| s.code())
}

/// Calls every AdminService RPC with the given authorization header (none when `None`) and
/// returns each one's status code.
async fn call_every_rpc(
    channel: Channel,
    authorization: Option<&str>,
) -> Vec<(&'static str, Code)> {
    let mut client = AdminServiceClient::new(channel);
    let header: Option<MetadataValue<_>> = authorization.map(|a| a.parse().unwrap());
    let import = tokio_stream::iter(vec![pb::ImportMailboxesRequest {
        rows: vec![pb::MailboxRow {
            line: 2,
            address: "a.b@01234.mailnot.fr".into(),
            display_name: "A B".into(),
            ..Default::default()
        }],
        dry_run: false,
    }]);
    vec![
        ("WhoAmI", code(client.who_am_i(with_auth(pb::WhoAmIRequest {}, header.as_ref())).await)),
        (
            "CreateOffice",
            code(
                client
                    .create_office(with_auth(
                        pb::CreateOfficeRequest {
                            crpcen: "01234".into(),
                            name: "A".into(),
                            city: String::new(),
                        },
                        header.as_ref(),
                    ))
                    .await,
            ),
        ),
        (
            "GetOffice",
            code(
                client
                    .get_office(with_auth(
                        pb::GetOfficeRequest { crpcen: "01234".into() },
                        header.as_ref(),
                    ))
                    .await,
            ),
        ),
        (
            "ListOffices",
            code(client.list_offices(with_auth(pb::ListOfficesRequest {}, header.as_ref())).await),
        ),
        (
            "ImportMailboxes",
            code(client.import_mailboxes(with_auth(import, header.as_ref())).await),
        ),
        (
            "ListMailboxes",
            code(
                client
                    .list_mailboxes(with_auth(pb::ListMailboxesRequest::default(), header.as_ref()))
                    .await,
            ),
        ),
    ]
}

async fn every_admin_rpc_requires_a_valid_credential(server: &TestServer) {
    let expected: Vec<(&str, Code)> =
        ["WhoAmI", "CreateOffice", "GetOffice", "ListOffices", "ImportMailboxes", "ListMailboxes"]
            .into_iter()
            .map(|name| (name, Code::Unauthenticated))
            .collect();
    let forged = format!("Bearer sesame_admin_{}", "0".repeat(64));
    for authorization in
        [None, Some("Bearer "), Some("Basic YWRtaW46YWRtaW4="), Some(forged.as_str())]
    {
        assert_eq!(
            call_every_rpc(channel(server).await, authorization).await,
            expected,
            "with {authorization:?}"
        );
    }
    // Nothing was created by the refused calls; the real credential works on the same RPCs.
    let token = format!("Bearer {}", server.read_credentials().token.expose_secret());
    let with_token = call_every_rpc(channel(server).await, Some(&token)).await;
    assert!(with_token.iter().all(|(_, code)| *code != Code::Unauthenticated), "{with_token:?}");
}

async fn the_server_certificate_is_verified_against_the_pinned_ca(server: &TestServer) {
    let other = tempfile::tempdir().unwrap();
    let data = sesame_server::data_dir::DataDir::create(other.path()).unwrap();
    let foreign = sesame_server::keys::pki::load_or_create(&data, &[], server.clock_now()).unwrap();
    assert_ne!(foreign.ca_fingerprint, server.ca_fingerprint);
    let mut credentials = server.read_credentials();
    credentials.ca_certificate = foreign.ca_cert_pem.clone();
    let path = other.path().join("wrong-ca.credentials");
    credentials.write(&path).unwrap();
    let error =
        run_sesamectl(&["sesamectl", "--credentials", path.to_str().unwrap(), "office", "list"])
            .await
            .unwrap_err();
    assert!(matches!(error, sesamectl::Error::Connect { .. }), "{error:?}");
    let error = run_sesamectl(&[
        "sesamectl",
        "--credentials",
        server.credentials.to_str().unwrap(),
        "--server",
        &format!("http://{}", server.address),
        "office",
        "list",
    ])
    .await
    .unwrap_err();
    assert!(error.to_string().contains("https://"), "plain HTTP is refused: {error}");
}

async fn oversized_messages_are_refused_and_the_server_stays_up(server: &TestServer) {
    let token: MetadataValue<_> =
        format!("Bearer {}", server.read_credentials().token.expose_secret()).parse().unwrap();
    let mut client =
        AdminServiceClient::new(channel(server).await).max_encoding_message_size(64 * 1024 * 1024);
    let mut request = Request::new(pb::CreateOfficeRequest {
        crpcen: "01234".into(),
        name: "x".repeat(2 * 1024 * 1024),
        city: String::new(),
    });
    request.metadata_mut().insert("authorization", token.clone());
    let status = client.create_office(request).await.unwrap_err();
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");

    // A name under the message limit but over the field limit is refused by validation.
    let mut request = Request::new(pb::CreateOfficeRequest {
        crpcen: "01234".into(),
        name: "x".repeat(500),
        city: String::new(),
    });
    request.metadata_mut().insert("authorization", token.clone());
    let status = client.create_office(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("200 characters"), "{status:?}");

    assert!(server.sesamectl(&["office", "list"]).await.unwrap().ends_with("0 office(s)\n"));
}

async fn the_database_keeps_no_secret(server: &TestServer) {
    let admin_token = server.read_credentials().token.expose_secret().to_owned();
    let enroll_token = super::identity::token(server, "01234", &[]).await;
    let state_dir = tempfile::tempdir().unwrap();
    let state = sesame_agent::identity::StateDir::new(state_dir.path());
    super::identity::try_enroll(server, &state, &enroll_token).await.unwrap();
    let agent_key = state.load().unwrap().key_pem.expose_secret().to_owned();
    let data = server.data_dir().join("data");
    let ca_key = std::fs::read_to_string(data.join("ca.key")).unwrap();
    let server_key = std::fs::read_to_string(data.join("server.key")).unwrap();
    // The secrets, and the base64 body of each private key (the part a dump would show).
    let key_body = |pem: &str| pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
    let secrets = [
        admin_token.clone(),
        admin_token.trim_start_matches("sesame_admin_").to_owned(),
        enroll_token.clone(),
        enroll_token.trim_start_matches("sesame_enroll_").to_owned(),
        key_body(&agent_key),
        key_body(&ca_key),
        key_body(&server_key),
    ];
    let dump = server.database_dump().await;
    let text = &dump;
    assert!(
        text.contains("01234") && text.contains("workstation.enroll"),
        "the dump holds the data"
    );
    for secret in &secrets {
        assert!(secret.len() >= 32);
        assert!(!text.contains(secret.as_str()), "the database holds a secret");
    }
}

async fn only_tls_1_2_and_1_3_with_aead_suites_are_spoken(server: &TestServer) {
    use rustls_pki_types::pem::PemObject;
    let ca = rustls_pki_types::CertificateDer::from_pem_slice(
        server.read_credentials().ca_certificate.as_bytes(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(server.address).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let stream = connector.connect(name, tcp).await.unwrap();
        let (_, conn) = stream.get_ref();
        assert_eq!(conn.protocol_version(), Some(version.version));
        let suite = format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite());
        assert!(suite.contains("GCM") || suite.contains("CHACHA20_POLY1305"), "{suite}");
    }
}

on_both_backends!(
    every_admin_rpc_requires_a_valid_credential,
    the_server_certificate_is_verified_against_the_pinned_ca,
    oversized_messages_are_refused_and_the_server_stays_up,
    the_database_keeps_no_secret,
    only_tls_1_2_and_1_3_with_aead_suites_are_spoken,
);

/// Every file the server writes in a data directory it starts on empty is private (0600), the
/// SQLite database and its WAL included (it used to be created 0644), and every directory 0700.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_the_server_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    // The database where the configuration puts it by default: in the data directory.
    let server =
        TestServer::start_with(Backend::Sqlite, |config| config.database_url = None).await.unwrap();
    server.sesamectl(&["office", "add", "01234", "--name", "A"]).await.unwrap();
    let csv =
        write_file(server.data_dir(), "m.csv", "address,display_name\na.b@01234.mailnot.fr,A B\n");
    server.sesamectl(&["mailbox", "import", csv.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["report", "--office", "01234"]).await.unwrap();
    let data = server.data_dir().join("data");
    let mut files = Vec::new();
    let mut dirs = vec![data.clone()];
    while let Some(dir) = dirs.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { dirs.push(path) } else { files.push(path) }
        }
    }
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in ["sesame.db", "sesame.db-wal", "sesame.db-shm", "ca.pem", "ca.key"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_over_the_row_limit_is_refused() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    server.sesamectl(&["office", "add", "01234", "--name", "A"]).await.unwrap();
    let mut csv = String::from("address,display_name\n");
    for i in 0..100_001 {
        csv.push_str(&format!("n{i}.p@01234.mailnot.fr,N\n"));
    }
    let file = write_file(server.data_dir(), "huge.csv", &csv);
    let error = server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap_err();
    assert!(
        error.to_string().starts_with("too large: an import holds at most 100000 rows"),
        "{error}"
    );
    server.stop().await;
}
