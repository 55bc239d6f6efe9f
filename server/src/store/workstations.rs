//! Workstations: enrollment (spending a token), their certificates and status, the recovery
//! challenges they answer, and the mailboxes assigned to them. [`WorkstationStore`] is what the
//! rest of the server calls; it is implemented here once for both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::compliance::Scope;
use super::db::Db;
use super::dialect::RowsAffected;
use super::error::unless_foreign_key;
use super::rows::{TOKEN_COLUMNS, TokenRow, WORKSTATION_COLUMNS, WorkstationRow};
use super::{Error, TokenRefusal};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Mailbox};
use crate::domain::token::TokenHash;
use crate::domain::workstation::{
    IssuedCertificate, NewWorkstation, Workstation, WorkstationStatus,
};

/// Most unanswered recovery challenges a workstation may have at once.
const MAX_OPEN_CHALLENGES: i64 = 5;

/// Workstations: enrollment, certificates, recovery challenges, assignments; a part of
/// [`Store`](super::Store).
#[async_trait]
pub trait WorkstationStore: Send + Sync {
    /// Spends one use of the token with this hash and registers the workstation in its office, in
    /// one transaction. [`Error::TokenRefused`] (and nothing written) if the token is unknown,
    /// expired, used up or revoked.
    async fn enroll_workstation(
        &self,
        token_hash: &TokenHash,
        workstation: &NewWorkstation,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// One workstation. [`Error::NotFound`] if there is none.
    async fn get_workstation(&self, id: &WorkstationId) -> Result<Workstation, Error>;

    /// Workstations, of one office or all.
    async fn list_workstations(&self, office: Option<&Crpcen>) -> Result<Vec<Workstation>, Error>;

    /// Records a newly issued certificate for an active workstation, if the certificate the agent
    /// presented (`None` for a recovery) is still acceptable; [`Error::Conflict`] otherwise (a
    /// concurrent renewal won, or the workstation is no longer active).
    async fn replace_certificate(
        &self,
        id: &WorkstationId,
        presented_serial: Option<&str>,
        certificate: &IssuedCertificate,
        action: &'static str,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// Locks, unlocks or revokes a workstation (a revoked one stays revoked: [`Error::NotFound`]).
    async fn set_workstation_status(
        &self,
        id: &WorkstationId,
        status: WorkstationStatus,
        reason: Option<&str>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// Stores a recovery challenge. [`Error::Conflict`] if the workstation already has too many
    /// open ones, [`Error::NotFound`] if it does not exist.
    async fn add_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Removes a recovery challenge and tells whether it existed and was still valid.
    async fn take_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// Assigns a mailbox to a workstation (again is harmless).
    async fn assign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Assigns mailboxes to a workstation in one transaction (those already assigned are left
    /// as they are, and recorded nothing).
    async fn assign_mailboxes(
        &self,
        workstation_id: &WorkstationId,
        mailboxes: &[Mailbox],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Removes an assignment. [`Error::NotFound`] if there was none.
    async fn unassign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;
}

#[sql_impl]
impl<D> WorkstationStore for Db<D> {
    async fn enroll_workstation(
        &self,
        token_hash: &TokenHash,
        workstation: &NewWorkstation,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        let mut tx = self.writer().begin().await?;
        let token: Option<TokenRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_hash = $1"
        )))
        .bind(&token_hash.0[..])
        .fetch_optional(&mut *tx)
        .await?;
        let refused = |reason| Err(Error::TokenRefused(reason));
        let token = match token {
            None => return refused(TokenRefusal::Unknown),
            Some(t) if t.revoked_at.is_some() => return refused(TokenRefusal::Revoked),
            Some(t) if t.expires_at <= at => return refused(TokenRefusal::Expired),
            Some(t) if t.uses_left <= 0 => return refused(TokenRefusal::UsedUp),
            Some(t) => t,
        };
        let used = sqlx::query(
            "UPDATE enrollment_tokens SET uses_left = uses_left - 1, last_used_at = $2 \
             WHERE id = $1 AND uses_left > 0",
        )
        .bind(token.id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return refused(TokenRefusal::UsedUp);
        }
        let machine = &workstation.machine;
        sqlx::query(
            "INSERT INTO workstations (id, office, hostname, os, agent_version, public_key, \
             status, generation, current_serial, current_confirmed, cert_not_after, \
             last_seen_at, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', 1, $7, $8, $9, $10, $10)",
        )
        .bind(workstation.id.as_str())
        .bind(token.office.as_str())
        .bind(machine.hostname.as_str())
        .bind(machine.os.as_str())
        .bind(machine.agent_version.as_str())
        .bind(&workstation.public_key[..])
        .bind(workstation.certificate.serial.as_str())
        .bind(false)
        .bind(workstation.certificate.not_after)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let event = AuditEvent {
            actor: Actor::enrollment_token(token.id),
            action: "workstation.enroll",
            office: Crpcen::parse(&token.office).ok(),
            target: workstation.id.to_string(),
            details: serde_json::json!({
                "hostname": machine.hostname.as_str(),
                "os": machine.os.as_str(),
                "agent_version": machine.agent_version.as_str(),
                "serial": workstation.certificate.serial,
            }),
        };
        Self::commit(tx, &[event], at).await?;
        self.get_workstation(&workstation.id).await
    }

    async fn get_workstation(&self, id: &WorkstationId) -> Result<Workstation, Error> {
        let row: WorkstationRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {WORKSTATION_COLUMNS} FROM workstations WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_one(self.reader())
        .await?;
        row.try_into()
    }

    async fn list_workstations(&self, office: Option<&Crpcen>) -> Result<Vec<Workstation>, Error> {
        let rows: Vec<WorkstationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {WORKSTATION_COLUMNS} FROM workstations \
             WHERE (CAST($1 AS TEXT) IS NULL OR office = $1) ORDER BY office, hostname, id"
        )))
        .bind(office.map(Crpcen::as_str))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn replace_certificate(
        &self,
        id: &WorkstationId,
        presented_serial: Option<&str>,
        certificate: &IssuedCertificate,
        action: &'static str,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        let mut tx = self.writer().begin().await?;
        // The previous serial moves only when the current certificate was in use (or is the one
        // presented); replacing an unused certificate keeps the one before it.
        let done = sqlx::query(
            "UPDATE workstations SET \
               previous_serial = CASE WHEN current_confirmed OR current_serial = CAST($3 AS TEXT) \
                                      THEN current_serial ELSE previous_serial END, \
               current_serial = $2, current_confirmed = $4, generation = generation + 1, \
               cert_not_after = $5, last_seen_at = $6 \
             WHERE id = $1 AND status = 'active' \
               AND (CAST($3 AS TEXT) IS NULL OR current_serial = $3 \
                    OR (NOT current_confirmed AND previous_serial = $3))",
        )
        .bind(id.as_str())
        .bind(certificate.serial.as_str())
        .bind(presented_serial)
        .bind(false)
        .bind(certificate.not_after)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(Error::Conflict);
        }
        let office: String = sqlx::query_scalar("SELECT office FROM workstations WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let event = AuditEvent {
            actor: Actor::workstation(id.as_str()),
            action,
            office: Crpcen::parse(&office).ok(),
            target: id.to_string(),
            details: serde_json::json!({
                "serial": certificate.serial,
                "presented": presented_serial,
            }),
        };
        Self::commit(tx, &[event], at).await?;
        self.get_workstation(id).await
    }

    async fn set_workstation_status(
        &self,
        id: &WorkstationId,
        status: WorkstationStatus,
        reason: Option<&str>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        let mut tx = self.writer().begin().await?;
        // Unlocking forgets the certificate before the current one: from now on only the current
        // certificate is accepted.
        let unlock = status == WorkstationStatus::Active;
        Self::reassess(&mut tx, Scope::Workstation(id.as_str()), at).await?;
        let office: String = sqlx::query_scalar(
            "UPDATE workstations SET status = $2, lock_reason = $3, \
               previous_serial = CASE WHEN $4 THEN NULL ELSE previous_serial END \
             WHERE id = $1 AND status <> 'revoked' RETURNING office",
        )
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(reason)
        .bind(unlock)
        .fetch_one(&mut *tx)
        .await?;
        let action = match status {
            WorkstationStatus::Active => "workstation.unlock",
            WorkstationStatus::Locked => "workstation.lock",
            WorkstationStatus::Revoked => "workstation.revoke",
        };
        Self::reassess(&mut tx, Scope::Workstation(id.as_str()), at).await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action,
            office: Crpcen::parse(&office).ok(),
            target: id.to_string(),
            details: serde_json::json!({ "reason": reason }),
        };
        Self::commit(tx, &[event], at).await?;
        self.get_workstation(id).await
    }

    async fn add_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "DELETE FROM recovery_challenges WHERE workstation_id = $1 AND expires_at <= $2",
        )
        .bind(id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_challenges WHERE workstation_id = $1",
        )
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if open >= MAX_OPEN_CHALLENGES {
            return Err(Error::Conflict);
        }
        sqlx::query(
            "INSERT INTO recovery_challenges (workstation_id, challenge, expires_at) \
             VALUES ($1, $2, $3)",
        )
        .bind(id.as_str())
        .bind(challenge)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| unless_foreign_key(e, || Error::NotFound))?;
        // Not audited: a challenge changes no decision until it is answered.
        Self::commit(tx, &[], now).await
    }

    async fn take_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let taken: Option<OffsetDateTime> = sqlx::query_scalar(
            "DELETE FROM recovery_challenges WHERE workstation_id = $1 AND challenge = $2 \
             RETURNING expires_at",
        )
        .bind(id.as_str())
        .bind(challenge)
        .fetch_optional(self.writer())
        .await?;
        Ok(taken.is_some_and(|expires_at| expires_at > now))
    }

    async fn assign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.assign_mailboxes(workstation_id, std::slice::from_ref(mailbox), actor, at).await
    }

    async fn assign_mailboxes(
        &self,
        workstation_id: &WorkstationId,
        mailboxes: &[Mailbox],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let mut events = Vec::new();
        for mailbox in mailboxes {
            Self::reassess(&mut tx, Scope::Mailbox(mailbox.id.0), at).await?;
            let done = sqlx::query(
                "INSERT INTO workstation_mailboxes (workstation_id, mailbox_id, assigned_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(workstation_id.as_str())
            .bind(mailbox.id.0)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            Self::reassess(&mut tx, Scope::Mailbox(mailbox.id.0), at).await?;
            // Assigning again changes nothing, and records nothing.
            if done.rows_affected() == 1 {
                events.push(assignment_event("workstation.assign", workstation_id, mailbox, actor));
            }
        }
        Self::commit(tx, &events, at).await
    }

    async fn unassign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        Self::reassess(&mut tx, Scope::Mailbox(mailbox.id.0), at).await?;
        let done = sqlx::query(
            "DELETE FROM workstation_mailboxes WHERE workstation_id = $1 AND mailbox_id = $2",
        )
        .bind(workstation_id.as_str())
        .bind(mailbox.id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Self::reassess(&mut tx, Scope::Mailbox(mailbox.id.0), at).await?;
        let event = assignment_event("workstation.unassign", workstation_id, mailbox, actor);
        Self::commit(tx, &[event], at).await
    }
}

/// The audit event of a mailbox (un)assigned to a workstation.
fn assignment_event(
    action: &'static str,
    workstation_id: &WorkstationId,
    mailbox: &Mailbox,
    actor: &Actor,
) -> AuditEvent {
    AuditEvent {
        actor: actor.clone(),
        action,
        office: Some(mailbox.address.office().clone()),
        target: workstation_id.to_string(),
        details: serde_json::json!({ "mailbox": mailbox.address.as_str() }),
    }
}
