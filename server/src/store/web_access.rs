//! Administrators' web sign-in: their web credentials (a password hash, a sealed TOTP secret and
//! the last TOTP step accepted) and their web sessions (found by the hash of their token, shared
//! by every server on the database). [`WebAccessStore`] is what the rest of the server calls; it is
//! implemented here once for both databases, on `Db<D>`. Every change is audited in its
//! transaction; a refused sign-in is a record alone.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::db::Db;
use super::dialect::RowsAffected;
use super::rows::{AdminRow, WEB_SESSION_COLUMNS, WebCredentialsRow, WebSessionRow};
use super::{AuditStore, Error};
use crate::domain::admin::Admin;
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::identifier::AdminName;
use crate::domain::rotation::Sealed;
use crate::domain::token::TokenHash;
use crate::domain::web_session::{NewWebSessionRecord, SessionEnd, WebCredentials, WebSessionInfo};

/// Web credentials and web sessions; a part of [`Store`](super::Store).
#[async_trait]
pub trait WebAccessStore: Send + Sync {
    /// Sets an administrator's web password hash (`admin.web_password.set`).
    async fn set_web_password(
        &self,
        admin: &Admin,
        password_hash: &str,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Stores a TOTP secret being enrolled, replacing any pending one; the confirmed one stays in
    /// use (`admin.totp.enrol`).
    async fn set_pending_totp(
        &self,
        admin: &Admin,
        sealed: &Sealed,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Makes the pending secret `pending` (still the pending one) the one in use, `step` being
    /// the step of the code that confirmed it, now accepted (`admin.totp.confirm`).
    /// [`Error::Conflict`] when that secret is no longer pending or the step is not after the
    /// last one accepted.
    async fn confirm_totp(
        &self,
        admin: &Admin,
        pending: &Sealed,
        step: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The web credentials of the unrevoked administrator `name` (none set: all `None`).
    /// [`Error::NotFound`] if there is no such administrator.
    async fn web_credentials(&self, name: &AdminName) -> Result<WebCredentials, Error>;

    /// Accepts TOTP step `step` for `admin` and stores a new session, in one transaction
    /// (`web.sign_in`). [`Error::Conflict`] (nothing written) when the administrator has no
    /// confirmed TOTP or `step` is not after the last one accepted: a code is accepted once.
    async fn create_web_session(
        &self,
        admin: &Admin,
        session: &NewWebSessionRecord,
        step: i64,
        at: OffsetDateTime,
    ) -> Result<WebSessionInfo, Error>;

    /// Records a refused sign-in as `name` (`web.sign_in.fail`), with why (never a secret).
    async fn record_web_sign_in_failure(
        &self,
        name: &str,
        reason: &'static str,
        remote_address: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The unrevoked session with this token hash and its unrevoked administrator, whatever its
    /// times. [`Error::NotFound`] otherwise.
    async fn web_session_by_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<(Admin, WebSessionInfo), Error>;

    /// One session, revoked or not. [`Error::NotFound`] if there is none.
    async fn web_session(&self, id: i64) -> Result<WebSessionInfo, Error>;

    /// Notes that a session was used at `at` (not audited).
    async fn touch_web_session(&self, id: i64, at: OffsetDateTime) -> Result<(), Error>;

    /// Ends one session (`web.sign_out` or `web.session.revoke`); false when it had ended
    /// already (nothing written). [`Error::NotFound`] if there is none.
    async fn revoke_web_session(
        &self,
        id: i64,
        end: SessionEnd,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// Ends every unexpired session of the administrator `name` (`web.session.revoke`, recorded
    /// even when there was none) and returns how many.
    async fn revoke_web_sessions_of(
        &self,
        name: &AdminName,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error>;

    /// Unrevoked sessions expiring after `expires_after` and seen after `seen_after`, of one
    /// administrator or all, newest first, at most `limit`.
    async fn list_web_sessions(
        &self,
        of: Option<&AdminName>,
        expires_after: OffsetDateTime,
        seen_after: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebSessionInfo>, Error>;
}

#[sql_impl]
impl<D> WebAccessStore for Db<D> {
    async fn set_web_password(
        &self,
        admin: &Admin,
        password_hash: &str,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO admin_web_credentials (admin_id, password_hash, password_set_at, \
             updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (admin_id) DO UPDATE SET \
             password_hash = excluded.password_hash, password_set_at = excluded.password_set_at, \
             updated_at = excluded.updated_at",
        )
        .bind(admin.id)
        .bind(password_hash)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        Self::commit(
            tx,
            &[event(actor, "admin.web_password.set", admin, serde_json::json!({}))],
            at,
        )
        .await
    }

    async fn set_pending_totp(
        &self,
        admin: &Admin,
        sealed: &Sealed,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO admin_web_credentials (admin_id, pending_key_id, pending_nonce, \
             pending_ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (admin_id) \
             DO UPDATE SET pending_key_id = excluded.pending_key_id, \
             pending_nonce = excluded.pending_nonce, \
             pending_ciphertext = excluded.pending_ciphertext, updated_at = excluded.updated_at",
        )
        .bind(admin.id)
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce[..])
        .bind(&sealed.ciphertext[..])
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let details = serde_json::json!({ "key_id": sealed.key_id });
        Self::commit(tx, &[event(actor, "admin.totp.enrol", admin, details)], at).await
    }

    async fn confirm_totp(
        &self,
        admin: &Admin,
        pending: &Sealed,
        step: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(
            "UPDATE admin_web_credentials SET totp_key_id = pending_key_id, \
             totp_nonce = pending_nonce, totp_ciphertext = pending_ciphertext, \
             totp_confirmed_at = $3, pending_key_id = NULL, pending_nonce = NULL, \
             pending_ciphertext = NULL, totp_last_step = $2, updated_at = $3 \
             WHERE admin_id = $1 AND pending_nonce = $4 AND pending_ciphertext = $5 \
             AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(admin.id)
        .bind(step)
        .bind(at)
        .bind(&pending.nonce[..])
        .bind(&pending.ciphertext[..])
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict);
        }
        let details = serde_json::json!({ "key_id": pending.key_id });
        Self::commit(tx, &[event(actor, "admin.totp.confirm", admin, details)], at).await
    }

    async fn web_credentials(&self, name: &AdminName) -> Result<WebCredentials, Error> {
        let row: AdminRow = sqlx::query_as(
            "SELECT id, name, role, created_at, revoked_at FROM admins \
             WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name.as_str())
        .fetch_one(self.reader())
        .await?;
        let admin = self.with_offices(row).await?;
        let row: Option<WebCredentialsRow> = sqlx::query_as(
            "SELECT password_hash, totp_key_id, totp_nonce, totp_ciphertext, totp_confirmed_at, \
             pending_key_id, pending_nonce, pending_ciphertext, totp_last_step \
             FROM admin_web_credentials WHERE admin_id = $1",
        )
        .bind(admin.id)
        .fetch_optional(self.reader())
        .await?;
        match row {
            Some(row) => row.into_credentials(admin),
            None => Ok(WebCredentials {
                admin,
                password_hash: None,
                totp: None,
                pending_totp: None,
                totp_confirmed_at: None,
                last_step: None,
            }),
        }
    }

    async fn create_web_session(
        &self,
        admin: &Admin,
        session: &NewWebSessionRecord,
        step: i64,
        at: OffsetDateTime,
    ) -> Result<WebSessionInfo, Error> {
        let mut tx = self.writer().begin().await?;
        let accepted = sqlx::query(
            "UPDATE admin_web_credentials SET totp_last_step = $2 WHERE admin_id = $1 \
             AND totp_ciphertext IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(admin.id)
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if accepted.rows_affected() == 0 {
            return Err(Error::Conflict);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO web_sessions (token_hash, admin_id, created_at, last_seen_at, \
             expires_at, remote_address, user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6) \
             RETURNING id",
        )
        .bind(&session.token_hash.0[..])
        .bind(admin.id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.remote_address.as_deref())
        .bind(session.user_agent.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let details = serde_json::json!({ "session": id, "remote": session.remote_address });
        let actor = Actor::admin(admin);
        Self::commit(tx, &[event(&actor, "web.sign_in", admin, details)], at).await?;
        Ok(WebSessionInfo {
            id,
            admin_id: admin.id,
            admin_name: admin.name.clone(),
            created_at: session.created_at,
            last_seen_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: None,
            remote_address: session.remote_address.clone(),
            user_agent: session.user_agent.clone(),
        })
    }

    async fn record_web_sign_in_failure(
        &self,
        name: &str,
        reason: &'static str,
        remote_address: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let event = AuditEvent {
            actor: Actor::web(),
            action: "web.sign_in.fail",
            office: None,
            target: name.to_owned(),
            details: serde_json::json!({ "reason": reason, "remote": remote_address }),
        };
        self.append_audit_event(&event, at).await.map(|_| ())
    }

    async fn web_session_by_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<(Admin, WebSessionInfo), Error> {
        let row: WebSessionRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions s JOIN admins a ON a.id = s.admin_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND a.revoked_at IS NULL"
        )))
        .bind(&token_hash.0[..])
        .fetch_one(self.reader())
        .await?;
        let admin: AdminRow = sqlx::query_as(
            "SELECT id, name, role, created_at, revoked_at FROM admins WHERE id = $1",
        )
        .bind(row.admin_id)
        .fetch_one(self.reader())
        .await?;
        let admin = self.with_offices(admin).await?;
        Ok((admin, row.into()))
    }

    async fn web_session(&self, id: i64) -> Result<WebSessionInfo, Error> {
        let row: WebSessionRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions s JOIN admins a ON a.id = s.admin_id \
             WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_one(self.reader())
        .await?;
        Ok(row.into())
    }

    async fn touch_web_session(&self, id: i64, at: OffsetDateTime) -> Result<(), Error> {
        sqlx::query(
            "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
        )
        .bind(id)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn revoke_web_session(
        &self,
        id: i64,
        end: SessionEnd,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.writer().begin().await?;
        let (name, revoked_at): (String, Option<OffsetDateTime>) = sqlx::query_as(
            "SELECT a.name, s.revoked_at FROM web_sessions s JOIN admins a ON a.id = s.admin_id \
             WHERE s.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if revoked_at.is_some() {
            return Ok(false);
        }
        sqlx::query("UPDATE web_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: end.action(),
            office: None,
            target: name,
            details: serde_json::json!({ "session": id }),
        };
        Self::commit(tx, &[event], at).await?;
        Ok(true)
    }

    async fn revoke_web_sessions_of(
        &self,
        name: &AdminName,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(
            "UPDATE web_sessions SET revoked_at = $2 WHERE revoked_at IS NULL AND expires_at > $2 \
             AND admin_id IN (SELECT id FROM admins WHERE name = $1)",
        )
        .bind(name.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let count = done.rows_affected();
        let event = AuditEvent {
            actor: actor.clone(),
            action: SessionEnd::Revoke.action(),
            office: None,
            target: name.to_string(),
            details: serde_json::json!({ "all": true, "count": count }),
        };
        Self::commit(tx, &[event], at).await?;
        Ok(count)
    }

    async fn list_web_sessions(
        &self,
        of: Option<&AdminName>,
        expires_after: OffsetDateTime,
        seen_after: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebSessionInfo>, Error> {
        let rows: Vec<WebSessionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {WEB_SESSION_COLUMNS} FROM web_sessions s JOIN admins a ON a.id = s.admin_id \
             WHERE s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3 \
             AND (CAST($1 AS TEXT) IS NULL OR a.name = $1) ORDER BY s.id DESC LIMIT $4"
        )))
        .bind(of.map(AdminName::as_str))
        .bind(expires_after)
        .bind(seen_after)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[sql_impl]
impl<D> Db<D> {
    /// The administrator of `row`, with its offices.
    async fn with_offices(&self, row: AdminRow) -> Result<Admin, Error> {
        let offices: Vec<String> = sqlx::query_scalar(
            "SELECT office FROM admin_offices WHERE admin_id = $1 ORDER BY office",
        )
        .bind(row.id)
        .fetch_all(self.reader())
        .await?;
        row.into_admin(offices)
    }
}

/// An audit event about an administrator's own web access.
fn event(
    actor: &Actor,
    action: &'static str,
    admin: &Admin,
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent { actor: actor.clone(), action, office: None, target: admin.name.clone(), details }
}
