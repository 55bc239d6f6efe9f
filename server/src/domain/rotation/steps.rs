//! What agents report about a rotation: its steps (STARTED with the key evidence, CHANGED,
//! VERIFIED, COMPLETED, or FAILED with a reason: the [`Step`] of `sesame_base::rotation`, shared
//! with the agent), their audit actions ([`StepAction`]), and the rule deciding what a report does
//! to the rotation it names ([`transition`]).
//!
//! VERIFIED (a logon with the new password succeeded) closes the rotation as completed and
//! destroys its escrowed password; a later COMPLETED (key back in, Outlook re-entered) is only
//! recorded; FAILED keeps the rotation open so the person may retry.

use sesame_base::rotation::Step;
use time::OffsetDateTime;

use super::RotationStatus;
use crate::domain::account::{AccountBinding, LocalAccount};
use crate::domain::identifier::{ReportId, RotationId};

/// At most this many reports in one request.
pub const MAX_REPORTS: usize = 100;
/// A detail's (or an evidence's detail) maximum length, in characters.
pub const MAX_DETAIL_LEN: usize = 500;

/// The audit action of a recorded report of a step (`rotation.report.pending`...): the server's own
/// name for a [`Step`], which `sesame_base` shares with the agent.
pub trait StepAction {
    /// The audit action.
    fn action(self) -> &'static str;
}

impl StepAction for Step {
    fn action(self) -> &'static str {
        match self {
            Step::Pending => "rotation.report.pending",
            Step::Started => "rotation.report.started",
            Step::Changed => "rotation.report.changed",
            Step::Verified => "rotation.report.verified",
            Step::Completed => "rotation.report.completed",
            Step::Failed(_) => "rotation.report.failed",
        }
    }
}

/// How the key's absence was established before a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEvidence {
    /// The agent saw no REAL key on the USB bus.
    ObservedAbsent {
        /// When (the agent's clock).
        at: OffsetDateTime,
    },
    /// The agent could not see the bus; the person confirmed they unplugged the key.
    PersonConfirmed {
        /// When (the agent's clock).
        at: OffsetDateTime,
        /// Why the agent could not see.
        detail: String,
    },
}

impl KeyEvidence {
    /// The stored name of its kind.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyEvidence::ObservedAbsent { .. } => "observed_absent",
            KeyEvidence::PersonConfirmed { .. } => "person_confirmed",
        }
    }

    /// When it was established.
    pub fn at(&self) -> OffsetDateTime {
        match self {
            KeyEvidence::ObservedAbsent { at } | KeyEvidence::PersonConfirmed { at, .. } => *at,
        }
    }

    /// Its detail (empty when observed).
    pub fn detail(&self) -> &str {
        match self {
            KeyEvidence::ObservedAbsent { .. } => "",
            KeyEvidence::PersonConfirmed { detail, .. } => detail,
        }
    }

    /// Rebuilds stored evidence.
    pub fn from_stored(kind: &str, at: OffsetDateTime, detail: String) -> Option<KeyEvidence> {
        match kind {
            "observed_absent" => Some(KeyEvidence::ObservedAbsent { at }),
            "person_confirmed" => Some(KeyEvidence::PersonConfirmed { at, detail }),
            _ => None,
        }
    }
}

/// One report of an agent, checked at the edge (lengths, characters, enum values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The agent's idempotency key.
    pub report_id: ReportId,
    /// The rotation it is about.
    pub rotation_id: RotationId,
    /// The step reached.
    pub step: Step,
    /// When, on the agent's clock.
    pub occurred_at: OffsetDateTime,
    /// On a started step: how the key's absence was established.
    pub key_evidence: Option<KeyEvidence>,
    /// Plain words for an administrator; never a password.
    pub detail: String,
    /// The local account that acted, when the report names one.
    pub local_account: Option<LocalAccount>,
}

/// What the server did with one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded now.
    Recorded,
    /// Recorded before: nothing changed.
    Duplicate,
    /// Never accepted, for this reason.
    Rejected(String),
}

/// A recorded report, as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    /// The rotation.
    pub rotation_id: RotationId,
    /// The agent's report id.
    pub report_id: ReportId,
    /// The reporting workstation.
    pub workstation_id: String,
    /// The step.
    pub step: Step,
    /// The agent's clock.
    pub occurred_at: OffsetDateTime,
    /// The server's clock.
    pub received_at: OffsetDateTime,
    /// The key evidence, on a started step.
    pub key_evidence: Option<KeyEvidence>,
    /// Plain words.
    pub detail: String,
    /// The local account that acted, when the report named one.
    pub local_account: Option<LocalAccount>,
}

/// The proof of a mailbox's last password change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChange {
    /// The rotation.
    pub rotation_id: RotationId,
    /// Its kind.
    pub kind: super::RotationKind,
    /// When the server recorded the verification.
    pub verified_at: OffsetDateTime,
    /// The workstation that changed it.
    pub workstation_id: String,
    /// How the key's absence was established (from the started report).
    pub key_evidence: Option<KeyEvidence>,
}

/// A mailbox's rotations as administrators read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxHistory {
    /// Its rotations, newest first.
    pub rotations: Vec<super::Rotation>,
    /// The steps agents reported for them, oldest first.
    pub events: Vec<RotationEvent>,
    /// Its last verified change, if any.
    pub last_verified_change: Option<VerifiedChange>,
    /// The workstations it is assigned to.
    pub workstations: Vec<String>,
    /// Its default account (first, if any) and its bindings per workstation, by workstation.
    pub accounts: Vec<AccountBinding>,
}

/// What a report does to its rotation, when accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Recorded as the rotation's last step; the rotation stays open.
    Record,
    /// Recorded, and the rotation closes as completed: escrow destroyed, change verified.
    Verify,
    /// Recorded in the history only (COMPLETED after VERIFIED).
    HistoryOnly,
}

/// Decides what a report of `step` does to a rotation that is `status` with `last` as its last
/// reported step: a [`Transition`], or the reason it is rejected.
pub fn transition(
    status: RotationStatus,
    last: Option<Step>,
    step: Step,
) -> Result<Transition, &'static str> {
    let open = matches!(status, RotationStatus::Issued | RotationStatus::Delivered);
    if !open {
        return match (status, last, step) {
            (RotationStatus::Completed, Some(Step::Verified), Step::Completed) => {
                Ok(Transition::HistoryOnly)
            }
            (RotationStatus::Completed, _, _) => Err("the rotation is completed"),
            (RotationStatus::Cancelled, _, _) => Err("the rotation was cancelled"),
            (RotationStatus::Expired, _, _) => Err("the rotation expired"),
            _ => Err("the rotation is closed"),
        };
    }
    let after_start = matches!(last, Some(Step::Started | Step::Changed | Step::Failed(_)));
    match step {
        Step::Pending if matches!(last, None | Some(Step::Pending)) => Ok(Transition::Record),
        Step::Pending => Err("pending cannot follow a later step"),
        Step::Started if !matches!(last, Some(Step::Changed)) => Ok(Transition::Record),
        Step::Started => Err("started cannot follow changed"),
        Step::Changed if after_start => Ok(Transition::Record),
        Step::Changed => Err("changed must follow started"),
        Step::Verified if after_start => Ok(Transition::Verify),
        Step::Verified => Err("verified must follow started"),
        Step::Completed => Err("completed must follow verified"),
        Step::Failed(_) => Ok(Transition::Record),
    }
}

#[cfg(test)]
mod tests {
    use sesame_base::rotation::FailureReason;

    use super::*;

    #[test]
    fn every_step_has_its_audit_action() {
        assert_eq!(Step::Pending.action(), "rotation.report.pending");
        assert_eq!(Step::Failed(FailureReason::Cancelled).action(), "rotation.report.failed");
    }

    #[test]
    fn the_story_runs_and_closed_rotations_refuse() {
        use RotationStatus::*;
        assert_eq!(transition(Delivered, None, Step::Started), Ok(Transition::Record));
        assert_eq!(
            transition(Delivered, Some(Step::Started), Step::Changed),
            Ok(Transition::Record)
        );
        assert_eq!(
            transition(Delivered, Some(Step::Changed), Step::Verified),
            Ok(Transition::Verify)
        );
        assert_eq!(
            transition(Completed, Some(Step::Verified), Step::Completed),
            Ok(Transition::HistoryOnly)
        );
        assert!(transition(Completed, Some(Step::Completed), Step::Completed).is_err());
        assert!(transition(Delivered, None, Step::Verified).is_err());
        assert!(transition(Delivered, Some(Step::Started), Step::Completed).is_err());
        assert!(transition(Cancelled, None, Step::Started).is_err());
        assert!(transition(Expired, Some(Step::Started), Step::Changed).is_err());
        let failed = Some(Step::Failed(FailureReason::OwaUnreachable));
        assert_eq!(transition(Issued, failed, Step::Started), Ok(Transition::Record));
        assert_eq!(
            transition(Issued, None, Step::Failed(FailureReason::KeyPresent)),
            Ok(Transition::Record)
        );
    }
}
