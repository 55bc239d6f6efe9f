//! The AgentService as far as it exists: version negotiation over TLS.

use sesame_proto::v1::GetServerInfoRequest;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;

use super::channel;
use crate::TestServer;

async fn agents_learn_whether_their_version_is_supported(server: &TestServer) {
    let mut client = AgentServiceClient::new(channel(server).await);
    let info = client
        .get_server_info(GetServerInfoRequest { agent_version: "0.1.0".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(info.agent_version_supported);
    assert_eq!(info.min_agent_version, "0.1.0");
    let old = client
        .get_server_info(GetServerInfoRequest { agent_version: "0.0.9".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!old.agent_version_supported);
    let bad = client
        .get_server_info(GetServerInfoRequest { agent_version: "latest".into() })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

on_both_backends!(agents_learn_whether_their_version_is_supported);
