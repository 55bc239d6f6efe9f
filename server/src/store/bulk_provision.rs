//! Bulk provisioning for benchmarks (cargo feature `bulk-provision`, which only
//! `sesame-fleet-sim` enables; the shipped server never has it): many workstations registered in
//! one office at once, each row as enrollment writes it, in one transaction of multi-row inserts,
//! with ONE audit record for the batch (`workstation.provision_bulk`, its count and first and last
//! ids in the details), so the audit trail shows it.
//!
//! It opens the database itself (the URL the server would use) and is meant to run offline, on the
//! server's host, beside a data directory whose CA signed the certificates
//! (`keys::pki::bulk`). It is not part of [`Store`](super::Store): nothing in the server can call it.

use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::db::Db;
use super::{Error, StoreOptions, postgres, sqlite};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::identifier::WorkstationId;
use crate::domain::office::Crpcen;
use crate::domain::workstation::IssuedCertificate;
use secrecy::ExposeSecret;

/// Rows per INSERT statement (5 parameters each, well under SQLite's and PostgreSQL's limits).
const ROWS_PER_STATEMENT: usize = 500;

/// One workstation of a batch, as enrollment would register it.
#[derive(Debug, Clone)]
pub struct ProvisionedWorkstation {
    /// Its id.
    pub id: WorkstationId,
    /// Its host name.
    pub hostname: String,
    /// The registered public key (uncompressed P-256 point).
    pub public_key: Vec<u8>,
    /// Its certificate.
    pub certificate: IssuedCertificate,
}

/// What every workstation of a batch shares.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The office they belong to (it must exist).
    pub office: &'a Crpcen,
    /// Their operating system, as enrollment records it.
    pub os: &'a str,
    /// Their agent version.
    pub agent_version: &'a str,
    /// When they are enrolled (their last-seen time too).
    pub at: OffsetDateTime,
}

/// Registers each batch's workstations in the database `options` names, on one connection, each
/// batch in one transaction with one audit record. [`Error::MissingOffices`] when an office does not
/// exist.
pub async fn provision_workstations(
    options: &StoreOptions,
    batches: &[(Batch<'_>, &[ProvisionedWorkstation])],
) -> Result<(), Error> {
    let url = options.url.expose_secret();
    if url.starts_with("sqlite:") {
        let store = sqlite::connect(options).await?;
        let done = store.insert_batches(batches).await;
        store.reader().close().await;
        store.writer().close().await;
        done
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::connect(options).await?;
        let done = store.insert_batches(batches).await;
        store.writer().close().await;
        done
    } else {
        Err(Error::UnsupportedUrl)
    }
}

/// The statement inserting `rows` workstations: `$1`..`$5` are shared (office, os, agent version,
/// `false`, the time), then five per row.
fn insert_statement(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO workstations (id, office, hostname, os, agent_version, public_key, status, \
         generation, current_serial, current_confirmed, cert_not_after, last_seen_at, \
         enrolled_at) VALUES ",
    );
    for row in 0..rows {
        let p = 6 + row * 5;
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${p}, $1, ${}, $2, $3, ${}, 'active', 1, ${}, $4, ${}, $5, $5)",
            p + 1,
            p + 2,
            p + 3,
            p + 4
        ));
    }
    sql
}

/// The bulk insert, on either database.
#[sql_impl]
impl<D> Db<D> {
    async fn insert_batches(
        &self,
        batches: &[(Batch<'_>, &[ProvisionedWorkstation])],
    ) -> Result<(), Error> {
        for (batch, workstations) in batches {
            self.insert_bulk(batch, workstations).await?;
        }
        Ok(())
    }

    async fn insert_bulk(
        &self,
        batch: &Batch<'_>,
        workstations: &[ProvisionedWorkstation],
    ) -> Result<(), Error> {
        let (Some(first), Some(last)) = (workstations.first(), workstations.last()) else {
            return Ok(());
        };
        let mut tx = self.writer().begin().await?;
        for chunk in workstations.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_statement(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql))
                .bind(batch.office.as_str())
                .bind(batch.os)
                .bind(batch.agent_version)
                .bind(false)
                .bind(batch.at);
            for ws in chunk {
                query = query
                    .bind(ws.id.as_str())
                    .bind(ws.hostname.as_str())
                    .bind(&ws.public_key[..])
                    .bind(ws.certificate.serial.as_str())
                    .bind(ws.certificate.not_after);
            }
            query.execute(&mut *tx).await.map_err(|e| {
                super::error::unless_foreign_key(e, || {
                    Error::MissingOffices(vec![batch.office.clone()])
                })
            })?;
        }
        let event = AuditEvent {
            actor: Actor::system(),
            action: "workstation.provision_bulk",
            office: Some(batch.office.clone()),
            target: batch.office.to_string(),
            details: serde_json::json!({
                "count": workstations.len(),
                "first": first.id.as_str(),
                "last": last.id.as_str(),
                "os": batch.os,
                "agent_version": batch.agent_version,
            }),
        };
        Self::commit(tx, &[event], batch.at).await
    }
}

#[cfg(test)]
mod tests {
    use super::insert_statement;

    #[test]
    fn each_row_takes_five_parameters_after_the_five_shared_ones() {
        let sql = insert_statement(2);
        assert!(sql.contains("($6, $1, $7, $2, $3, $8, 'active', 1, $9, $4, $10, $5, $5)"));
        assert!(sql.ends_with("($11, $1, $12, $2, $3, $13, 'active', 1, $14, $4, $15, $5, $5)"));
    }
}
