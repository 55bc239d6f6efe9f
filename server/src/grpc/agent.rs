//! The AgentService edge: the peer's certificate and address taken from the connection, the
//! per-address limit on unauthenticated attempts, and each RPC converted to a call of
//! [`Services`] (`services::enrollment`, `services::workstations`, `services::rotations`) and
//! back; `ReportSteps` is checked and converted in `reports`.

pub(super) mod reports;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use secrecy::ExposeSecret;
use secrecy::SecretString;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_server::AgentService;
use tonic::{Request, Response, Status};

use super::tls::PeerInfo;
use super::{check_in, parse, rfc3339};
use crate::domain::office::Text;
use crate::domain::password::PasswordPolicy;
use crate::domain::rotation::RotationKind;
use crate::domain::workstation::MachineInfo;
use crate::keys::pki::{self, AgentCertificate};
use crate::ops::Metrics;
use crate::services::Error;
use crate::services::Services;
use crate::services::enrollment;
use crate::services::rate_limit::RateLimiter;
use crate::services::workstations::agent::{AgentIdentity, AgentVersion, MIN_AGENT_VERSION};

/// The AgentService handlers.
#[derive(Debug)]
pub(crate) struct AgentApi {
    state: Arc<Services>,
    attempts: RateLimiter,
    /// Where check-ins are counted.
    metrics: Arc<Metrics>,
}

impl AgentApi {
    pub(crate) fn new(state: Arc<Services>, metrics: Arc<Metrics>) -> AgentApi {
        let attempts =
            RateLimiter::new(state.agents.attempts_burst, state.agents.attempts_per_minute);
        AgentApi { state, attempts, metrics }
    }

    fn peer<T>(request: &Request<T>) -> Option<&PeerInfo> {
        request.extensions().get::<PeerInfo>()
    }

    fn remote<T>(request: &Request<T>) -> Option<SocketAddr> {
        Self::peer(request).map(|p| p.remote)
    }

    /// Takes one unauthenticated attempt for the caller's address.
    fn limit<T>(&self, request: &Request<T>) -> Result<(), Error> {
        let address = Self::remote(request).map_or(IpAddr::from([0, 0, 0, 0]), |r| r.ip());
        if self.attempts.allow(address, self.state.clock.now()) {
            Ok(())
        } else {
            tracing::warn!(%address, "too many enrollment or recovery attempts");
            Err(Error::ResourceExhausted(
                "too many attempts from this address; wait a minute".to_owned(),
            ))
        }
    }

    /// The workstation presenting the request's client certificate, checked against the store.
    async fn authenticate<T>(&self, request: &Request<T>) -> Result<AgentIdentity, Error> {
        let certificate = Self::peer(request).and_then(|p| p.client_cert.as_ref());
        self.state.authenticate_agent(certificate.map(|c| c.as_ref())).await
    }
}

/// The office's effective password policy as agents receive it with every rotation: the rule and
/// the strength checks, each always said (an agent applies a check the server leaves out).
fn agent_policy(policy: &PasswordPolicy) -> pb::AgentPasswordPolicy {
    let rule = policy.rule;
    pb::AgentPasswordPolicy {
        min_length: rule.min_length,
        require_lower: rule.require_lower,
        require_upper: rule.require_upper,
        require_digit: rule.require_digit,
        require_special: rule.require_special,
        refuse_personal_words: Some(policy.strength.personal_words),
        refuse_common_passwords: Some(policy.strength.common_passwords),
        min_strength: Some(u32::from(policy.strength.min_score)),
    }
}

fn certificate_response(cert: &AgentCertificate, generation: i64) -> pb::CertificateResponse {
    pb::CertificateResponse {
        certificate_pem: cert.pem.clone(),
        not_before: rfc3339(cert.not_before),
        not_after: rfc3339(cert.not_after),
        generation: u64::try_from(generation).unwrap_or(0),
    }
}

fn text(field: &'static str, value: &str) -> Result<Text, Error> {
    Text::parse(field, value).map_err(|e| Error::invalid(e.to_string()))
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn get_server_info(
        &self,
        request: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::GetServerInfoResponse>, Status> {
        let agent_version = request.into_inner().agent_version;
        let Some(version) = AgentVersion::parse(&agent_version) else {
            return Err(Error::invalid("agent_version: expected a version such as 0.1.0").into());
        };
        Ok(Response::new(pb::GetServerInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            min_agent_version: MIN_AGENT_VERSION.to_string(),
            agent_version_supported: version.is_supported(),
        }))
    }

    async fn enroll(
        &self,
        request: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        self.limit(&request)?;
        let remote = Self::remote(&request);
        let req = request.into_inner();
        let token = enrollment::enrollment_token(SecretString::from(req.token), remote)?;
        let machine = MachineInfo {
            hostname: text("hostname", &req.hostname)?,
            os: text("os", &req.os)?,
            agent_version: text("agent_version", &req.agent_version)?,
        };
        let public_key = pki::csr_public_key(&req.csr_pem)
            .map_err(|e| Error::invalid(format!("csr_pem: {e}")))?;
        let enrolled = self.state.enroll(&token, machine, public_key, remote).await?;
        let ws = enrolled.workstation;
        Ok(Response::new(pb::EnrollResponse {
            certificate: Some(certificate_response(&enrolled.certificate, ws.generation)),
            workstation_id: ws.id.into_string(),
            office: ws.office.to_string(),
        }))
    }

    async fn renew(
        &self,
        request: Request<pb::RenewRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let renewed = self.state.renew_certificate(&agent).await?;
        Ok(Response::new(certificate_response(&renewed.certificate, renewed.generation)))
    }

    async fn get_recovery_challenge(
        &self,
        request: Request<pb::GetRecoveryChallengeRequest>,
    ) -> Result<Response<pb::GetRecoveryChallengeResponse>, Status> {
        self.limit(&request)?;
        let id = parse::workstation_id("workstation_id", &request.get_ref().workstation_id)?;
        let challenge = self.state.recovery_challenge(&id).await?;
        Ok(Response::new(pb::GetRecoveryChallengeResponse { challenge }))
    }

    async fn recover(
        &self,
        request: Request<pb::RecoverRequest>,
    ) -> Result<Response<pb::CertificateResponse>, Status> {
        self.limit(&request)?;
        let req = request.into_inner();
        let id = parse::workstation_id("workstation_id", &req.workstation_id)?;
        let recovered = self.state.recover(&id, &req.challenge, &req.signature).await?;
        Ok(Response::new(certificate_response(&recovered.certificate, recovered.generation)))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let check_in = check_in::check_in(request.into_inner())?;
        let answer = self.state.check_in(&agent, &check_in).await?;
        self.metrics.count_check_in();
        Ok(Response::new(pb::HeartbeatResponse {
            workstation_id: agent.workstation.id.into_string(),
            office: agent.workstation.office.to_string(),
            server_time: rfc3339(answer.server_time),
            check_in_interval_seconds: u32::try_from(answer.interval.whole_seconds()).unwrap_or(60),
            owa_url: answer.owa_url.to_string(),
            rotations_pending: Some(answer.rotations_pending),
        }))
    }

    async fn get_pending_rotations(
        &self,
        request: Request<pb::GetPendingRotationsRequest>,
    ) -> Result<Response<pb::GetPendingRotationsResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let delivered = self.state.deliver_rotations(&agent.workstation).await?;
        let policy = agent_policy(&delivered.policy);
        let accounts = &delivered.accounts;
        let pending = |rotation: crate::domain::rotation::Rotation, password: String| {
            let kind = match rotation.kind {
                RotationKind::Provisional => pb::pending_rotation::Kind::Provisional,
                RotationKind::Periodic => pb::pending_rotation::Kind::Periodic,
            };
            pb::PendingRotation {
                rotation_id: rotation.id.to_string(),
                mailbox: rotation.address.to_string(),
                display_name: rotation.display_name,
                provisional_password: password,
                expires_at: rfc3339(rotation.expires_at),
                policy: Some(policy),
                kind: kind.into(),
                logon_name: rotation.logon_name.map(|n| n.to_string()).unwrap_or_default(),
                due_at: rotation.due_at.map(rfc3339).unwrap_or_default(),
                bound_account: accounts.get(&rotation.mailbox_id.0).map(|a| pb::LocalAccount {
                    id: a.id.as_str().to_owned(),
                    detail: a.detail.clone(),
                }),
                office_name: rotation.office_name,
                office_city: rotation.office_city.unwrap_or_default(),
            }
        };
        let mut rotations: Vec<pb::PendingRotation> = delivered
            .rotations
            .into_iter()
            .map(|(rotation, password)| pending(rotation, password.expose_secret().to_owned()))
            .collect();
        rotations.extend(delivered.periodic.into_iter().map(|r| pending(r, String::new())));
        Ok(Response::new(pb::GetPendingRotationsResponse { rotations }))
    }

    async fn report_steps(
        &self,
        request: Request<pb::ReportStepsRequest>,
    ) -> Result<Response<pb::ReportStepsResponse>, Status> {
        let agent = self.authenticate(&request).await?;
        let reports = reports::parse_reports(request.into_inner())?;
        let outcomes = self.state.report_steps(&agent.workstation, &reports).await?;
        Ok(Response::new(reports::results_to_pb(&reports, outcomes)))
    }
}
