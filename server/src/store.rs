//! Persistence: the [`Store`] trait, implemented once for SQLite (embedded, the default) and
//! PostgreSQL (several servers on one database), and [`connect`], which opens the one the URL names.
//!
//! [`Store`] is the sum of one small trait per aggregate, each declared in the aggregate's file and
//! implemented there, once for both databases, on `Db<D>` (`db.rs`, the connection pools):
//! [`OfficeStore`] (`offices.rs`), [`AdminStore`], [`WorkstationStore`], [`RotationStore`],
//! [`ReportStore`], [`AccountStore`], [`SettingsStore`], [`CheckInStore`], [`ComplianceStore`],
//! [`ComplianceReportStore`] (`compliance_report.rs`), [`ComplianceTrendStore`]
//! (`compliance_trend.rs`), [`AuditStore`], [`ChangeStore`]
//! [`ComplianceReportStore`] (`compliance_report.rs`), [`WebAccessStore`] (`web_access.rs`),
//! [`AuditStore`], [`ChangeStore`]
//! (`changes.rs`) and [`PoolStore`] (`db.rs`). A function that needs part of the store takes the
//! narrowest of them (`&dyn AuditStore`); `&dyn Store` converts to any. `dialect.rs` names what
//! differs (`sqlite.rs`, `postgres.rs`), `migrations.rs` checks and runs the migrations at start-up; the bounds every `impl` over a dialect needs are written
//! once, in the `#[sql_impl]` attribute (crate `sesame-store-macros`). Every method that changes
//! state writes its audit record in the same transaction (`Db::commit`), so a change never exists
//! without its record. Both databases pass the same conformance suite (`store/conformance.rs`).
//! Nothing outside this module sees sqlx: failures are [`Error`]s typed by meaning.

mod accounts;
mod admins;
mod audit;
#[cfg(feature = "bulk-provision")]
pub mod bulk_provision;
mod changes;
mod check_ins;
mod compliance;
mod compliance_report;
mod compliance_trend;
mod db;
mod dialect;
mod error;
mod migrations;
mod offices;
mod options;
mod postgres;
mod reports;
mod rotations;
mod rows;
mod settings;
pub mod snapshot;
mod sqlite;
mod web_access;
mod workstations;

#[cfg(test)]
mod conformance;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::fmt;
use std::sync::Arc;

pub use self::accounts::AccountStore;
pub use self::admins::AdminStore;
pub use self::audit::AuditStore;
pub use self::changes::{Change, ChangeFeed, ChangeStore};
pub use self::check_ins::CheckInStore;
pub use self::compliance::{ComplianceStore, Policies, PolicyScope};
pub use self::compliance_report::ComplianceReportStore;
pub use self::compliance_trend::ComplianceTrendStore;
pub use self::db::{PoolStore, PoolUsage};
pub use self::error::{Error, TokenRefusal};
pub use self::offices::OfficeStore;
pub use self::options::{StoreOptions, connect, redact_url};
pub use self::reports::ReportStore;
pub use self::rotations::RotationStore;
pub use self::settings::SettingsStore;
pub use self::web_access::WebAccessStore;
pub use self::workstations::WorkstationStore;

/// The server's persistent state: every aggregate's trait, implemented by `Db` (`db.rs`). Implementations are cheap to share
/// (`Arc<dyn Store>`) and hold no state of their own beyond a connection pool: several servers may
/// share one PostgreSQL database. Through `dyn Store` (as through any `dyn` part) the methods of
/// every part are callable without importing its trait.
pub trait Store:
    OfficeStore
    + AdminStore
    + WorkstationStore
    + RotationStore
    + ReportStore
    + AccountStore
    + SettingsStore
    + CheckInStore
    + ComplianceStore
    + ComplianceReportStore
    + ComplianceTrendStore
    + WebAccessStore
    + AuditStore
    + ChangeStore
    + PoolStore
    + Send
    + Sync
    + fmt::Debug
{
}

/// A shared store.
pub type SharedStore = Arc<dyn Store>;
