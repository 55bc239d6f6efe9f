//! [`Error`]: what a store failure means, and the one place that reads sqlx's errors to decide it.
//!
//! Nothing outside `store` sees a sqlx type: a database error becomes [`Error::NotFound`],
//! [`Error::Conflict`], [`Error::Unavailable`] (the client may retry), [`Error::StorageFull`] (the
//! database's disk is full: SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`) or
//! [`Error::Internal`], whose boxed source keeps the database's text for the logs. `Display` never
//! carries that text.

use std::error::Error as StdError;

use crate::domain::office::Crpcen;

/// Why an enrollment token was refused. Logged, never told to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No such token.
    Unknown,
    /// Past its expiry.
    Expired,
    /// No uses left.
    UsedUp,
    /// Revoked by an administrator.
    Revoked,
}

/// A store failure. Its `Display` never carries database text; the source chain does, for logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The thing to create exists already.
    #[error("already exists")]
    Conflict,
    /// An import names offices that do not exist; nothing was written.
    #[error("{} office(s) do not exist", .0.len())]
    MissingOffices(Vec<Crpcen>),
    /// An enrollment token was refused; nothing was written.
    #[error("enrollment token refused ({0:?})")]
    TokenRefused(TokenRefusal),
    /// The database URL is not one the server can use.
    #[error("unsupported database URL: expected sqlite:... or postgres://...")]
    UnsupportedUrl,
    /// The database could not be reached in time (pool exhausted or closed, I/O failure); the
    /// request may succeed if retried.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// The database's disk is full: nothing was written; writes work again once space is freed.
    #[error("database storage full")]
    StorageFull(#[source] Box<dyn StdError + Send + Sync>),
    /// The schema could not be brought up to date.
    #[error("database migration failed")]
    Migrate(#[source] Box<dyn StdError + Send + Sync>),
    /// A newer Sesame migrated the database: its schema is ahead of this server's. Nothing ran.
    #[error(
        "the database schema is at version {database}, newer than this server's schema version \
         {server}: a newer version of Sesame migrated it, and Sesame never migrates a database \
         backwards. Run the newer version of Sesame; or, to go back to this version, restore the \
         backup taken before the upgrade (see Upgrading in the README)"
    )]
    SchemaTooNew {
        /// The newest migration the database ran.
        database: i64,
        /// The newest migration this server carries.
        server: i64,
    },
    /// The database ran a migration this server does not carry: another build migrated it.
    #[error(
        "the database ran migration {version}, which this server (schema version {server}) does \
         not carry: another build of Sesame migrated it. Run that build, or restore the backup \
         taken before it migrated the database"
    )]
    SchemaUnknown {
        /// The unknown migration.
        version: i64,
        /// The newest migration this server carries.
        server: i64,
    },
    /// A migration the database ran differs from this server's (its checksum).
    #[error(
        "migration {version} in the database differs from this server's own (schema version \
         {server}; their checksums differ): another build of Sesame migrated the database. Run \
         that build, or restore the backup taken before it migrated the database"
    )]
    SchemaModified {
        /// The migration that differs.
        version: i64,
        /// The newest migration this server carries.
        server: i64,
    },
    /// A migration failed half-way on an earlier start (marked unsuccessful).
    #[error(
        "migration {version} failed half-way on an earlier start (it is marked unsuccessful in \
         the table _sqlx_migrations), so the schema is neither the old version nor {server}. \
         Restore the backup taken before the upgrade, then start again"
    )]
    SchemaDirty {
        /// The migration that failed.
        version: i64,
        /// The newest migration this server carries.
        server: i64,
    },
    /// The copy of the SQLite file taken before migrating could not be made; nothing was migrated.
    #[error(
        "cannot back up the database to {path} before migrating it to schema version {target}; \
         nothing was migrated. Make room in that directory (the copy takes about the database's \
         size), then start again"
    )]
    Backup {
        /// The copy that could not be written.
        path: String,
        /// The version the database would have been migrated to.
        target: i64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite database file could not be created private (mode 0600), or made so.
    #[error(
        "cannot make the database file {path} private (mode 0600); check the directory's owner"
    )]
    Private {
        /// The database file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored row does not hold what the schema promises.
    #[error("corrupt row in {0}")]
    Corrupt(&'static str),
    /// Any other database failure.
    #[error("database error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Error {
        match &error {
            sqlx::Error::RowNotFound => Error::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict,
            // SQLITE_FULL (13), PostgreSQL's disk_full (53100).
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("13" | "53100")) => {
                Error::StorageFull(Box::new(error))
            }
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                Error::StorageFull(Box::new(error))
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(Box::new(error))
            }
            _ => Error::Internal(Box::new(error)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(error: sqlx::migrate::MigrateError) -> Error {
        Error::Migrate(Box::new(error))
    }
}

/// `error` classified, except that a foreign-key violation means `missing()`: the row it refers
/// to (an office, a workstation) does not exist.
pub(super) fn unless_foreign_key(error: sqlx::Error, missing: impl FnOnce() -> Error) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => missing(),
        _ => Error::from(error),
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn sqlx_errors_are_classified_by_meaning() {
        assert!(matches!(Error::from(sqlx::Error::RowNotFound), Error::NotFound));
        for transient in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::other("connection reset")),
        ] {
            assert!(matches!(Error::from(transient), Error::Unavailable(_)));
        }
        let protocol = Error::from(sqlx::Error::Protocol("SELECT secret FROM /var/lib/x".into()));
        assert!(matches!(protocol, Error::Internal(_)), "{protocol:?}");
    }

    #[test]
    fn display_never_carries_database_text() {
        let secret = "SELECT secret FROM /var/lib/x";
        for error in [
            Error::from(sqlx::Error::Protocol(secret.into())),
            Error::from(sqlx::Error::Io(std::io::Error::other(secret))),
            Error::Migrate(Box::new(std::io::Error::other(secret))),
        ] {
            let shown = error.to_string();
            assert!(!shown.contains("SELECT") && !shown.contains("/var/lib"), "{shown}");
            let source = std::error::Error::source(&error).map(ToString::to_string);
            assert!(source.is_some_and(|s| s.contains(secret)), "the logs keep the cause");
        }
    }
}
