//! The agent's one kept connection seen from the server's `/metrics`: the calls of many rounds share
//! one TLS handshake, and after a server restart the agent comes back with a resumed session, not a
//! full handshake.

use std::sync::Arc;

use sesame_agent::identity::StateDir;
use sesame_agent::key::KeyState;
use sesame_agent::uplink::Uplink;
use sesame_agent::uplink::check_in::CheckIn;

use super::exposition::Exposition;
use super::get;
use crate::e2e::identity::{token, try_enroll};
use crate::{Backend, TestServer};

/// The gRPC listener's completed handshakes since the server started: (full, resumed).
async fn handshakes(server: &TestServer) -> (f64, f64) {
    let text = get(server.ops_address, "/metrics").await.2;
    let exposition = Exposition::parse(&text);
    let kind = |kind: &str| {
        exposition.value("sesame_tls_handshakes_total", &[("kind", kind)]).unwrap_or(0.0)
    };
    (kind("full"), kind("resumed"))
}

#[tokio::test]
async fn an_agents_rounds_share_one_handshake_and_a_restart_resumes_the_session() {
    let mut server = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no setup");
    let token = token(&server, "14032", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(&server, &state, &token).await.unwrap();
    let agent = Uplink::new(state, Arc::new(server.clock.clone()));
    let check_in =
        CheckIn { key: KeyState::Absent, key_since: None, rotations: Vec::new(), readiness: None };

    let before = handshakes(&server).await;
    for _ in 0..5 {
        agent.check_in(&check_in).await.unwrap();
        agent.pending_rotations().await.unwrap();
    }
    // A clone (as the service's tasks hold) uses the same connection.
    agent.clone().check_in(&check_in).await.unwrap();
    let after = handshakes(&server).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (1.0, 0.0), "one full handshake");

    server.halt().await;
    server.resume().await.unwrap();
    // The kept connection closed with the old server; the channel connects again by itself (the
    // call that finds it closed may fail, as any call may: the agent's round retries later).
    if let Err(error) = agent.check_in(&check_in).await {
        tracing::info!(%error, "the first call after the restart found the connection closed");
        agent.check_in(&check_in).await.unwrap();
    }
    agent.check_in(&check_in).await.unwrap();
    // The restarted server counts from zero: one resumed session, no full handshake.
    assert_eq!(handshakes(&server).await, (0.0, 1.0));
    server.stop().await;
}
