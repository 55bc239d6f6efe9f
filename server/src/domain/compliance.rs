//! Compliance: whether a mailbox follows the rotation rule at a given time, and why not.
//!
//! Each mailbox is in exactly one [`ComplianceState`] at any time, decided by [`assess`] from its
//! [`MailboxFacts`] (what the store knows: its creation, its last verified change, its newest
//! rotation, its workstations' last check-in) and the [`CompliancePolicy`] of its office. The
//! first rule that matches wins:
//!
//! | State | When |
//! |---|---|
//! | provisional expired | the newest provisional rotation ran out (`expires_at` passed) unchanged |
//! | change failed | the newest rotation's last report is a failure (with its reason) |
//! | provisional pending | a provisional rotation is open and not expired |
//! | overdue | `limit` days after the last verified change (or the registration) |
//! | never enrolled | no active workstation of the office is assigned the mailbox |
//! | agent offline | no assigned workstation checked in for `offline` days |
//! | due soon | `due_soon` days before the limit |
//! | compliant | otherwise |
//!
//! Only *compliant* and *due soon* count as compliant. Between two changes of its facts a
//! mailbox's state changes only at deadlines that [`assess`] names (`next_change`), so
//! [`advance`] replays them one by one: the store keeps the state of every mailbox and appends
//! each transition, at the exact time it happened, to an append-only history that answers any
//! past date. A password is taken as set when its mailbox is registered: a mailbox never changed
//! through Sesame is measured from its registration.

mod report;
mod trend;

use time::{Duration, OffsetDateTime};

pub use self::report::{FleetSummary, MailboxStanding, OfficeCounts, StateCounts, earliest};
pub use self::trend::{MAX_TREND_POINTS, TrendPoint, trend_times};
use crate::domain::rotation::{FailureReason, RotationKind, RotationStatus};

/// Days before the limit at which a mailbox is "due soon" by default.
pub const DEFAULT_DUE_SOON_DAYS: i64 = 14;
/// Days after the last verified change at which a mailbox is overdue by default.
pub const DEFAULT_LIMIT_DAYS: i64 = 90;
/// Days without a check-in after which a workstation's mailboxes are "agent offline" by default.
pub const DEFAULT_OFFLINE_DAYS: i64 = 10;
/// The longest limit a policy may set, in days (ten years).
pub const MAX_LIMIT_DAYS: i64 = 3650;
/// The longest offline delay a policy may set, in days.
pub const MAX_OFFLINE_DAYS: i64 = 365;

/// The compliance rule of an office (or the global one): three delays, in whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompliancePolicy {
    /// Days before the limit at which a mailbox is due soon (0 = never).
    pub due_soon_days: i64,
    /// Days after the last verified change at which a mailbox is overdue.
    pub limit_days: i64,
    /// Days without a check-in after which a workstation is offline.
    pub offline_days: i64,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid compliance policy: {0}")]
pub struct PolicyError(pub &'static str);

impl CompliancePolicy {
    /// The policy with the given limit and the default other delays.
    pub fn with_limit(limit: Duration) -> CompliancePolicy {
        CompliancePolicy {
            due_soon_days: DEFAULT_DUE_SOON_DAYS.min(limit.whole_days().saturating_sub(1)).max(0),
            limit_days: limit.whole_days().clamp(1, MAX_LIMIT_DAYS),
            offline_days: DEFAULT_OFFLINE_DAYS,
        }
    }

    /// Checks the delays: a limit of 1 to 3,650 days, "due soon" shorter than the limit, an
    /// offline delay of 1 to 365 days.
    pub fn validate(self) -> Result<CompliancePolicy, PolicyError> {
        if !(1..=MAX_LIMIT_DAYS).contains(&self.limit_days) {
            return Err(PolicyError("the limit must be 1 to 3650 days"));
        }
        if !(0..self.limit_days).contains(&self.due_soon_days) {
            return Err(PolicyError(
                "\"due soon\" must be 0 days or more and shorter than the limit",
            ));
        }
        if !(1..=MAX_OFFLINE_DAYS).contains(&self.offline_days) {
            return Err(PolicyError("the offline delay must be 1 to 365 days"));
        }
        Ok(self)
    }

    /// How long after its last verified change a mailbox is overdue.
    pub fn limit(self) -> Duration {
        Duration::days(self.limit_days)
    }

    /// How long after its last verified change a mailbox is due soon (and its periodic rotation
    /// opens).
    pub fn due_soon_after(self) -> Duration {
        Duration::days(self.limit_days - self.due_soon_days)
    }

    /// How long a workstation may stay silent.
    pub fn offline(self) -> Duration {
        Duration::days(self.offline_days)
    }
}

/// The one state a mailbox is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComplianceState {
    /// Changed within the limit, and its agent is reachable.
    Compliant,
    /// Compliant, but the limit is near.
    DueSoon,
    /// The limit has passed.
    Overdue,
    /// A provisional password was issued and not yet changed.
    ProvisionalPending,
    /// A provisional password ran out before it was changed.
    ProvisionalExpired,
    /// The last attempt failed, for this reason.
    ChangeFailed(FailureReason),
    /// Its workstations stopped checking in.
    AgentOffline,
    /// No active workstation is assigned it.
    NeverEnrolled,
}

impl ComplianceState {
    /// Every state, in report order (the reason of a failed change aside).
    pub const ALL: [ComplianceState; 8] = [
        ComplianceState::Compliant,
        ComplianceState::DueSoon,
        ComplianceState::Overdue,
        ComplianceState::ProvisionalPending,
        ComplianceState::ProvisionalExpired,
        ComplianceState::ChangeFailed(FailureReason::NeedsHuman),
        ComplianceState::AgentOffline,
        ComplianceState::NeverEnrolled,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceState::Compliant => "compliant",
            ComplianceState::DueSoon => "due_soon",
            ComplianceState::Overdue => "overdue",
            ComplianceState::ProvisionalPending => "provisional_pending",
            ComplianceState::ProvisionalExpired => "provisional_expired",
            ComplianceState::ChangeFailed(_) => "change_failed",
            ComplianceState::AgentOffline => "agent_offline",
            ComplianceState::NeverEnrolled => "never_enrolled",
        }
    }

    /// The reason stored beside the state: a failed change's reason, else nothing.
    pub fn reason(self) -> Option<FailureReason> {
        match self {
            ComplianceState::ChangeFailed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Reads a stored state and reason.
    pub fn parse(state: &str, reason: Option<&str>) -> Option<ComplianceState> {
        if state == "change_failed" {
            return reason.and_then(FailureReason::parse).map(ComplianceState::ChangeFailed);
        }
        ComplianceState::ALL.into_iter().find(|s| s.as_str() == state)
    }

    /// Whether the mailbox follows the rule in this state.
    pub fn is_compliant(self) -> bool {
        matches!(self, ComplianceState::Compliant | ComplianceState::DueSoon)
    }
}

/// The newest rotation of a mailbox opened after its last verified change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationFact {
    /// Provisional or periodic.
    pub kind: RotationKind,
    /// Its status now.
    pub status: RotationStatus,
    /// When it was opened.
    pub issued_at: OffsetDateTime,
    /// When its provisional password (or its delivery) runs out.
    pub expires_at: OffsetDateTime,
    /// When it was closed, if it was.
    pub closed_at: Option<OffsetDateTime>,
    /// Its last report, when that report is a failure: the reason and when it was received.
    pub failure: Option<(FailureReason, OffsetDateTime)>,
}

/// What the store knows about a mailbox that its state depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxFacts {
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// Its last verified change.
    pub last_verified_at: Option<OffsetDateTime>,
    /// Its newest rotation after that change (completed and cancelled ones are not facts).
    pub rotation: Option<RotationFact>,
    /// The newest check-in among the active workstations assigned it; `None` when none is.
    pub last_check_in: Option<OffsetDateTime>,
}

/// A mailbox's state at one time, and the next time it could change on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// The state.
    pub state: ComplianceState,
    /// The earliest later time at which, the facts unchanged, the state may change.
    pub next_change: Option<OffsetDateTime>,
}

/// The state of a mailbox at `at`, from its facts (as they stand at `at`) and its office's policy.
pub fn assess(facts: &MailboxFacts, policy: CompliancePolicy, at: OffsetDateTime) -> Assessment {
    let base = facts.last_verified_at.unwrap_or(facts.created_at);
    let due_soon_at = base + policy.due_soon_after();
    let overdue_at = base + policy.limit();
    let offline_at = facts.last_check_in.map(|seen| seen + policy.offline());
    let mut deadlines = vec![due_soon_at, overdue_at];
    deadlines.extend(offline_at);
    let rotation = facts.rotation.filter(|r| {
        !matches!(r.status, RotationStatus::Completed | RotationStatus::Cancelled)
            && facts.last_verified_at.is_none_or(|v| r.issued_at >= v)
    });
    let state = 'state: {
        if let Some(r) = rotation {
            let open = matches!(r.status, RotationStatus::Issued | RotationStatus::Delivered);
            let provisional = r.kind == RotationKind::Provisional;
            if provisional && open {
                deadlines.push(r.expires_at);
            }
            if provisional && (r.status == RotationStatus::Expired || (open && r.expires_at <= at))
            {
                break 'state ComplianceState::ProvisionalExpired;
            }
            if let Some((reason, _)) = r.failure {
                break 'state ComplianceState::ChangeFailed(reason);
            }
            if r.status == RotationStatus::Failed {
                break 'state ComplianceState::ChangeFailed(FailureReason::NeedsHuman);
            }
            if provisional && open {
                break 'state ComplianceState::ProvisionalPending;
            }
        }
        if at >= overdue_at {
            ComplianceState::Overdue
        } else if facts.last_check_in.is_none() {
            ComplianceState::NeverEnrolled
        } else if offline_at.is_some_and(|offline| at >= offline) {
            ComplianceState::AgentOffline
        } else if at >= due_soon_at {
            ComplianceState::DueSoon
        } else {
            ComplianceState::Compliant
        }
    };
    Assessment { state, next_change: deadlines.into_iter().filter(|d| *d > at).min() }
}

/// A mailbox's standing as the store keeps it: its state since when, since when it has been
/// non-compliant without a break, and when to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The state.
    pub state: ComplianceState,
    /// When the mailbox entered it.
    pub since: OffsetDateTime,
    /// When the mailbox stopped being compliant, if it is not.
    pub non_compliant_since: Option<OffsetDateTime>,
    /// When it was last assessed.
    pub assessed_at: OffsetDateTime,
    /// The next deadline: when it must be assessed again if nothing happens.
    pub next_check_at: Option<OffsetDateTime>,
}

/// Brings a standing up to `to` with facts that held since it was last assessed: replays every
/// deadline up to `to`, then assesses at `to`. Returns the new standing and the transitions it
/// went through (each a standing whose `since` is when it happened), in order. With no previous
/// standing (a mailbox seen for the first time), the mailbox is assessed at `to` only.
pub fn advance(
    previous: Option<&Standing>,
    facts: &MailboxFacts,
    policy: CompliancePolicy,
    to: OffsetDateTime,
) -> (Standing, Vec<Standing>) {
    let mut transitions = Vec::new();
    // Another server may have assessed a moment later by its clock: history never goes back.
    let to = previous.map_or(to, |p| to.max(p.assessed_at));
    let mut current = match previous {
        Some(standing) => *standing,
        None => {
            let first = assess(facts, policy, to);
            let standing = Standing {
                state: first.state,
                since: to,
                non_compliant_since: (!first.state.is_compliant()).then_some(to),
                assessed_at: to,
                next_check_at: first.next_change,
            };
            transitions.push(standing);
            return (standing, transitions);
        }
    };
    // Deadlines first (each strictly after the last assessment), then the time asked for.
    let mut at = current.next_check_at.filter(|d| *d > current.assessed_at && *d <= to);
    loop {
        let when = at.unwrap_or(to);
        let assessment = assess(facts, policy, when);
        if assessment.state != current.state {
            let non_compliant_since = match (assessment.state.is_compliant(), current.state) {
                (true, _) => None,
                (false, previous) if !previous.is_compliant() => current.non_compliant_since,
                (false, _) => Some(when),
            };
            current = Standing {
                state: assessment.state,
                since: when,
                non_compliant_since,
                assessed_at: when,
                next_check_at: assessment.next_change,
            };
            transitions.push(current);
        } else {
            current.assessed_at = when;
            current.next_check_at = assessment.next_change;
        }
        if at.is_none() {
            break;
        }
        at = assessment.next_change.filter(|d| *d <= to);
    }
    (current, transitions)
}

#[cfg(test)]
mod tests;
