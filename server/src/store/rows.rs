//! Rows as both databases return them, and their conversion to domain types. `FromRow` derives
//! generic code, so one definition serves SQLite and PostgreSQL.

use time::OffsetDateTime;

use super::Error;
use crate::admin::{Admin, AdminRole};
use crate::domain::Crpcen;
use crate::workstation::{EnrollmentToken, Workstation, WorkstationStatus};

fn crpcen(value: &str, table: &'static str) -> Result<Crpcen, Error> {
    Crpcen::parse(value).map_err(|_| Error::Corrupt(table))
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AdminRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) role: String,
    pub(super) created_at: OffsetDateTime,
    pub(super) revoked_at: Option<OffsetDateTime>,
}

impl AdminRow {
    pub(super) fn into_admin(self, offices: Vec<String>) -> Result<Admin, Error> {
        Ok(Admin {
            id: self.id,
            name: self.name,
            role: AdminRole::parse(&self.role).ok_or(Error::Corrupt("admins"))?,
            offices: offices
                .iter()
                .map(|o| crpcen(o, "admin_offices"))
                .collect::<Result<_, _>>()?,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TokenRow {
    pub(super) id: i64,
    pub(super) office: String,
    pub(super) uses_left: i64,
    pub(super) expires_at: OffsetDateTime,
    pub(super) last_used_at: Option<OffsetDateTime>,
    pub(super) revoked_at: Option<OffsetDateTime>,
    pub(super) created_by: String,
    pub(super) created_at: OffsetDateTime,
}

impl TryFrom<TokenRow> for EnrollmentToken {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<EnrollmentToken, Error> {
        Ok(EnrollmentToken {
            id: row.id,
            office: crpcen(&row.office, "enrollment_tokens")?,
            uses_left: row.uses_left,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct WorkstationRow {
    pub(super) id: String,
    pub(super) office: String,
    pub(super) hostname: String,
    pub(super) os: String,
    pub(super) agent_version: String,
    pub(super) public_key: Vec<u8>,
    pub(super) status: String,
    pub(super) lock_reason: Option<String>,
    pub(super) generation: i64,
    pub(super) current_serial: String,
    pub(super) current_confirmed: bool,
    pub(super) previous_serial: Option<String>,
    pub(super) cert_not_after: OffsetDateTime,
    pub(super) last_seen_at: OffsetDateTime,
    pub(super) enrolled_at: OffsetDateTime,
}

impl TryFrom<WorkstationRow> for Workstation {
    type Error = Error;

    fn try_from(row: WorkstationRow) -> Result<Workstation, Error> {
        Ok(Workstation {
            id: row.id,
            office: crpcen(&row.office, "workstations")?,
            hostname: row.hostname,
            os: row.os,
            agent_version: row.agent_version,
            public_key: row.public_key,
            status: WorkstationStatus::parse(&row.status).ok_or(Error::Corrupt("workstations"))?,
            lock_reason: row.lock_reason,
            generation: row.generation,
            current_serial: row.current_serial,
            current_confirmed: row.current_confirmed,
            previous_serial: row.previous_serial,
            cert_not_after: row.cert_not_after,
            last_seen_at: row.last_seen_at,
            enrolled_at: row.enrolled_at,
        })
    }
}

pub(super) const WORKSTATION_COLUMNS: &str = "id, office, hostname, os, agent_version, public_key, status, \
     lock_reason, generation, current_serial, current_confirmed, previous_serial, cert_not_after, last_seen_at, \
     enrolled_at";

pub(super) const TOKEN_COLUMNS: &str =
    "id, office, uses_left, expires_at, last_used_at, revoked_at, created_by, created_at";
