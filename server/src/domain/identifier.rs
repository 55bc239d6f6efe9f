//! Identifiers a caller names things by (a workstation id, an administrator's name, a page token,
//! a workstation's local account), parsed at the edge so that NUL bytes, control and invisible
//! format characters or over-long values never reach the database or an error message.

use std::fmt;

use crate::domain::office::{MAX_ADDRESS_LEN, MailboxAddress, is_format_char};

/// Why an identifier was refused; the message names the field and never echoes the value.
pub use sesame_base::ids::IdError as IdentifierError;
/// The ids both sides exchange, with their one parser (`sesame_base::ids`).
pub use sesame_base::ids::{ReportId, RotationId, WorkstationId};

/// Longest administrator name, in bytes.
pub const MAX_ADMIN_NAME_LEN: usize = 64;

/// Refuses NUL, control and invisible format characters and values over `max` bytes.
fn printable(field: &'static str, value: &str, max: usize) -> Result<(), IdentifierError> {
    if value.len() > max {
        return Err(IdentifierError { field, reason: "too long" });
    }
    if value.chars().any(|c| c.is_control() || is_format_char(c)) {
        return Err(IdentifierError { field, reason: "contains control or invisible characters" });
    }
    Ok(())
}

/// A mailbox's database id: what rotations, bindings and the escrow's associated data name a
/// mailbox by inside the server (callers name it by its address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct MailboxId(pub i64);

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An administrator's name: 1 to 64 ASCII letters, digits, `.`, `-`, `_` or `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdminName(String);

impl AdminName {
    /// What a valid name is, for messages.
    pub const RULE: &'static str = "the name must be 1 to 64 letters, digits, '.', '-', '_' or '@'";

    /// Parses the administrator name sent in `field`.
    pub fn parse(field: &'static str, value: &str) -> Result<AdminName, IdentifierError> {
        let valid = !value.is_empty()
            && value.len() <= MAX_ADMIN_NAME_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
        if valid {
            Ok(AdminName(value.to_owned()))
        } else {
            Err(IdentifierError {
                field,
                reason: "must be 1 to 64 letters, digits, '.', '-', '_' or '@'",
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The token of a page of mailboxes as a caller sent it back: printable and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageToken(String);

impl PageToken {
    /// Parses the page token sent in `field`; empty means the first page.
    pub fn parse_optional(
        field: &'static str,
        value: &str,
    ) -> Result<Option<PageToken>, IdentifierError> {
        if value.is_empty() {
            return Ok(None);
        }
        printable(field, value, MAX_ADDRESS_LEN)
            .map_err(|_| IdentifierError { field, reason: "not a token this server issued" })?;
        Ok(Some(PageToken(value.to_owned())))
    }

    /// The token of the page that follows `address`.
    pub fn following(address: &MailboxAddress) -> PageToken {
        PageToken(address.to_string())
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Longest local account id, and longest account detail, in characters.
pub const MAX_LOCAL_ACCOUNT_CHARS: usize = 256;

/// A workstation's local account as a binding compares it: on Linux the user name, on Windows
/// the account's SID (`S-1-5-…`). 1 to [`MAX_LOCAL_ACCOUNT_CHARS`] characters, no control or
/// invisible format character. It says nothing about the account existing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalAccountId(String);

impl LocalAccountId {
    /// Parses the local account id sent in `field`.
    pub fn parse(field: &'static str, value: &str) -> Result<LocalAccountId, IdentifierError> {
        if value.is_empty() {
            return Err(IdentifierError { field, reason: "expected 1 to 256 characters" });
        }
        if value.chars().count() > MAX_LOCAL_ACCOUNT_CHARS {
            return Err(IdentifierError { field, reason: "too long" });
        }
        printable(field, value, usize::MAX)?;
        Ok(LocalAccountId(value.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_nul_control_and_invisible_characters() {
        for bad in ["ws-\0", "\0", "ws-\u{1b}[31m", "ws-\n", "ws-\u{202E}", "ws-\u{7f}"] {
            let err = WorkstationId::parse("id", bad).unwrap_err();
            assert_eq!(err.to_string(), "id: expected 1 to 128 printable ASCII characters");
            assert!(AdminName::parse("name", bad).is_err(), "{bad:?}");
            let err = PageToken::parse_optional("page_token", bad).unwrap_err();
            assert_eq!(err.to_string(), "page_token: not a token this server issued");
        }
        assert_eq!(
            WorkstationId::parse("workstation_id", &"w".repeat(129)).unwrap_err().to_string(),
            "workstation_id: expected 1 to 128 printable ASCII characters"
        );
    }

    #[test]
    fn valid_identifiers_are_kept_as_sent() {
        assert_eq!(WorkstationId::parse("id", "ws-0123abcd").unwrap().as_str(), "ws-0123abcd");
        assert!(WorkstationId::parse("id", "").is_err(), "no workstation has an empty id");
        assert_eq!(
            AdminName::parse("name", "marie.durand@etude").unwrap().as_str(),
            "marie.durand@etude"
        );
        for bad in ["", "marie durand", "é", &"a".repeat(65)] {
            assert!(AdminName::parse("name", bad).is_err(), "{bad:?}");
        }
        assert_eq!(PageToken::parse_optional("page_token", "").unwrap(), None);
        for good in ["jdupont", "S-1-5-21-3623811015-3361044348-30300820-1013", "é.dupont"] {
            assert_eq!(LocalAccountId::parse("id", good).unwrap().as_str(), good);
        }
        for bad in ["", "a\0b", "a\tb", "ws-\u{202E}", &"a".repeat(257)] {
            assert!(LocalAccountId::parse("id", bad).is_err(), "{bad:?}");
        }
        let token = PageToken::parse_optional("page_token", "a.b@01234.mailnot.fr").unwrap();
        assert_eq!(token.unwrap().as_str(), "a.b@01234.mailnot.fr");
    }
}
