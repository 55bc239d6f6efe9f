//! The edge under silent connections: TCP connections that never send a byte, by the thousand,
//! must not stop the server from accepting and answering anyone else.

use std::future::Future;
use std::time::Duration;

use sesame_proto::v1::GetServerInfoRequest;
use sesame_proto::v1::agent_service_client::AgentServiceClient;

use super::channel;
use crate::{Backend, TestServer, silent};

/// Only a guard against a hang, never the measure of speed (see `benches/silent_sockets.rs`).
const GUARD: Duration = Duration::from_secs(30);

async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future).await.unwrap_or_else(|_| panic!("{what}: no answer"))
}

/// Opens `per_source` silent connections from each of `sources` loopback addresses, then checks
/// that an agent and sesamectl, from another address, still connect and get their answers, and
/// that at least `closed_at_least` of the silent connections were closed by the server.
async fn still_answers_under(sources: u8, per_source: usize, closed_at_least: usize) {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let sources = silent::loopback_sources(sources);
    let silent = silent::open(server.address, &sources, per_source).await;

    let info = guarded("an agent", async {
        let mut agent = AgentServiceClient::new(channel(&server).await);
        agent.get_server_info(GetServerInfoRequest { agent_version: "0.1.0".into() }).await
    })
    .await
    .expect("the agent gets its answer")
    .into_inner();
    assert!(info.agent_version_supported);
    server.sesamectl(&["office", "add", "01234", "--name", "Étude"]).await.expect("sesamectl adds");
    let listed = guarded("sesamectl", server.sesamectl(&["office", "list"]))
        .await
        .expect("sesamectl gets its answer");
    assert!(listed.contains("01234"), "{listed}");

    // The accept loop took every silent connection before the agent's: those beyond the bounds
    // were closed at once rather than left waiting for a slot.
    let closed = silent::closed_by_server(&silent);
    assert!(closed >= closed_at_least, "{closed} of {} closed", silent.len());
    drop(silent);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_silent_connections_from_a_few_addresses_hold_up_no_one_else() {
    // 16 handshakes at most in progress per address: 4 × (250 - 16) closed at once.
    still_answers_under(4, 250, 4 * (250 - 16)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_silent_connections_filling_every_slot_hold_up_no_one_else() {
    // 64 addresses × 16 fill the 256 slots overall four times over: newcomers from less crowded
    // addresses take the slots of the most crowded, and the agent's address has none in progress.
    still_answers_under(64, 16, 64 * 16 - 256).await;
}
