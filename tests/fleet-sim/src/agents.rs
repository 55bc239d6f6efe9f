//! Connecting many simulated agents: each its own long-lived tonic channel with its own
//! certificate, spread round-robin over the source addresses, opened a few at a time per address
//! (the server bounds handshakes in progress per address), retried with jittered back-off.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::transport::Channel;

use crate::identities::AgentIdentity;
use crate::tls::{self, Connector, HandshakeCounts};

/// Handshakes in progress per source address (the server refuses beyond 16).
pub(crate) const PER_ADDRESS: usize = 8;
/// Attempts before a connection counts as failed.
const ATTEMPTS: u32 = 8;

/// A connected agent.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// Its client (cheap to clone: the channel is shared).
    pub(crate) client: AgentServiceClient<Channel>,
    /// Whether it reports its key present.
    pub(crate) key_present: bool,
    /// How it connects again (the storm).
    pub(crate) connector: Connector,
    /// Whether a round of its own is in flight: like a real agent, it makes one at a time.
    pub(crate) busy: Arc<AtomicBool>,
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The server's address.
    pub(crate) server: SocketAddr,
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
    /// Source addresses (empty: the system's choice).
    pub(crate) sources: Vec<IpAddr>,
}

/// A delay drawn uniformly from [0, min(cap, base · 2^attempt)], as the agent's back-off.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// The connector of agent number `n`.
pub(crate) fn connector(
    target: &Target,
    n: usize,
    identity: &AgentIdentity,
    counts: Option<Arc<HandshakeCounts>>,
) -> anyhow::Result<Connector> {
    let local = (!target.sources.is_empty()).then(|| target.sources[n % target.sources.len()]);
    let config = tls::client_config(&target.ca_pem, Some(identity), true)?;
    Ok(Connector::new(target.server, local, config, counts))
}

/// Opens a channel, retrying with back-off; the last error when every attempt failed.
pub(crate) async fn open(
    endpoint: &tonic::transport::Endpoint,
    connector: &Connector,
) -> Result<Channel, tonic::transport::Error> {
    let mut attempt = 0;
    loop {
        match tls::connect(endpoint, connector.clone()).await {
            Ok(channel) => return Ok(channel),
            Err(e) if attempt + 1 >= ATTEMPTS => return Err(e),
            Err(_) => {
                tokio::time::sleep(backoff(
                    attempt,
                    Duration::from_millis(100),
                    Duration::from_secs(5),
                ))
                .await;
                attempt += 1;
            }
        }
    }
}

/// Connects every identity; `key_present_every`: one agent in that many reports its key present
/// (0: none). Fails when any agent cannot connect.
pub(crate) async fn connect_all(
    target: &Target,
    identities: &[AgentIdentity],
    key_present_every: usize,
) -> anyhow::Result<Vec<Agent>> {
    let endpoint = tls::endpoint(target.server)?;
    let concurrency = PER_ADDRESS * target.sources.len().max(1);
    let results: Vec<anyhow::Result<Agent>> =
        futures_util::stream::iter(identities.iter().enumerate())
            .map(|(n, identity)| {
                let endpoint = endpoint.clone();
                async move {
                    let connector = connector(target, n, identity, None)?;
                    let channel = open(&endpoint, &connector).await.map_err(|e| {
                        anyhow::anyhow!("agent {}: cannot connect: {e:?}", identity.workstation_id)
                    })?;
                    Ok::<Agent, anyhow::Error>(Agent {
                        client: AgentServiceClient::new(channel),
                        key_present: key_present_every > 0 && n % key_present_every == 0,
                        connector,
                        busy: Arc::new(AtomicBool::new(false)),
                    })
                }
            })
            .buffered(concurrency)
            .collect()
            .await;
    results.into_iter().collect()
}
