//! Workstations, their enrollment tokens, and the rule that tells a legitimate certificate from a
//! copied identity.
//!
//! Each workstation has one registered key for life and a short-lived certificate for it. The
//! server remembers the serial of the current certificate, whether the agent has used it yet, and
//! the serial before it. [`classify`] decides what a presented certificate means:
//!
//! - the current one: fine (and now confirmed);
//! - the previous one while the current one was never used: fine. The agent renewed but crashed
//!   before saving the new certificate, so it still holds the old one (Teleport's documented
//!   trap); a renewal from it replaces the unused certificate;
//! - anything else, or the previous one once the current one has been used: two machines hold the
//!   identity. The workstation is locked until an administrator unlocks it.

use time::OffsetDateTime;

use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Text};

/// A workstation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkstationStatus {
    /// May call the server.
    Active,
    /// Its identity was seen on two machines; refused until an administrator unlocks it.
    Locked,
    /// Refused for good.
    Revoked,
}

impl WorkstationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkstationStatus::Active => "active",
            WorkstationStatus::Locked => "locked",
            WorkstationStatus::Revoked => "revoked",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<WorkstationStatus> {
        match value {
            "active" => Some(WorkstationStatus::Active),
            "locked" => Some(WorkstationStatus::Locked),
            "revoked" => Some(WorkstationStatus::Revoked),
            _ => None,
        }
    }
}

/// An enrolled workstation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workstation {
    /// `ws-` and 16 hex digits.
    pub id: WorkstationId,
    /// Its office, from the enrollment token.
    pub office: Crpcen,
    /// What the agent reported at enrollment.
    pub hostname: String,
    /// What the agent reported at enrollment.
    pub os: String,
    /// The agent's version, as last reported.
    pub agent_version: String,
    /// The registered ECDSA P-256 public key (uncompressed point).
    pub public_key: Vec<u8>,
    /// Its state.
    pub status: WorkstationStatus,
    /// Why it is locked.
    pub lock_reason: Option<String>,
    /// Certificates issued so far.
    pub generation: i64,
    /// The serial of the last certificate issued.
    pub current_serial: String,
    /// Whether that certificate has been presented.
    pub current_confirmed: bool,
    /// The serial of the certificate before it.
    pub previous_serial: Option<String>,
    /// When the current certificate expires.
    pub cert_not_after: OffsetDateTime,
    /// The last request it made.
    pub last_seen_at: OffsetDateTime,
    /// When it enrolled.
    pub enrolled_at: OffsetDateTime,
}

/// What the agent reports about its machine at enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInfo {
    /// Host name.
    pub hostname: Text,
    /// Operating system.
    pub os: Text,
    /// Agent version.
    pub agent_version: Text,
}

/// A certificate the CA signed, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// Its serial, hex.
    pub serial: String,
    /// When it expires.
    pub not_after: OffsetDateTime,
}

/// A workstation to create at enrollment.
#[derive(Debug, Clone)]
pub struct NewWorkstation {
    /// Its id.
    pub id: WorkstationId,
    /// What the agent reported.
    pub machine: MachineInfo,
    /// The registered public key.
    pub public_key: Vec<u8>,
    /// Its first certificate.
    pub certificate: IssuedCertificate,
}

/// What a presented certificate means (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// The current certificate.
    Current,
    /// The previous certificate; the current one was never used.
    PreviousUnconfirmed,
    /// A certificate that should no longer be in use: the identity is on two machines.
    Stale,
}

/// Classifies a presented certificate serial.
pub fn classify(workstation: &Workstation, serial: &str) -> Presented {
    if serial == workstation.current_serial {
        Presented::Current
    } else if !workstation.current_confirmed
        && workstation.previous_serial.as_deref() == Some(serial)
    {
        Presented::PreviousUnconfirmed
    } else {
        Presented::Stale
    }
}

/// An enrollment token as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Its id.
    pub id: i64,
    /// The office it enrolls into.
    pub office: Crpcen,
    /// Enrollments left.
    pub uses_left: i64,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// When it last enrolled a workstation.
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// An enrollment token to create.
#[derive(Debug, Clone)]
pub struct NewEnrollmentToken {
    /// Its hash.
    pub token_hash: crate::domain::token::TokenHash,
    /// The office.
    pub office: Crpcen,
    /// Enrollments allowed.
    pub uses: i64,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// A new workstation id: `ws-` and 64 random bits in hex.
pub fn new_workstation_id() -> WorkstationId {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    WorkstationId::mint(bytes)
}

/// How agent identities are managed.
#[derive(Debug, Clone)]
pub struct AgentPolicy {
    /// Lifetime of agent certificates.
    pub certificate_lifetime: time::Duration,
    /// How long after its certificate expired a workstation may still recover with its key.
    pub recovery_window: time::Duration,
    /// Unauthenticated agent requests (enroll, recovery) allowed at once per source address.
    pub attempts_burst: u32,
    /// And per minute after that.
    pub attempts_per_minute: u32,
    /// How long agents wait between check-ins (they add jitter).
    pub check_in_interval: time::Duration,
    /// How long check-ins wait to be written together (the check-in writer's window).
    pub check_in_flush: std::time::Duration,
}

impl Default for AgentPolicy {
    fn default() -> AgentPolicy {
        AgentPolicy {
            certificate_lifetime: time::Duration::days(7),
            recovery_window: time::Duration::days(90),
            attempts_burst: 5,
            attempts_per_minute: 10,
            check_in_interval: time::Duration::seconds(60),
            check_in_flush: std::time::Duration::from_millis(100),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn workstation(current: &str, confirmed: bool, previous: Option<&str>) -> Workstation {
        let t = datetime!(2026-11-25 0:00 UTC);
        Workstation {
            id: WorkstationId::parse("id", "ws-1").unwrap(),
            office: Crpcen::parse("01234").unwrap(),
            hostname: "h".into(),
            os: "o".into(),
            agent_version: "0.1.0".into(),
            public_key: vec![4],
            status: WorkstationStatus::Active,
            lock_reason: None,
            generation: 2,
            current_serial: current.into(),
            current_confirmed: confirmed,
            previous_serial: previous.map(Into::into),
            cert_not_after: t,
            last_seen_at: t,
            enrolled_at: t,
        }
    }

    #[test]
    fn the_previous_certificate_is_accepted_only_until_the_current_one_is_used() {
        let unused = workstation("b", false, Some("a"));
        assert_eq!(classify(&unused, "b"), Presented::Current);
        assert_eq!(
            classify(&unused, "a"),
            Presented::PreviousUnconfirmed,
            "crash before saving the renewal"
        );
        assert_eq!(classify(&unused, "z"), Presented::Stale);
        let used = workstation("b", true, Some("a"));
        assert_eq!(
            classify(&used, "a"),
            Presented::Stale,
            "someone else still holds the old certificate"
        );
    }
}
