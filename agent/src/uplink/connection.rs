//! The agent's one long-lived connection to the server: a mutual-TLS channel kept between calls and
//! rounds, rebuilt only when the workstation's certificate (or the server address) changes. The
//! channel reconnects by itself after a failure, with the same TLS configuration, so that a
//! reconnect resumes the TLS session instead of paying a full handshake; HTTP/2 pings notice a
//! dead server while a call waits.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sesame_base::error_chain::chain;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tokio::sync::Mutex;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use super::UplinkError;
use crate::identity::Identity;

/// Longest wait for a connection to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one call's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// HTTP/2 pings while a call is in flight: a server that stops answering is noticed within
/// `PING_INTERVAL + PING_TIMEOUT`, before the call's own timeout. No pings while idle: the
/// check-ins themselves show the connection alive, and an idle agent stays quiet on the network.
const PING_INTERVAL: Duration = Duration::from_secs(20);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to `server`, trusting only `ca_pem`; with the workstation's certificate when
/// `identity` is given (mutual TLS), anonymous otherwise (enrollment, recovery).
pub(super) async fn channel(
    server: &str,
    ca_pem: &str,
    identity: Option<&Identity>,
) -> Result<Channel, UplinkError> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some(identity) = identity {
        tls = tls
            .identity(TlsIdentity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    }
    Endpoint::from_shared(server.to_owned())
        .map_err(|_| UplinkError::Connect("not a valid URL".to_owned()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .keep_alive_while_idle(false)
        .tls_config(tls)
        .map_err(|e| UplinkError::Connect(e.to_string()))?
        .connect()
        .await
        .map_err(|e| UplinkError::Connect(chain(&e)))
}

/// What the kept channel was made for: a different certificate or server makes a new one.
#[derive(PartialEq, Eq)]
struct Key {
    server: String,
    ca_pem: String,
    cert_pem: String,
}

impl Key {
    fn of(identity: &Identity) -> Key {
        Key {
            server: identity.server.clone(),
            ca_pem: identity.ca_pem.clone(),
            cert_pem: identity.cert_pem.clone(),
        }
    }
}

/// The kept mutual-TLS channel, shared by every clone of the uplink.
#[derive(Clone, Default)]
pub(super) struct Connection {
    kept: Arc<Mutex<Option<(Key, Channel)>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// A client on the kept channel for `identity`, connecting first when there is none yet or
    /// when the certificate or server changed since it was made.
    pub(super) async fn client(
        &self,
        identity: &Identity,
    ) -> Result<AgentServiceClient<Channel>, UplinkError> {
        let key = Key::of(identity);
        let mut kept = self.kept.lock().await;
        if let Some((made_for, channel)) = kept.as_ref()
            && *made_for == key
        {
            return Ok(AgentServiceClient::new(channel.clone()));
        }
        let channel = channel(&identity.server, &identity.ca_pem, Some(identity)).await?;
        *kept = Some((key, channel.clone()));
        Ok(AgentServiceClient::new(channel))
    }
}
