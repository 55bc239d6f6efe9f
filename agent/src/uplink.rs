//! The agent's side of the gRPC contract: connections to the server (TLS pinned to the server's CA;
//! mutual TLS with the workstation's certificate once enrolled) and the identity operations:
//! enroll, renew, recover, heartbeat; `uplink::rotations`: pending rotations and step reports.

pub mod check_in;
mod connection;
pub mod rotations;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use sesame_base::clock::SharedClock;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::transport::Channel;

use self::connection::{Connection, channel};

use crate::identity::{
    CertificateAction, Identity, IdentityError, StateDir, certificate_action, validity,
};
use crate::pinning::{PinError, fetch_pinned_ca};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The identity files could not be used.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The server's CA could not be trusted.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// The server could not be reached.
    #[error("cannot reach the server: {0}")]
    Connect(String),
    /// The server refused the request.
    #[error("the server refused: {}", .0.message())]
    Refused(tonic::Status),
    /// A key or request could not be made.
    #[error("cannot create the workstation key: {0}")]
    Key(String),
    /// The server sent something unusable.
    #[error("the server sent an unusable answer: {0}")]
    Protocol(&'static str),
}

impl UplinkError {
    /// Whether the request failed below gRPC (no answer from the server's services): the network,
    /// or a TLS handshake the server ended, as it does for a certificate its clock finds expired
    /// or not yet valid when the alert itself is lost in the connection's teardown.
    pub fn is_transport(&self) -> bool {
        match self {
            UplinkError::Connect(_) => true,
            UplinkError::Refused(status) => matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
            ),
            _ => false,
        }
    }
}

/// How rustls words the server's alert for a client certificate expired or not yet valid.
const CERTIFICATE_ALERT: &str = "received fatal alert: CertificateExpired";

impl UplinkError {
    /// Whether the server refused this workstation's certificate: UNAUTHENTICATED, or the TLS
    /// handshake itself ended by the server's "certificate expired" alert, which rustls also sends
    /// for a certificate not yet valid (the server's clock went back behind the certificate's
    /// start). Either way the server judges by its own clock, which may disagree with this one;
    /// recovery is the way out (a revoked workstation's recovery is refused in turn).
    pub fn is_certificate_refused(&self) -> bool {
        match self {
            UplinkError::Refused(status) if status.code() == tonic::Code::Unauthenticated => true,
            UplinkError::Refused(status) => {
                sesame_base::error_chain::chain(status).contains(CERTIFICATE_ALERT)
            }
            UplinkError::Connect(text) => text.contains(CERTIFICATE_ALERT),
            _ => false,
        }
    }
}

impl From<tonic::Status> for UplinkError {
    fn from(status: tonic::Status) -> UplinkError {
        UplinkError::Refused(status)
    }
}

/// What to enroll with.
#[derive(Debug)]
pub struct Enrollment<'a> {
    /// `https://HOST:PORT`.
    pub server: &'a str,
    /// SHA-256 of the server's CA certificate, as `sesame-server` printed it.
    pub ca_fingerprint: &'a str,
    /// The enrollment token.
    pub token: SecretString,
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Enrolls this workstation: pins the server's CA, creates the key pair, sends the request with the
/// token, and saves the identity. The private key never leaves the workstation.
pub async fn enroll(state: &StateDir, enrollment: Enrollment<'_>) -> Result<Identity, UplinkError> {
    let ca_pem = fetch_pinned_ca(enrollment.server, enrollment.ca_fingerprint).await?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| UplinkError::Key(e.to_string()))?;
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| UplinkError::Key(e.to_string()))?;
    let mut client = AgentServiceClient::new(channel(enrollment.server, &ca_pem, None).await?);
    let response = client
        .enroll(pb::EnrollRequest {
            token: enrollment.token.expose_secret().to_owned(),
            csr_pem: csr,
            hostname: hostname(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            agent_version: crate::VERSION.to_owned(),
        })
        .await?
        .into_inner();
    let cert = response.certificate.ok_or(UplinkError::Protocol("no certificate"))?;
    let identity = Identity {
        server: enrollment.server.to_owned(),
        workstation_id: response.workstation_id,
        office: response.office,
        key_pem: SecretString::from(key.serialize_pem()),
        cert_pem: cert.certificate_pem,
        ca_pem,
    };
    state.save(&identity)?;
    Ok(identity)
}

/// What [`Uplink::maintain_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityOutcome {
    /// The certificate is good until it is due for renewal at this time.
    Fresh(time::OffsetDateTime),
    /// The certificate was renewed.
    Renewed,
    /// The certificate had expired; a new one was obtained with the registered key.
    Recovered,
}

/// An enrolled agent talking to its server over one kept connection (clones share it).
#[derive(Debug, Clone)]
pub struct Uplink {
    state: StateDir,
    clock: SharedClock,
    connection: Connection,
}

impl Uplink {
    /// The agent whose identity lives in `state`.
    pub fn new(state: StateDir, clock: SharedClock) -> Uplink {
        Uplink { state, clock, connection: Connection::default() }
    }

    /// A client on the kept connection, made for the identity's current certificate.
    async fn client(
        &self,
        identity: &Identity,
    ) -> Result<AgentServiceClient<Channel>, UplinkError> {
        self.connection.client(identity).await
    }

    /// Renews the certificate at two thirds of its life, or recovers it once expired.
    pub async fn maintain_identity(&self) -> Result<IdentityOutcome, UplinkError> {
        let identity = self.state.load()?;
        let validity =
            validity(&identity.cert_pem).ok_or(IdentityError::Corrupt("agent.pem".into()))?;
        match certificate_action(validity, self.clock.now()) {
            CertificateAction::Keep { renew_at } => Ok(IdentityOutcome::Fresh(renew_at)),
            CertificateAction::Renew => {
                self.renew(&identity).await?;
                Ok(IdentityOutcome::Renewed)
            }
            CertificateAction::Recover => {
                self.recover(&identity).await?;
                Ok(IdentityOutcome::Recovered)
            }
        }
    }

    /// Recovers the identity now, whatever this clock says of the certificate: the server refused
    /// it (it finds it expired, by its own clock).
    pub async fn recover_identity(&self) -> Result<(), UplinkError> {
        let identity = self.state.load()?;
        self.recover(&identity).await
    }

    /// Asks for a new certificate with the current one and saves it.
    pub async fn renew(&self, identity: &Identity) -> Result<(), UplinkError> {
        let cert = self.client(identity).await?.renew(pb::RenewRequest {}).await?.into_inner();
        self.state.save_certificate(&cert.certificate_pem)?;
        tracing::info!(generation = cert.generation, not_after = %cert.not_after, "certificate renewed");
        Ok(())
    }

    /// Proves possession of the registered key to get a new certificate, and saves it.
    pub async fn recover(&self, identity: &Identity) -> Result<(), UplinkError> {
        let mut client =
            AgentServiceClient::new(channel(&identity.server, &identity.ca_pem, None).await?);
        let challenge = client
            .get_recovery_challenge(pb::GetRecoveryChallengeRequest {
                workstation_id: identity.workstation_id.clone(),
            })
            .await?
            .into_inner()
            .challenge;
        let signature = sign_recovery(identity, &challenge)?;
        let cert = client
            .recover(pb::RecoverRequest {
                workstation_id: identity.workstation_id.clone(),
                challenge,
                signature,
            })
            .await?
            .into_inner();
        self.state.save_certificate(&cert.certificate_pem)?;
        tracing::info!(generation = cert.generation, not_after = %cert.not_after, "identity recovered");
        Ok(())
    }

    /// Tells the server the agent is alive; returns the server's time.
    pub async fn heartbeat(&self) -> Result<pb::HeartbeatResponse, UplinkError> {
        let identity = self.state.load()?;
        let response = self
            .client(&identity)
            .await?
            .heartbeat(pb::HeartbeatRequest {
                agent_version: crate::VERSION.to_owned(),
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(response)
    }
}

/// Signs a recovery challenge with the registered key.
pub fn sign_recovery(identity: &Identity, challenge: &[u8]) -> Result<Vec<u8>, UplinkError> {
    let key = KeyPair::from_pem(identity.key_pem.expose_secret())
        .map_err(|e| UplinkError::Key(e.to_string()))?;
    let pkcs8 = zeroize::Zeroizing::new(key.serialize_der());
    let rng = SystemRandom::new();
    let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
        .map_err(|_| UplinkError::Key("the workstation key is not ECDSA P-256".to_owned()))?;
    let mut message = sesame_proto::RECOVERY_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(identity.workstation_id.as_bytes());
    message.extend_from_slice(challenge);
    let signature =
        signer.sign(&rng, &message).map_err(|_| UplinkError::Key("signing failed".to_owned()))?;
    Ok(signature.as_ref().to_vec())
}
