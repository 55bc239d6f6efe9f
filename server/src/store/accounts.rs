//! Local accounts bound to mailboxes (`mailbox_accounts`): a mailbox's default account
//! (`workstation_id` '') and its binding per workstation. The effective binding of (mailbox,
//! workstation) is the workstation's own row, else the default row, else none. Administrators set
//! and reset rows (audited); a verified report binds a mailbox not yet bound on its workstation (in
//! the report's transaction); an import sets default accounts (in the import's transaction).
//! [`AccountStore`] is what the rest of the server calls; it is implemented here once for both
//! databases, on `Db<D>`.

use std::collections::HashMap;

use async_trait::async_trait;
use sesame_store_macros::sql_impl;

use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use super::dialect::RowsAffected;
use crate::domain::account::{AccountBinding, BoundBy, LocalAccount};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::identifier::{LocalAccountId, RotationId, WorkstationId};
use crate::domain::office::{Mailbox, NewMailbox};

/// The `workstation_id` of a mailbox's default account.
const DEFAULT: &str = "";

#[derive(Debug, sqlx::FromRow)]
struct BindingRow {
    workstation_id: String,
    account_id: String,
    account_detail: String,
    bound_at: OffsetDateTime,
    source: String,
    bound_by: String,
    rotation_id: Option<String>,
}

impl BindingRow {
    fn into_binding(self) -> Result<AccountBinding, Error> {
        let bound_by = match (self.source.as_str(), self.rotation_id) {
            ("report", Some(rotation_id)) => BoundBy::Report {
                rotation_id: RotationId::parse("rotation_id", &rotation_id)
                    .map_err(|_| Error::Corrupt("mailbox_accounts"))?,
            },
            ("admin", _) => BoundBy::Admin(self.bound_by),
            ("import", _) => BoundBy::Import(self.bound_by),
            _ => return Err(Error::Corrupt("mailbox_accounts")),
        };
        Ok(AccountBinding {
            workstation_id: (self.workstation_id != DEFAULT).then_some(self.workstation_id),
            account: stored_account(self.account_id, self.account_detail, "mailbox_accounts")?,
            bound_at: self.bound_at,
            bound_by,
        })
    }
}

/// An account read back from `table`.
pub(super) fn stored_account(
    id: String,
    detail: String,
    table: &'static str,
) -> Result<LocalAccount, Error> {
    let id = LocalAccountId::parse("account_id", &id).map_err(|_| Error::Corrupt(table))?;
    Ok(LocalAccount { id, detail })
}

/// Local accounts bound to mailboxes; a part of [`Store`](super::Store).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Sets (`account` `Some`) or resets (`None`) a mailbox's binding on one workstation, or with
    /// `workstation_id` `None` its default account (which holds on each workstation without a
    /// binding of its own), audited (`mailbox.account.set`, `mailbox.account.reset`).
    /// [`Error::NotFound`] if the workstation is not one of the mailbox's office.
    async fn set_mailbox_account(
        &self,
        mailbox: &Mailbox,
        workstation_id: Option<&WorkstationId>,
        account: Option<&LocalAccount>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The effective binding of each mailbox assigned to the workstation that has one (its
    /// binding there, else its default account), by mailbox id.
    async fn bound_accounts(
        &self,
        workstation_id: &WorkstationId,
    ) -> Result<HashMap<i64, LocalAccount>, Error>;
}

#[sql_impl]
impl<D> AccountStore for Db<D> {
    async fn set_mailbox_account(
        &self,
        mailbox: &Mailbox,
        workstation_id: Option<&WorkstationId>,
        account: Option<&LocalAccount>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        if let Some(workstation_id) = workstation_id {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM workstations WHERE id = $1 AND office = $2")
                    .bind(workstation_id.as_str())
                    .bind(mailbox.address.office().as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::NotFound);
            }
        }
        let scope = workstation_id.map_or(DEFAULT, WorkstationId::as_str);
        let event = match account {
            Some(account) => {
                sqlx::query(
                    "INSERT INTO mailbox_accounts (mailbox_id, workstation_id, account_id, \
                     account_detail, bound_at, source, bound_by, rotation_id) \
                     VALUES ($1, $2, $3, $4, $5, 'admin', $6, NULL) \
                     ON CONFLICT (mailbox_id, workstation_id) DO UPDATE SET \
                     account_id = excluded.account_id, account_detail = excluded.account_detail, \
                     bound_at = excluded.bound_at, source = excluded.source, \
                     bound_by = excluded.bound_by, rotation_id = NULL",
                )
                .bind(mailbox.id.0)
                .bind(scope)
                .bind(account.id.as_str())
                .bind(account.detail.as_str())
                .bind(at)
                .bind(actor.as_str())
                .execute(&mut *tx)
                .await?;
                AuditEvent {
                    actor: actor.clone(),
                    action: "mailbox.account.set",
                    office: Some(mailbox.address.office().clone()),
                    target: mailbox.address.to_string(),
                    details: serde_json::json!({
                        "workstation_id": workstation_id.map(WorkstationId::as_str),
                        "account_id": account.id.as_str(),
                        "account_detail": account.detail,
                    }),
                }
            }
            None => {
                let removed = sqlx::query(
                    "DELETE FROM mailbox_accounts WHERE mailbox_id = $1 AND workstation_id = $2",
                )
                .bind(mailbox.id.0)
                .bind(scope)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                AuditEvent {
                    actor: actor.clone(),
                    action: "mailbox.account.reset",
                    office: Some(mailbox.address.office().clone()),
                    target: mailbox.address.to_string(),
                    details: serde_json::json!({
                        "workstation_id": workstation_id.map(WorkstationId::as_str),
                        "removed": removed > 0,
                    }),
                }
            }
        };
        Self::commit(tx, &[event], at).await
    }

    async fn bound_accounts(
        &self,
        workstation_id: &WorkstationId,
    ) -> Result<HashMap<i64, LocalAccount>, Error> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT a.mailbox_id, \
             CASE WHEN own.account_id IS NULL THEN d.account_id ELSE own.account_id END, \
             CASE WHEN own.account_id IS NULL THEN d.account_detail ELSE own.account_detail END \
             FROM workstation_mailboxes a \
             LEFT JOIN mailbox_accounts own \
             ON own.mailbox_id = a.mailbox_id AND own.workstation_id = a.workstation_id \
             LEFT JOIN mailbox_accounts d ON d.mailbox_id = a.mailbox_id AND d.workstation_id = '' \
             WHERE a.workstation_id = $1 \
             AND (own.account_id IS NOT NULL OR d.account_id IS NOT NULL)",
        )
        .bind(workstation_id.as_str())
        .fetch_all(self.reader())
        .await?;
        rows.into_iter()
            .map(|(mailbox_id, id, detail)| {
                Ok((mailbox_id, stored_account(id, detail, "mailbox_accounts")?))
            })
            .collect()
    }
}

/// What the other aggregates' writes do to accounts: a mailbox's bindings for its history, the
/// binding a verified report makes, the default accounts an import sets.
#[sql_impl]
impl<D> Db<D> {
    /// A mailbox's default account (first) and its bindings, by workstation.
    pub(super) async fn mailbox_accounts(
        &self,
        mailbox_id: i64,
    ) -> Result<Vec<AccountBinding>, Error> {
        let rows: Vec<BindingRow> = sqlx::query_as(
            "SELECT workstation_id, account_id, account_detail, bound_at, source, bound_by, \
             rotation_id FROM mailbox_accounts WHERE mailbox_id = $1 ORDER BY workstation_id",
        )
        .bind(mailbox_id)
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(BindingRow::into_binding).collect()
    }

    /// Binds `account` to the mailbox on the workstation, as its rotation's verified report
    /// says, unless the mailbox has an effective binding there already. Tells whether it bound.
    pub(super) async fn bind_by_report(
        conn: &mut D::Connection,
        mailbox_id: i64,
        workstation_id: &str,
        rotation_id: &str,
        account: &LocalAccount,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        let inserted = sqlx::query(
            "INSERT INTO mailbox_accounts (mailbox_id, workstation_id, account_id, \
             account_detail, bound_at, source, bound_by, rotation_id) \
             SELECT $1, $2, $3, $4, $5, 'report', $6, $7 \
             WHERE NOT EXISTS (SELECT 1 FROM mailbox_accounts \
             WHERE mailbox_id = $1 AND workstation_id IN ($2, '')) \
             ON CONFLICT DO NOTHING",
        )
        .bind(mailbox_id)
        .bind(workstation_id)
        .bind(account.id.as_str())
        .bind(account.detail.as_str())
        .bind(at)
        .bind(Actor::workstation(workstation_id).as_str())
        .bind(rotation_id)
        .execute(&mut *conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The default accounts of every mailbox that has one, by address.
    pub(super) async fn default_accounts(
        conn: &mut D::Connection,
    ) -> Result<HashMap<String, String>, Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.address, a.account_id FROM mailbox_accounts a \
             JOIN mailboxes m ON m.id = a.mailbox_id WHERE a.workstation_id = ''",
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Sets the default account of each row's mailbox (registered by now) to the row's.
    pub(super) async fn import_accounts(
        conn: &mut D::Connection,
        rows: &[&NewMailbox],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        for row in rows {
            let Some(account) = &row.local_account else { continue };
            sqlx::query(
                "INSERT INTO mailbox_accounts (mailbox_id, workstation_id, account_id, \
                 account_detail, bound_at, source, bound_by, rotation_id) \
                 SELECT id, '', $2, '', $3, 'import', $4, NULL FROM mailboxes WHERE address = $1 \
                 ON CONFLICT (mailbox_id, workstation_id) DO UPDATE SET \
                 account_id = excluded.account_id, account_detail = excluded.account_detail, \
                 bound_at = excluded.bound_at, source = excluded.source, \
                 bound_by = excluded.bound_by, rotation_id = NULL",
            )
            .bind(row.address.as_str())
            .bind(account.as_str())
            .bind(at)
            .bind(actor.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
