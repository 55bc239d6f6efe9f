//! The steps of a rotation on a workstation ([`Step`]) and why one stops ([`FailureReason`]), as
//! the agent's state machine reaches them, the server records them and the local socket shows
//! them: one definition for all three.
//!
//! Their names are the server's stored ones (`key_present`, `failed`...), given by
//! [`Step::as_str`] and [`FailureReason::as_str`] and read back by `parse`. Serde uses the same
//! names (`"pending"`, `{"failed":"cancelled"}`: the local protocol's encoding) and also reads the
//! variant names (`"Pending"`, `{"Failed":"Cancelled"}`) that agents wrote in their journal and
//! outbox before these types were shared. The contract's enums are converted at the gRPC edges.

use serde::{Deserialize, Serialize};

/// Why a rotation failed or could not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The clé REAL was plugged in.
    #[serde(alias = "KeyPresent")]
    KeyPresent,
    /// OWA refused the new password (history, complexity, minimum age).
    #[serde(alias = "NewPasswordRefused")]
    NewPasswordRefused,
    /// OWA refused the current (or provisional) password.
    #[serde(alias = "CurrentPasswordRefused")]
    CurrentPasswordRefused,
    /// OWA could not be reached.
    #[serde(alias = "OwaUnreachable")]
    OwaUnreachable,
    /// OWA's certificate or host was not the configured one.
    #[serde(alias = "OwaUntrusted")]
    OwaUntrusted,
    /// OWA behaved in a way the agent does not know.
    #[serde(alias = "OwaUnexpected")]
    OwaUnexpected,
    /// OWA wants `DOMAIN\user` and the mailbox has no logon name.
    #[serde(alias = "LogonNameMissing")]
    LogonNameMissing,
    /// The outcome cannot be known, or the rotation cannot go on, without a person.
    #[serde(alias = "NeedsHuman")]
    NeedsHuman,
    /// The agent could not write its journal, so nothing was tried.
    #[serde(alias = "LocalStorage")]
    LocalStorage,
    /// The person gave up, or the rotation was cancelled.
    #[serde(alias = "Cancelled")]
    Cancelled,
}

impl FailureReason {
    /// Every reason, in the contract's order.
    pub const ALL: [FailureReason; 10] = [
        FailureReason::KeyPresent,
        FailureReason::NewPasswordRefused,
        FailureReason::CurrentPasswordRefused,
        FailureReason::OwaUnreachable,
        FailureReason::OwaUntrusted,
        FailureReason::OwaUnexpected,
        FailureReason::LogonNameMissing,
        FailureReason::NeedsHuman,
        FailureReason::LocalStorage,
        FailureReason::Cancelled,
    ];

    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::KeyPresent => "key_present",
            FailureReason::NewPasswordRefused => "new_password_refused",
            FailureReason::CurrentPasswordRefused => "current_password_refused",
            FailureReason::OwaUnreachable => "owa_unreachable",
            FailureReason::OwaUntrusted => "owa_untrusted",
            FailureReason::OwaUnexpected => "owa_unexpected",
            FailureReason::LogonNameMissing => "logon_name_missing",
            FailureReason::NeedsHuman => "needs_human",
            FailureReason::LocalStorage => "local_storage",
            FailureReason::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<FailureReason> {
        FailureReason::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// Whether the person may try again from this failure (a new change).
    pub fn retryable(self) -> bool {
        !matches!(self, FailureReason::NeedsHuman | FailureReason::Cancelled)
    }
}

/// A step of a rotation on the workstation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The agent holds the rotation; the person has not started it.
    #[serde(alias = "Pending")]
    Pending,
    /// The person started: the key is out and the new password passed the local checks; the
    /// change is being sent (or its outcome reconciled).
    #[serde(alias = "Started")]
    Started,
    /// OWA accepted the change, not yet verified.
    #[serde(alias = "Changed")]
    Changed,
    /// A logon with the new password succeeded; waiting for Outlook and the key.
    #[serde(alias = "Verified")]
    Verified,
    /// The key is back in; the person re-entered the password in Outlook.
    #[serde(alias = "Completed")]
    Completed,
    /// The rotation stopped, for this reason.
    #[serde(alias = "Failed")]
    Failed(FailureReason),
}

impl Step {
    /// The stored name (without the failure reason).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Pending => "pending",
            Step::Started => "started",
            Step::Changed => "changed",
            Step::Verified => "verified",
            Step::Completed => "completed",
            Step::Failed(_) => "failed",
        }
    }

    /// The failure reason, for a failed step.
    pub fn failure(self) -> Option<FailureReason> {
        match self {
            Step::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Parses a stored step and failure reason.
    pub fn parse(step: &str, failure: Option<&str>) -> Option<Step> {
        Some(match step {
            "pending" => Step::Pending,
            "started" => Step::Started,
            "changed" => Step::Changed,
            "verified" => Step::Verified,
            "completed" => Step::Completed,
            "failed" => Step::Failed(FailureReason::parse(failure?)?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [Step; 5] =
        [Step::Pending, Step::Started, Step::Changed, Step::Verified, Step::Completed];

    #[test]
    fn steps_and_reasons_round_trip_through_their_stored_names() {
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::parse(reason.as_str()), Some(reason));
            let step = Step::Failed(reason);
            assert_eq!(Step::parse(step.as_str(), Some(reason.as_str())), Some(step));
            assert_eq!(step.failure(), Some(reason));
        }
        for step in STEPS {
            assert_eq!(Step::parse(step.as_str(), None), Some(step));
            assert_eq!(step.failure(), None);
        }
        assert_eq!(Step::parse("failed", None), None);
        assert_eq!(Step::parse("failed", Some("KeyPresent")), None);
        assert_eq!(FailureReason::parse("unknown"), None);
    }

    #[test]
    fn serde_writes_the_stored_names() {
        for reason in FailureReason::ALL {
            let json = serde_json::to_string(&Step::Failed(reason)).unwrap();
            assert_eq!(json, format!(r#"{{"failed":"{}"}}"#, reason.as_str()));
            assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), Step::Failed(reason));
        }
        for step in STEPS {
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(json, format!(r#""{}""#, step.as_str()));
            assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), step);
        }
    }

    #[test]
    fn serde_reads_the_variant_names_older_agents_wrote() {
        let old = [
            (r#""Pending""#, Step::Pending),
            (r#""Started""#, Step::Started),
            (r#""Changed""#, Step::Changed),
            (r#""Verified""#, Step::Verified),
            (r#""Completed""#, Step::Completed),
            (r#"{"Failed":"KeyPresent"}"#, Step::Failed(FailureReason::KeyPresent)),
            (r#"{"Failed":"NewPasswordRefused"}"#, Step::Failed(FailureReason::NewPasswordRefused)),
            (
                r#"{"Failed":"CurrentPasswordRefused"}"#,
                Step::Failed(FailureReason::CurrentPasswordRefused),
            ),
            (r#"{"Failed":"OwaUnreachable"}"#, Step::Failed(FailureReason::OwaUnreachable)),
            (r#"{"Failed":"OwaUntrusted"}"#, Step::Failed(FailureReason::OwaUntrusted)),
            (r#"{"Failed":"OwaUnexpected"}"#, Step::Failed(FailureReason::OwaUnexpected)),
            (r#"{"Failed":"LogonNameMissing"}"#, Step::Failed(FailureReason::LogonNameMissing)),
            (r#"{"Failed":"NeedsHuman"}"#, Step::Failed(FailureReason::NeedsHuman)),
            (r#"{"Failed":"LocalStorage"}"#, Step::Failed(FailureReason::LocalStorage)),
            (r#"{"Failed":"Cancelled"}"#, Step::Failed(FailureReason::Cancelled)),
        ];
        for (json, step) in old {
            assert_eq!(serde_json::from_str::<Step>(json).unwrap(), step, "{json}");
        }
        assert!(serde_json::from_str::<Step>(r#""pending_human""#).is_err());
    }

    #[test]
    fn only_a_person_or_a_cancellation_ends_the_retries() {
        let final_ones: Vec<FailureReason> =
            FailureReason::ALL.into_iter().filter(|r| !r.retryable()).collect();
        assert_eq!(final_ones, [FailureReason::NeedsHuman, FailureReason::Cancelled]);
    }
}
