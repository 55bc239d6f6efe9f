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
    let foreign = sesame_server::pki::load_or_create(&data, &[], server.clock_now()).unwrap();
    assert_ne!(foreign.ca_fingerprint, server.ca_fingerprint);
    let mut credentials = server.read_credentials();
    credentials.ca_certificate = foreign.ca_cert_pem.clone();
    let path = other.path().join("wrong-ca.credentials");
    credentials.write(&path).unwrap();
    let error =
        run_sesamectl(&["sesamectl", "--credentials", path.to_str().unwrap(), "office", "list"])
            .await
            .unwrap_err();
    assert!(matches!(error, sesame_server::ctl::Error::Connect { .. }), "{error:?}");
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

async fn the_database_keeps_no_token(server: &TestServer) {
    let token = server.read_credentials().token.expose_secret().to_owned();
    server.sesamectl(&["office", "add", "01234", "--name", "A"]).await.unwrap();
    if server.database().is_postgres() {
        let dump = server.database().dump_text().await;
        assert!(dump.contains("01234"), "the dump holds the data");
        assert!(!dump.contains(&token), "the PostgreSQL data holds the token");
    } else {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(server.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().contains("sesame.db") {
                bytes.extend(std::fs::read(&path).unwrap());
            }
        }
        assert!(!bytes.is_empty());
        let token_bytes = token.as_bytes();
        assert!(
            !bytes.windows(token_bytes.len()).any(|w| w == token_bytes),
            "the SQLite files hold the token"
        );
        let hex_part = token.trim_start_matches("sesame_admin_").as_bytes();
        assert!(!bytes.windows(hex_part.len()).any(|w| w == hex_part));
    }
}

on_both_backends!(
    every_admin_rpc_requires_a_valid_credential,
    the_server_certificate_is_verified_against_the_pinned_ca,
    oversized_messages_are_refused_and_the_server_stays_up,
    the_database_keeps_no_token,
);

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
