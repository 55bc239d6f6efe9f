//! [`PostgresStore`]: PostgreSQL, for installations that outgrow one machine.
//!
//! Several stateless servers may share one database: migrations take sqlx's advisory lock, and
//! audit appends lock the audit table so the hash chain has exactly one successor per record. The
//! URL may choose a schema with `?options[search_path]=NAME` (the tests use one schema each).

use std::collections::HashMap;
use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::{Error, ImportPlan, StoreOptions, hash_column, missing_offices, offices_of};
use crate::audit::{Actor, AuditEvent, GENESIS_HASH, RecordFields, record_hash};
use crate::domain::{Crpcen, ImportReport, NewMailbox};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database named by `options.url` and migrates it.
    pub async fn connect(options: &StoreOptions) -> Result<PostgresStore, Error> {
        let connect = PgConnectOptions::from_str(options.url.expose_secret())?
            .application_name("sesame-server");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await.map_err(Error::Migrate)?;
        Ok(PostgresStore { pool })
    }

    fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn append_audit(
    conn: &mut PgConnection,
    event: &AuditEvent,
    at: OffsetDateTime,
) -> Result<(), Error> {
    // One writer at a time extends the chain; readers are not blocked.
    sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE").execute(&mut *conn).await?;
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (prev_seq, prev_hash) = match last {
        Some(row) => {
            (row.try_get::<i64, _>("seq")?, hash_column(row.try_get("hash")?, "audit_log")?)
        }
        None => (0, GENESIS_HASH),
    };
    let details = event.details.to_string();
    let office = event.office.as_ref().map(Crpcen::as_str);
    let fields = RecordFields {
        seq: prev_seq + 1,
        at,
        actor: event.actor.as_str(),
        action: event.action,
        office,
        target: &event.target,
        details: &details,
    };
    let hash = record_hash(&prev_hash, &fields);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, office, target, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(fields.seq)
    .bind(at)
    .bind(fields.actor)
    .bind(fields.action)
    .bind(office)
    .bind(fields.target)
    .bind(fields.details)
    .bind(&prev_hash[..])
    .bind(&hash[..])
    .execute(&mut *conn)
    .await?;
    Ok(())
}

super::shared::impl_store!(PostgresStore {
    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error> {
        let mut tx = self.pool.begin().await?;
        let wanted = offices_of(rows);
        let found: Vec<String> =
            sqlx::query_scalar("SELECT crpcen FROM offices WHERE crpcen = ANY($1)")
                .bind(&wanted)
                .fetch_all(&mut *tx)
                .await?;
        let missing = missing_offices(&wanted, &found);
        if !missing.is_empty() {
            return Err(Error::MissingOffices(missing));
        }
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let existing: HashMap<String, String> =
            sqlx::query_as("SELECT address, display_name FROM mailboxes WHERE address = ANY($1)")
                .bind(&addresses)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let plan = ImportPlan::new(rows, &existing);
        if dry_run {
            return Ok(plan.report());
        }
        if !plan.create.is_empty() {
            let column = |f: fn(&NewMailbox) -> &str| {
                plan.create.iter().map(|r| f(r)).collect::<Vec<&str>>()
            };
            sqlx::query(
                "INSERT INTO mailboxes (address, office, last_name, first_name, display_name, created_at, updated_at) \
                 SELECT a, o, l, f, d, $6, $6 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 AS t(a, o, l, f, d)",
            )
            .bind(column(|r| r.address.as_str()))
            .bind(column(|r| r.address.office().as_str()))
            .bind(column(|r| r.address.last_name()))
            .bind(column(|r| r.address.first_name()))
            .bind(column(|r| r.display_name.as_str()))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if !plan.update.is_empty() {
            let addresses: Vec<&str> = plan.update.iter().map(|r| r.address.as_str()).collect();
            let names: Vec<&str> = plan.update.iter().map(|r| r.display_name.as_str()).collect();
            sqlx::query(
                "UPDATE mailboxes AS m SET display_name = u.d, updated_at = $3 \
                 FROM UNNEST($1::text[], $2::text[]) AS u(a, d) WHERE m.address = u.a",
            )
            .bind(addresses)
            .bind(names)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        for event in plan.audit_events(actor) {
            append_audit(&mut tx, &event, at).await?;
        }
        tx.commit().await?;
        Ok(plan.report())
    }
});
