//! Who may act on a mailbox on a workstation: the local account bound to it there. A mailbox may
//! have a default account (all its workstations) and, per workstation, a binding of its own; the
//! effective binding is the workstation's own, else the default, else none. The first verified
//! change of a provisional rotation binds the account that made it on a workstation where the
//! mailbox is not bound yet; a report never rebinds; administrators set and reset bindings.

use time::OffsetDateTime;

use super::identifier::{IdentifierError, LocalAccountId, MAX_LOCAL_ACCOUNT_CHARS, RotationId};
use super::office::is_format_char;

/// A local account as the agent names it: the id a binding compares and a detail for people
/// (Linux "uid 1001", Windows `DOMAIN\user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAccount {
    /// What a binding compares.
    pub id: LocalAccountId,
    /// Evidence for people, at most [`MAX_LOCAL_ACCOUNT_CHARS`] characters, may be empty.
    pub detail: String,
}

impl LocalAccount {
    /// Parses an account from its id and detail, sent in the fields `id_field` and
    /// `detail_field`.
    pub fn parse(
        id_field: &'static str,
        id: &str,
        detail_field: &'static str,
        detail: &str,
    ) -> Result<LocalAccount, IdentifierError> {
        let id = LocalAccountId::parse(id_field, id)?;
        if detail.chars().count() > MAX_LOCAL_ACCOUNT_CHARS {
            return Err(IdentifierError { field: detail_field, reason: "at most 256 characters" });
        }
        if detail.chars().any(|c| c.is_control() || is_format_char(c)) {
            return Err(IdentifierError {
                field: detail_field,
                reason: "contains control or invisible characters",
            });
        }
        Ok(LocalAccount { id, detail: detail.to_owned() })
    }
}

/// How a binding was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundBy {
    /// By the verified report of this rotation, from the workstation.
    Report {
        /// The rotation whose verified change bound it.
        rotation_id: RotationId,
    },
    /// By an administrator (`SetMailboxAccount`); the actor as the audit trail names it.
    Admin(String),
    /// By an administrator's import; the actor as the audit trail names it.
    Import(String),
}

impl BoundBy {
    /// The stored (and shown) name of the way: `report`, `admin` or `import`.
    pub fn source(&self) -> &'static str {
        match self {
            BoundBy::Report { .. } => "report",
            BoundBy::Admin(_) => "admin",
            BoundBy::Import(_) => "import",
        }
    }
}

/// One binding of a mailbox: on one workstation, or its default (`workstation_id` `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBinding {
    /// The workstation it holds on; `None` for the mailbox's default.
    pub workstation_id: Option<String>,
    /// The account.
    pub account: LocalAccount,
    /// Since when.
    pub bound_at: OffsetDateTime,
    /// How.
    pub bound_by: BoundBy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_name_the_field_at_fault() {
        let ok = LocalAccount::parse("id", "jdupont", "detail", "uid 1001").unwrap();
        assert_eq!(ok.id.as_str(), "jdupont");
        let err = LocalAccount::parse("id", "", "detail", "").unwrap_err();
        assert_eq!(err.field, "id");
        let err = LocalAccount::parse("id", "jdupont", "detail", "a\nb").unwrap_err();
        assert_eq!(err.field, "detail");
        let err = LocalAccount::parse("id", "jdupont", "detail", &"d".repeat(257)).unwrap_err();
        assert_eq!(err.field, "detail");
    }
}
