//! The AgentService implementation: enrollment, certificate renewal and recovery, and the
//! per-request check of an agent's certificate.

use std::net::IpAddr;
use std::sync::Arc;

use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use secrecy::SecretString;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_server::AgentService;
use tonic::{Request, Response, Status};

use super::rate_limit::RateLimiter;
use super::rfc3339;
use super::status::ApiError;
use super::tls::PeerInfo;
use crate::audit::Actor;
use crate::domain::Text;
use crate::pki::{self, AgentCertificate};
use crate::rotation::Disclosure;
use crate::services::Services;
use crate::store;
use crate::token::{Token, TokenKind};
use crate::workstation::{
    IssuedCertificate, MachineInfo, NewWorkstation, Presented, Workstation, WorkstationStatus,
    classify, new_workstation_id,
};

/// The oldest agent version this server works with.
pub(crate) const MIN_AGENT_VERSION: (u64, u64, u64) = (0, 1, 0);

/// How long a recovery challenge stays valid.
const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);

const REFUSED_TOKEN: &str = "enrollment refused: the token is unknown, expired, used up or revoked";
const REFUSED_RECOVERY: &str = "recovery refused: enroll again with a new token";

/// The AgentService handlers.
#[derive(Debug)]
pub(crate) struct AgentApi {
    state: Arc<Services>,
    attempts: RateLimiter,
}

/// An authenticated agent.
#[derive(Debug)]
struct AgentIdentity {
    workstation: Workstation,
    serial: String,
}

impl AgentApi {
    pub(crate) fn new(state: Arc<Services>) -> AgentApi {
        let attempts =
            RateLimiter::new(state.agents.attempts_burst, state.agents.attempts_per_minute);
        AgentApi { state, attempts }
    }

    fn peer<T>(request: &Request<T>) -> Option<&PeerInfo> {
        request.extensions().get::<PeerInfo>()
    }

    /// Takes one unauthenticated attempt for the caller's address.
    fn limit<T>(&self, request: &Request<T>) -> Result<(), ApiError> {
        let address = Self::peer(request).map_or(IpAddr::from([0, 0, 0, 0]), |p| p.remote.ip());
        if self.attempts.allow(address, self.state.clock.now()) {
            Ok(())
        } else {
            tracing::warn!(%address, "too many enrollment or recovery attempts");
            Err(ApiError::ResourceExhausted(
                "too many attempts from this address; wait a minute".to_owned(),
            ))
        }
    }

    /// The workstation presenting the request's client certificate, checked against the store on
    /// every request: revoked, locked or superseded certificates are refused even on a connection
    /// opened while they were good.
    async fn authenticate<T>(&self, request: &Request<T>) -> Result<AgentIdentity, ApiError> {
        let refused = |why: &str| ApiError::unauthenticated(why.to_owned());
        let cert = Self::peer(request).and_then(|p| p.client_cert.as_ref()).ok_or_else(|| {
            refused("a workstation certificate is required: enroll the agent first")
        })?;
        let presented = pki::read_agent_certificate(cert)
            .ok_or_else(|| refused("not a workstation certificate"))?;
        let now = self.state.clock.now();
        if presented.not_after <= now {
            return Err(refused(
                "the workstation certificate has expired: recover or enroll again",
            ));
        }
        let workstation = match self.state.store.get_workstation(&presented.workstation_id).await {
            Ok(w) => w,
            Err(store::Error::NotFound) => return Err(refused("unknown workstation")),
            Err(other) => return Err(other.into()),
        };
        match workstation.status {
            WorkstationStatus::Active => {}
            WorkstationStatus::Revoked => return Err(refused("this workstation has been revoked")),
            WorkstationStatus::Locked => {
                return Err(refused(
                    "this workstation is locked because its identity was used from two machines; an administrator must unlock it",
                ));
            }
        }
        if classify(&workstation, &presented.serial) == Presented::Stale {
            let reason = format!(
                "certificate {} was presented after it had been replaced",
                presented.serial
            );
            tracing::warn!(workstation = %workstation.id, %reason, "identity fork: locking the workstation");
            self.state
                .store
                .set_workstation_status(
                    &workstation.id,
                    WorkstationStatus::Locked,
                    Some(&reason),
                    &Actor::system(),
                    now,
                )
                .await?;
            return Err(refused(
                "this workstation is locked because its identity was used from two machines; an administrator must unlock it",
            ));
        }
        Ok(AgentIdentity { workstation, serial: presented.serial })
    }

    fn issue(
        &self,
        id: &str,
        office: &str,
        public_key: &[u8],
    ) -> Result<AgentCertificate, ApiError> {
        self.state
            .pki
            .issue_agent_certificate(
                id,
                office,
                public_key,
                self.state.clock.now(),
                self.state.agents.certificate_lifetime,
            )
            .map_err(|e| ApiError::Internal(Box::new(e)))
    }
}

fn parse_version(value: &str) -> Option<(u64, u64, u64)> {
    let core = value.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

fn certificate_response(cert: &AgentCertificate, generation: i64) -> pb::CertificateResponse {
    pb::CertificateResponse {
        certificate_pem: cert.pem.clone(),
        not_before: rfc3339(cert.not_before),
        not_after: rfc3339(cert.not_after),
        generation: u64::try_from(generation).unwrap_or(0),
    }
}

fn text(field: &'static str, value: &str) -> Result<Text, ApiError> {
    Text::parse(field, value).map_err(|e| ApiError::invalid(e.to_string()))
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn get_server_info(
        &self,
        request: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::GetServerInfoResponse>, Status> {
        let agent_version = request.into_inner().agent_version;
        let Some(version) = parse_version(&agent_version) else {
            return Err(ApiError::invalid("agent_version: expected a version such as 0.1.0").into());
        };
        let (a, b, c) = MIN_AGENT_VERSION;
        Ok(Response::new(pb::GetServerInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            min_agent_version: format!("{a}.{b}.{c}"),
            agent_version_supported: version >= MIN_AGENT_VERSION,
        }))
    }

    async fn enroll(
        &self,
        request: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        self.limit(&request)?;
        let remote = Self::peer(&request).map(|p| p.remote);
        let req = request.into_inner();
        if !req.token.starts_with(TokenKind::Enroll.prefix()) {
            tracing::warn!(?remote, "enrollment refused: malformed");
            return Err(ApiError::unauthenticated(REFUSED_TOKEN).into());
        }
        let token = Token::from_secret(SecretString::from(req.token));
        let machine = MachineInfo {
            hostname: text("hostname", &req.hostname)?,
            os: text("os", &req.os)?,
            agent_version: text("agent_version", &req.agent_version)?,
        };
        let public_key = pki::csr_public_key(&req.csr_pem)
            .map_err(|e| ApiError::invalid(format!("csr_pem: {e}")))?;
        let id = new_workstation_id();
        // The office is only known once the token is checked; the certificate names it, so look it
        // up without spending the token, then spend it in the same transaction as the enrollment.
        let office = match self.state.store.enrollment_office(&token.hash()).await {
            Ok(office) => office,
            Err(store::Error::NotFound) => {
                tracing::warn!(?remote, "enrollment refused: unknown");
                return Err(ApiError::unauthenticated(REFUSED_TOKEN).into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        let cert = self.issue(&id, office.as_str(), &public_key)?;
        let new = NewWorkstation {
            id: id.clone(),
            machine,
            public_key,
            certificate: IssuedCertificate {
                serial: cert.serial.clone(),
                not_after: cert.not_after,
            },
        };
        let workstation = match self
            .state
            .store
            .enroll_workstation(&token.hash(), &new, self.state.clock.now())
            .await
        {
            Ok(w) => w,
            Err(store::Error::TokenRefused(reason)) => {
                tracing::warn!(?remote, ?reason, "enrollment refused");
                return Err(ApiError::unauthenticated(REFUSED_TOKEN).into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        tracing::info!(workstation = %workstation.id, office = %workstation.office, hostname = %workstation.hostname, "workstation enrolled");
        Ok(Response::new(pb::EnrollResponse {
            workstation_id: workstation.id,
            office: workstation.office.to_string(),
            certificate: Some(certificate_response(&cert, workstation.generation)),
        }))
    }

    async fn renew(
        &self,
        request: Request<pb::RenewRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let ws = &agent.workstation;
        let cert = self.issue(&ws.id, ws.office.as_str(), &ws.public_key)?;
        let issued = IssuedCertificate { serial: cert.serial.clone(), not_after: cert.not_after };
        let updated = match self
            .state
            .store
            .replace_certificate(
                &ws.id,
                Some(&agent.serial),
                &issued,
                "workstation.renew",
                self.state.clock.now(),
            )
            .await
        {
            Ok(updated) => updated,
            Err(store::Error::Conflict) => {
                return Err(ApiError::Aborted(
                    "a concurrent renewal won; retry with the current certificate".into(),
                )
                .into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        tracing::info!(workstation = %ws.id, generation = updated.generation, "certificate renewed");
        Ok(Response::new(certificate_response(&cert, updated.generation)))
    }

    async fn get_recovery_challenge(
        &self,
        request: Request<pb::GetRecoveryChallengeRequest>,
    ) -> Result<Response<pb::GetRecoveryChallengeResponse>, Status> {
        self.limit(&request)?;
        let id = request.into_inner().workstation_id;
        let now = self.state.clock.now();
        let refused = || Status::from(ApiError::unauthenticated(REFUSED_RECOVERY));
        match self.state.store.get_workstation(&id).await {
            Ok(ws) if ws.status == WorkstationStatus::Active => {}
            Ok(_) | Err(store::Error::NotFound) => return Err(refused()),
            Err(other) => return Err(ApiError::from(other).into()),
        }
        let mut challenge = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut challenge);
        match self
            .state
            .store
            .add_recovery_challenge(&id, &challenge, now + CHALLENGE_LIFETIME, now)
            .await
        {
            Ok(()) => Ok(Response::new(pb::GetRecoveryChallengeResponse { challenge })),
            Err(store::Error::Conflict) => Err(ApiError::ResourceExhausted(
                "too many recovery attempts; wait a few minutes".into(),
            )
            .into()),
            Err(store::Error::NotFound) => Err(refused()),
            Err(other) => Err(ApiError::from(other).into()),
        }
    }

    async fn recover(
        &self,
        request: Request<pb::RecoverRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        self.limit(&request)?;
        let req = request.into_inner();
        let now = self.state.clock.now();
        let refused = |why: &str| {
            tracing::warn!(workstation = %req.workstation_id, why, "recovery refused");
            Status::from(ApiError::unauthenticated(REFUSED_RECOVERY))
        };
        if !self
            .state
            .store
            .take_recovery_challenge(&req.workstation_id, &req.challenge, now)
            .await
            .map_err(ApiError::from)?
        {
            return Err(refused("unknown or expired challenge"));
        }
        let ws = match self.state.store.get_workstation(&req.workstation_id).await {
            Ok(ws) => ws,
            Err(store::Error::NotFound) => return Err(refused("unknown workstation")),
            Err(other) => return Err(ApiError::from(other).into()),
        };
        if ws.status != WorkstationStatus::Active {
            return Err(refused("workstation not active"));
        }
        if now > ws.cert_not_after + self.state.agents.recovery_window {
            return Err(refused("outside the recovery window"));
        }
        let mut message = sesame_proto::RECOVERY_SIGNATURE_PREFIX.to_vec();
        message.extend_from_slice(ws.id.as_bytes());
        message.extend_from_slice(&req.challenge);
        if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ws.public_key)
            .verify(&message, &req.signature)
            .is_err()
        {
            return Err(refused("bad signature"));
        }
        let cert = self.issue(&ws.id, ws.office.as_str(), &ws.public_key)?;
        let issued = IssuedCertificate { serial: cert.serial.clone(), not_after: cert.not_after };
        let updated = self
            .state
            .store
            .replace_certificate(&ws.id, None, &issued, "workstation.recover", now)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(workstation = %ws.id, generation = updated.generation, "workstation recovered");
        Ok(Response::new(certificate_response(&cert, updated.generation)))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let version = request.into_inner().agent_version;
        let version = Text::parse("agent_version", &version).ok();
        let now = self.state.clock.now();
        self.state
            .store
            .touch_workstation(
                &agent.workstation.id,
                &agent.serial,
                version.as_ref().map(Text::as_str),
                now,
            )
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::HeartbeatResponse {
            workstation_id: agent.workstation.id,
            office: agent.workstation.office.to_string(),
            server_time: rfc3339(now),
        }))
    }

    async fn get_pending_rotations(
        &self,
        request: Request<pb::GetPendingRotationsRequest>,
    ) -> Result<Response<pb::GetPendingRotationsResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let ws = &agent.workstation;
        let now = self.state.clock.now();
        let policy =
            self.state.store.password_policy(Some(&ws.office)).await.map_err(ApiError::from)?;
        // The delivery is audited (and the rotations marked delivered) before anything is decrypted.
        let sealed = self
            .state
            .store
            .disclose_rotations(Disclosure::Delivery(&ws.id), &Actor::workstation(&ws.id), now)
            .await
            .map_err(ApiError::from)?;
        let agent_policy = pb::AgentPasswordPolicy {
            min_length: policy.min_length,
            require_lower: policy.require_lower,
            require_upper: policy.require_upper,
            require_digit: policy.require_digit,
            require_special: policy.require_special,
        };
        let rotations: Vec<pb::PendingRotation> = super::open_all(&self.state.escrow, sealed)?
            .into_iter()
            .map(|(rotation, password)| pb::PendingRotation {
                rotation_id: rotation.id,
                mailbox: rotation.address.to_string(),
                display_name: rotation.display_name,
                provisional_password: secrecy::ExposeSecret::expose_secret(&password).to_owned(),
                expires_at: rfc3339(rotation.expires_at),
                policy: Some(agent_policy),
            })
            .collect();
        if !rotations.is_empty() {
            tracing::info!(workstation = %ws.id, count = rotations.len(), "rotations delivered");
        }
        Ok(Response::new(pb::GetPendingRotationsResponse { rotations }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_version("0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("1.2.3-rc.1"), Some((1, 2, 3)));
        for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1..2"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
