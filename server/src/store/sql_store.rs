//! [`SqlStore`]: the one implementation of [`Store`], for SQLite and PostgreSQL alike. Each method
//! forwards to the method of the same name on [`Db`], written once in the file of its aggregate
//! (`offices.rs`, `admins.rs`, `workstations.rs`, `rotations.rs`, `reports.rs`, `settings.rs`,
//! `accounts.rs`, `check_ins.rs`, `audit.rs`).

use sesame_store_macros::sql_impl;

use time::OffsetDateTime;

use super::changes::{Change, ChangeFeed};
use super::db::Db;
use super::{Error, PoolUsage, Store};
use crate::domain::audit::{AuditEvent, AuditRecord, SignedHead};
use crate::domain::office::Crpcen;

#[sql_impl]
impl<D> Store for Db<D> {
    // === Audit (`store/audit.rs`) ===
    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, Error> {
        self.audit_head().await
    }

    async fn append_audit_event(
        &self,
        event: &AuditEvent,
        at: OffsetDateTime,
    ) -> Result<(i64, [u8; 32]), Error> {
        self.append_audit_event(event, at).await
    }

    async fn latest_audit_record(&self, action: &str) -> Result<Option<AuditRecord>, Error> {
        self.latest_audit_record(action).await
    }

    async fn audit_records(
        &self,
        office: Option<&Crpcen>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, Error> {
        self.audit_records(office, after_seq, limit).await
    }

    async fn insert_signed_head(&self, head: &SignedHead) -> Result<SignedHead, Error> {
        self.insert_signed_head(head).await
    }

    async fn signed_heads(&self, after_seq: i64, limit: u32) -> Result<Vec<SignedHead>, Error> {
        self.signed_heads(after_seq, limit).await
    }

    async fn latest_signed_head(&self) -> Result<Option<SignedHead>, Error> {
        self.latest_signed_head().await
    }

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
