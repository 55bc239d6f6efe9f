//! The check-in's fields at the edge: a `HeartbeatRequest`'s key state, rotation progress and OWA
//! readiness parsed and bounded into domain types (an error names the field and echoes nothing),
//! and the same types turned back into protobuf for administrators.

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::rfc3339;
use crate::domain::check_in::{KeyPresence, KeyState, LogonFormat, OwaReadiness};
use crate::domain::identifier::RotationId;
use crate::domain::office::{Text, is_format_char};
use crate::domain::settings::MAX_OWA_URL_CHARS;
use crate::services::Error;
use crate::services::workstations::check_in::CheckIn;

/// Most rotations one check-in may report.
pub(super) const MAX_ROTATIONS: usize = 100;
/// Longest key device description.
const MAX_DEVICE_CHARS: usize = 200;
/// Longest reason, problem or detail.
const MAX_REASON_CHARS: usize = 500;
/// Longest language tag.
const MAX_LANGUAGE_CHARS: usize = 20;

/// A check-in, all its fields checked; nothing is recorded when one is out of bounds.
pub(super) fn check_in(request: pb::HeartbeatRequest) -> Result<CheckIn, Error> {
    if request.rotations.len() > MAX_ROTATIONS {
        return Err(Error::invalid(format!("rotations: more than {MAX_ROTATIONS}")));
    }
    for (i, progress) in request.rotations.iter().enumerate() {
        rotation_progress(i, progress)?;
    }
    Ok(CheckIn {
        agent_version: Text::parse("agent_version", &request.agent_version).ok(),
        key: request.key.map(key_state).transpose()?,
        readiness: request.readiness.map(readiness).transpose()?,
    })
}

/// A bounded text: at most `max` characters, no control or invisible format character.
fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    if value.chars().count() > max {
        return Err(Error::invalid(format!("{field}: longer than {max} characters")));
    }
    if value.chars().any(|c| c.is_control() || is_format_char(c)) {
        return Err(Error::invalid(format!("{field}: contains control characters")));
    }
    Ok(value.trim().to_owned())
}

/// An optional RFC 3339 time (empty for none).
fn time(field: &str, value: &str) -> Result<Option<OffsetDateTime>, Error> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    if value.len() > 64 {
        return Err(Error::invalid(format!("{field}: not an RFC 3339 time")));
    }
    let t = OffsetDateTime::parse(value.trim(), &Rfc3339)
        .map_err(|_| Error::invalid(format!("{field}: not an RFC 3339 time")))?;
    // `9999-12-31T23:59:59-01:00` is past year 9999 in UTC: refused (`to_offset` would panic).
    let t = t
        .checked_to_offset(time::UtcOffset::UTC)
        .ok_or_else(|| Error::invalid(format!("{field}: after year 9999 in UTC")))?;
    Ok(Some(t.replace_microsecond(t.microsecond()).unwrap_or(t)))
}

fn key_state(key: pb::KeyState) -> Result<KeyState, Error> {
    use pb::key_state::Presence;
    let presence = match Presence::try_from(key.presence) {
        Ok(Presence::Present) => {
            KeyPresence::Present { device: text("key.device", &key.device, MAX_DEVICE_CHARS)? }
        }
        Ok(Presence::Absent) => KeyPresence::Absent,
        Ok(Presence::Unknown) => {
            KeyPresence::Unknown { reason: text("key.reason", &key.reason, MAX_REASON_CHARS)? }
        }
        Ok(Presence::Unspecified) | Err(_) => {
            return Err(Error::invalid("key.presence: expected present, absent or unknown"));
        }
    };
    // Bound the fields the presence does not use too, so that nothing unchecked was accepted.
    text("key.device", &key.device, MAX_DEVICE_CHARS)?;
    text("key.reason", &key.reason, MAX_REASON_CHARS)?;
    Ok(KeyState { presence, since: time("key.since", &key.since)? })
}

fn readiness(owa: pb::OwaReadiness) -> Result<OwaReadiness, Error> {
    use pb::owa_readiness::LogonFormat as Pb;
    let logon_format = match Pb::try_from(owa.logon_format) {
        Ok(Pb::Unspecified) => LogonFormat::Unspecified,
        Ok(Pb::Email) => LogonFormat::Email,
        Ok(Pb::DomainUser) => LogonFormat::DomainUser,
        Ok(Pb::UserName) => LogonFormat::UserName,
        Err(_) => return Err(Error::invalid("readiness.logon_format: unknown value")),
    };
    Ok(OwaReadiness {
        owa_url: text("readiness.owa_url", &owa.owa_url, MAX_OWA_URL_CHARS)?,
        checked_at: time("readiness.checked_at", &owa.checked_at)?,
        reachable: owa.reachable,
        certificate_valid: owa.certificate_valid,
        forms_based: owa.forms_based,
        logon_format,
        language: text("readiness.language", &owa.language, MAX_LANGUAGE_CHARS)?,
        problem: text("readiness.problem", &owa.problem, MAX_REASON_CHARS)?,
    })
}

/// Checks one rotation's progress (the server does not keep it here: rotation reports do).
fn rotation_progress(i: usize, progress: &pb::RotationProgress) -> Result<(), Error> {
    let field = |name: &str| format!("rotations[{i}].{name}");
    // The one rule of a rotation id (`sesame_base::ids`); the progress is only checked here.
    if let Err(e) = RotationId::parse("rotation_id", &progress.rotation_id) {
        return Err(Error::invalid(format!("{}: {}", field("rotation_id"), e.reason)));
    }
    if pb::RotationStep::try_from(progress.step).is_err() {
        return Err(Error::invalid(format!("{}: unknown value", field("step"))));
    }
    if pb::FailureReason::try_from(progress.failure).is_err() {
        return Err(Error::invalid(format!("{}: unknown value", field("failure"))));
    }
    Ok(())
}

/// A key state for administrators.
pub(super) fn key_to_pb(key: &KeyState) -> pb::KeyState {
    use pb::key_state::Presence;
    let (presence, device, reason) = match &key.presence {
        KeyPresence::Present { device } => (Presence::Present, device.clone(), String::new()),
        KeyPresence::Absent => (Presence::Absent, String::new(), String::new()),
        KeyPresence::Unknown { reason } => (Presence::Unknown, String::new(), reason.clone()),
    };
    pb::KeyState {
        presence: presence.into(),
        device,
        reason,
        since: key.since.map(rfc3339).unwrap_or_default(),
    }
}

/// A look at OWA for administrators.
pub(super) fn readiness_to_pb(owa: &OwaReadiness) -> pb::OwaReadiness {
    use pb::owa_readiness::LogonFormat as Pb;
    let logon_format = match owa.logon_format {
        LogonFormat::Unspecified => Pb::Unspecified,
        LogonFormat::Email => Pb::Email,
        LogonFormat::DomainUser => Pb::DomainUser,
        LogonFormat::UserName => Pb::UserName,
    };
    pb::OwaReadiness {
        owa_url: owa.owa_url.clone(),
        checked_at: owa.checked_at.map(rfc3339).unwrap_or_default(),
        reachable: owa.reachable,
        certificate_valid: owa.certificate_valid,
        forms_based: owa.forms_based,
        logon_format: logon_format.into(),
        language: owa.language.clone(),
        problem: owa.problem.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`grpc::fuzz`): `to_offset` panicked on a time past year 9999 in UTC.
    #[test]
    fn a_time_past_year_9999_in_utc_is_refused_not_a_panic() {
        let request = |since: &str| pb::HeartbeatRequest {
            key: Some(pb::KeyState {
                presence: pb::key_state::Presence::Absent.into(),
                since: since.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(message)) =
            check_in(request("9999-12-31T23:59:59.000000000-18:08"))
        else {
            panic!("accepted")
        };
        assert_eq!(message, "key.since: after year 9999 in UTC");
        let checked = check_in(request("9999-12-31T23:59:59+01:00")).unwrap();
        assert_eq!(
            checked.key.unwrap().since,
            Some(time::macros::datetime!(9999-12-31 22:59:59 UTC))
        );
    }
}
