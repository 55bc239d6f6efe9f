//! SQLite: the embedded database, one file in the data directory. Its connections, and its side
//! of the [`Dialect`]: JSON arrays (`json_each`) for the import's bulk statements.
//!
//! SQLite allows one writer at a time, so the store keeps a pool of exactly one writing connection
//! (transactions queue in the pool instead of failing with SQLITE_BUSY) and a separate pool of
//! readers, which WAL mode lets run beside the writer. `synchronous=FULL`: a commit that returned is
//! on disk. One SQLite file serves one server process; several servers need PostgreSQL. Each
//! connection's page cache is bounded ([`PAGE_CACHE_PRAGMA`]), so the memory the database takes
//! is bounded by the pool size.
//!
//! Before migrating a database that already holds a schema, it keeps a copy of the file beside it
//! ([`backup_before_migrating`]): an administrator who must go back restores that copy.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use super::changes::ChangeFeed;
use super::db::Db;
use super::dialect::Dialect;
use super::migrations::{self, Plan};
use super::{Error, StoreOptions};
use crate::domain::office::NewMailbox;

/// Each connection's page cache, in KiB (a negative `cache_size`): SQLite's default, 2 MiB, is
/// kept per connection, one writer and up to `max_connections` readers, and fills as the database
/// grows; it is never given back. At 512 KiB the ceiling is a quarter; the `memory` bench
/// (`tests/benches/README.md`) ran as fast with it.
const PAGE_CACHE_PRAGMA: &str = "-512";

/// The migrations this server carries, embedded at build time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// Opens (creating if needed, mode 0600) the database file named by `options.url` and migrates
/// it.
pub(super) async fn connect(options: &StoreOptions) -> Result<Db<Sqlite>, Error> {
    let connect = SqliteConnectOptions::from_str(options.url.expose_secret())?;
    make_private(connect.get_filename()).map_err(|source| Error::Private {
        path: connect.get_filename().display().to_string(),
        source,
    })?;
    let connect = connect
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
    {
        let mut conn = writer.acquire().await?;
        let plan = migrations::lock_and_plan(&mut *conn, &MIGRATOR).await?;
        backup_before_migrating(&mut conn, connect.get_filename(), &plan).await?;
        migrations::apply_and_unlock(&mut *conn, &MIGRATOR, &plan).await?;
    }
    let reader = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.read_only(true))
        .await?;
    Ok(Db::new(writer, reader))
}

/// Creates the database file empty with mode 0600 before SQLite opens it (SQLite would create it
/// with the umask's mode, 0644 by default), or takes group and other access away from one an
/// older server created. SQLite gives its `-wal` and `-shm` files the database's mode. Nothing
/// for an in-memory database.
fn make_private(database: &Path) -> std::io::Result<()> {
    let name = database.as_os_str();
    if name.is_empty() || name == ":memory:" {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, sesame_base::private_file::PRIVATE_MODE);
    match options.open(database) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut suffixed = database.as_os_str().to_owned();
        for suffix in ["", "-wal", "-shm"] {
            suffixed.clear();
            suffixed.push(database.as_os_str());
            suffixed.push(suffix);
            let path = Path::new(&suffixed);
            let Ok(metadata) = std::fs::metadata(path) else { continue };
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
                tracing::info!(path = %path.display(), "database file made private (mode 0600)");
            }
        }
    }
    Ok(())
}

/// Copies an existing database that has migrations to run, beside its file, before they run:
/// `NAME.schema-FROM.before-TO.bak` (`.2.bak`, `.3.bak`... if an earlier attempt left one). Nothing
/// for a new database or one already up to date. If the copy fails, nothing is migrated.
async fn backup_before_migrating(
    conn: &mut SqliteConnection,
    database: &Path,
    plan: &Plan,
) -> Result<(), Error> {
    let Some(from) = plan.upgrade_from() else { return Ok(()) };
    if !database.is_file() {
        return Ok(());
    }
    let path = backup_path(database, from, plan.target);
    backup_to(conn, &path).await.map_err(|source| Error::Backup {
        path: path.display().to_string(),
        target: plan.target,
        source,
    })?;
    tracing::info!(
        path = %path.display(),
        from,
        to = plan.target,
        "database backed up before migrating it; restore this copy to go back to schema version {from}"
    );
    Ok(())
}

/// The first free name for the copy of `database` at version `from` before migrating it to `to`.
fn backup_path(database: &Path, from: i64, to: i64) -> PathBuf {
    let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let candidate = |n: u32| {
        let count = if n == 1 { String::new() } else { format!(".{n}") };
        database.with_file_name(format!("{name}.schema-{from}.before-{to}{count}.bak"))
    };
    (1..).map(candidate).find(|path| !path.exists()).unwrap_or_else(|| candidate(1))
}

/// Writes an online, consistent copy of the database `conn` is open on to `to`, a new file
/// (mode 0600), and flushes it and its directory to disk: `VACUUM INTO` reads one snapshot in a
/// read transaction, so the copy is consistent while other connections go on writing (WAL).
///
/// # Errors
/// When `to` exists or cannot be written (no space left), or the database cannot be read.
pub(super) async fn backup_to(conn: &mut SqliteConnection, to: &Path) -> std::io::Result<()> {
    let text = to.to_str().ok_or_else(|| std::io::Error::other("the path is not UTF-8"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(to)?);
    let copied = sqlx::query("VACUUM INTO $1").bind(text).execute(&mut *conn).await;
    if let Err(error) = copied {
        let _ = std::fs::remove_file(to);
        return Err(std::io::Error::other(error));
    }
    std::fs::File::open(to)?.sync_all()?;
    let dir = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    sesame_base::private_file::sync_dir(dir)
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
