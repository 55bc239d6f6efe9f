//! Administrator identities, their roles and the offices they may act on.

use time::OffsetDateTime;

use crate::domain::office::Crpcen;
use crate::domain::token::TokenHash;

/// What an administrator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRole {
    /// Everything, on every office.
    Global,
    /// Everything but administrator management, on its offices only.
    Office,
    /// Reading only: offices, mailboxes, workstations, tokens (never a secret), reports and the
    /// audit trail.
    Auditor,
}

impl AdminRole {
    /// The role's stable name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Global => "global",
            AdminRole::Office => "office",
            AdminRole::Auditor => "auditor",
        }
    }

    /// Parses a role name.
    pub fn parse(value: &str) -> Option<AdminRole> {
        match value {
            "global" => Some(AdminRole::Global),
            "office" => Some(AdminRole::Office),
            "auditor" => Some(AdminRole::Auditor),
            _ => None,
        }
    }
}

/// A registered administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Database id.
    pub id: i64,
    /// Unique name, e.g. `bootstrap` or `marie.durand`.
    pub name: String,
    /// What it may do.
    pub role: AdminRole,
    /// For an office administrator, the offices it may act on.
    pub offices: Vec<Crpcen>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When its credential was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// What an administrator may be asked to do, for [`Admin::may`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission<'a> {
    /// Read something of this office (or of every office with `None`).
    Read(Option<&'a Crpcen>),
    /// Change something of this office.
    Write(&'a Crpcen),
    /// Change something in at least one office (import mailboxes, which are then checked one
    /// office at a time): every administrator but auditors.
    WriteSome,
    /// Change anything in every office, and so learn whether something outside any office exists:
    /// global administrators only.
    WriteAll,
    /// Create an office or manage administrators: global administrators only.
    Global,
}

impl Admin {
    /// Whether the administrator may do this.
    pub fn may(&self, permission: Permission<'_>) -> bool {
        match (self.role, permission) {
            (AdminRole::Global, _) => true,
            (AdminRole::Auditor, Permission::Read(_)) => true,
            (AdminRole::Office, Permission::WriteSome) => true,
            (AdminRole::Office, Permission::Read(Some(office)) | Permission::Write(office)) => {
                self.offices.contains(office)
            }
            _ => false,
        }
    }

    /// The offices whose data the administrator may read: `None` for all.
    pub fn read_scope(&self) -> Option<&[Crpcen]> {
        match self.role {
            AdminRole::Office => Some(&self.offices),
            AdminRole::Global | AdminRole::Auditor => None,
        }
    }
}

/// An administrator to create.
#[derive(Debug, Clone)]
pub struct NewAdmin {
    /// Unique name.
    pub name: String,
    /// Its role.
    pub role: AdminRole,
    /// Its offices (office administrators only; empty otherwise).
    pub offices: Vec<Crpcen>,
    /// The hash of its token.
    pub token_hash: TokenHash,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn admin(role: AdminRole, offices: &[&str]) -> Admin {
        Admin {
            id: 1,
            name: "a".into(),
            role,
            offices: offices.iter().map(|o| Crpcen::parse(o).unwrap()).collect(),
            created_at: datetime!(2026-11-25 0:00 UTC),
            revoked_at: None,
        }
    }

    #[test]
    fn roles_grant_what_they_say() {
        let mine = Crpcen::parse("01234").unwrap();
        let other = Crpcen::parse("75001").unwrap();
        let global = admin(AdminRole::Global, &[]);
        let office = admin(AdminRole::Office, &["01234"]);
        let auditor = admin(AdminRole::Auditor, &[]);
        for p in [
            Permission::Read(None),
            Permission::Read(Some(&other)),
            Permission::Write(&other),
            Permission::Global,
        ] {
            assert!(global.may(p));
        }
        assert!(office.may(Permission::Read(Some(&mine))) && office.may(Permission::Write(&mine)));
        assert!(
            !office.may(Permission::Read(Some(&other))) && !office.may(Permission::Write(&other))
        );
        assert!(!office.may(Permission::Read(None)) && !office.may(Permission::Global));
        assert!(auditor.may(Permission::Read(None)) && auditor.may(Permission::Read(Some(&other))));
        assert!(!auditor.may(Permission::Write(&mine)) && !auditor.may(Permission::Global));
        assert_eq!(office.read_scope(), Some(&[mine][..]));
        assert_eq!(auditor.read_scope(), None);
    }
}
