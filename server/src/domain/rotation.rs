//! Rotations: one mailbox's move from a provisional password to a personal one.
//!
//! A rotation is opened with a provisional password sealed in escrow, delivered to the workstation
//! assigned to the mailbox, and closed as completed, failed, cancelled or expired; closing destroys
//! the escrowed password (the database refuses a closed rotation that still holds one). A mailbox
//! has at most one open rotation. A periodic rotation (the rotation period came due) has no
//! provisional password. Agents report the steps of a rotation (`steps`).

mod steps;

use time::OffsetDateTime;

pub use self::steps::{
    KeyEvidence, MAX_DETAIL_LEN, MAX_REPORTS, MailboxHistory, ReportOutcome, RotationEvent,
    StepAction, StepReport, Transition, VerifiedChange, transition,
};
use crate::domain::identifier::{MailboxId, RotationId, WorkstationId};
use crate::domain::office::{Crpcen, MailboxAddress};
pub use sesame_base::rotation::{FailureReason, Step};

/// Why a rotation was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationKind {
    /// With a provisional password, by an administrator.
    Provisional,
    /// By the server, when the mailbox's rotation period came due; no provisional password.
    Periodic,
}

impl RotationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationKind::Provisional => "provisional",
            RotationKind::Periodic => "periodic",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<RotationKind> {
        [RotationKind::Provisional, RotationKind::Periodic]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// Where a rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStatus {
    /// Opened; the provisional password is in escrow.
    Issued,
    /// Handed to the assigned workstation.
    Delivered,
    /// The personal password is in place (reported by the agent).
    Completed,
    /// Given up for good.
    Failed,
    /// Cancelled by an administrator.
    Cancelled,
    /// The provisional password's validity ran out.
    Expired,
}

impl RotationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStatus::Issued => "issued",
            RotationStatus::Delivered => "delivered",
            RotationStatus::Completed => "completed",
            RotationStatus::Failed => "failed",
            RotationStatus::Cancelled => "cancelled",
            RotationStatus::Expired => "expired",
        }
    }

    /// Every status, open ones first.
    pub const ALL: [RotationStatus; 6] = [
        RotationStatus::Issued,
        RotationStatus::Delivered,
        RotationStatus::Completed,
        RotationStatus::Failed,
        RotationStatus::Cancelled,
        RotationStatus::Expired,
    ];

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<RotationStatus> {
        RotationStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A rotation as administrators see it (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// `rot-` and 16 hex digits.
    pub id: RotationId,
    /// The mailbox's database id (part of the escrow's associated data).
    pub mailbox_id: MailboxId,
    /// The mailbox.
    pub address: MailboxAddress,
    /// The person's name.
    pub display_name: String,
    /// The mailbox's logon name, for OWA servers that ask for `DOMAIN\user`.
    pub logon_name: Option<crate::domain::settings::LogonName>,
    /// The mailbox's office.
    pub office: Crpcen,
    /// The office's name (read with the rotation: agents need it to refuse personal words).
    pub office_name: String,
    /// The office's city, when known.
    pub office_city: Option<String>,
    /// Where it stands.
    pub status: RotationStatus,
    /// Who opened it.
    pub issued_by: String,
    /// When.
    pub issued_at: OffsetDateTime,
    /// When the provisional password stops being valid.
    pub expires_at: OffsetDateTime,
    /// When it was handed to the workstation.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was closed.
    pub closed_at: Option<OffsetDateTime>,
    /// Why it was opened.
    pub kind: RotationKind,
    /// The last step an agent reported, if any.
    pub last_step: Option<Step>,
    /// When the server received it.
    pub last_step_at: Option<OffsetDateTime>,
    /// The workstation that reported it.
    pub workstation_id: Option<String>,
    /// A periodic rotation's deadline: when its mailbox becomes overdue.
    pub due_at: Option<OffsetDateTime>,
}

/// A provisional password sealed in escrow, as stored: the escrow key (`keys::escrow`) seals and
/// opens it; nothing else can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Which key sealed it.
    pub key_id: String,
    /// A random 96-bit nonce.
    pub nonce: Vec<u8>,
    /// The ciphertext and its tag.
    pub ciphertext: Vec<u8>,
}

/// A rotation to open.
#[derive(Debug, Clone)]
pub struct NewRotation {
    /// Its id.
    pub id: RotationId,
    /// The mailbox.
    pub mailbox_id: MailboxId,
    /// The sealed provisional password.
    pub sealed: Sealed,
    /// Its expiry.
    pub expires_at: OffsetDateTime,
}

/// What a disclosure covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure<'a> {
    /// An administrator exports an office's open rotations for Exchange.
    Export(&'a Crpcen),
    /// An administrator prints an office's letters.
    Letters(&'a Crpcen),
    /// A workstation fetches the open rotations of the mailboxes assigned to it.
    Delivery(&'a WorkstationId),
}

impl Disclosure<'_> {
    /// The audit action.
    pub fn action(&self) -> &'static str {
        match self {
            Disclosure::Export(_) => "provisional.export",
            Disclosure::Letters(_) => "provisional.letters",
            Disclosure::Delivery(_) => "provisional.deliver",
        }
    }
}

/// A new rotation id, from the system's random source: the one place the server mints them.
pub fn new_rotation_id() -> RotationId {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    RotationId::mint(bytes)
}

/// What a workstation would be given if it asked for its rotations now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRotations {
    /// Whether it would be given anything: an open rotation of a mailbox assigned to it, or a
    /// periodic rotation that came due.
    pub now: bool,
    /// When nothing is pending: the first time a periodic rotation of one of its mailboxes comes
    /// due (`None`: none of its mailboxes can come due without a change first).
    pub next_due: Option<OffsetDateTime>,
}
