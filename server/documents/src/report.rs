//! The compliance report as the documents take it ([`ComplianceReportDoc`]): the fleet's totals,
//! each office's counts and, when listed, its mailboxes' standings, at one time, with the signed
//! audit head it was made from. Rendered by `report_pdf` and `report_csv`.

use time::OffsetDateTime;

use crate::HeadStamp;

/// A mailbox's compliance state, as the documents name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Compliant.
    Compliant,
    /// Compliant, its deadline near.
    DueSoon,
    /// Past its deadline.
    Overdue,
    /// A provisional password waits to be changed.
    ProvisionalPending,
    /// A provisional password ran out unchanged.
    ProvisionalExpired,
    /// The last change failed.
    ChangeFailed,
    /// No assigned workstation checked in lately.
    AgentOffline,
    /// No workstation of the office is assigned the mailbox.
    NeverEnrolled,
    /// A state this version does not know (from a newer server).
    Unknown,
}

impl State {
    /// The English name, as listings print it.
    pub fn name(self) -> &'static str {
        match self {
            State::Compliant => "compliant",
            State::DueSoon => "due soon",
            State::Overdue => "overdue",
            State::ProvisionalPending => "provisional pending",
            State::ProvisionalExpired => "provisional expired",
            State::ChangeFailed => "change failed",
            State::AgentOffline => "agent offline",
            State::NeverEnrolled => "never enrolled",
            State::Unknown => "unknown",
        }
    }

    /// The French name, as the PDF prints it.
    pub fn name_fr(self) -> &'static str {
        match self {
            State::Compliant => "conforme",
            State::DueSoon => "échéance proche",
            State::Overdue => "en retard",
            State::ProvisionalPending => "mot de passe provisoire en attente",
            State::ProvisionalExpired => "mot de passe provisoire expiré",
            State::ChangeFailed => "échec du changement",
            State::AgentOffline => "poste hors ligne",
            State::NeverEnrolled => "aucun poste enrôlé",
            State::Unknown => "inconnu",
        }
    }
}

/// How many mailboxes are in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateCount {
    /// The state.
    pub state: State,
    /// How many mailboxes.
    pub mailboxes: u64,
}

/// How many of `counts` are in `state`.
pub(crate) fn count_of(counts: &[StateCount], state: State) -> u64 {
    counts.iter().find(|c| c.state == state).map_or(0, |c| c.mailboxes)
}

/// One mailbox's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxLine {
    /// Its MAILNOT address.
    pub address: String,
    /// The person's name.
    pub display_name: String,
    /// Its state.
    pub state: State,
    /// For a failed change, why (`current_password_refused`, ...); empty otherwise.
    pub reason: String,
    /// Since when it is in this state.
    pub since: Option<OffsetDateTime>,
    /// Since when it is non-compliant without a break (`None` when compliant).
    pub non_compliant_since: Option<OffsetDateTime>,
    /// Its last verified change, if any.
    pub last_verified_change_at: Option<OffsetDateTime>,
}

/// One office's counts, and its mailboxes when listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeLine {
    /// Its CRPCEN.
    pub crpcen: String,
    /// Its name.
    pub name: String,
    /// How many mailboxes.
    pub mailboxes: u64,
    /// How many compliant (compliant or due soon).
    pub compliant: u64,
    /// How many in each state.
    pub counts: Vec<StateCount>,
    /// The oldest last verified change among its mailboxes.
    pub oldest_verified_change_at: Option<OffsetDateTime>,
    /// Its mailboxes never changed through Sesame.
    pub never_changed: u64,
    /// Since when its longest-late mailbox is non-compliant (`None` when all comply).
    pub late_since: Option<OffsetDateTime>,
    /// Its mailboxes, by address (empty when not listed).
    pub mailbox_states: Vec<MailboxLine>,
}

/// The rule the report applies, as its PDF states it (the global policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rule {
    /// Days before the limit at which a mailbox is due soon.
    pub due_soon_days: u32,
    /// Days after the last verified change at which a mailbox is overdue.
    pub limit_days: u32,
    /// Days without a check-in after which a workstation is offline.
    pub offline_days: u32,
}

/// A compliance report, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceReportDoc {
    /// The time it describes.
    pub at: OffsetDateTime,
    /// When it was made.
    pub generated_at: Option<OffsetDateTime>,
    /// How many mailboxes it covers.
    pub mailboxes: u64,
    /// How many of them are compliant.
    pub compliant: u64,
    /// How many in each state, over the fleet.
    pub counts: Vec<StateCount>,
    /// How many offices have every mailbox compliant.
    pub offices_compliant: u64,
    /// How many offices it covers.
    pub offices_reported: u64,
    /// The oldest verified change over the offices.
    pub oldest_verified_change_at: Option<OffsetDateTime>,
    /// Each office, by CRPCEN.
    pub offices: Vec<OfficeLine>,
    /// The signed audit head it was made from (`None` while the audit log is empty).
    pub head: Option<HeadStamp>,
}
