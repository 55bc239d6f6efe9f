//! What a session's account may see, a page at a time, read by the actor: the answer to
//! `status` (the rotations `rotation::access` opens to the account, its last report, the key);
//! the pages of a long mailbox choice use [`CHOICES`] (`service::actor`). Each line stays far
//! below the local protocol's 16 KiB limit: at most [`STATUS_PAGE`] rotations or [`CHOICES`]
//! mailboxes, display names cut to [`DISPLAY_NAME_CHARS`] characters.

use sesame_local::account::LocalAccount;
use sesame_local::protocol::{
    KeyStatus, LastReport, MailboxChoice, PasswordKind, RotationStatus, StatusReport,
};

use super::Actor;
use crate::key::KeyState;
use crate::rotation::access::{self, Access};
use crate::rotation::{Phase, Rotation, RotationKind};
use crate::service::owa_ops::OwaWork;

/// Rotations in one `status` answer (a page), so that a line stays far below the 16 KiB limit.
pub(super) const STATUS_PAGE: usize = 16;
/// The most mailboxes offered in one `choose_mailbox` line (longer lists are paged).
pub(in crate::service) const CHOICES: usize = 24;
/// The longest display name sent in a `status` line (characters).
const DISPLAY_NAME_CHARS: usize = 128;

impl<O: OwaWork> Actor<O> {
    /// The answer to `status` for `account`: the rotations it may see only, a page at a time.
    pub(super) fn status_report(
        &self,
        account: Option<&LocalAccount>,
        page: u32,
        enrolled: bool,
    ) -> StatusReport {
        // In hand for this account only when its own session is changing it.
        let in_hand = self.in_hand(account);
        let core = &self.core;
        let visible: Vec<&Rotation> =
            core.rotations().filter(|r| access::access(r, account) == Access::Open).collect();
        let start = usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(STATUS_PAGE);
        let next_page =
            (visible.len() > start.saturating_add(STATUS_PAGE)).then(|| page.saturating_add(1));
        let rotations = visible
            .iter()
            .skip(start)
            .take(STATUS_PAGE)
            .map(|r| RotationStatus {
                mailbox: r.mailbox.clone(),
                display_name: core
                    .delivery(r.id.as_str())
                    .map(|d| d.display_name.chars().take(DISPLAY_NAME_CHARS).collect())
                    .unwrap_or_default(),
                kind: match r.kind {
                    RotationKind::Provisional => PasswordKind::Provisional,
                    RotationKind::Periodic => PasswordKind::Current,
                },
                step: r.step(),
                due: core.delivery(r.id.as_str()).and_then(|d| d.due_at.or(d.expires_at)),
                in_hand: in_hand.iter().any(|id| r.id == id.as_str()),
            })
            .collect();
        let last_report = core
            .last_report()
            // Another account's last report is not shown (a forgotten rotation's names nothing).
            .filter(|(report, _)| {
                core.rotation(report.rotation_id.as_str())
                    .is_none_or(|r| access::access(r, account) == Access::Open)
            })
            .map(|(report, delivered)| LastReport {
                at: report.occurred_at,
                mailbox: core
                    .rotation(report.rotation_id.as_str())
                    .map(|r| r.mailbox.clone())
                    .unwrap_or_default(),
                step: report.step,
                delivered: *delivered,
            });
        StatusReport {
            agent_version: crate::VERSION.to_owned(),
            enrolled,
            key: match self.key.borrow().clone() {
                KeyState::Present { device } => KeyStatus::Present { device },
                KeyState::Absent => KeyStatus::Absent,
                KeyState::Unknown { reason } => KeyStatus::Unknown { reason },
            },
            rotations,
            last_report,
            reports_waiting: u32::try_from(core.reports_waiting()).unwrap_or(u32::MAX),
            next_page,
        }
    }
}

/// A choice with its display name cut to what a line may carry.
pub(in crate::service) fn short(mut choice: MailboxChoice) -> MailboxChoice {
    choice.display_name = choice.display_name.chars().take(DISPLAY_NAME_CHARS).collect();
    choice
}

/// What the person may still do about a rotation in this phase.
pub(super) fn actionable(phase: Phase) -> bool {
    match phase {
        Phase::Ready
        | Phase::Unsettled { .. }
        | Phase::Changed
        | Phase::AwaitingAnswer
        | Phase::AwaitingKey => true,
        Phase::Failed(reason) => reason.retryable(),
        _ => false,
    }
}
