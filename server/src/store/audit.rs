//! The audit log in the database: [`Db::commit`], which every write ends with (append the records,
//! then commit), a record alone (the audit key's rotation), the paged read, the last record of an
//! action, and the signed heads (`audit_heads`, append-only). [`AuditStore`] is what the rest of
//! the server calls; it is implemented here once for both databases, on `Db<D>`.
//!
//! The chain is extended inside the writer's transaction: a change never exists without its
//! record, and a record never exists without its change.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::{AssertSqlSafe, Transaction};
use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use super::rows::{AuditHeadRow, AuditRow, hash_column};
use crate::domain::audit::{
    AuditEvent, AuditRecord, GENESIS_HASH, RecordFields, SignedHead, record_hash,
};
use crate::domain::office::Crpcen;

/// The audit chain and its signed heads; a part of [`Store`](super::Store). Every other write
/// appends its records through `Db::commit`, in its own transaction.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The audit chain's last record: its sequence number and hash (`None` while empty).
    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, Error>;

    /// Appends one record that describes no other change (the audit key's rotation) and returns
    /// its sequence number and hash.
    async fn append_audit_event(
        &self,
        event: &AuditEvent,
        at: OffsetDateTime,
    ) -> Result<(i64, [u8; 32]), Error>;

    /// The last record of `action`, if any (read backwards from the chain's end).
    async fn latest_audit_record(&self, action: &str) -> Result<Option<AuditRecord>, Error>;

    /// Audit records after `after_seq`, in order, at most `limit`, optionally of one office.
    async fn audit_records(
        &self,
        office: Option<&Crpcen>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, Error>;

    /// Stores a signed head (not audited: it would move the head) and returns the head stored at
    /// its sequence number: this one, or the one another server stored first.
    async fn insert_signed_head(&self, head: &SignedHead) -> Result<SignedHead, Error>;

    /// Signed heads after `after_seq`, by sequence number, at most `limit`.
    async fn signed_heads(&self, after_seq: i64, limit: u32) -> Result<Vec<SignedHead>, Error>;

    /// The signed head with the highest sequence number, if any.
    async fn latest_signed_head(&self) -> Result<Option<SignedHead>, Error>;
}

#[sql_impl]
impl<D> AuditStore for Db<D> {
    async fn append_audit_event(
        &self,
        event: &AuditEvent,
        at: OffsetDateTime,
    ) -> Result<(i64, [u8; 32]), Error> {
        let mut tx = self.writer().begin().await?;
        D::lock_audit_log(&mut tx).await?;
        let last = Self::last_record(&mut tx).await?;
        let (seq, hash) = Self::append(&mut tx, last, std::slice::from_ref(event), at).await?;
        tx.commit().await?;
        Ok((seq, hash))
    }

    async fn latest_audit_record(&self, action: &str) -> Result<Option<AuditRecord>, Error> {
        let row: Option<AuditRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, office, target, details, prev_hash, hash \
             FROM audit_log WHERE action = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(action)
        .fetch_optional(self.reader())
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, Error> {
        let last: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.reader())
                .await?;
        last.map(|(seq, hash)| Ok((seq, hash_column(hash, "audit_log")?))).transpose()
    }

    async fn audit_records(
        &self,
        office: Option<&Crpcen>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, Error> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, office, target, details, prev_hash, hash \
             FROM audit_log WHERE seq > $1 AND (CAST($2 AS TEXT) IS NULL OR office = $2) \
             ORDER BY seq LIMIT $3",
        )
        .bind(after_seq)
        .bind(office.map(Crpcen::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn insert_signed_head(&self, head: &SignedHead) -> Result<SignedHead, Error> {
        sqlx::query(
            "INSERT INTO audit_heads (seq, hash, signed_at, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(head.seq)
        .bind(&head.hash[..])
        .bind(head.signed_at)
        .bind(head.key_id.as_str())
        .bind(&head.signature[..])
        .execute(self.writer())
        .await?;
        let stored: AuditHeadRow = sqlx::query_as(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_heads WHERE seq = $1",
        )
        .bind(head.seq)
        .fetch_one(self.writer())
        .await?;
        stored.try_into()
    }

    async fn signed_heads(&self, after_seq: i64, limit: u32) -> Result<Vec<SignedHead>, Error> {
        let rows: Vec<AuditHeadRow> = sqlx::query_as(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_heads WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn latest_signed_head(&self) -> Result<Option<SignedHead>, Error> {
        let row: Option<AuditHeadRow> = sqlx::query_as(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_heads \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(self.reader())
        .await?;
        row.map(TryInto::try_into).transpose()
    }
}

/// Audit records one statement appends (8 parameters each, far below either database's limit).
const AUDIT_INSERT_ROWS: usize = 500;

/// Appending to the audit chain, on the transaction of the change it records.
#[sql_impl]
impl<D> Db<D> {
    /// Appends one record per event to the audit chain, in order, then commits `tx`. Every method
    /// that changes state ends here; with no event, it only commits.
    pub(super) async fn commit(
        mut tx: Transaction<'_, D>,
        events: &[AuditEvent],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        if !events.is_empty() {
            D::lock_audit_log(&mut tx).await?;
            // The last record is read once; each appended one is the next one's predecessor.
            let last = Self::last_record(&mut tx).await?;
            Self::append(&mut tx, last, events, at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The sequence number and hash of the last record (0 and the genesis hash for none), read
    /// inside the caller's transaction, after the audit log is locked.
    async fn last_record(conn: &mut D::Connection) -> Result<(i64, [u8; 32]), Error> {
        let last: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await?;
        Ok(match last {
            Some((seq, hash)) => (seq, hash_column(hash, "audit_log")?),
            None => (0, GENESIS_HASH),
        })
    }

    /// Appends one record per event after `last`, in order, inside the caller's transaction,
    /// [`AUDIT_INSERT_ROWS`] records a statement (an import records one per office); returns the
    /// last one's sequence number and hash.
    async fn append(
        conn: &mut D::Connection,
        (mut prev_seq, mut prev_hash): (i64, [u8; 32]),
        events: &[AuditEvent],
        at: OffsetDateTime,
    ) -> Result<(i64, [u8; 32]), Error> {
        for chunk in events.chunks(AUDIT_INSERT_ROWS) {
            let mut rows = Vec::with_capacity(chunk.len());
            for event in chunk {
                let details = event.details.to_string();
                let fields = RecordFields {
                    seq: prev_seq + 1,
                    at,
                    actor: event.actor.as_str(),
                    action: event.action,
                    office: event.office.as_ref().map(Crpcen::as_str),
                    target: &event.target,
                    details: &details,
                };
                let (seq, hash) = (fields.seq, record_hash(&prev_hash, &fields));
                rows.push((seq, event, details, prev_hash, hash));
                (prev_seq, prev_hash) = (seq, hash);
            }
            // $1 is the time every record shares; then eight parameters a record.
            let values: Vec<String> = (0..rows.len())
                .map(|i| {
                    let n = 8 * i + 2;
                    format!(
                        "(${n}, $1, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6,
                        n + 7
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_log (seq, at, actor, action, office, target, details, \
                 prev_hash, hash) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at);
            for (seq, event, details, prev, hash) in &rows {
                query = query
                    .bind(*seq)
                    .bind(event.actor.as_str())
                    .bind(event.action)
                    .bind(event.office.as_ref().map(Crpcen::as_str))
                    .bind(event.target.as_str())
                    .bind(details.as_str())
                    .bind(&prev[..])
                    .bind(&hash[..]);
            }
            query.execute(&mut *conn).await?;
        }
        Ok((prev_seq, prev_hash))
    }
}
