//! The cursors of the listings read a page at a time in an order of more than one column: the
//! rotations (newest first, then by address) and the compliance report's lines (the report's time
//! kept from the first page). A cursor travels to the caller as an opaque page token (URL-safe
//! base64 of a versioned text) and is parsed back at the edge: a token that does not decode to
//! what this server issues is refused, naming the field, never echoed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::domain::identifier::{IdentifierError, RotationId};
use crate::domain::office::{Crpcen, MailboxAddress};

/// Longest page token accepted, in bytes (the longest this server issues is about 370).
pub const MAX_PAGE_TOKEN_LEN: usize = 512;

/// Default page of a listing read with a cursor.
pub const DEFAULT_PAGE: u32 = 1_000;
/// Largest page of a listing read with a cursor.
pub const MAX_PAGE: u32 = 5_000;

/// The page size a caller asked for (0: the default), or why it is refused.
pub fn page_size(asked: u32) -> Result<u32, IdentifierError> {
    match asked {
        0 => Ok(DEFAULT_PAGE),
        n if n <= MAX_PAGE => Ok(n),
        _ => Err(IdentifierError { field: "page_size", reason: "at most 5000" }),
    }
}

/// Where a page of rotations resumes: after this rotation, in the order newest issued first, then
/// by address, then by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationCursor {
    /// When the last rotation listed was issued.
    pub issued_at: OffsetDateTime,
    /// Its mailbox.
    pub address: MailboxAddress,
    /// Its id.
    pub id: crate::domain::identifier::RotationId,
}

/// Where a page of the compliance report resumes, and the time the whole report describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCursor {
    /// The time every page describes: the first page's.
    pub at: OffsetDateTime,
    /// The last line listed.
    pub after: ReportLine,
}

/// A line of the compliance report, in report order (offices by CRPCEN, mailboxes by office then
/// address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportLine {
    /// An office's line (a report without its mailboxes).
    Office(Crpcen),
    /// A mailbox's line.
    Mailbox(MailboxAddress),
}

const ROTATION_TAG: &str = "rot1";
const REPORT_TAG: &str = "rep1";

fn refused(field: &'static str) -> IdentifierError {
    IdentifierError { field, reason: "not a token this server issued" }
}

/// The fields of a token of kind `tag`, or `None` when it is not one.
fn fields<'a>(tag: &str, text: &'a str, n: usize) -> Option<Vec<&'a str>> {
    let fields: Vec<&str> = text.split('\n').collect();
    (fields.len() == n && fields[0] == tag).then_some(fields)
}

fn decode(field: &'static str, token: &str) -> Result<String, IdentifierError> {
    if token.len() > MAX_PAGE_TOKEN_LEN {
        return Err(refused(field));
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused(field))?;
    String::from_utf8(bytes).map_err(|_| refused(field))
}

fn encode(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn micros(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000
}

fn parse_micros(value: &str) -> Option<OffsetDateTime> {
    let micros: i64 = value.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

impl RotationCursor {
    /// The token of the page that follows this rotation.
    pub fn token(&self) -> String {
        encode(&format!(
            "{ROTATION_TAG}\n{}\n{}\n{}",
            micros(self.issued_at),
            self.id,
            self.address.as_str()
        ))
    }

    /// Parses the page token sent in `field`; empty means the first page.
    pub fn parse_optional(
        field: &'static str,
        token: &str,
    ) -> Result<Option<RotationCursor>, IdentifierError> {
        if token.is_empty() {
            return Ok(None);
        }
        let text = decode(field, token)?;
        let fields = fields(ROTATION_TAG, &text, 4).ok_or_else(|| refused(field))?;
        let issued_at = parse_micros(fields[1]).ok_or_else(|| refused(field))?;
        let address = MailboxAddress::parse_stored(fields[3]).map_err(|_| refused(field))?;
        let id = RotationId::parse(field, fields[2]).map_err(|_| refused(field))?;
        Ok(Some(RotationCursor { issued_at, address, id }))
    }
}

impl ReportCursor {
    /// The token of the page that follows this line.
    pub fn token(&self) -> String {
        let (kind, key) = match &self.after {
            ReportLine::Office(crpcen) => ("o", crpcen.as_str()),
            ReportLine::Mailbox(address) => ("m", address.as_str()),
        };
        encode(&format!("{REPORT_TAG}\n{}\n{kind}\n{key}", micros(self.at)))
    }

    /// Parses the page token sent in `field`; empty means the first page.
    pub fn parse_optional(
        field: &'static str,
        token: &str,
    ) -> Result<Option<ReportCursor>, IdentifierError> {
        if token.is_empty() {
            return Ok(None);
        }
        let text = decode(field, token)?;
        let fields = fields(REPORT_TAG, &text, 4).ok_or_else(|| refused(field))?;
        let at = parse_micros(fields[1]).ok_or_else(|| refused(field))?;
        let after = match fields[2] {
            "o" => ReportLine::Office(Crpcen::parse(fields[3]).map_err(|_| refused(field))?),
            "m" => ReportLine::Mailbox(
                MailboxAddress::parse_stored(fields[3]).map_err(|_| refused(field))?,
            ),
            _ => return Err(refused(field)),
        };
        Ok(Some(ReportCursor { at, after }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> MailboxAddress {
        MailboxAddress::parse_stored("dupont.jean@01234.mailnot.fr").unwrap()
    }

    #[test]
    fn cursors_come_back_as_they_left() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_780_000_000_123_456_000).unwrap();
        let rotation = RotationCursor {
            issued_at: at,
            address: address(),
            id: RotationId::parse("id", "rot-0123456789abcdef").unwrap(),
        };
        let token = rotation.token();
        assert!(token.len() < MAX_PAGE_TOKEN_LEN);
        assert_eq!(RotationCursor::parse_optional("page_token", &token).unwrap(), Some(rotation));
        for after in
            [ReportLine::Office(Crpcen::parse("01234").unwrap()), ReportLine::Mailbox(address())]
        {
            let cursor = ReportCursor { at, after };
            let parsed = ReportCursor::parse_optional("page_token", &cursor.token()).unwrap();
            assert_eq!(parsed, Some(cursor));
        }
        assert_eq!(RotationCursor::parse_optional("page_token", "").unwrap(), None);
        assert_eq!(ReportCursor::parse_optional("page_token", "").unwrap(), None);
    }

    #[test]
    fn tampered_tokens_are_refused_without_echo() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let good = ReportCursor { at, after: ReportLine::Mailbox(address()) }.token();
        let rotation = RotationCursor {
            issued_at: at,
            address: address(),
            id: RotationId::parse("id", "rot-0123456789abcdef").unwrap(),
        };
        let mut flipped = good.clone().into_bytes();
        flipped[3] ^= 0x01;
        let tampered = [
            "x".to_owned(),
            "dupont.jean@01234.mailnot.fr".to_owned(),
            String::from_utf8(flipped).unwrap(),
            format!("{good}A"),
            rotation.token(),
            encode("rep1\n1\nm\n=HYPERLINK()"),
            encode("rep1\nsoon\no\n01234"),
            encode("rot1\n1\nrot zz\ndupont.jean@01234.mailnot.fr"),
            "A".repeat(MAX_PAGE_TOKEN_LEN + 1),
        ];
        for token in &tampered {
            let err = ReportCursor::parse_optional("page_token", token).unwrap_err();
            assert_eq!(err.to_string(), "page_token: not a token this server issued", "{token}");
        }
        assert!(RotationCursor::parse_optional("page_token", &good).is_err());
        assert!(RotationCursor::parse_optional("page_token", &tampered[7]).is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(MAX_PAGE), Ok(MAX_PAGE));
        assert_eq!(page_size(MAX_PAGE + 1).unwrap_err().to_string(), "page_size: at most 5000");
    }
}
