//! Domain types: offices and MAILNOT mailboxes, parsed once at the edge ("parse, don't validate").
//!
//! Nothing here knows protobuf or SQL; the gRPC layer and the stores convert to and from these
//! types.

use std::fmt;

use time::OffsetDateTime;

use super::identifier::LocalAccountId;
use super::settings::LogonName;

/// Why a value was refused. The message names the field and never echoes more than the value the
/// caller sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A CRPCEN that is not five ASCII digits.
    #[error("invalid CRPCEN {0:?}: expected 5 digits")]
    Crpcen(String),
    /// An address that is not `nom.prenom@<crpcen>.<domain>`.
    #[error("invalid mailbox address {value:?}: {reason}")]
    Address {
        /// What the caller sent (truncated when long).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required text field that is empty, too long or holds control characters.
    #[error("invalid {field}: {reason}")]
    Text {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Longest text accepted in a name, city or display name, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// Longest mailbox address accepted (RFC 5321 limit).
pub const MAX_ADDRESS_LEN: usize = 254;

fn shorten(value: &str) -> String {
    value.chars().take(80).collect()
}

/// An office's CRPCEN number: exactly five ASCII digits, kept as text since leading zeros matter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Crpcen(String);

impl Crpcen {
    /// Parses a CRPCEN, ignoring surrounding white space.
    pub fn parse(value: &str) -> Result<Crpcen, ParseError> {
        let value = value.trim();
        if value.len() == 5 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Crpcen(value.to_owned()))
        } else {
            Err(ParseError::Crpcen(shorten(value)))
        }
    }

    /// The five digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Crpcen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `c` is an invisible format character (Unicode general category Cf: bidirectional
/// controls such as U+202E, zero-width spaces and joiners, U+FEFF, tag characters…), which can make
/// a name read as something else in a listing, a letter or a report.
pub fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// A short human text (office name, city, display name, a workstation's hostname or OS): trimmed,
/// no control characters, no invisible format characters ([`is_format_char`]), at most
/// [`MAX_TEXT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text(String);

impl Text {
    /// Parses a required text field.
    pub fn parse(field: &'static str, value: &str) -> Result<Text, ParseError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ParseError::Text { field, reason: "must not be empty" });
        }
        if value.chars().count() > MAX_TEXT_CHARS {
            return Err(ParseError::Text { field, reason: "longer than 200 characters" });
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::Text { field, reason: "contains control characters" });
        }
        if value.chars().any(is_format_char) {
            return Err(ParseError::Text {
                field,
                reason: "contains invisible formatting or bidirectional characters",
            });
        }
        Ok(Text(value.to_owned()))
    }

    /// Parses an optional text field: empty or blank means absent.
    pub fn parse_optional(field: &'static str, value: &str) -> Result<Option<Text>, ParseError> {
        if value.trim().is_empty() { Ok(None) } else { Text::parse(field, value).map(Some) }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The MAILNOT domain suffix, e.g. `mailnot.fr`: addresses are `nom.prenom@<crpcen>.<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain(String);

impl MailDomain {
    /// Parses a domain suffix: dot-separated labels of ASCII letters, digits and hyphens.
    pub fn parse(value: &str) -> Result<MailDomain, ParseError> {
        let value = value.trim().trim_start_matches('.').to_ascii_lowercase();
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if value.len() <= 200 && value.contains('.') && value.split('.').all(valid_label) {
            Ok(MailDomain(value))
        } else {
            Err(ParseError::Text {
                field: "mail domain",
                reason: "expected a domain such as mailnot.fr",
            })
        }
    }

    /// The suffix, lower-case, without a leading dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MailDomain {
    fn default() -> MailDomain {
        MailDomain("mailnot.fr".to_owned())
    }
}

/// A MAILNOT address `nom.prenom@<crpcen>.<domain>`, normalised to lower case.
///
/// The local part is the person's last name, a dot, and the first name; each is one or more
/// segments of ASCII letters and digits joined by hyphens (`le-goff.jean-marc`). Homonyms get a
/// digit (`martin.paul2`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailboxAddress {
    address: String,
    dot: usize,
    at: usize,
    office: Crpcen,
}

impl MailboxAddress {
    /// Parses an address, case-insensitively, for the given domain suffix.
    pub fn parse(value: &str, domain: &MailDomain) -> Result<MailboxAddress, ParseError> {
        let raw = value.trim();
        let err = |reason: &'static str| ParseError::Address { value: shorten(raw), reason };
        if raw.len() > MAX_ADDRESS_LEN {
            return Err(err("longer than 254 characters"));
        }
        if !raw.is_ascii() {
            return Err(err("only ASCII letters, digits, '.', '-' and '@' are allowed"));
        }
        let address = raw.to_ascii_lowercase();
        let Some((local, host)) = address.split_once('@') else {
            return Err(err("missing '@'"));
        };
        let Some((last, first)) = local.split_once('.') else {
            return Err(err("expected nom.prenom before '@'"));
        };
        let valid_name = |name: &str| {
            !name.is_empty()
                && name
                    .split('-')
                    .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric()))
        };
        if !valid_name(last) || !valid_name(first) {
            return Err(err("expected nom.prenom made of letters, digits and hyphens"));
        }
        let Some((office, suffix)) = host.split_once('.') else {
            return Err(err("expected <crpcen>.<domain> after '@'"));
        };
        if suffix != domain.as_str() {
            return Err(err("not in the configured MAILNOT domain"));
        }
        let office = Crpcen::parse(office)
            .map_err(|_| err("the part after '@' must be a 5-digit CRPCEN"))?;
        let dot = last.len();
        let at = local.len();
        Ok(MailboxAddress { address, dot, at, office })
    }

    /// Parses an address read back from the database, whatever MAILNOT domain it was registered
    /// under (the configured domain may have changed since).
    pub fn parse_stored(value: &str) -> Result<MailboxAddress, ParseError> {
        let host = value.split_once('@').map(|(_, host)| host).unwrap_or("");
        let suffix = host.split_once('.').map(|(_, suffix)| suffix).unwrap_or("");
        let domain = MailDomain::parse(suffix)?;
        MailboxAddress::parse(value, &domain)
    }

    /// The whole normalised address.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The office the address belongs to.
    pub fn office(&self) -> &Crpcen {
        &self.office
    }

    /// The last name part of the local part (`nom`).
    pub fn last_name(&self) -> &str {
        &self.address[..self.dot]
    }

    /// The first name part of the local part (`prenom`).
    pub fn first_name(&self) -> &str {
        &self.address[self.dot + 1..self.at]
    }
}

impl fmt::Display for MailboxAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// An office to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOffice {
    /// Its CRPCEN.
    pub crpcen: Crpcen,
    /// Its name, e.g. "Office notarial Dupont et associés".
    pub name: Text,
    /// Its city, when known.
    pub city: Option<Text>,
}

/// A registered office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    /// Its CRPCEN.
    pub crpcen: Crpcen,
    /// Its name.
    pub name: String,
    /// Its city, when known.
    pub city: Option<String>,
    /// How many mailboxes it has.
    pub mailbox_count: u64,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

/// A mailbox to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMailbox {
    /// Its address, which also names its office.
    pub address: MailboxAddress,
    /// The person's name as shown to administrators.
    pub display_name: Text,
    /// Its logon name, when the file gives one (`None` leaves the mailbox's as it is).
    pub logon_name: Option<LogonName>,
    /// Its default local account, when the file gives one (`None` leaves the mailbox's as it is).
    pub local_account: Option<LocalAccountId>,
}

/// A registered mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Its database id.
    pub id: crate::domain::identifier::MailboxId,
    /// Its address.
    pub address: MailboxAddress,
    /// The person's name as shown to administrators.
    pub display_name: String,
    /// The name it logs on to OWA with when OWA asks for `DOMAIN\user`.
    pub logon_name: Option<LogonName>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When an agent last changed its password and verified the change.
    pub last_verified_change_at: Option<OffsetDateTime>,
}

/// What an import (of mailboxes or of offices) did, or would do in a dry run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Mailboxes (offices) created.
    pub created: u64,
    /// Mailboxes whose display name (or other columns) changed; offices whose name or city did.
    pub updated: u64,
    /// Rows identical to what was registered.
    pub unchanged: u64,
}

#[cfg(test)]
mod tests;
