//! [`SqliteStore`]: the embedded database, one file in the data directory.
//!
//! SQLite allows one writer at a time, so the store keeps a pool of exactly one writing connection
//! (transactions queue in the pool instead of failing with SQLITE_BUSY) and a separate pool of
//! readers, which WAL mode lets run beside the writer. `synchronous=FULL`: a commit that returned is
//! on disk. One SQLite file serves one server process; several servers need PostgreSQL.

use std::collections::HashMap;
use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use super::{Error, ImportPlan, StoreOptions, missing_offices, offices_of};
use crate::audit::Actor;
use crate::domain::{ImportReport, NewMailbox};

/// The embedded SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file named by `options.url` and migrates it.
    pub async fn connect(options: &StoreOptions) -> Result<SqliteStore, Error> {
        let connect = SqliteConnectOptions::from_str(options.url.expose_secret())?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.acquire_timeout);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await.map_err(Error::Migrate)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }
}

super::shared::impl_store!(SqliteStore, SqliteConnection, None, {
    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error> {
        let mut tx = self.writer.begin().await?;
        let wanted = offices_of(rows);
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT crpcen FROM offices WHERE crpcen IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&wanted).map_err(|_| Error::Corrupt("import"))?)
        .fetch_all(&mut *tx)
        .await?;
        let missing = missing_offices(&wanted, &found);
        if !missing.is_empty() {
            return Err(Error::MissingOffices(missing));
        }
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let existing: HashMap<String, String> = sqlx::query_as(
            "SELECT address, display_name FROM mailboxes WHERE address IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&addresses).map_err(|_| Error::Corrupt("import"))?)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let plan = ImportPlan::new(rows, &existing);
        if dry_run {
            return Ok(plan.report());
        }
        if !plan.create.is_empty() {
            let json: Vec<serde_json::Value> = plan
                .create
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "a": r.address.as_str(),
                        "o": r.address.office().as_str(),
                        "l": r.address.last_name(),
                        "f": r.address.first_name(),
                        "d": r.display_name.as_str(),
                    })
                })
                .collect();
            sqlx::query(
                "INSERT INTO mailboxes (address, office, last_name, first_name, display_name, created_at, updated_at) \
                 SELECT json_extract(value, '$.a'), json_extract(value, '$.o'), json_extract(value, '$.l'), \
                        json_extract(value, '$.f'), json_extract(value, '$.d'), $2, $2 \
                 FROM json_each($1)",
            )
            .bind(serde_json::Value::Array(json).to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if !plan.update.is_empty() {
            let json: Vec<serde_json::Value> = plan
                .update
                .iter()
                .map(|r| serde_json::json!({ "a": r.address.as_str(), "d": r.display_name.as_str() }))
                .collect();
            sqlx::query(
                "UPDATE mailboxes SET display_name = u.d, updated_at = $2 \
                 FROM (SELECT json_extract(value, '$.a') AS a, json_extract(value, '$.d') AS d FROM json_each($1)) AS u \
                 WHERE mailboxes.address = u.a",
            )
            .bind(serde_json::Value::Array(json).to_string())
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
