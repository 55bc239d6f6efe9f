//! [`SqlStore`]: the one implementation of [`Store`], for SQLite and PostgreSQL alike. Each method
//! forwards to the method of the same name on [`Db`], written once in the file of its aggregate
//! (`offices.rs`, `admins.rs`, `workstations.rs`, `rotations.rs`, `reports.rs`, `settings.rs`,
//! `accounts.rs`, `check_ins.rs`, `audit.rs`).

use sesame_store_macros::sql_impl;

use super::changes::{Change, ChangeFeed};
use super::db::Db;
use super::{Error, PoolUsage, Store};

#[sql_impl]
impl<D> Store for Db<D> {
    // === Change notices between servers (`store/changes.rs`) ===
    fn shares_changes(&self) -> bool {
        D::SHARED
    }

    async fn notify_changed(&self, change: &Change) -> Result<(), Error> {
        D::notify_changed(self.writer(), &change.payload()).await
    }

    async fn listen_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, Error> {
        D::listen_changes(self.writer()).await
    }

    // === Operations ===
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    fn pool_usage(&self) -> PoolUsage {
        self.pool_usage()
    }

    // === Lifecycle ===
    async fn close(&self) {
        self.close().await
    }
}
