//! SQLite files as backups see them: a consistent snapshot of a database in use
//! ([`snapshot_sqlite`], `VACUUM INTO` from a connection of its own, beside the server's writer),
//! and the checks of a copy ([`check_sqlite`]: `integrity_check` and the schema version, before
//! anything migrates it; [`inventory`]: what it holds, after). PostgreSQL is backed up with
//! `pg_dump` (README), so none of this applies to it.
//!
//! A snapshot is one read transaction: every transaction committed before it began is in it, none
//! that committed after, and WAL mode lets the server go on writing meanwhile.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use super::Error;
use crate::domain::identifier::{MailboxId, RotationId};
use crate::domain::rotation::Sealed;

/// How long a snapshot waits for a lock (a checkpoint, a schema change) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The newest schema version this server knows (its last SQLite migration).
pub fn latest_schema_version() -> i64 {
    super::sqlite::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The path of an existing SQLite database named by `url` (`sqlite:PATH`), opened without
/// creating it, migrating it or changing its journal mode.
async fn open_existing(url: &str) -> Result<SqliteConnection, Error> {
    let options =
        SqliteConnectOptions::from_str(url)?.create_if_missing(false).busy_timeout(BUSY_TIMEOUT);
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// The applied schema version (the last successful migration), or 0 for a database no server
/// has migrated.
async fn schema_version(conn: &mut SqliteConnection) -> Result<i64, Error> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if table.is_none() {
        return Ok(0);
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    Ok(version.unwrap_or(0))
}

/// Writes a consistent copy of the SQLite database `url` names to `to` (which must not exist),
/// from a connection of its own (`VACUUM INTO`: every transaction committed before it began, as
/// one compact file without WAL), and returns the copy's schema version.
pub async fn snapshot_sqlite(url: &str, to: &Path) -> Result<i64, Error> {
    let mut conn = open_existing(url).await?;
    // The same copy as the one taken before migrating: a new file, 0600, synced with its directory.
    let copied = super::sqlite::backup_to(&mut conn, to).await;
    let _ = conn.close().await;
    copied.map_err(|error| Error::Internal(Box::new(error)))?;
    let mut copy = open_existing(&format!("sqlite:{}", to.display())).await?;
    let version = schema_version(&mut copy).await;
    let _ = copy.close().await;
    version
}

/// What [`check_sqlite`] found in a copy, before it is migrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// `PRAGMA integrity_check`'s findings: empty when the file is sound.
    pub problems: Vec<String>,
    /// The applied schema version.
    pub schema_version: i64,
}

/// Runs `PRAGMA integrity_check` on the database file at `path` and reads its schema version.
pub async fn check_sqlite(path: &Path) -> Result<FileCheck, Error> {
    let mut conn = open_existing(&format!("sqlite:{}", path.display())).await?;
    let checked = async {
        let lines: Vec<String> =
            sqlx::query_scalar("PRAGMA integrity_check(100)").fetch_all(&mut conn).await?;
        let problems = lines.into_iter().filter(|line| line != "ok").collect();
        let schema_version = schema_version(&mut conn).await?;
        Ok::<_, Error>(FileCheck { problems, schema_version })
    }
    .await;
    let _ = conn.close().await;
    checked
}

/// What a (migrated) database holds, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Offices.
    pub offices: u64,
    /// Mailboxes.
    pub mailboxes: u64,
    /// Enrolled workstations.
    pub workstations: u64,
    /// Administrators (revoked ones included).
    pub administrators: u64,
    /// Rotations by status name (`issued`, `completed`, ...), by name.
    pub rotations: Vec<(String, u64)>,
    /// Audit records.
    pub audit_records: u64,
    /// Signed heads.
    pub signed_heads: u64,
    /// The escrowed passwords of open rotations, sealed.
    pub escrows: Vec<(MailboxId, RotationId, Sealed)>,
}

/// A rotation's id, mailbox and sealed password, as stored.
type EscrowRow = (String, i64, String, Vec<u8>, Vec<u8>);

/// A count as the database returns it.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Counts what the migrated SQLite database at `path` holds, and reads its sealed escrows.
pub async fn inventory(path: &Path) -> Result<Inventory, Error> {
    let mut conn = open_existing(&format!("sqlite:{}", path.display())).await?;
    let counted = async {
        let mut one = async |sql: &'static str| -> Result<u64, Error> {
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
            Ok(count(n))
        };
        let mut inventory = Inventory {
            offices: one("SELECT COUNT(*) FROM offices").await?,
            mailboxes: one("SELECT COUNT(*) FROM mailboxes").await?,
            workstations: one("SELECT COUNT(*) FROM workstations").await?,
            administrators: one("SELECT COUNT(*) FROM admins").await?,
            audit_records: one("SELECT COUNT(*) FROM audit_log").await?,
            signed_heads: one("SELECT COUNT(*) FROM audit_heads").await?,
            ..Inventory::default()
        };
        let rotations: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM rotations GROUP BY status ORDER BY status",
        )
        .fetch_all(&mut conn)
        .await?;
        inventory.rotations = rotations.into_iter().map(|(s, n)| (s, count(n))).collect();
        let escrows: Vec<EscrowRow> = sqlx::query_as(
            "SELECT id, mailbox_id, key_id, nonce, ciphertext FROM rotations \
             WHERE ciphertext IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await?;
        for (id, mailbox, key_id, nonce, ciphertext) in escrows {
            let id =
                RotationId::parse("rotations.id", &id).map_err(|_| Error::Corrupt("rotations"))?;
            inventory.escrows.push((MailboxId(mailbox), id, Sealed { key_id, nonce, ciphertext }));
        }
        Ok::<_, Error>(inventory)
    }
    .await;
    let _ = conn.close().await;
    counted
}

/// Creates a SQLite database at `path` migrated up to `version` only, as an older server left it
/// (for the tests of backups taken at an older schema).
#[cfg(test)]
pub(crate) async fn create_sqlite_at_version(path: &Path, version: i64) -> Result<(), Error> {
    let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let migrated = super::sqlite::MIGRATOR.run_to(version, &mut conn).await;
    let _ = conn.close().await;
    migrated.map_err(|e| Error::Migrate(Box::new(e)))
}
