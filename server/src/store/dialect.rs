//! [`Dialect`]: what really differs between SQLite and PostgreSQL, and the bounds under which the
//! rest of the store's SQL is written once for both.
//!
//! The shared SQL sticks to what both dialects accept (`$N` placeholders, `CAST(… AS TEXT)`,
//! `RETURNING`, `ON CONFLICT`) and lives in the aggregates' trait implementations on
//! [`Db`](super::db::Db), generic over `D: Dialect` (and their private helpers). Only three things
//! differ, and they are methods of the trait: serializing audit appends across servers, the bulk
//! statements of a mailbox import (`json_each` on SQLite, `UNNEST` and arrays on PostgreSQL), and
//! change notices between servers (`NOTIFY`/`LISTEN` on PostgreSQL, nothing on SQLite).
//!
//! Rust does not imply a trait's where-clauses about other types than `Self`
//! (rust-lang/rust#20671), so every `impl` block over `D` needs the same bounds (`D: Dialect`,
//! `i64: Value<D>`, `&mut D::Connection: Executor`, …). They are written once, each with what it
//! is for, in the `#[sql_impl]` attribute (`server/store-macros`), which every such block carries:
//! `#[sql_impl] impl<D> OfficeStore for Db<D> { … }`. The compiler checks them where the store is
//! built for a concrete database (`connect`).

use std::future::Future;

use sqlx::database::HasStatementCache;
use sqlx::{Database, Decode, Encode, IntoArguments, Pool, Type};
use time::OffsetDateTime;

use super::Error;
use super::changes::ChangeFeed;
use crate::domain::office::NewMailbox;

/// A database the store runs on: `sqlx::Sqlite` (`store/sqlite.rs`) or `sqlx::Postgres`
/// (`store/postgres.rs`).
pub(super) trait Dialect:
    Database<Arguments: IntoArguments<Self>, QueryResult: RowsAffected> + HasStatementCache
{
    /// Appended to a query reading compliance standings (`mailbox_compliance c`) that the
    /// transaction will update: locks them against another server's reassessment.
    const ROW_LOCK: &'static str;

    /// Makes concurrent audit appenders wait their turn until the transaction ends, so that the
    /// hash chain has one successor per record.
    fn lock_audit_log(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The CRPCENs among `crpcens` that name registered offices.
    fn registered_offices(
        conn: &mut Self::Connection,
        crpcens: &[String],
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// The address, display name and logon name of the registered mailboxes among `addresses`.
    fn registered_mailboxes(
        conn: &mut Self::Connection,
        addresses: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, String, Option<String>)>, Error>> + Send;

    /// Whether several servers may share the database, so that a change must be announced to the
    /// others (PostgreSQL) rather than only to this server's caches (SQLite).
    const SHARED: bool;

    /// Announces a change notice to every server listening (nothing on SQLite).
    fn notify_changed(
        pool: &Pool<Self>,
        payload: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The feed of change notices, on a connection of its own; `None` on SQLite, whose one server
    /// announces to itself.
    fn listen_changes(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Option<Box<dyn ChangeFeed>>, Error>> + Send;

    /// Inserts mailboxes, in one statement, created and updated `at`.
    fn insert_mailboxes(
        conn: &mut Self::Connection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Sets the display names of registered mailboxes to those of `rows`, and their logon names
    /// where a row gives one, in one statement.
    fn rename_mailboxes(
        conn: &mut Self::Connection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A Rust type the shared SQL both binds and reads on `D`. Implemented for every type that is.
pub(super) trait Value<D: Database>:
    for<'a> Encode<'a, D> + for<'r> Decode<'r, D> + Type<D>
{
}

impl<D: Database, T> Value<D> for T where T: for<'a> Encode<'a, D> + for<'r> Decode<'r, D> + Type<D> {}

/// What a statement reports: sqlx gives each database's result its own inherent method.
pub(super) trait RowsAffected {
    /// How many rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}
