//! The identifiers both sides exchange, each with its one parser and its one way of being minted:
//! [`RotationId`] (minted by the server), [`ReportId`] (minted by the agent, one per step report,
//! what makes a report take effect once), [`WorkstationId`] (minted by the server at enrollment).
//!
//! An id is 1 to its maximum of printable ASCII characters without spaces (`!` to `~`): nothing a
//! log line, a terminal or an SQL text could misread. Minting takes the random bytes as a
//! parameter, so this crate needs no random source and tests can mint known ids. On disk (the
//! agent's journal and outbox) and in JSON an id is its plain string, checked again when read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an id was refused; the message names the field and never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct IdError {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The one rule: 1 to `max` printable ASCII characters, no space.
fn check(
    field: &'static str,
    value: &str,
    max: usize,
    reason: &'static str,
) -> Result<(), IdError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IdError { field, reason });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $reason:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest id accepted, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Parses the id sent in `field`.
            pub fn parse(field: &'static str, value: &str) -> Result<$name, IdError> {
                check(field, value, $max, $reason)?;
                Ok($name(value.to_owned()))
            }

            /// The id.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as text.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so that a precision (`{id:.40}`) bounds what a message echoes.
                f.pad(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<$name, IdError> {
                check(stringify!($name), &value, $max, $reason)?;
                Ok($name(value))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        // Maps keyed by an id are looked up by its text (the derived `Hash`, `Eq` and `Ord` are
        // the text's).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A rotation, as the server named it when it opened it (`rot-` and 16 hex digits).
    RotationId,
    64,
    "expected 1 to 64 printable ASCII characters"
);

id_type!(
    /// A step report, as the agent named it when it wrote it (a random UUID): the server records a
    /// report once per id, so sending it again changes nothing.
    ReportId,
    64,
    "expected 1 to 64 printable ASCII characters"
);

id_type!(
    /// A workstation, as the server named it at enrollment (`ws-` and 16 hex digits).
    WorkstationId,
    128,
    "expected 1 to 128 printable ASCII characters"
);

impl RotationId {
    /// A new rotation id from 8 random bytes: `rot-` and their hex digits.
    pub fn mint(random: [u8; 8]) -> RotationId {
        RotationId(format!("rot-{}", hex(&random)))
    }
}

impl WorkstationId {
    /// A new workstation id from 8 random bytes: `ws-` and their hex digits.
    pub fn mint(random: [u8; 8]) -> WorkstationId {
        WorkstationId(format!("ws-{}", hex(&random)))
    }
}

impl ReportId {
    /// A new report id from 16 random bytes: a version 4 UUID (RFC 9562).
    pub fn mint(mut random: [u8; 16]) -> ReportId {
        random[6] = (random[6] & 0x0f) | 0x40;
        random[8] = (random[8] & 0x3f) | 0x80;
        let h = hex(&random);
        ReportId(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
    }
}

/// Lower-case hex digits.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_parse_and_have_their_shape() {
        let rotation = RotationId::mint([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(rotation, "rot-0123456789abcdef");
        assert_eq!(RotationId::parse("id", rotation.as_str()), Ok(rotation));
        let workstation = WorkstationId::mint([0; 8]);
        assert_eq!(workstation, "ws-0000000000000000");
        let report = ReportId::mint([0xff; 16]);
        assert_eq!(report, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(ReportId::parse("id", report.as_str()).is_ok());
    }

    #[test]
    fn the_rule_refuses_empty_long_spaced_control_and_non_ascii_values() {
        for bad in ["", "a b", "a\0b", "a\u{200b}b", "é", &"x".repeat(65)] {
            let refused = RotationId::parse("rotation_id", bad).unwrap_err();
            assert_eq!(
                refused.to_string(),
                "rotation_id: expected 1 to 64 printable ASCII characters"
            );
        }
        assert!(WorkstationId::parse("workstation_id", &"x".repeat(128)).is_ok());
        assert!(WorkstationId::parse("workstation_id", &"x".repeat(129)).is_err());
    }

    #[test]
    fn serde_reads_and_writes_the_plain_string_and_checks_it() {
        let id = RotationId::parse("id", "rot-1").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"rot-1\"");
        assert_eq!(serde_json::from_str::<RotationId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<RotationId>("\"a b\"").is_err());
    }
}
