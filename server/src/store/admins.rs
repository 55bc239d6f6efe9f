//! Administrators (found by the hash of their token, scoped to offices, revocable) and the
//! enrollment tokens they create for workstations. [`AdminStore`] is what the rest of the server
//! calls; it is implemented here once for both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use super::dialect::RowsAffected;
use super::error::unless_foreign_key;
use super::rows::{AdminRow, TOKEN_COLUMNS, TokenRow};
use crate::domain::admin::{Admin, NewAdmin};
use crate::domain::audit::{Actor, AuditEvent, unix_micros};
use crate::domain::identifier::AdminName;
use crate::domain::office::Crpcen;
use crate::domain::token::TokenHash;
use crate::domain::workstation::{EnrollmentToken, NewEnrollmentToken};

/// Administrators and enrollment tokens; a part of [`Store`](super::Store).
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Creates an administrator. [`Error::Conflict`] if the name is taken, [`Error::MissingOffices`]
    /// if one of its offices does not exist.
    async fn create_admin(
        &self,
        admin: &NewAdmin,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Admin, Error>;

    /// The unrevoked administrator holding the token with this hash. [`Error::NotFound`] otherwise.
    async fn admin_by_token(&self, token_hash: &TokenHash) -> Result<Admin, Error>;

    /// Every administrator, revoked ones included, by name.
    async fn list_admins(&self) -> Result<Vec<Admin>, Error>;

    /// Revokes an administrator's credential. [`Error::NotFound`] if there is no such unrevoked
    /// administrator.
    async fn revoke_admin(
        &self,
        name: &AdminName,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Stores an enrollment token (its hash). [`Error::MissingOffices`] if its office does not exist.
    async fn create_enrollment_token(
        &self,
        token: &NewEnrollmentToken,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<EnrollmentToken, Error>;

    /// Enrollment tokens, of one office or all, by id.
    async fn list_enrollment_tokens(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<Vec<EnrollmentToken>, Error>;

    /// One enrollment token. [`Error::NotFound`] if there is none.
    async fn get_enrollment_token(&self, id: i64) -> Result<EnrollmentToken, Error>;

    /// Revokes an enrollment token (again is harmless). [`Error::NotFound`] if there is none.
    async fn revoke_enrollment_token(
        &self,
        id: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The office of the enrollment token with this hash, valid or not. [`Error::NotFound`] if
    /// there is no such token.
    async fn enrollment_office(&self, token_hash: &TokenHash) -> Result<Crpcen, Error>;
}

#[sql_impl]
impl<D> AdminStore for Db<D> {
    async fn create_admin(
        &self,
        admin: &NewAdmin,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Admin, Error> {
        let mut tx = self.writer().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO admins (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(admin.name.as_str())
        .bind(admin.role.as_str())
        .bind(&admin.token_hash.0[..])
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for office in &admin.offices {
            sqlx::query("INSERT INTO admin_offices (admin_id, office) VALUES ($1, $2)")
                .bind(id)
                .bind(office.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    unless_foreign_key(e, || Error::MissingOffices(vec![office.clone()]))
                })?;
        }
        let offices: Vec<&str> = admin.offices.iter().map(Crpcen::as_str).collect();
        let event = AuditEvent {
            actor: actor.clone(),
            action: "admin.create",
            office: None,
            target: admin.name.clone(),
            details: serde_json::json!({
                "id": id,
                "role": admin.role.as_str(),
                "offices": offices,
            }),
        };
        Self::commit(tx, &[event], at).await?;
        Ok(Admin {
            id,
            name: admin.name.clone(),
            role: admin.role,
            offices: admin.offices.clone(),
            created_at: at,
            revoked_at: None,
        })
    }

    async fn admin_by_token(&self, token_hash: &TokenHash) -> Result<Admin, Error> {
        let row: AdminRow = sqlx::query_as(
            "SELECT id, name, role, created_at, revoked_at FROM admins \
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&token_hash.0[..])
        .fetch_one(self.reader())
        .await?;
        let offices: Vec<String> = sqlx::query_scalar(
            "SELECT office FROM admin_offices WHERE admin_id = $1 ORDER BY office",
        )
        .bind(row.id)
        .fetch_all(self.reader())
        .await?;
        row.into_admin(offices)
    }

    async fn list_admins(&self) -> Result<Vec<Admin>, Error> {
        let rows: Vec<AdminRow> = sqlx::query_as(
            "SELECT id, name, role, created_at, revoked_at FROM admins ORDER BY name",
        )
        .fetch_all(self.reader())
        .await?;
        let links: Vec<(i64, String)> =
            sqlx::query_as("SELECT admin_id, office FROM admin_offices ORDER BY office")
                .fetch_all(self.reader())
                .await?;
        rows.into_iter()
            .map(|row| {
                let offices =
                    links.iter().filter(|(id, _)| *id == row.id).map(|(_, o)| o.clone()).collect();
                row.into_admin(offices)
            })
            .collect()
    }

    async fn revoke_admin(
        &self,
        name: &AdminName,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let done =
            sqlx::query("UPDATE admins SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
                .bind(name.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let event = AuditEvent {
            actor: actor.clone(),
            action: "admin.revoke",
            office: None,
            target: name.to_string(),
            details: serde_json::json!({}),
        };
        Self::commit(tx, &[event], at).await
    }

    async fn create_enrollment_token(
        &self,
        token: &NewEnrollmentToken,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<EnrollmentToken, Error> {
        let mut tx = self.writer().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO enrollment_tokens \
             (token_hash, office, uses_left, expires_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&token.token_hash.0[..])
        .bind(token.office.as_str())
        .bind(token.uses)
        .bind(token.expires_at)
        .bind(actor.as_str())
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unless_foreign_key(e, || Error::MissingOffices(vec![token.office.clone()])))?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "enrollment_token.create",
            office: Some(token.office.clone()),
            target: id.to_string(),
            details: serde_json::json!({
                "uses": token.uses,
                "expires_at": unix_micros(token.expires_at),
            }),
        };
        Self::commit(tx, &[event], at).await?;
        self.get_enrollment_token(id).await
    }

    async fn list_enrollment_tokens(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<Vec<EnrollmentToken>, Error> {
        let rows: Vec<TokenRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens \
             WHERE (CAST($1 AS TEXT) IS NULL OR office = $1) ORDER BY id"
        )))
        .bind(office.map(Crpcen::as_str))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn get_enrollment_token(&self, id: i64) -> Result<EnrollmentToken, Error> {
        let row: TokenRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(self.reader())
        .await?;
        row.try_into()
    }

    async fn revoke_enrollment_token(
        &self,
        id: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let office: String = sqlx::query_scalar(
            "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
             RETURNING office",
        )
        .bind(id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "enrollment_token.revoke",
            office: Crpcen::parse(&office).ok(),
            target: id.to_string(),
            details: serde_json::json!({}),
        };
        Self::commit(tx, &[event], at).await
    }

    async fn enrollment_office(&self, token_hash: &TokenHash) -> Result<Crpcen, Error> {
        let office: String =
            sqlx::query_scalar("SELECT office FROM enrollment_tokens WHERE token_hash = $1")
                .bind(&token_hash.0[..])
                .fetch_one(self.reader())
                .await?;
        Crpcen::parse(&office).map_err(|_| Error::Corrupt("enrollment_tokens"))
    }
}
