//! Rotations and their escrow: the password policies provisional passwords follow, opening
//! rotations with their sealed passwords, closing and expiring them (destroying the escrow), and
//! disclosure, whose audit record is committed before any ciphertext is returned. [`RotationStore`]
//! is what the rest of the server calls; it is implemented here once for both databases, on
//! `Db<D>`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::compliance::Scope;
use super::db::Db;
use super::dialect::RowsAffected;
use super::rows::{OPEN, PolicyRow, ROTATION_SELECT, RotationRow};
use crate::domain::audit::{Actor, AuditEvent, unix_micros};
use crate::domain::identifier::{MailboxId, RotationId};
use crate::domain::office::Crpcen;
use crate::domain::page::RotationCursor;
use crate::domain::password::PasswordPolicy;
use crate::domain::rotation::{Disclosure, NewRotation, Rotation, RotationStatus, Sealed};

/// Rotations and escrow: password policies, rotations, disclosure; a part of
/// [`Store`](super::Store).
#[async_trait]
pub trait RotationStore: Send + Sync {
    /// The password policy in force for an office (its override, else the global policy, else the
    /// default), or the global one with `None`.
    async fn password_policy(&self, office: Option<&Crpcen>) -> Result<PasswordPolicy, Error>;

    /// Sets the global policy (`None`) or an office's override.
    async fn set_password_policy(
        &self,
        office: Option<&Crpcen>,
        policy: &PasswordPolicy,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Opens rotations in one transaction. [`Error::Conflict`] (nothing written) if one of the
    /// mailboxes already has an open rotation.
    async fn open_rotations(
        &self,
        rotations: &[NewRotation],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// A page of the rotations of an office (or every office), open ones only or all: at most
    /// `limit`, newest first, then by address and id, after the cursor's rotation if given.
    async fn list_rotations(
        &self,
        office: Option<&Crpcen>,
        open_only: bool,
        after: Option<&RotationCursor>,
        limit: u32,
    ) -> Result<Vec<Rotation>, Error>;

    /// The open rotation of a mailbox, if any.
    async fn current_rotation(&self, mailbox_id: MailboxId) -> Result<Option<Rotation>, Error>;

    /// Closes open rotations with the given final status, destroying their escrowed passwords.
    /// Returns how many were closed (rotations no longer open are left alone).
    async fn close_rotations(
        &self,
        ids: &[RotationId],
        status: RotationStatus,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error>;

    /// Expires the open rotations whose provisional password ran out, destroying their escrow.
    async fn expire_rotations(&self, now: OffsetDateTime) -> Result<u64, Error>;

    /// How many rotations there are in each status (statuses without any are left out).
    async fn rotation_counts(&self) -> Result<Vec<(RotationStatus, u64)>, Error>;

    /// The open rotations a disclosure covers, with their sealed passwords, after writing its
    /// audit record (and, for a delivery, marking them delivered) in the same transaction: if the
    /// record cannot be written, nothing is returned.
    async fn disclose_rotations(
        &self,
        disclosure: Disclosure<'_>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<(Rotation, Sealed)>, Error>;
}

#[sql_impl]
impl<D> RotationStore for Db<D> {
    async fn password_policy(&self, office: Option<&Crpcen>) -> Result<PasswordPolicy, Error> {
        let scopes: Vec<&str> = match office {
            Some(office) => vec![office.as_str(), "global"],
            None => vec!["global"],
        };
        for scope in scopes {
            let row: Option<PolicyRow> = sqlx::query_as(
                "SELECT min_length, require_lower, require_upper, require_digit, \
                 require_special, provisional_length, refuse_personal_words, \
                 refuse_common_passwords, min_strength FROM password_policies WHERE scope = $1",
            )
            .bind(scope)
            .fetch_optional(self.reader())
            .await?;
            if let Some(row) = row {
                return Ok(row.into());
            }
        }
        Ok(PasswordPolicy::default())
    }

    async fn set_password_policy(
        &self,
        office: Option<&Crpcen>,
        policy: &PasswordPolicy,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let scope = office.map_or("global", Crpcen::as_str);
        sqlx::query(
            "INSERT INTO password_policies (scope, min_length, require_lower, require_upper, \
             require_digit, require_special, provisional_length, refuse_personal_words, \
             refuse_common_passwords, min_strength, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (scope) DO UPDATE SET min_length = excluded.min_length, \
             require_lower = excluded.require_lower, require_upper = excluded.require_upper, \
             require_digit = excluded.require_digit, require_special = excluded.require_special, \
             provisional_length = excluded.provisional_length, \
             refuse_personal_words = excluded.refuse_personal_words, \
             refuse_common_passwords = excluded.refuse_common_passwords, \
             min_strength = excluded.min_strength, updated_at = excluded.updated_at",
        )
        .bind(scope)
        .bind(i64::from(policy.rule.min_length))
        .bind(policy.rule.require_lower)
        .bind(policy.rule.require_upper)
        .bind(policy.rule.require_digit)
        .bind(policy.rule.require_special)
        .bind(i64::from(policy.provisional_length))
        .bind(policy.strength.personal_words)
        .bind(policy.strength.common_passwords)
        .bind(i64::from(policy.strength.min_score))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "password_policy.set",
            office: office.cloned(),
            target: scope.to_owned(),
            details: serde_json::json!({
                "min_length": policy.rule.min_length,
                "require_lower": policy.rule.require_lower,
                "require_upper": policy.rule.require_upper,
                "require_digit": policy.rule.require_digit,
                "require_special": policy.rule.require_special,
                "provisional_length": policy.provisional_length,
                "refuse_personal_words": policy.strength.personal_words,
                "refuse_common_passwords": policy.strength.common_passwords,
                "min_strength": policy.strength.min_score,
            }),
        };
        Self::commit(tx, &[event], at).await
    }

    async fn open_rotations(
        &self,
        rotations: &[NewRotation],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        let mut by_office: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for rotation in rotations {
            Self::reassess(&mut tx, Scope::Mailbox(rotation.mailbox_id.0), at).await?;
            let office: String = sqlx::query_scalar(
                "INSERT INTO rotations (id, mailbox_id, office, status, key_id, nonce, \
                 ciphertext, issued_by, issued_at, expires_at) \
                 SELECT $1, m.id, m.office, 'issued', $3, $4, $5, $6, $7, $8 \
                 FROM mailboxes m WHERE m.id = $2 RETURNING office",
            )
            .bind(rotation.id.as_str())
            .bind(rotation.mailbox_id.0)
            .bind(rotation.sealed.key_id.as_str())
            .bind(&rotation.sealed.nonce[..])
            .bind(&rotation.sealed.ciphertext[..])
            .bind(actor.as_str())
            .bind(at)
            .bind(rotation.expires_at)
            .fetch_one(&mut *tx)
            .await?;
            by_office.entry(office).or_default().push(serde_json::json!({
                "rotation": rotation.id.as_str(),
                "mailbox_id": rotation.mailbox_id.0,
                "expires_at": unix_micros(rotation.expires_at),
            }));
            Self::reassess(&mut tx, Scope::Mailbox(rotation.mailbox_id.0), at).await?;
        }
        let events: Vec<AuditEvent> = by_office
            .into_iter()
            .map(|(office, opened)| AuditEvent {
                actor: actor.clone(),
                action: "rotation.open",
                office: Crpcen::parse(&office).ok(),
                target: office,
                details: serde_json::json!({ "rotations": opened }),
            })
            .collect();
        Self::commit(tx, &events, at).await
    }

    async fn list_rotations(
        &self,
        office: Option<&Crpcen>,
        open_only: bool,
        after: Option<&RotationCursor>,
        limit: u32,
    ) -> Result<Vec<Rotation>, Error> {
        // Newest first, then by address and id: a total order, so that a page resumes exactly
        // after the last rotation of the one before ($4, $5, $6).
        let resume = if after.is_some() {
            "AND (r.issued_at < $4 OR (r.issued_at = $4 AND \
             (m.address > $5 OR (m.address = $5 AND r.id > $6))))"
        } else {
            ""
        };
        let mut query = sqlx::query_as::<_, RotationRow>(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE (CAST($1 AS TEXT) IS NULL OR r.office = $1) \
             AND ({OPEN} OR NOT $2) {resume} ORDER BY r.issued_at DESC, m.address, r.id LIMIT $3"
        )))
        .bind(office.map(Crpcen::as_str))
        .bind(open_only)
        .bind(i64::from(limit));
        if let Some(after) = after {
            query =
                query.bind(after.issued_at).bind(after.address.as_str()).bind(after.id.as_str());
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.into_iter().map(|row| row.into_rotation().map(|(rotation, _)| rotation)).collect()
    }

    async fn rotation_counts(&self) -> Result<Vec<(RotationStatus, u64)>, Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM rotations GROUP BY status ORDER BY status",
        )
        .fetch_all(self.reader())
        .await?;
        rows.into_iter()
            .map(|(status, count)| {
                let status = RotationStatus::parse(&status).ok_or(Error::Corrupt("rotations"))?;
                Ok((status, u64::try_from(count).map_err(|_| Error::Corrupt("rotations"))?))
            })
            .collect()
    }

    async fn current_rotation(&self, mailbox_id: MailboxId) -> Result<Option<Rotation>, Error> {
        let row: Option<RotationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE r.mailbox_id = $1 AND {OPEN}"
        )))
        .bind(mailbox_id.0)
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| row.into_rotation().map(|(rotation, _)| rotation)).transpose()
    }

    async fn close_rotations(
        &self,
        ids: &[RotationId],
        status: RotationStatus,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error> {
        let mut tx = self.writer().begin().await?;
        let action = match status {
            RotationStatus::Completed => "rotation.complete",
            RotationStatus::Failed => "rotation.fail",
            RotationStatus::Expired => "rotation.expire",
            _ => "rotation.cancel",
        };
        let mut events = Vec::new();
        for id in ids {
            let mailbox: Option<i64> =
                sqlx::query_scalar("SELECT mailbox_id FROM rotations WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(mailbox) = mailbox else { continue };
            Self::reassess(&mut tx, Scope::Mailbox(mailbox), at).await?;
            let office: Option<String> = sqlx::query_scalar(
                "UPDATE rotations SET status = $2, closed_at = $3, \
                 key_id = NULL, nonce = NULL, ciphertext = NULL \
                 WHERE id = $1 AND status IN ('issued', 'delivered') RETURNING office",
            )
            .bind(id.as_str())
            .bind(status.as_str())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(office) = office else { continue };
            Self::reassess(&mut tx, Scope::Mailbox(mailbox), at).await?;
            events.push(AuditEvent {
                actor: actor.clone(),
                action,
                office: Crpcen::parse(&office).ok(),
                target: id.clone().to_string(),
                details: serde_json::json!({ "escrow": "destroyed" }),
            });
        }
        Self::commit(tx, &events, at).await?;
        Ok(events.len() as u64)
    }

    async fn expire_rotations(&self, now: OffsetDateTime) -> Result<u64, Error> {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rotations WHERE status IN ('issued', 'delivered') AND expires_at <= $1 \
             ORDER BY id",
        )
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        let due = due
            .iter()
            .map(|id| {
                RotationId::parse("rotations.id", id).map_err(|_| Error::Corrupt("rotations"))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if due.is_empty() {
            return Ok(0);
        }
        self.close_rotations(&due, RotationStatus::Expired, &Actor::system(), now).await
    }

    async fn disclose_rotations(
        &self,
        disclosure: Disclosure<'_>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<(Rotation, Sealed)>, Error> {
        let mut tx = self.writer().begin().await?;
        let (filter, key) = match disclosure {
            Disclosure::Export(office) | Disclosure::Letters(office) => {
                ("r.office = $1", office.as_str())
            }
            Disclosure::Delivery(workstation) => (
                "r.mailbox_id IN (SELECT a.mailbox_id FROM workstation_mailboxes a \
                 JOIN workstations w ON w.id = a.workstation_id \
                 WHERE a.workstation_id = $1 AND w.office = r.office AND w.status = 'active')",
                workstation.as_str(),
            ),
        };
        let rows: Vec<RotationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE {filter} AND {OPEN} AND r.kind = 'provisional' AND r.expires_at > $2 \
             ORDER BY m.address"
        )))
        .bind(key)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut disclosed = Vec::with_capacity(rows.len());
        for row in rows {
            let (rotation, sealed) = row.into_rotation()?;
            disclosed.push((rotation, sealed.ok_or(Error::Corrupt("rotations"))?));
        }
        if let Disclosure::Delivery(_) = disclosure {
            let mut still_open = Vec::with_capacity(disclosed.len());
            for (rotation, sealed) in disclosed {
                // A rotation a concurrent report closed since it was read (PostgreSQL reads
                // committed rows) is neither reopened nor delivered.
                let updated = sqlx::query(
                    "UPDATE rotations SET status = 'delivered', \
                     delivered_at = COALESCE(delivered_at, $2) \
                     WHERE id = $1 AND status IN ('issued', 'delivered')",
                )
                .bind(rotation.id.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 1 {
                    still_open.push((rotation, sealed));
                }
            }
            disclosed = still_open;
        }
        Self::commit(tx, &disclosure_events(disclosure, &disclosed, actor), at).await?;
        Ok(disclosed)
    }
}

/// One audit event per office whose rotations a disclosure covers, listing them.
fn disclosure_events(
    disclosure: Disclosure<'_>,
    disclosed: &[(Rotation, Sealed)],
    actor: &Actor,
) -> Vec<AuditEvent> {
    let mut by_office: BTreeMap<&Crpcen, Vec<&str>> = BTreeMap::new();
    for (rotation, _) in disclosed {
        by_office.entry(&rotation.office).or_default().push(rotation.id.as_str());
    }
    by_office
        .into_iter()
        .map(|(office, ids)| AuditEvent {
            actor: actor.clone(),
            action: disclosure.action(),
            office: Some(office.clone()),
            target: match disclosure {
                Disclosure::Delivery(workstation) => workstation.to_string(),
                _ => office.to_string(),
            },
            details: serde_json::json!({ "rotations": ids }),
        })
        .collect()
}
