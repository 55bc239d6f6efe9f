//! Settings: the OWA address (the global value and offices' overrides) and mailboxes' logon names.
//! Every change is audited in its transaction. [`SettingsStore`] is what the rest of the server
//! calls; it is implemented here once for both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use super::rows::{MAILBOX_COLUMNS, MailboxRow};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::office::{Crpcen, Mailbox, MailboxAddress};
use crate::domain::settings::{LogonName, OwaUrl};

/// The scope of the global setting in `owa_urls`.
const GLOBAL: &str = "global";

/// Settings: the OWA address, logon names; a part of [`Store`](super::Store).
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The global OWA address and, with an office, that office's override; `None` where none was
    /// set. [`Error::NotFound`] if the office does not exist.
    async fn owa_urls(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<(Option<OwaUrl>, Option<OwaUrl>), Error>;

    /// Sets the global OWA address (`office` `None`) or an office's override; `url` `None` removes
    /// it. [`Error::NotFound`] if the office does not exist.
    async fn set_owa_url(
        &self,
        office: Option<&Crpcen>,
        url: Option<&OwaUrl>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Sets (or with `None` clears) a mailbox's logon name. [`Error::NotFound`] if there is no
    /// such mailbox.
    async fn set_mailbox_logon(
        &self,
        address: &MailboxAddress,
        logon_name: Option<&LogonName>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Mailbox, Error>;
}

#[sql_impl]
impl<D> SettingsStore for Db<D> {
    async fn owa_urls(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<(Option<OwaUrl>, Option<OwaUrl>), Error> {
        if let Some(office) = office {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT crpcen FROM offices WHERE crpcen = $1")
                    .bind(office.as_str())
                    .fetch_optional(self.reader())
                    .await?;
            if exists.is_none() {
                return Err(Error::NotFound);
            }
        }
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT scope, url FROM owa_urls WHERE scope = $1 OR scope = $2")
                .bind(GLOBAL)
                .bind(office.map_or(GLOBAL, Crpcen::as_str))
                .fetch_all(self.reader())
                .await?;
        let parse = |url: &str| OwaUrl::parse(url).map_err(|_| Error::Corrupt("owa_urls"));
        let mut global = None;
        let mut own = None;
        for (scope, url) in rows {
            if scope == GLOBAL {
                global = Some(parse(&url)?);
            } else {
                own = Some(parse(&url)?);
            }
        }
        Ok((global, own))
    }

    async fn set_owa_url(
        &self,
        office: Option<&Crpcen>,
        url: Option<&OwaUrl>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        if let Some(office) = office {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT crpcen FROM offices WHERE crpcen = $1")
                    .bind(office.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(Error::NotFound);
            }
        }
        let scope = office.map_or(GLOBAL, Crpcen::as_str);
        let event = match url {
            Some(url) => {
                sqlx::query(
                    "INSERT INTO owa_urls (scope, url, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (scope) DO UPDATE SET url = excluded.url, \
                     updated_at = excluded.updated_at",
                )
                .bind(scope)
                .bind(url.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                AuditEvent {
                    actor: actor.clone(),
                    action: "owa_url.set",
                    office: office.cloned(),
                    target: scope.to_owned(),
                    details: serde_json::json!({ "url": url.as_str() }),
                }
            }
            None => {
                sqlx::query("DELETE FROM owa_urls WHERE scope = $1")
                    .bind(scope)
                    .execute(&mut *tx)
                    .await?;
                AuditEvent {
                    actor: actor.clone(),
                    action: "owa_url.unset",
                    office: office.cloned(),
                    target: scope.to_owned(),
                    details: serde_json::json!({}),
                }
            }
        };
        Self::commit(tx, &[event], at).await
    }

    async fn set_mailbox_logon(
        &self,
        address: &MailboxAddress,
        logon_name: Option<&LogonName>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Mailbox, Error> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("UPDATE mailboxes SET logon_name = $2, updated_at = $3 WHERE address = $1")
            .bind(address.as_str())
            .bind(logon_name.map(LogonName::as_str))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        // No row (no such mailbox) is NOT_FOUND, as for any missing mailbox.
        let row: MailboxRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes m WHERE m.address = $1"
        )))
        .bind(address.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "mailbox.set_logon",
            office: Some(address.office().clone()),
            target: address.to_string(),
            details: serde_json::json!({ "logon_name": logon_name.map(LogonName::as_str) }),
        };
        Self::commit(tx, &[event], at).await?;
        row.try_into()
    }
}
