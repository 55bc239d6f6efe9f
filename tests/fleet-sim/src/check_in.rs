//! One simulated agent's round, as an idle real agent makes it: a `Heartbeat` with its version,
//! its key state and a look at OWA; when the answer does not say that nothing is pending
//! (`rotations_pending` unset, from a server that does not know the field, or true),
//! `GetPendingRotations`; for each rotation delivered, its steps through `ReportSteps` (started,
//! changed, verified, completed), as if the password change had gone through. A simulated agent
//! never talks to Exchange.

use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::transport::Channel;

/// What a round did, beyond the heartbeat.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Round {
    /// `GetPendingRotations` calls.
    pub(crate) pending_calls: u64,
    /// Rotations delivered.
    pub(crate) rotations: u64,
    /// Step reports the server recorded.
    pub(crate) reports: u64,
}

/// An RFC 3339 time.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The heartbeat an idle agent sends.
pub(crate) fn heartbeat(now: OffsetDateTime, key_present: bool) -> pb::HeartbeatRequest {
    let presence = if key_present {
        pb::key_state::Presence::Present
    } else {
        pb::key_state::Presence::Absent
    };
    pb::HeartbeatRequest {
        agent_version: crate::AGENT_VERSION.to_owned(),
        key: Some(pb::KeyState {
            presence: presence.into(),
            device: String::new(),
            reason: String::new(),
            since: String::new(),
        }),
        rotations: Vec::new(),
        readiness: Some(pb::OwaReadiness {
            owa_url: String::new(),
            checked_at: rfc3339(now),
            reachable: true,
            certificate_valid: true,
            forms_based: true,
            logon_format: pb::owa_readiness::LogonFormat::Email.into(),
            language: "fr".to_owned(),
            problem: String::new(),
        }),
    }
}

/// The four steps of a rotation that went through, in order.
fn steps(rotation_id: &str, now: OffsetDateTime) -> Vec<pb::StepReport> {
    let mut nonce = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let nonce = hex::encode(nonce);
    [
        pb::RotationStep::Started,
        pb::RotationStep::Changed,
        pb::RotationStep::Verified,
        pb::RotationStep::Completed,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, step)| pb::StepReport {
        report_id: format!("sim-{nonce}-{n}"),
        rotation_id: rotation_id.to_owned(),
        step: step.into(),
        occurred_at: rfc3339(now),
        failure: pb::FailureReason::Unspecified.into(),
        key_evidence: (step == pb::RotationStep::Started).then(|| pb::KeyEvidence {
            kind: pb::key_evidence::Kind::ObservedAbsent.into(),
            observed_at: rfc3339(now),
            detail: String::new(),
        }),
        detail: String::new(),
        local_account: None,
    })
    .collect()
}

/// One round on `client`; the first failing call's status ends it.
pub(crate) async fn round(
    client: &mut AgentServiceClient<Channel>,
    now: OffsetDateTime,
    key_present: bool,
) -> Result<Round, tonic::Status> {
    let answer = client.heartbeat(heartbeat(now, key_present)).await?.into_inner();
    let mut done = Round::default();
    if answer.rotations_pending == Some(false) {
        return Ok(done);
    }
    done.pending_calls += 1;
    let pending = client.get_pending_rotations(pb::GetPendingRotationsRequest {}).await?;
    for rotation in pending.into_inner().rotations {
        done.rotations += 1;
        let results = client
            .report_steps(pb::ReportStepsRequest { reports: steps(&rotation.rotation_id, now) })
            .await?
            .into_inner()
            .results;
        for result in results {
            match pb::report_result::Outcome::try_from(result.outcome) {
                Ok(
                    pb::report_result::Outcome::Recorded | pb::report_result::Outcome::Duplicate,
                ) => {
                    done.reports += 1;
                }
                _ => {
                    return Err(tonic::Status::failed_precondition(format!(
                        "step report rejected: {}",
                        result.reason
                    )));
                }
            }
        }
    }
    Ok(done)
}
