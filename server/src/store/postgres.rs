//! [`PostgresStore`]: PostgreSQL, for installations that outgrow one machine.
//!
//! Several stateless servers may share one database: migrations take sqlx's advisory lock, and
//! audit appends lock the audit table so the hash chain has exactly one successor per record. The
//! URL may choose a schema with `?options[search_path]=NAME` (the tests use one schema each).

use std::collections::HashMap;
use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use super::{Error, ImportPlan, StoreOptions, missing_offices, offices_of};
use crate::audit::Actor;
use crate::domain::{ImportReport, NewMailbox};

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
}

super::shared::impl_store!(
    PostgresStore,
    PgConnection,
    Some("LOCK TABLE audit_log IN EXCLUSIVE MODE"),
    {
        async fn close(&self) {
            self.pool.close().await;
        }

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
            let existing: HashMap<String, String> = sqlx::query_as(
                "SELECT address, display_name FROM mailboxes WHERE address = ANY($1)",
            )
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
                let names: Vec<&str> =
                    plan.update.iter().map(|r| r.display_name.as_str()).collect();
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
    }
);
