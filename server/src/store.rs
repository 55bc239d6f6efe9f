//! Persistence: the [`Store`] trait, implemented once for SQLite (embedded, the default) and
//! PostgreSQL (several servers on one database), and [`connect`], which opens the one the URL names.
//!
//! One file per aggregate holds its SQL, written once for both databases (`offices.rs`,
//! `admins.rs`, `workstations.rs`, `rotations.rs`, `settings.rs`, `accounts.rs`, `check_ins.rs`, `compliance.rs` with `compliance_report.rs`, `audit.rs`); `dialect.rs` names what differs
//! (`sqlite.rs`, `postgres.rs`). Every method that changes state writes its audit record in the
//! same transaction (`Db::commit`), so a change never exists without its record. Both databases
//! pass the same conformance suite (`store/conformance.rs`). Nothing outside this module sees sqlx:
//! failures are [`Error`]s typed by meaning.

mod accounts;
mod admins;
mod audit;
#[cfg(feature = "bulk-provision")]
pub mod bulk_provision;
mod changes;
mod check_ins;
mod compliance;
mod compliance_report;
mod db;
mod dialect;
mod error;
mod offices;
mod options;
mod postgres;
mod reports;
mod rotations;
mod rows;
mod settings;
mod sql_store;
mod sqlite;
mod workstations;

pub use self::changes::{Change, ChangeFeed};
pub use self::compliance::{Policies, PolicyScope};

#[cfg(test)]
mod conformance;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use self::accounts::AccountStore;
pub use self::admins::AdminStore;
pub use self::audit::AuditStore;
pub use self::check_ins::CheckInStore;
pub use self::compliance::ComplianceStore;
pub use self::compliance_report::ComplianceReportStore;
pub use self::error::{Error, TokenRefusal};
pub use self::offices::OfficeStore;
pub use self::options::{StoreOptions, connect, redact_url};
pub use self::reports::ReportStore;
pub use self::rotations::RotationStore;
pub use self::settings::SettingsStore;
pub use self::workstations::WorkstationStore;

/// The server's persistent state. Implementations are cheap to share (`Arc<dyn Store>`) and hold
/// no state of their own beyond a connection pool: several servers may share one PostgreSQL
/// database.
#[async_trait]
pub trait Store:
    AuditStore
    + ComplianceReportStore
    + ComplianceStore
    + CheckInStore
    + SettingsStore
    + AccountStore
    + ReportStore
    + RotationStore
    + WorkstationStore
    + AdminStore
    + OfficeStore
    + Send
    + Sync
    + fmt::Debug
{
    // === Change notices between servers (`store/changes.rs`) ===

    /// Whether other servers may share the database (PostgreSQL), so that what a server caches
    /// is only sound while it hears their notices.
    fn shares_changes(&self) -> bool;

    /// Tells every server listening (this one included) that something changed; nothing on
    /// SQLite.
    async fn notify_changed(&self, change: &Change) -> Result<(), Error>;

    /// The notices of every server, on a connection of its own; `None` on SQLite (one server).
    async fn listen_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, Error>;

    // === Operations ===

    /// Runs a trivial query: `Ok` when the database answers (a connection is taken from the pool,
    /// or made, and used).
    async fn ping(&self) -> Result<(), Error>;

    /// How many connections the store holds now, and may hold.
    fn pool_usage(&self) -> PoolUsage;

    // === Lifecycle ===

    /// Closes the connections (SQLite checkpoints its WAL). Called once, at shutdown.
    async fn close(&self);
}

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// The store's connections at one moment, summed over its pools (SQLite: the writer and the
/// readers), for the operations endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections lent to a query or transaction.
    pub in_use: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The most the pools may open.
    pub max: u32,
}
