//! Oversized request messages get RESOURCE_EXHAUSTED naming the limit, for a unary RPC and for each
//! message of a client stream, on both services, and the connection goes on serving the next call.

use secrecy::ExposeSecret;
use sesame_proto::limits::{MAX_ADMIN_REQUEST_BYTES, MAX_AGENT_REQUEST_BYTES};
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_client::AdminServiceClient;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Code, Status};

use super::channel;
use crate::TestServer;

/// Sets the bootstrap administrator's token on every request.
#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// Checks that `status` refuses an oversized message and names `limit`.
fn assert_too_large(rpc: &str, status: Status, limit: usize) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{rpc}: {status:?}");
    assert!(status.message().contains(&limit.to_string()), "{rpc}: {status:?}");
}

async fn oversized_admin_messages_are_resource_exhausted(server: &TestServer) {
    let token = server.read_credentials().token;
    let bearer = Bearer(format!("Bearer {}", token.expose_secret()).parse().unwrap());
    let mut admin = AdminServiceClient::with_interceptor(channel(server).await, bearer);
    let huge = "a".repeat(MAX_ADMIN_REQUEST_BYTES + 1);

    let unary = admin
        .create_office(pb::CreateOfficeRequest {
            crpcen: "01234".into(),
            name: huge.clone(),
            city: "Paris".into(),
        })
        .await
        .unwrap_err();
    assert_too_large("CreateOffice", unary, MAX_ADMIN_REQUEST_BYTES);
    admin.who_am_i(pb::WhoAmIRequest {}).await.unwrap();

    // A small first chunk, then one over the limit: each message of the stream is checked.
    let row = |display_name: String| pb::MailboxRow {
        line: 1,
        address: "a.b@01234.mailnot.fr".into(),
        display_name,
        logon_name: String::new(),
        local_account: String::new(),
    };
    let chunks = vec![
        pb::ImportMailboxesRequest { rows: vec![row("A B".into())], dry_run: true },
        pb::ImportMailboxesRequest { rows: vec![row(huge)], dry_run: true },
    ];
    let streamed = admin.import_mailboxes(tokio_stream::iter(chunks)).await.unwrap_err();
    assert_too_large("ImportMailboxes", streamed, MAX_ADMIN_REQUEST_BYTES);
    admin.who_am_i(pb::WhoAmIRequest {}).await.unwrap();
    // Nothing was created by the refused call.
    let offices = admin.list_offices(pb::ListOfficesRequest {}).await.unwrap().into_inner();
    assert!(offices.offices.is_empty(), "{offices:?}");
}

async fn oversized_agent_messages_are_resource_exhausted(server: &TestServer) {
    let mut agent = AgentServiceClient::new(channel(server).await);
    let refused = agent
        .enroll(pb::EnrollRequest {
            token: "sesame_enroll_x".into(),
            hostname: "h".repeat(MAX_AGENT_REQUEST_BYTES + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_too_large("Enroll", refused, MAX_AGENT_REQUEST_BYTES);
    let info = pb::GetServerInfoRequest { agent_version: "0.1.0".into() };
    agent.get_server_info(info).await.unwrap();
    // Just under the limit is decoded and judged on its fields.
    let judged = agent
        .enroll(pb::EnrollRequest {
            token: "sesame_enroll_x".into(),
            hostname: "h".repeat(MAX_AGENT_REQUEST_BYTES - 64),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_ne!(judged.code(), Code::ResourceExhausted, "{judged:?}");
    let info = pb::GetServerInfoRequest { agent_version: "0.1.0".into() };
    agent.get_server_info(info).await.unwrap();
}

on_both_backends!(
    oversized_admin_messages_are_resource_exhausted,
    oversized_agent_messages_are_resource_exhausted,
);
