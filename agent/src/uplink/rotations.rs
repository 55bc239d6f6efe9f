//! Rotations over the contract: pending rotations in (with the provisional password, kept in
//! memory only), step reports out, and the check-in's view of where each rotation stands. The
//! agent's own types ([`crate::rotation`], [`crate::outbox`]) are converted here and nowhere else.

use secrecy::SecretString;
use sesame_base::password_rule::{DEFAULT_MIN_SCORE, PasswordRule, StrengthChecks};
use sesame_base::rotation::{FailureReason, Step};
use sesame_local::account::LocalAccount;
use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Uplink, UplinkError};
use crate::outbox::{Receipt, Report};
use crate::rotation::{KeyEvidence, RotationKind};
use sesame_base::ids::{ReportId, RotationId};

/// A rotation as the server delivered it.
#[derive(Debug, Clone)]
pub struct PendingRotation {
    /// The server's rotation id.
    pub id: RotationId,
    /// The mailbox address.
    pub mailbox: String,
    /// The person's name as the office knows it.
    pub display_name: String,
    /// Provisional or periodic.
    pub kind: RotationKind,
    /// The provisional password (provisional kind only). Never written to disk.
    pub provisional: Option<SecretString>,
    /// The rules of the new password.
    pub rule: PasswordRule,
    /// The strength checks of the new password (all on when the server says nothing).
    pub strength: StrengthChecks,
    /// The office's name (empty from an older server): the new password must not contain it.
    pub office_name: String,
    /// The office's city (the same).
    pub office_city: String,
    /// `DOMAIN\user` when OWA asks for it.
    pub logon_name: Option<String>,
    /// When the rotation expires on the server.
    pub expires_at: Option<OffsetDateTime>,
    /// A periodic rotation's deadline: when the mailbox becomes overdue.
    pub due_at: Option<OffsetDateTime>,
    /// The local account bound to the mailbox on this workstation (`None`: not bound yet).
    pub bound_account: Option<LocalAccount>,
}

/// Parses an RFC 3339 time from the server; `None` when empty or malformed.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// An RFC 3339 UTC time for the server.
pub(crate) fn format_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

fn pending_from_pb(rotation: pb::PendingRotation) -> Option<PendingRotation> {
    let kind = match pb::pending_rotation::Kind::try_from(rotation.kind) {
        Ok(pb::pending_rotation::Kind::Periodic) => RotationKind::Periodic,
        // Servers older than the field only deliver provisional rotations.
        Ok(pb::pending_rotation::Kind::Provisional | pb::pending_rotation::Kind::Unspecified) => {
            RotationKind::Provisional
        }
        Err(_) => return None,
    };
    let provisional = match kind {
        RotationKind::Provisional if rotation.provisional_password.is_empty() => return None,
        RotationKind::Provisional => Some(SecretString::from(rotation.provisional_password)),
        RotationKind::Periodic => None,
    };
    Some(PendingRotation {
        id: RotationId::parse("rotation_id", &rotation.rotation_id).ok()?,
        mailbox: rotation.mailbox,
        display_name: rotation.display_name,
        kind,
        provisional,
        rule: rotation.policy.as_ref().map(rule_from_pb).unwrap_or_default(),
        strength: rotation.policy.as_ref().map(strength_from_pb).unwrap_or_default(),
        office_name: rotation.office_name.chars().take(MAX_OFFICE_TEXT).collect(),
        office_city: rotation.office_city.chars().take(MAX_OFFICE_TEXT).collect(),
        logon_name: Some(rotation.logon_name).filter(|name| !name.is_empty()),
        expires_at: parse_time(&rotation.expires_at),
        due_at: parse_time(&rotation.due_at),
        bound_account: rotation
            .bound_account
            .filter(|account| !account.id.is_empty())
            .map(|account| LocalAccount::new(account.id, account.detail)),
    })
}

/// The office's password rule as the server sent it, never below the letter's floor.
fn rule_from_pb(policy: &pb::AgentPasswordPolicy) -> PasswordRule {
    PasswordRule {
        min_length: policy.min_length,
        require_lower: policy.require_lower,
        require_upper: policy.require_upper,
        require_digit: policy.require_digit,
        require_special: policy.require_special,
    }
    .with_floor()
}

/// The office's name and city are kept to this many characters (they are only searched for in a
/// password).
const MAX_OFFICE_TEXT: usize = 200;

/// The strength checks as the server sent them: each absent one on (an older server), the score
/// capped at the highest.
fn strength_from_pb(policy: &pb::AgentPasswordPolicy) -> StrengthChecks {
    let min_score = policy
        .min_strength
        .map_or(DEFAULT_MIN_SCORE, |score| u8::try_from(score).unwrap_or(u8::MAX));
    StrengthChecks {
        personal_words: policy.refuse_personal_words.unwrap_or(true),
        common_passwords: policy.refuse_common_passwords.unwrap_or(true),
        min_score,
    }
    .bounded()
}

/// An account as the contract carries it (at most 256 characters each).
fn account_to_pb(account: &LocalAccount) -> pb::LocalAccount {
    pb::LocalAccount {
        id: account.id.chars().take(256).collect(),
        detail: account.detail.chars().take(256).collect(),
    }
}

pub(crate) fn step_to_pb(step: Step) -> (pb::RotationStep, pb::FailureReason) {
    match step {
        Step::Pending => (pb::RotationStep::Pending, pb::FailureReason::Unspecified),
        Step::Started => (pb::RotationStep::Started, pb::FailureReason::Unspecified),
        Step::Changed => (pb::RotationStep::Changed, pb::FailureReason::Unspecified),
        Step::Verified => (pb::RotationStep::Verified, pb::FailureReason::Unspecified),
        Step::Completed => (pb::RotationStep::Completed, pb::FailureReason::Unspecified),
        Step::Failed(reason) => (pb::RotationStep::Failed, failure_to_pb(reason)),
    }
}

fn failure_to_pb(reason: FailureReason) -> pb::FailureReason {
    match reason {
        FailureReason::KeyPresent => pb::FailureReason::KeyPresent,
        FailureReason::NewPasswordRefused => pb::FailureReason::NewPasswordRefused,
        FailureReason::CurrentPasswordRefused => pb::FailureReason::CurrentPasswordRefused,
        FailureReason::OwaUnreachable => pb::FailureReason::OwaUnreachable,
        FailureReason::OwaUntrusted => pb::FailureReason::OwaUntrusted,
        FailureReason::OwaUnexpected => pb::FailureReason::OwaUnexpected,
        FailureReason::LogonNameMissing => pb::FailureReason::LogonNameMissing,
        FailureReason::NeedsHuman => pb::FailureReason::NeedsHuman,
        FailureReason::LocalStorage => pb::FailureReason::LocalStorage,
        FailureReason::Cancelled => pb::FailureReason::Cancelled,
    }
}

fn evidence_to_pb(evidence: &KeyEvidence) -> pb::KeyEvidence {
    match evidence {
        KeyEvidence::ObservedAbsent { at } => pb::KeyEvidence {
            kind: pb::key_evidence::Kind::ObservedAbsent.into(),
            observed_at: format_time(*at),
            detail: String::new(),
        },
        KeyEvidence::PersonConfirmed { at, detail } => pb::KeyEvidence {
            kind: pb::key_evidence::Kind::PersonConfirmed.into(),
            observed_at: format_time(*at),
            detail: detail.chars().take(500).collect(),
        },
    }
}

fn report_to_pb(report: &Report) -> pb::StepReport {
    let (step, failure) = step_to_pb(report.step);
    pb::StepReport {
        report_id: report.report_id.to_string(),
        rotation_id: report.rotation_id.clone().to_string(),
        step: step.into(),
        occurred_at: format_time(report.occurred_at),
        failure: failure.into(),
        key_evidence: report.key_evidence.as_ref().map(evidence_to_pb),
        detail: report.detail.chars().take(500).collect(),
        local_account: report.local_account.as_ref().map(account_to_pb),
    }
}

/// Where one rotation stands, for the check-in.
pub(crate) fn progress_to_pb(rotation_id: &str, step: Step) -> pb::RotationProgress {
    let (step, failure) = step_to_pb(step);
    pb::RotationProgress {
        rotation_id: rotation_id.to_owned(),
        step: step.into(),
        failure: failure.into(),
    }
}

impl Uplink {
    /// The open rotations of the mailboxes assigned to this workstation. A rotation the agent
    /// cannot read (an unknown kind from a newer server, a provisional one without its password)
    /// is left out and logged.
    pub async fn pending_rotations(&self) -> Result<Vec<PendingRotation>, UplinkError> {
        let identity = self.state.load()?;
        let response = self
            .client(&identity)
            .await?
            .get_pending_rotations(pb::GetPendingRotationsRequest {})
            .await?
            .into_inner();
        Ok(response
            .rotations
            .into_iter()
            .filter_map(|rotation| {
                let id = rotation.rotation_id.clone();
                let pending = pending_from_pb(rotation);
                if pending.is_none() {
                    tracing::warn!(rotation = %id, "a delivered rotation cannot be used; left out");
                }
                pending
            })
            .collect())
    }

    /// Sends `reports` (at most 100, in order) and returns what the server said of each, by
    /// report id.
    pub async fn report_steps(
        &self,
        reports: &[Report],
    ) -> Result<Vec<(ReportId, Receipt)>, UplinkError> {
        let identity = self.state.load()?;
        let request =
            pb::ReportStepsRequest { reports: reports.iter().map(report_to_pb).collect() };
        let response = self.client(&identity).await?.report_steps(request).await?.into_inner();
        // An answer for an id that is no report id cannot be for a report the agent sent.
        Ok(response
            .results
            .into_iter()
            .filter_map(|result| {
                let id = ReportId::parse("report_id", &result.report_id).ok()?;
                let receipt = match pb::report_result::Outcome::try_from(result.outcome) {
                    Ok(pb::report_result::Outcome::Recorded) => Receipt::Recorded,
                    Ok(pb::report_result::Outcome::Duplicate) => Receipt::Duplicate,
                    _ => Receipt::Rejected(result.reason),
                };
                Some((id, receipt))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_rotation_without_its_password_is_left_out() {
        let rotation = pb::PendingRotation {
            rotation_id: "r".into(),
            mailbox: "a.b@01234.mailnot.fr".into(),
            kind: pb::pending_rotation::Kind::Provisional.into(),
            ..Default::default()
        };
        assert!(pending_from_pb(rotation).is_none());
    }

    #[test]
    fn a_periodic_rotation_carries_no_password_and_keeps_its_logon_name() {
        let rotation = pb::PendingRotation {
            rotation_id: "r".into(),
            mailbox: "a.b@01234.mailnot.fr".into(),
            kind: pb::pending_rotation::Kind::Periodic.into(),
            logon_name: "NOT\\ab".into(),
            provisional_password: "ignored".into(),
            ..Default::default()
        };
        let pending = pending_from_pb(rotation).expect("usable");
        assert_eq!(pending.kind, RotationKind::Periodic);
        assert!(pending.provisional.is_none());
        assert_eq!(pending.logon_name.as_deref(), Some("NOT\\ab"));
    }

    #[test]
    fn the_bound_account_comes_in_and_the_acting_account_goes_out() {
        let rotation = pb::PendingRotation {
            rotation_id: "r".into(),
            mailbox: "a.b@01234.mailnot.fr".into(),
            kind: pb::pending_rotation::Kind::Periodic.into(),
            bound_account: Some(pb::LocalAccount { id: "marie".into(), detail: "uid 1001".into() }),
            ..Default::default()
        };
        let pending = pending_from_pb(rotation).expect("usable");
        assert_eq!(pending.bound_account, Some(LocalAccount::new("marie", "uid 1001")));
        let unbound = pb::PendingRotation {
            rotation_id: "r".into(),
            bound_account: Some(pb::LocalAccount::default()),
            kind: pb::pending_rotation::Kind::Periodic.into(),
            ..Default::default()
        };
        assert_eq!(pending_from_pb(unbound).expect("usable").bound_account, None);
        let report = Report::new(crate::rotation::ReportDraft {
            rotation_id: sesame_base::ids::RotationId::parse("id", "r").unwrap(),
            step: Step::Verified,
            occurred_at: time::macros::datetime!(2026-12-01 09:00 UTC),
            key_evidence: None,
            detail: String::new(),
            local_account: Some(LocalAccount::new("marie", "uid 1001")),
        });
        let sent = report_to_pb(&report);
        assert_eq!(
            sent.local_account.map(|a| (a.id, a.detail)),
            Some(("marie".into(), "uid 1001".into()))
        );
    }

    #[test]
    fn the_servers_rule_is_used_but_never_below_the_floor() {
        let policy = pb::AgentPasswordPolicy {
            min_length: 4,
            require_lower: true,
            require_upper: false,
            require_digit: true,
            require_special: false,
            ..Default::default()
        };
        let rule = rule_from_pb(&policy);
        assert_eq!(rule.min_length, 10);
        assert!(rule.check("motdepasse12").is_empty());
    }

    #[test]
    fn the_servers_strength_checks_are_on_when_absent_and_capped() {
        assert_eq!(
            strength_from_pb(&pb::AgentPasswordPolicy::default()),
            StrengthChecks::default()
        );
        let off = pb::AgentPasswordPolicy {
            refuse_personal_words: Some(false),
            refuse_common_passwords: Some(false),
            min_strength: Some(0),
            ..Default::default()
        };
        let checks = strength_from_pb(&off);
        assert_eq!(
            checks,
            StrengthChecks { personal_words: false, common_passwords: false, min_score: 0 }
        );
        let high = pb::AgentPasswordPolicy { min_strength: Some(u32::MAX), ..Default::default() };
        assert_eq!(strength_from_pb(&high).min_score, 4);
        let pending = pending_from_pb(pb::PendingRotation {
            rotation_id: "r".into(),
            kind: pb::pending_rotation::Kind::Periodic.into(),
            office_name: "SCP Lefèvre".into(),
            office_city: "Saint-Malo".into(),
            policy: Some(off),
            ..Default::default()
        })
        .expect("usable");
        assert_eq!(
            (pending.office_name.as_str(), pending.office_city.as_str()),
            ("SCP Lefèvre", "Saint-Malo")
        );
        assert!(!pending.strength.common_passwords);
    }

    #[test]
    fn a_failure_carries_its_reason() {
        let (step, failure) = step_to_pb(Step::Failed(FailureReason::OwaUnreachable));
        assert_eq!(step, pb::RotationStep::Failed);
        assert_eq!(failure, pb::FailureReason::OwaUnreachable);
    }
}
