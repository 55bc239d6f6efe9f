//! What a compliance report holds: counts per state for an office and for the fleet, and each
//! mailbox's standing, at one time (now or a past date).

use time::OffsetDateTime;

use super::ComplianceState;
use crate::domain::office::{Crpcen, MailboxAddress};

/// How many mailboxes are in each state ([`ComplianceState::ALL`] order; failed changes counted
/// together whatever their reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts([u64; 8]);

impl StateCounts {
    fn index(state: ComplianceState) -> usize {
        ComplianceState::ALL.iter().position(|s| s.as_str() == state.as_str()).unwrap_or_default()
    }

    /// Adds `n` mailboxes in `state`.
    pub fn add(&mut self, state: ComplianceState, n: u64) {
        self.0[Self::index(state)] += n;
    }

    /// Adds every count of `other`.
    pub fn add_all(&mut self, other: &StateCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// The mailboxes in `state`.
    pub fn get(&self, state: ComplianceState) -> u64 {
        self.0[Self::index(state)]
    }

    /// Every state with its count, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (ComplianceState, u64)> + '_ {
        ComplianceState::ALL.into_iter().zip(self.0)
    }

    /// All mailboxes.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The compliant mailboxes (compliant or due soon).
    pub fn compliant(&self) -> u64 {
        self.iter().filter(|(s, _)| s.is_compliant()).map(|(_, n)| n).sum()
    }

    /// The share of compliant mailboxes, in percent (100 for no mailbox).
    pub fn percent_compliant(&self) -> f64 {
        match self.total() {
            0 => 100.0,
            total => self.compliant() as f64 * 100.0 / total as f64,
        }
    }
}

/// One office's counts at the report's time.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficeCounts {
    /// The office.
    pub crpcen: Crpcen,
    /// Its name.
    pub name: String,
    /// Its mailboxes per state.
    pub counts: StateCounts,
    /// The oldest last verified change among its mailboxes.
    pub oldest_verified_change: Option<OffsetDateTime>,
    /// Its mailboxes never changed through Sesame.
    pub never_changed: u64,
    /// Since when the longest-late of its non-compliant mailboxes is non-compliant: how long the
    /// office has been late, if it is.
    pub late_since: Option<OffsetDateTime>,
}

/// One mailbox's standing at the report's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStanding {
    /// The mailbox.
    pub address: MailboxAddress,
    /// Its owner's name.
    pub display_name: String,
    /// Its state.
    pub state: ComplianceState,
    /// Since when it is in that state.
    pub since: OffsetDateTime,
    /// Since when it is non-compliant without a break.
    pub non_compliant_since: Option<OffsetDateTime>,
    /// Its last verified change.
    pub last_verified_at: Option<OffsetDateTime>,
}

/// The fleet's totals at the report's time, without the per-office detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetSummary {
    /// Mailboxes per state.
    pub counts: StateCounts,
    /// Offices with at least one mailbox.
    pub offices: u64,
    /// Offices whose every mailbox is compliant.
    pub offices_compliant: u64,
    /// The oldest last verified change.
    pub oldest_verified_change: Option<OffsetDateTime>,
    /// Mailboxes never changed through Sesame.
    pub never_changed: u64,
}

/// The earlier of two optional times (either one when the other is missing).
pub fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
