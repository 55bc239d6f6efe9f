//! The check-in over the contract (`Heartbeat`): the key state, where each rotation stands and the
//! last look at OWA go up; the interval to the next check-in and the OWA address come down.

use std::time::Duration;

use sesame_base::rotation::Step;
use sesame_proto::v1 as pb;
use time::OffsetDateTime;

use super::rotations::{format_time, parse_time, progress_to_pb};
use super::{Uplink, UplinkError};
use crate::key::KeyState;
use crate::owa::LogonFormat;
use crate::owa::readiness::Readiness;

/// The check-in interval when the server does not say (older servers).
pub const DEFAULT_CHECK_IN: Duration = Duration::from_secs(60);
/// Bounds on the interval a server may set, whatever it sends.
const MIN_CHECK_IN: Duration = Duration::from_secs(10);
const MAX_CHECK_IN: Duration = Duration::from_secs(24 * 3600);

/// What the agent tells the server at a check-in.
#[derive(Debug, Clone)]
pub struct CheckIn {
    /// The clé REAL now.
    pub key: KeyState,
    /// When the key state last changed.
    pub key_since: Option<OffsetDateTime>,
    /// Each rotation held, with its step.
    pub rotations: Vec<(sesame_base::ids::RotationId, Step)>,
    /// The last anonymous look at OWA.
    pub readiness: Option<Readiness>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInAnswer {
    /// Time to the next check-in (before jitter).
    pub interval: Duration,
    /// The OWA address to use; `None` when the server did not say.
    pub owa_url: Option<String>,
    /// The server's clock.
    pub server_time: Option<OffsetDateTime>,
    /// Whether the server has rotations for this workstation: `Some(false)` ends an idle round
    /// here; `None` (a server older than the answer) means ask.
    pub rotations_pending: Option<bool>,
}

fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn key_to_pb(key: &KeyState, since: Option<OffsetDateTime>) -> pb::KeyState {
    use pb::key_state::Presence;
    let (presence, device, reason) = match key {
        KeyState::Present { device } => (Presence::Present, bounded(device, 200), String::new()),
        KeyState::Absent => (Presence::Absent, String::new(), String::new()),
        KeyState::Unknown { reason } => (Presence::Unknown, String::new(), bounded(reason, 500)),
    };
    pb::KeyState {
        presence: presence.into(),
        device,
        reason,
        since: since.map(format_time).unwrap_or_default(),
    }
}

fn readiness_to_pb(look: &Readiness) -> pb::OwaReadiness {
    use pb::owa_readiness::LogonFormat as Format;
    let logon_format = match look.logon_format {
        Some(LogonFormat::PrincipalName) => Format::Email,
        Some(LogonFormat::FullDomain) => Format::DomainUser,
        Some(LogonFormat::UserName) => Format::UserName,
        None => Format::Unspecified,
    };
    pb::OwaReadiness {
        owa_url: bounded(&look.owa_url, 2048),
        checked_at: format_time(look.checked_at),
        reachable: look.reachable,
        certificate_valid: look.certificate_valid,
        forms_based: look.forms_based,
        logon_format: logon_format.into(),
        language: look.language.as_deref().map(|l| bounded(l, 20)).unwrap_or_default(),
        problem: look.problem.as_deref().map(|p| bounded(p, 500)).unwrap_or_default(),
    }
}

fn answer_from_pb(response: &pb::HeartbeatResponse) -> CheckInAnswer {
    let interval = match response.check_in_interval_seconds {
        0 => DEFAULT_CHECK_IN,
        seconds => Duration::from_secs(u64::from(seconds)).clamp(MIN_CHECK_IN, MAX_CHECK_IN),
    };
    CheckInAnswer {
        interval,
        owa_url: Some(response.owa_url.clone()).filter(|url| !url.is_empty()),
        server_time: parse_time(&response.server_time),
        rotations_pending: response.rotations_pending,
    }
}

impl Uplink {
    /// One check-in (the contract's `Heartbeat`); it also confirms a renewed certificate.
    pub async fn check_in(&self, check_in: &CheckIn) -> Result<CheckInAnswer, UplinkError> {
        let identity = self.state.load()?;
        let request = pb::HeartbeatRequest {
            agent_version: crate::VERSION.to_owned(),
            key: Some(key_to_pb(&check_in.key, check_in.key_since)),
            rotations: check_in
                .rotations
                .iter()
                .take(100)
                .map(|(id, step)| progress_to_pb(id.as_str(), *step))
                .collect(),
            readiness: check_in.readiness.as_ref().map(readiness_to_pb),
        };
        let response = self.client(&identity).await?.heartbeat(request).await?.into_inner();
        Ok(answer_from_pb(&response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_bounded_whatever_the_server_says() {
        let answer = |seconds| {
            answer_from_pb(&pb::HeartbeatResponse {
                check_in_interval_seconds: seconds,
                ..Default::default()
            })
            .interval
        };
        assert_eq!(answer(0), DEFAULT_CHECK_IN);
        assert_eq!(answer(1), MIN_CHECK_IN);
        assert_eq!(answer(u32::MAX), MAX_CHECK_IN);
        assert_eq!(answer(60), Duration::from_secs(60));
    }

    #[test]
    fn an_unknown_key_carries_its_reason_within_bounds() {
        let key = KeyState::Unknown { reason: "x".repeat(2000) };
        let pb = key_to_pb(&key, None);
        assert_eq!(pb.presence, i32::from(pb::key_state::Presence::Unknown));
        assert_eq!(pb.reason.chars().count(), 500);
    }
}
