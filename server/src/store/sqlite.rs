//! SQLite: the embedded database, one file in the data directory. Its connections, and its side
//! of the [`Dialect`]: JSON arrays (`json_each`) for the import's bulk statements.
//!
//! SQLite allows one writer at a time, so the store keeps a pool of exactly one writing connection
//! (transactions queue in the pool instead of failing with SQLITE_BUSY) and a separate pool of
//! readers, which WAL mode lets run beside the writer. `synchronous=FULL`: a commit that returned is
//! on disk. One SQLite file serves one server process; several servers need PostgreSQL. Each
//! connection's page cache is bounded ([`PAGE_CACHE_PRAGMA`]), so the memory the database takes
//! is bounded by the pool size.

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use super::changes::ChangeFeed;
use super::db::Db;
use super::dialect::Dialect;
use super::{Error, StoreOptions};
use crate::domain::office::NewMailbox;

/// Each connection's page cache, in KiB (a negative `cache_size`): SQLite's default, 2 MiB, is
/// kept per connection, one writer and up to `max_connections` readers, and fills as the database
/// grows; it is never given back. At 512 KiB the ceiling is a quarter; the `memory` bench
/// (`tests/benches/README.md`) ran as fast with it.
const PAGE_CACHE_PRAGMA: &str = "-512";

/// Opens (creating if needed) the database file named by `options.url` and migrates it.
pub(super) async fn connect(options: &StoreOptions) -> Result<Db<Sqlite>, Error> {
    let connect = SqliteConnectOptions::from_str(options.url.expose_secret())?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(options.acquire_timeout)
        .pragma("cache_size", PAGE_CACHE_PRAGMA);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.clone())
        .await?;
    sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.read_only(true))
        .await?;
    Ok(Db::new(writer, reader))
}

/// A JSON array of strings, which `json_each` reads back as rows.
fn json_array<T: serde::Serialize>(items: &[T]) -> Result<String, Error> {
    serde_json::to_string(items).map_err(|_| Error::Corrupt("import"))
}

impl Dialect for Sqlite {
    /// Nothing to add: the one writing connection already serializes writers.
    const ROW_LOCK: &'static str = "";

    /// One SQLite file serves one server.
    const SHARED: bool = false;

    /// No other server to tell.
    async fn notify_changed(_pool: &Pool<Sqlite>, _payload: &str) -> Result<(), Error> {
        Ok(())
    }

    /// No other server to hear from.
    async fn listen_changes(_pool: &Pool<Sqlite>) -> Result<Option<Box<dyn ChangeFeed>>, Error> {
        Ok(None)
    }

    /// Nothing to do: the one writing connection already makes appenders wait their turn.
    async fn lock_audit_log(_conn: &mut SqliteConnection) -> Result<(), Error> {
        Ok(())
    }

    async fn registered_offices(
        conn: &mut SqliteConnection,
        crpcens: &[String],
    ) -> Result<Vec<String>, Error> {
        let found = sqlx::query_scalar(
            "SELECT crpcen FROM offices WHERE crpcen IN (SELECT value FROM json_each($1))",
        )
        .bind(json_array(crpcens)?)
        .fetch_all(conn)
        .await?;
        Ok(found)
    }

    async fn registered_mailboxes(
        conn: &mut SqliteConnection,
        addresses: &[&str],
    ) -> Result<Vec<(String, String, Option<String>)>, Error> {
        let found = sqlx::query_as(
            "SELECT address, display_name, logon_name FROM mailboxes \
             WHERE address IN (SELECT value FROM json_each($1))",
        )
        .bind(json_array(addresses)?)
        .fetch_all(conn)
        .await?;
        Ok(found)
    }

    async fn insert_mailboxes(
        conn: &mut SqliteConnection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "a": r.address.as_str(),
                    "o": r.address.office().as_str(),
                    "l": r.address.last_name(),
                    "f": r.address.first_name(),
                    "d": r.display_name.as_str(),
                    "n": r.logon_name.as_ref().map(|n| n.as_str()),
                })
            })
            .collect();
        sqlx::query(
            "INSERT INTO mailboxes \
             (address, office, last_name, first_name, display_name, logon_name, \
              created_at, updated_at) \
             SELECT json_extract(value, '$.a'), json_extract(value, '$.o'), \
                    json_extract(value, '$.l'), json_extract(value, '$.f'), \
                    json_extract(value, '$.d'), json_extract(value, '$.n'), $2, $2 \
             FROM json_each($1)",
        )
        .bind(serde_json::Value::Array(json).to_string())
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn rename_mailboxes(
        conn: &mut SqliteConnection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "a": r.address.as_str(),
                    "d": r.display_name.as_str(),
                    "n": r.logon_name.as_ref().map(|n| n.as_str()),
                })
            })
            .collect();
        sqlx::query(
            "UPDATE mailboxes SET display_name = u.d, \
             logon_name = COALESCE(u.n, mailboxes.logon_name), updated_at = $2 \
             FROM (SELECT json_extract(value, '$.a') AS a, json_extract(value, '$.d') AS d, \
                          json_extract(value, '$.n') AS n \
                   FROM json_each($1)) AS u \
             WHERE mailboxes.address = u.a",
        )
        .bind(serde_json::Value::Array(json).to_string())
        .bind(at)
        .execute(conn)
        .await?;
        Ok(())
    }
}
