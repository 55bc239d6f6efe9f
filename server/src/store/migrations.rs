//! Bringing the schema up to date at start-up, forward only: the migrations this server carries
//! (`migrations/{sqlite,postgres}`, embedded) against those the database ran (sqlx's
//! `_sqlx_migrations` table). A database migrated by a newer Sesame, by another build (a migration
//! this server does not know, or one whose checksum differs), or left by a migration that failed
//! half-way is refused with what to do, before anything runs ([`plan`]).
//!
//! [`lock_and_plan`] takes the migration lock (PostgreSQL's advisory lock, sqlx's own, on one
//! connection; nothing on SQLite, whose one file serves one server) before reading what the
//! database ran, and [`apply_and_unlock`] releases it after the last migration: servers starting
//! together on one PostgreSQL database check and migrate one after the other, so the first
//! migrates and the others find nothing to do. Between the two, the SQLite store backs the file up.
//! Each migration runs in a transaction with its `_sqlx_migrations` row (both databases have
//! transactional DDL; no migration opts out with `-- no-transaction`, tidy
//! `migrations_run_in_transactions`): a crash inside one leaves the previous version (tested here
//! with a migration failing half-way).

use sqlx::migrate::{AppliedMigration, Migrate, Migration, Migrator};

use super::Error;

/// Where sqlx records the migrations a database ran.
const TABLE: &str = "_sqlx_migrations";

/// Where a database stands against the migrations this server carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The newest migration the database ran; `None` for a new database.
    pub(super) current: Option<i64>,
    /// The newest migration this server carries: the version the database will be at.
    pub(super) target: i64,
    /// The migrations to run, in order.
    pending: Vec<i64>,
}

impl Plan {
    /// The version of an existing database that has migrations to run (the one to keep a copy
    /// of before migrating); `None` for a new database or one already up to date.
    pub(super) fn upgrade_from(&self) -> Option<i64> {
        self.current.filter(|_| !self.pending.is_empty())
    }
}

/// Compares what the database ran (`applied`, and the first row marked unsuccessful if any) with
/// the migrations this server carries, and says what to run; refuses any database this server
/// must not migrate.
pub(super) fn plan(
    applied: &[AppliedMigration],
    dirty: Option<i64>,
    carried: &[Migration],
) -> Result<Plan, Error> {
    let carried: Vec<&Migration> =
        carried.iter().filter(|m| !m.migration_type.is_down_migration()).collect();
    let server = carried.iter().map(|m| m.version).max().unwrap_or(0);
    let current = applied.iter().map(|m| m.version).max();
    if let Some(database) = current.filter(|&v| v > server) {
        return Err(Error::SchemaTooNew { database, server });
    }
    if let Some(version) = dirty {
        return Err(Error::SchemaDirty { version, server });
    }
    for ran in applied {
        match carried.iter().find(|m| m.version == ran.version) {
            None => return Err(Error::SchemaUnknown { version: ran.version, server }),
            Some(ours) if ours.checksum != ran.checksum => {
                return Err(Error::SchemaModified { version: ran.version, server });
            }
            Some(_) => {}
        }
    }
    let pending = carried
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.iter().any(|ran| ran.version == *v))
        .collect();
    Ok(Plan { current, target: server, pending })
}

/// Takes the migration lock on `conn` (held until [`apply_and_unlock`], or until the connection
/// closes), then reads what the database ran and plans. On an error the caller closes the
/// connection, which releases the lock.
pub(super) async fn lock_and_plan<C: Migrate>(
    conn: &mut C,
    migrator: &Migrator,
) -> Result<Plan, Error> {
    conn.lock().await?;
    conn.ensure_migrations_table(TABLE).await?;
    let dirty = conn.dirty_version(TABLE).await?;
    let applied = conn.list_applied_migrations(TABLE).await?;
    plan(&applied, dirty, &migrator.migrations)
}

/// Runs the planned migrations in order, each in its own transaction, then releases the lock.
pub(super) async fn apply_and_unlock<C: Migrate>(
    conn: &mut C,
    migrator: &Migrator,
    plan: &Plan,
) -> Result<(), Error> {
    for migration in migrator.iter().filter(|m| plan.pending.contains(&m.version)) {
        conn.apply(TABLE, migration).await?;
        tracing::info!(
            version = migration.version,
            name = %migration.description,
            "database schema migrated"
        );
    }
    conn.unlock().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::SqlSafeStr;
    use sqlx::migrate::{AppliedMigration, Migration, MigrationType};

    use super::{Plan, plan};
    use crate::store::Error;

    fn carried(versions: &[i64]) -> Vec<Migration> {
        versions
            .iter()
            .map(|&v| {
                let sql = sqlx::AssertSqlSafe(format!("CREATE TABLE t{v} (x INTEGER)"));
                let name = Cow::Owned(format!("m{v}"));
                Migration::new(v, name, MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect()
    }

    fn applied(migrations: &[Migration], versions: &[i64]) -> Vec<AppliedMigration> {
        migrations
            .iter()
            .filter(|m| versions.contains(&m.version))
            .map(|m| AppliedMigration { version: m.version, checksum: m.checksum.clone() })
            .collect()
    }

    #[test]
    fn a_new_database_runs_everything_and_needs_no_copy() {
        let ours = carried(&[1, 2, 3]);
        let planned = plan(&[], None, &ours).unwrap();
        assert_eq!(planned, Plan { current: None, target: 3, pending: vec![1, 2, 3] });
        assert_eq!(planned.upgrade_from(), None);
    }

    #[test]
    fn an_older_database_runs_what_it_misses_after_a_copy() {
        let ours = carried(&[1, 2, 3, 5]);
        let planned = plan(&applied(&ours, &[1, 2]), None, &ours).unwrap();
        assert_eq!(planned.pending, vec![3, 5]);
        assert_eq!(planned.upgrade_from(), Some(2));
        let current = plan(&applied(&ours, &[1, 2, 3, 5]), None, &ours).unwrap();
        assert_eq!(current.upgrade_from(), None, "nothing to run, nothing to copy");
    }

    #[test]
    fn a_newer_database_is_refused_naming_both_versions() {
        let ours = carried(&[1, 2]);
        let newer = carried(&[1, 2, 3]);
        let refused = plan(&applied(&newer, &[1, 2, 3]), None, &ours).unwrap_err();
        assert!(matches!(refused, Error::SchemaTooNew { database: 3, server: 2 }), "{refused:?}");
        let shown = refused.to_string();
        assert!(shown.contains("version 3") && shown.contains("version 2"), "{shown}");
        assert!(shown.contains("backup"), "{shown}");
        // Newer and half-failed: the newer version is what the administrator must act on.
        let refused = plan(&applied(&newer, &[1, 2, 3]), Some(3), &ours).unwrap_err();
        assert!(matches!(refused, Error::SchemaTooNew { .. }), "{refused:?}");
    }

    #[test]
    fn another_builds_migrations_and_half_failed_ones_are_refused() {
        let ours = carried(&[1, 2, 4]);
        let theirs = carried(&[1, 3]);
        let refused = plan(&applied(&theirs, &[1, 3]), None, &ours).unwrap_err();
        assert!(matches!(refused, Error::SchemaUnknown { version: 3, server: 4 }), "{refused:?}");
        let mut edited = applied(&ours, &[1, 2]);
        edited[1].checksum = Cow::Owned(vec![0; 48]);
        let refused = plan(&edited, None, &ours).unwrap_err();
        assert!(matches!(refused, Error::SchemaModified { version: 2, server: 4 }), "{refused:?}");
        let refused = plan(&applied(&ours, &[1, 2]), Some(2), &ours).unwrap_err();
        assert!(matches!(refused, Error::SchemaDirty { version: 2, .. }), "{refused:?}");
    }

    /// H2: a migration that fails half-way (here a statement after a first one succeeded) leaves
    /// the previous version: nothing of it stays, nothing is recorded, and the next start opens the
    /// database. A kill inside a migration ends the same transaction the same way.
    async fn a_half_failed_migration_leaves_the_previous_version<C: sqlx::migrate::Migrate>(
        db: &crate::store::test_support::TestDatabase,
        conn: &mut C,
        carried: &sqlx::migrate::Migrator,
    ) {
        db.open().await.close().await;
        let before = db.applied_migrations().await;
        let half = "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);";
        let failing = Migration::new(
            9000,
            Cow::Borrowed("half"),
            MigrationType::Simple,
            half.into_sql_str(),
            false,
        );
        let with_failing = sqlx::migrate::Migrator::with_migrations(
            carried.iter().cloned().chain([failing]).collect(),
        );
        let planned = super::lock_and_plan(conn, &with_failing).await.unwrap();
        assert_eq!(planned.pending, vec![9000]);
        super::apply_and_unlock(conn, &with_failing, &planned).await.unwrap_err();
        // The server drops its connection on an error; here the test releases the lock (and the
        // rolled-back transaction) by hand.
        conn.unlock().await.unwrap();
        assert_eq!(db.applied_migrations().await, before, "nothing recorded");
        // The table the first statement made is gone with the transaction.
        db.execute(&["CREATE TABLE half_done (x INTEGER)", "DROP TABLE half_done"]).await;
        db.open().await.close().await;
    }

    #[tokio::test]
    async fn sqlite_a_half_failed_migration_leaves_the_previous_version() {
        use secrecy::ExposeSecret;
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::test_support::TestDatabase::sqlite(dir.path());
        db.open().await.close().await;
        let mut conn = sqlx::SqliteConnection::connect(db.url().expose_secret()).await.unwrap();
        let carried = &crate::store::sqlite::MIGRATOR;
        a_half_failed_migration_leaves_the_previous_version(&db, &mut conn, carried).await;
    }

    #[tokio::test]
    async fn postgres_a_half_failed_migration_leaves_the_previous_version() {
        use secrecy::ExposeSecret;
        use sqlx::Connection;
        let Some(db) = crate::store::test_support::TestDatabase::postgres().await else { return };
        db.open().await.close().await;
        let mut conn = sqlx::PgConnection::connect(db.url().expose_secret()).await.unwrap();
        let carried = &crate::store::postgres::MIGRATOR;
        a_half_failed_migration_leaves_the_previous_version(&db, &mut conn, carried).await;
        drop(conn);
        db.destroy().await;
    }
}
