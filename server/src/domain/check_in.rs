//! What an agent tells the server at each check-in, as the server keeps it: the clé REAL's state
//! ([`KeyState`]) and the agent's last anonymous look at OWA ([`OwaReadiness`]); and
//! [`blockers`], the rule that says from them whether a rotation can succeed on a workstation;
//! [`CheckInRecord`], one workstation's check-ins of a flush window folded into what is written.

use time::OffsetDateTime;

use super::settings::{LogonName, OwaUrl};

/// Whether the clé REAL is plugged in, as the agent saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPresence {
    /// Plugged in: which device.
    Present {
        /// "VVVV:PPPP bus B port P", as the agent wrote it.
        device: String,
    },
    /// Not plugged in.
    Absent,
    /// The agent cannot tell.
    Unknown {
        /// Why (no USB access, say).
        reason: String,
    },
}

/// The key's state at a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// Present, absent or unknown.
    pub presence: KeyPresence,
    /// When the agent last saw it change (the agent's clock), if it said.
    pub since: Option<OffsetDateTime>,
}

impl KeyState {
    /// The state in an administrator's words: "present 08e6:3437", "absent", "unknown: no USB
    /// access".
    pub fn describe(&self) -> String {
        match &self.presence {
            KeyPresence::Present { device } if device.is_empty() => "present".to_owned(),
            KeyPresence::Present { device } => format!("present {device}"),
            KeyPresence::Absent => "absent".to_owned(),
            KeyPresence::Unknown { reason } if reason.is_empty() => "unknown".to_owned(),
            KeyPresence::Unknown { reason } => format!("unknown: {reason}"),
        }
    }
}

/// How OWA wants the user named on its logon page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonFormat {
    /// Not said, or not seen.
    Unspecified,
    /// The mailbox address.
    Email,
    /// `DOMAIN\user`: the mailbox needs a logon name.
    DomainUser,
    /// The user name alone.
    UserName,
}

impl LogonFormat {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            LogonFormat::Unspecified => "unspecified",
            LogonFormat::Email => "email",
            LogonFormat::DomainUser => "domain_user",
            LogonFormat::UserName => "user_name",
        }
    }

    /// Reads a stored word (`None` for an unknown one).
    pub fn parse(value: &str) -> Option<LogonFormat> {
        Some(match value {
            "unspecified" => LogonFormat::Unspecified,
            "email" => LogonFormat::Email,
            "domain_user" => LogonFormat::DomainUser,
            "user_name" => LogonFormat::UserName,
            _ => return None,
        })
    }
}

/// An agent's anonymous look at its office's OWA (no credential was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwaReadiness {
    /// The address it looked at.
    pub owa_url: String,
    /// When (the agent's clock), if it said.
    pub checked_at: Option<OffsetDateTime>,
    /// The server answered over HTTPS.
    pub reachable: bool,
    /// Its certificate was valid for the host.
    pub certificate_valid: bool,
    /// It offers the forms-based logon page.
    pub forms_based: bool,
    /// How it wants the user named.
    pub logon_format: LogonFormat,
    /// The language of its pages.
    pub language: String,
    /// What went wrong, when something did.
    pub problem: String,
}

/// What the server keeps of a workstation's check-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInState {
    /// The workstation.
    pub workstation_id: String,
    /// The key at the last check-in that reported it.
    pub key: Option<KeyState>,
    /// When the server received that key state.
    pub key_reported_at: Option<OffsetDateTime>,
    /// The last look at OWA reported.
    pub readiness: Option<OwaReadiness>,
    /// When the server received it.
    pub readiness_reported_at: Option<OffsetDateTime>,
}

/// One workstation's check-ins over a flush window, folded into the one write they amount to:
/// the last check-in wins, except that the last two serials presented are kept (the certificate is
/// confirmed if either is the current one; only a renewal in the window makes two) and an absent
/// version, key state or look at OWA leaves the one reported before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRecord {
    /// The workstation.
    pub workstation_id: String,
    /// The serial of the certificate presented at the last check-in.
    pub serial: String,
    /// Another serial presented in the window (a renewal in between), if any.
    pub other_serial: Option<String>,
    /// The last agent version reported (`None` leaves the recorded one).
    pub agent_version: Option<String>,
    /// When the last check-in came: the new last-seen time.
    pub seen_at: OffsetDateTime,
    /// The last key state reported, and when the server received it.
    pub key: Option<(KeyState, OffsetDateTime)>,
    /// The last look at OWA reported, and when the server received it.
    pub readiness: Option<(OwaReadiness, OffsetDateTime)>,
}

impl CheckInRecord {
    /// A check-in at `at` with the certificate `serial`, reporting `agent_version`, nothing else.
    pub fn new(
        workstation_id: &str,
        serial: &str,
        agent_version: Option<&str>,
        at: OffsetDateTime,
    ) -> CheckInRecord {
        CheckInRecord {
            workstation_id: workstation_id.to_owned(),
            serial: serial.to_owned(),
            other_serial: None,
            agent_version: agent_version.map(str::to_owned),
            seen_at: at,
            key: None,
            readiness: None,
        }
    }

    /// With the key state it reported (received at the check-in's time).
    pub fn with_key(mut self, key: Option<KeyState>) -> CheckInRecord {
        self.key = key.map(|k| (k, self.seen_at));
        self
    }

    /// With the look at OWA it reported (received at the check-in's time).
    pub fn with_readiness(mut self, readiness: Option<OwaReadiness>) -> CheckInRecord {
        self.readiness = readiness.map(|r| (r, self.seen_at));
        self
    }

    /// Folds `later`, a later check-in of the same workstation, into this one.
    pub fn absorb(&mut self, later: CheckInRecord) {
        if later.serial != self.serial {
            let before = std::mem::replace(&mut self.serial, later.serial);
            self.other_serial = Some(before);
        } else if later.other_serial.is_some() {
            self.other_serial = later.other_serial;
        }
        self.seen_at = later.seen_at;
        self.agent_version = later.agent_version.or(self.agent_version.take());
        self.key = later.key.or(self.key.take());
        self.readiness = later.readiness.or(self.readiness.take());
    }
}

/// A mailbox assigned to a workstation, as the readiness rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedMailbox {
    /// Its address.
    pub address: String,
    /// Its logon name, if it has one.
    pub logon_name: Option<LogonName>,
}

/// Silent for longer than this many check-in intervals, an agent blocks a rollout.
pub const SILENT_INTERVALS: i64 = 3;

/// Everything that stands in the way of a rotation on one workstation, in plain words (empty when
/// it is ready). The key being present is not a blocker: the person unplugs it when asked.
pub fn blockers(
    last_seen_at: OffsetDateTime,
    readiness: Option<&OwaReadiness>,
    effective_url: &OwaUrl,
    mailboxes: &[AssignedMailbox],
    now: OffsetDateTime,
    check_in_interval: time::Duration,
) -> Vec<String> {
    let mut blockers = Vec::new();
    if now - last_seen_at > check_in_interval * SILENT_INTERVALS as i32 {
        blockers.push(format!("agent silent since {}", rfc3339(last_seen_at)));
    }
    let Some(owa) = readiness else {
        blockers.push("no OWA check reported yet".to_owned());
        return blockers;
    };
    if owa.owa_url != effective_url.as_str() {
        blockers.push(format!(
            "checked another address ({}, the office's is {effective_url})",
            owa.owa_url
        ));
    }
    if !owa.reachable {
        blockers.push("OWA unreachable".to_owned());
    }
    if !owa.certificate_valid {
        blockers.push("OWA certificate not valid".to_owned());
    }
    if !owa.forms_based {
        blockers.push("OWA does not offer the forms-based logon page".to_owned());
    }
    if owa.logon_format == LogonFormat::DomainUser {
        for mailbox in mailboxes.iter().filter(|m| m.logon_name.is_none()) {
            blockers.push(format!(
                "mailbox {} needs a logon name: OWA asks for DOMAIN\\user",
                mailbox.address
            ));
        }
    }
    blockers
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests;
