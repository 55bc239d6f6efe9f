//! Rows as both databases return them, and their conversion to domain types. `FromRow` derives
//! generic code, so one definition serves SQLite and PostgreSQL.

use time::OffsetDateTime;

use super::Error;
use crate::domain::admin::{Admin, AdminRole};
use crate::domain::identifier::WorkstationId;
use crate::domain::office::Crpcen;
use crate::domain::rotation::Sealed;
use crate::domain::web_session::{WebCredentials, WebSessionInfo};
use crate::domain::workstation::{EnrollmentToken, Workstation, WorkstationStatus};

pub(super) fn crpcen(value: &str, table: &'static str) -> Result<Crpcen, Error> {
    Crpcen::parse(value).map_err(|_| Error::Corrupt(table))
}

/// Decodes a 32-byte hash column.
pub(super) fn hash_column(bytes: Vec<u8>, table: &'static str) -> Result<[u8; 32], Error> {
    bytes.try_into().map_err(|_| Error::Corrupt(table))
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
            id: WorkstationId::parse("id", &row.id).map_err(|_| Error::Corrupt("workstations"))?,
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

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PolicyRow {
    pub(super) min_length: i64,
    pub(super) require_lower: bool,
    pub(super) require_upper: bool,
    pub(super) require_digit: bool,
    pub(super) require_special: bool,
    pub(super) provisional_length: i64,
    pub(super) refuse_personal_words: bool,
    pub(super) refuse_common_passwords: bool,
    pub(super) min_strength: i64,
}

impl From<PolicyRow> for crate::domain::password::PasswordPolicy {
    fn from(row: PolicyRow) -> crate::domain::password::PasswordPolicy {
        let rule = crate::domain::password::PasswordRule {
            min_length: u32::try_from(row.min_length)
                .unwrap_or(crate::domain::password::MIN_LENGTH_FLOOR),
            require_lower: row.require_lower,
            require_upper: row.require_upper,
            require_digit: row.require_digit,
            require_special: row.require_special,
        };
        let strength = crate::domain::password::StrengthChecks {
            personal_words: row.refuse_personal_words,
            common_passwords: row.refuse_common_passwords,
            // The database's CHECK keeps it from 0 to 4; anything else reads as the highest.
            min_score: u8::try_from(row.min_strength).unwrap_or(crate::domain::password::MAX_SCORE),
        }
        .bounded();
        crate::domain::password::PasswordPolicy {
            rule,
            provisional_length: u32::try_from(row.provisional_length).unwrap_or(16),
            strength,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RotationRow {
    pub(super) id: String,
    pub(super) mailbox_id: i64,
    pub(super) address: String,
    pub(super) display_name: String,
    pub(super) logon_name: Option<String>,
    pub(super) office: String,
    pub(super) status: String,
    pub(super) issued_by: String,
    pub(super) issued_at: OffsetDateTime,
    pub(super) expires_at: OffsetDateTime,
    pub(super) delivered_at: Option<OffsetDateTime>,
    pub(super) closed_at: Option<OffsetDateTime>,
    pub(super) key_id: Option<String>,
    pub(super) nonce: Option<Vec<u8>>,
    pub(super) ciphertext: Option<Vec<u8>>,
    pub(super) kind: String,
    pub(super) last_step: Option<String>,
    pub(super) last_step_at: Option<OffsetDateTime>,
    pub(super) last_workstation: Option<String>,
    pub(super) failure: Option<String>,
    pub(super) due_at: Option<OffsetDateTime>,
    pub(super) office_name: String,
    pub(super) office_city: Option<String>,
}

impl RotationRow {
    pub(super) fn into_rotation(
        self,
    ) -> Result<(crate::domain::rotation::Rotation, Option<crate::domain::rotation::Sealed>), Error>
    {
        let sealed = match (self.key_id, self.nonce, self.ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => {
                Some(crate::domain::rotation::Sealed { key_id, nonce, ciphertext })
            }
            _ => None,
        };
        let rotation = crate::domain::rotation::Rotation {
            id: crate::domain::identifier::RotationId::parse("rotations.id", &self.id)
                .map_err(|_| Error::Corrupt("rotations"))?,
            mailbox_id: crate::domain::identifier::MailboxId(self.mailbox_id),
            address: crate::domain::office::MailboxAddress::parse_stored(&self.address)
                .map_err(|_| Error::Corrupt("rotations"))?,
            display_name: self.display_name,
            logon_name: self
                .logon_name
                .map(|n| crate::domain::settings::LogonName::parse(&n))
                .transpose()
                .map_err(|_| Error::Corrupt("mailboxes"))?,
            office: crpcen(&self.office, "rotations")?,
            office_name: self.office_name,
            office_city: self.office_city,
            status: crate::domain::rotation::RotationStatus::parse(&self.status)
                .ok_or(Error::Corrupt("rotations"))?,
            issued_by: self.issued_by,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            delivered_at: self.delivered_at,
            closed_at: self.closed_at,
            kind: crate::domain::rotation::RotationKind::parse(&self.kind)
                .ok_or(Error::Corrupt("rotations"))?,
            last_step: match self.last_step {
                Some(step) => Some(
                    crate::domain::rotation::Step::parse(&step, self.failure.as_deref())
                        .ok_or(Error::Corrupt("rotations"))?,
                ),
                None => None,
            },
            last_step_at: self.last_step_at,
            workstation_id: self.last_workstation,
            due_at: self.due_at,
        };
        Ok((rotation, sealed))
    }
}

pub(super) const ROTATION_SELECT: &str = "SELECT r.id, r.mailbox_id, m.address, m.display_name, m.logon_name, r.office, r.status, \
     r.issued_by, r.issued_at, r.expires_at, r.delivered_at, r.closed_at, r.key_id, r.nonce, r.ciphertext, \
     r.kind, r.last_step, r.last_step_at, r.last_workstation, r.failure, r.due_at, \
     o.name AS office_name, o.city AS office_city \
     FROM rotations r JOIN mailboxes m ON m.id = r.mailbox_id JOIN offices o ON o.crpcen = r.office";

pub(super) const OPEN: &str = "r.status IN ('issued', 'delivered')";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OfficeRow {
    pub(super) crpcen: String,
    pub(super) name: String,
    pub(super) city: Option<String>,
    pub(super) created_at: OffsetDateTime,
    pub(super) mailbox_count: i64,
}

impl TryFrom<OfficeRow> for crate::domain::office::Office {
    type Error = Error;

    fn try_from(row: OfficeRow) -> Result<crate::domain::office::Office, Error> {
        Ok(crate::domain::office::Office {
            crpcen: crpcen(&row.crpcen, "offices")?,
            name: row.name,
            city: row.city,
            mailbox_count: u64::try_from(row.mailbox_count)
                .map_err(|_| Error::Corrupt("offices"))?,
            created_at: row.created_at,
        })
    }
}

pub(super) const OFFICE_SELECT: &str = "SELECT o.crpcen, o.name, o.city, o.created_at, \
     (SELECT COUNT(*) FROM mailboxes m WHERE m.office = o.crpcen) AS mailbox_count FROM offices o";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct MailboxRow {
    pub(super) id: i64,
    pub(super) address: String,
    pub(super) display_name: String,
    pub(super) logon_name: Option<String>,
    pub(super) created_at: OffsetDateTime,
    pub(super) last_verified_change_at: Option<OffsetDateTime>,
}

/// The columns of a [`MailboxRow`], from `mailboxes m`.
pub(super) const MAILBOX_COLUMNS: &str = "m.id, m.address, m.display_name, m.logon_name, m.created_at, \
     (SELECT v.verified_at FROM mailbox_verified_changes v WHERE v.mailbox_id = m.id) \
     AS last_verified_change_at";

impl TryFrom<MailboxRow> for crate::domain::office::Mailbox {
    type Error = Error;

    fn try_from(row: MailboxRow) -> Result<crate::domain::office::Mailbox, Error> {
        Ok(crate::domain::office::Mailbox {
            id: crate::domain::identifier::MailboxId(row.id),
            address: crate::domain::office::MailboxAddress::parse_stored(&row.address)
                .map_err(|_| Error::Corrupt("mailboxes"))?,
            display_name: row.display_name,
            logon_name: row
                .logon_name
                .map(|n| crate::domain::settings::LogonName::parse(&n))
                .transpose()
                .map_err(|_| Error::Corrupt("mailboxes"))?,
            created_at: row.created_at,
            last_verified_change_at: row.last_verified_change_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditRow {
    pub(super) seq: i64,
    pub(super) at: OffsetDateTime,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) office: Option<String>,
    pub(super) target: String,
    pub(super) details: String,
    pub(super) prev_hash: Vec<u8>,
    pub(super) hash: Vec<u8>,
}

impl TryFrom<AuditRow> for crate::domain::audit::AuditRecord {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<crate::domain::audit::AuditRecord, Error> {
        Ok(crate::domain::audit::AuditRecord {
            seq: row.seq,
            at: row.at,
            actor: row.actor,
            action: row.action,
            office: row.office,
            target: row.target,
            details: row.details,
            prev_hash: hash_column(row.prev_hash, "audit_log")?,
            hash: hash_column(row.hash, "audit_log")?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditHeadRow {
    pub(super) seq: i64,
    pub(super) hash: Vec<u8>,
    pub(super) signed_at: OffsetDateTime,
    pub(super) key_id: String,
    pub(super) signature: Vec<u8>,
}

impl TryFrom<AuditHeadRow> for crate::domain::audit::SignedHead {
    type Error = Error;

    fn try_from(row: AuditHeadRow) -> Result<crate::domain::audit::SignedHead, Error> {
        Ok(crate::domain::audit::SignedHead {
            seq: row.seq,
            hash: hash_column(row.hash, "audit_heads")?,
            signed_at: row.signed_at,
            key_id: row.key_id,
            signature: row.signature,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct CheckInRow {
    pub(super) workstation_id: String,
    pub(super) key_presence: Option<String>,
    pub(super) key_device: String,
    pub(super) key_reason: String,
    pub(super) key_since: Option<OffsetDateTime>,
    pub(super) key_reported_at: Option<OffsetDateTime>,
    pub(super) owa_url: Option<String>,
    pub(super) owa_checked_at: Option<OffsetDateTime>,
    pub(super) owa_reachable: bool,
    pub(super) owa_certificate_valid: bool,
    pub(super) owa_forms_based: bool,
    pub(super) owa_logon_format: String,
    pub(super) owa_language: String,
    pub(super) owa_problem: String,
    pub(super) owa_reported_at: Option<OffsetDateTime>,
}

impl TryFrom<CheckInRow> for crate::domain::check_in::CheckInState {
    type Error = Error;

    fn try_from(row: CheckInRow) -> Result<crate::domain::check_in::CheckInState, Error> {
        use crate::domain::check_in::{KeyPresence, KeyState, LogonFormat, OwaReadiness};
        let corrupt = || Error::Corrupt("workstation_check_ins");
        let key = match row.key_presence.as_deref() {
            None => None,
            Some(presence) => Some(KeyState {
                presence: match presence {
                    "present" => KeyPresence::Present { device: row.key_device },
                    "absent" => KeyPresence::Absent,
                    "unknown" => KeyPresence::Unknown { reason: row.key_reason },
                    _ => return Err(corrupt()),
                },
                since: row.key_since,
            }),
        };
        let readiness = match row.owa_url {
            None => None,
            Some(owa_url) => Some(OwaReadiness {
                owa_url,
                checked_at: row.owa_checked_at,
                reachable: row.owa_reachable,
                certificate_valid: row.owa_certificate_valid,
                forms_based: row.owa_forms_based,
                logon_format: LogonFormat::parse(&row.owa_logon_format).ok_or_else(corrupt)?,
                language: row.owa_language,
                problem: row.owa_problem,
            }),
        };
        Ok(crate::domain::check_in::CheckInState {
            workstation_id: row.workstation_id,
            key,
            key_reported_at: row.key_reported_at,
            readiness,
            readiness_reported_at: row.owa_reported_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AssignmentRow {
    pub(super) workstation_id: String,
    pub(super) address: String,
    pub(super) logon_name: Option<String>,
}

impl TryFrom<AssignmentRow> for (String, crate::domain::check_in::AssignedMailbox) {
    type Error = Error;

    fn try_from(row: AssignmentRow) -> Result<Self, Error> {
        let logon_name = row
            .logon_name
            .map(|n| crate::domain::settings::LogonName::parse(&n))
            .transpose()
            .map_err(|_| Error::Corrupt("mailboxes"))?;
        Ok((
            row.workstation_id,
            crate::domain::check_in::AssignedMailbox { address: row.address, logon_name },
        ))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct WebCredentialsRow {
    pub(super) password_hash: Option<String>,
    pub(super) totp_key_id: Option<String>,
    pub(super) totp_nonce: Option<Vec<u8>>,
    pub(super) totp_ciphertext: Option<Vec<u8>>,
    pub(super) totp_confirmed_at: Option<OffsetDateTime>,
    pub(super) pending_key_id: Option<String>,
    pub(super) pending_nonce: Option<Vec<u8>>,
    pub(super) pending_ciphertext: Option<Vec<u8>>,
    pub(super) totp_last_step: Option<i64>,
}

/// A sealed secret from its three columns: all present, or none.
fn sealed(
    key_id: Option<String>,
    nonce: Option<Vec<u8>>,
    ciphertext: Option<Vec<u8>>,
) -> Result<Option<Sealed>, Error> {
    match (key_id, nonce, ciphertext) {
        (Some(key_id), Some(nonce), Some(ciphertext)) => {
            Ok(Some(Sealed { key_id, nonce, ciphertext }))
        }
        (None, None, None) => Ok(None),
        _ => Err(Error::Corrupt("admin_web_credentials")),
    }
}

impl WebCredentialsRow {
    pub(super) fn into_credentials(self, admin: Admin) -> Result<WebCredentials, Error> {
        Ok(WebCredentials {
            admin,
            password_hash: self.password_hash,
            totp: sealed(self.totp_key_id, self.totp_nonce, self.totp_ciphertext)?,
            pending_totp: sealed(self.pending_key_id, self.pending_nonce, self.pending_ciphertext)?,
            totp_confirmed_at: self.totp_confirmed_at,
            last_step: self.totp_last_step,
        })
    }
}

/// The columns of [`WebSessionRow`], from `web_sessions s JOIN admins a`.
pub(super) const WEB_SESSION_COLUMNS: &str = "s.id, s.admin_id, a.name AS admin_name, \
     s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, s.remote_address, s.user_agent";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct WebSessionRow {
    pub(super) id: i64,
    pub(super) admin_id: i64,
    pub(super) admin_name: String,
    pub(super) created_at: OffsetDateTime,
    pub(super) last_seen_at: OffsetDateTime,
    pub(super) expires_at: OffsetDateTime,
    pub(super) revoked_at: Option<OffsetDateTime>,
    pub(super) remote_address: Option<String>,
    pub(super) user_agent: String,
}

impl From<WebSessionRow> for WebSessionInfo {
    fn from(row: WebSessionRow) -> WebSessionInfo {
        WebSessionInfo {
            id: row.id,
            admin_id: row.admin_id,
            admin_name: row.admin_name,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            remote_address: row.remote_address,
            user_agent: row.user_agent,
        }
    }
}
