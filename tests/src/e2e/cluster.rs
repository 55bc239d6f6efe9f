//! Several servers on one PostgreSQL database: they keep no state in memory that another would
//! need, so any of them answers any request, and a change made through one is in force on the other
//! at once.

use sesame_agent::identity::{Identity, StateDir};
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use super::identity::{token, try_enroll};
use crate::{Backend, TestServer, run_sesamectl};

async fn agent_client(
    url: &str,
    identity: &Identity,
) -> AgentServiceClient<tonic::transport::Channel> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&identity.ca_pem))
        .identity(TlsIdentity::from_pem(
            &identity.cert_pem,
            secrecy::ExposeSecret::expose_secret(&identity.key_pem),
        ));
    AgentServiceClient::new(
        Endpoint::from_shared(url.to_owned())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_answer_alike() {
    let Some(first) = TestServer::start(Backend::Postgres).await else { return };
    let second = first.start_sibling().await;
    let credentials = first.credentials.to_str().unwrap().to_owned();
    let via_second = |args: &[&str]| {
        let mut argv = vec![
            "sesamectl",
            "--credentials",
            credentials.as_str(),
            "--server",
            second.url.as_str(),
        ];
        argv.extend_from_slice(args);
        argv.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    // An office created through the first server is listed by the second, with the same credential.
    first.sesamectl(&["office", "add", "01234", "--name", "Office"]).await.unwrap();
    let argv = via_second(&["office", "list", "-o", "json"]);
    let listed = run_sesamectl(&argv.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    assert!(listed.contains("\"crpcen\": \"01234\""), "{listed}");

    // An agent enrolled through the first server is served by the second, and a revocation made
    // through the second cuts off a connection open on the first.
    let token = token(&first, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    try_enroll(&first, &state, &token).await.unwrap();
    let identity = state.load().unwrap();
    let mut on_first = agent_client(&first.url(), &identity).await;
    let mut on_second = agent_client(&second.url, &identity).await;
    on_first.heartbeat(pb::HeartbeatRequest::default()).await.unwrap();
    on_second.heartbeat(pb::HeartbeatRequest::default()).await.unwrap();
    let argv = via_second(&["workstation", "revoke", &identity.workstation_id]);
    run_sesamectl(&argv.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(
        on_first.heartbeat(pb::HeartbeatRequest::default()).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Both extend one audit chain.
    assert!(
        first
            .sesamectl(&["audit", "verify"])
            .await
            .unwrap()
            .starts_with("The audit trail is intact")
    );
    second.stop().await;
    first.stop().await;
}
