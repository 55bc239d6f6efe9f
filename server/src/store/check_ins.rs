//! What workstations report at their check-ins (the key's state, their look at OWA), kept one row
//! per workstation, and the assignments the readiness rule reads. Check-ins are not audited: they
//! change no decision and come every minute from every workstation. They are written in batches
//! (`record_check_ins`, one transaction per flush window of the server's check-in writer), with
//! multi-row statements written once for both databases (`WITH v AS (VALUES ...)`).
//! [`CheckInStore`] is what the rest of the server calls; it is implemented here once for both
//! databases, on `Db<D>`.

use std::collections::HashSet;

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::compliance::Scope;
use super::db::Db;
use super::rows::{AssignmentRow, CheckInRow};
use crate::domain::check_in::{
    AssignedMailbox, CheckInRecord, CheckInState, KeyPresence, KeyState, OwaReadiness,
};
use crate::domain::office::Crpcen;

/// Rows per multi-row statement: a few hundred, far under either database's parameter limit
/// (11 parameters a row at most).
const CHUNK: usize = 250;

/// The statement sizes a batch is cut into, largest first: each shape is prepared once per
/// connection and kept, where a remainder of any size would be parsed afresh at every flush.
const SIZES: [usize; 5] = [CHUNK, 50, 10, 3, 1];

/// `items` cut into slices of the sizes in [`SIZES`], as few as possible.
fn sized_chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    for size in SIZES {
        while items.len() >= size {
            let (chunk, rest) = items.split_at(size);
            chunks.push(chunk);
            items = rest;
        }
    }
    chunks
}

/// `rows` rows of a `VALUES` list, `columns` parameters each, numbered from `$1` on: `row` writes
/// one row given the number of its n-th parameter.
fn values(rows: usize, columns: usize, row: impl Fn(&dyn Fn(usize) -> usize) -> String) -> String {
    (0..rows).map(|i| row(&|n| i * columns + n + 1)).collect::<Vec<_>>().join(", ")
}

/// Check-ins; a part of [`Store`](super::Store).
#[async_trait]
pub trait CheckInStore: Send + Sync {
    /// Writes the check-ins of a flush window, one record per workstation (already folded), in
    /// one transaction at `at` with a few statements per few hundred rows: each workstation's
    /// last-seen time, its certificate confirmed if a serial presented is the current one, its
    /// agent's version when reported; the key state and look at OWA when reported (an absent one
    /// leaves the recorded one). The compliance of the workstations whose check-in matters (a
    /// mailbox offline, a deadline passed: found in one query) is reassessed before and after.
    /// Not audited: it changes no decision. Records of unknown workstations are ignored.
    async fn record_check_ins(
        &self,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// What the workstations of an office (or all) last reported, for those that reported.
    async fn check_ins(&self, office: Option<&Crpcen>) -> Result<Vec<CheckInState>, Error>;

    /// The assignments of an office's mailboxes: (workstation id, mailbox), by workstation.
    async fn assignments(&self, office: &Crpcen) -> Result<Vec<(String, AssignedMailbox)>, Error>;
}

#[sql_impl]
impl<D> CheckInStore for Db<D> {
    async fn record_check_ins(
        &self,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer().begin().await?;
        // Most check-ins change no compliance standing; those that do (a deadline passed, a
        // mailbox offline) reassess before and after the new last-seen time is kept.
        let matters = Self::check_ins_that_matter(&mut tx, records, at).await?;
        for id in &matters {
            Self::reassess(&mut tx, Scope::Workstation(id), at).await?;
        }
        for chunk in sized_chunks(records) {
            Self::touch_workstations(&mut tx, chunk).await?;
        }
        for id in &matters {
            Self::reassess(&mut tx, Scope::Workstation(id), at).await?;
        }
        let keys: Vec<_> = records
            .iter()
            .filter_map(|r| r.key.as_ref().map(|key| (r.workstation_id.as_str(), key)))
            .collect();
        for chunk in sized_chunks(&keys) {
            Self::keep_key_states(&mut tx, chunk).await?;
        }
        let looks: Vec<_> = records
            .iter()
            .filter_map(|r| r.readiness.as_ref().map(|look| (r.workstation_id.as_str(), look)))
            .collect();
        for chunk in sized_chunks(&looks) {
            Self::keep_owa_looks(&mut tx, chunk).await?;
        }
        Self::commit(tx, &[], at).await
    }

    async fn check_ins(&self, office: Option<&Crpcen>) -> Result<Vec<CheckInState>, Error> {
        let rows: Vec<CheckInRow> = sqlx::query_as(
            "SELECT c.workstation_id, c.key_presence, c.key_device, c.key_reason, c.key_since, \
             c.key_reported_at, c.owa_url, c.owa_checked_at, c.owa_reachable, \
             c.owa_certificate_valid, c.owa_forms_based, c.owa_logon_format, c.owa_language, \
             c.owa_problem, c.owa_reported_at \
             FROM workstation_check_ins c JOIN workstations w ON w.id = c.workstation_id \
             WHERE CAST($1 AS TEXT) IS NULL OR w.office = $1 ORDER BY c.workstation_id",
        )
        .bind(office.map(Crpcen::as_str))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn assignments(&self, office: &Crpcen) -> Result<Vec<(String, AssignedMailbox)>, Error> {
        let rows: Vec<AssignmentRow> = sqlx::query_as(
            "SELECT a.workstation_id, m.address, m.logon_name \
             FROM workstation_mailboxes a JOIN mailboxes m ON m.id = a.mailbox_id \
             WHERE m.office = $1 ORDER BY a.workstation_id, m.address",
        )
        .bind(office.as_str())
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

/// The steps of [`CheckInStore::record_check_ins`], each on its transaction.
#[sql_impl]
impl<D> Db<D> {
    /// The workstations among `records` whose check-in changes a standing at `at`: one of their
    /// mailboxes is offline, or has a deadline passed. One query for the whole batch (through
    /// the standings' indexes: such mailboxes are few), by workstation id.
    async fn check_ins_that_matter(
        conn: &mut D::Connection,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<Vec<String>, Error> {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT a.workstation_id FROM mailbox_compliance c \
             JOIN workstation_mailboxes a ON a.mailbox_id = c.mailbox_id \
             WHERE c.state = 'agent_offline' OR c.next_check_at <= $1 ORDER BY a.workstation_id",
        )
        .bind(at)
        .fetch_all(&mut *conn)
        .await?;
        if found.is_empty() {
            return Ok(found);
        }
        let batch: HashSet<&str> = records.iter().map(|r| r.workstation_id.as_str()).collect();
        Ok(found.into_iter().filter(|id| batch.contains(id.as_str())).collect())
    }

    /// Last seen, certificate confirmed, agent version: one statement for the chunk.
    async fn touch_workstations(
        conn: &mut D::Connection,
        chunk: &[CheckInRecord],
    ) -> Result<(), Error> {
        let sql = format!(
            "WITH v (v_id, v_serial, v_other, v_version, v_seen) AS (VALUES {}) \
             UPDATE workstations SET last_seen_at = v.v_seen, \
               current_confirmed = current_confirmed OR current_serial = v.v_serial \
                 OR current_serial = COALESCE(v.v_other, v.v_serial), \
               agent_version = COALESCE(v.v_version, workstations.agent_version) \
             FROM v WHERE workstations.id = v.v_id",
            values(chunk.len(), 5, |p| {
                format!(
                    "(CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), \
                     CAST(${} AS TEXT), ${})",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                )
            })
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            query = query
                .bind(r.workstation_id.as_str())
                .bind(r.serial.as_str())
                .bind(r.other_serial.as_deref())
                .bind(r.agent_version.as_deref())
                .bind(r.seen_at);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }

    /// The key states of the chunk, each with the time it was received: one statement.
    async fn keep_key_states(
        conn: &mut D::Connection,
        chunk: &[(&str, &(KeyState, OffsetDateTime))],
    ) -> Result<(), Error> {
        let sql = format!(
            "WITH v (v_id, v_presence, v_device, v_reason, v_since, v_at) AS (VALUES {}) \
             INSERT INTO workstation_check_ins (workstation_id, key_presence, key_device, \
               key_reason, key_since, key_reported_at) \
             SELECT v_id, v_presence, v_device, v_reason, v_since, v_at FROM v \
             WHERE EXISTS (SELECT 1 FROM workstations w WHERE w.id = v.v_id) \
             ON CONFLICT (workstation_id) DO UPDATE SET key_presence = excluded.key_presence, \
               key_device = excluded.key_device, key_reason = excluded.key_reason, \
               key_since = excluded.key_since, key_reported_at = excluded.key_reported_at",
            values(chunk.len(), 7, |p| {
                format!(
                    "(CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), \
                     CAST(${} AS TEXT), CASE WHEN ${} THEN ${} END, ${})",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6)
                )
            })
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, (key, at)) in chunk {
            let (presence, device, reason) = match &key.presence {
                KeyPresence::Present { device } => ("present", device.as_str(), ""),
                KeyPresence::Absent => ("absent", "", ""),
                KeyPresence::Unknown { reason } => ("unknown", "", reason.as_str()),
            };
            query = query
                .bind(*id)
                .bind(presence)
                .bind(device)
                .bind(reason)
                .bind(key.since.is_some())
                .bind(key.since.unwrap_or(*at))
                .bind(*at);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }

    /// The looks at OWA of the chunk, each with the time it was received: one statement.
    async fn keep_owa_looks(
        conn: &mut D::Connection,
        chunk: &[(&str, &(OwaReadiness, OffsetDateTime))],
    ) -> Result<(), Error> {
        let sql = format!(
            "WITH v (v_id, v_url, v_checked, v_reachable, v_valid, v_forms, v_format, \
               v_language, v_problem, v_at) AS (VALUES {}) \
             INSERT INTO workstation_check_ins (workstation_id, owa_url, owa_checked_at, \
               owa_reachable, owa_certificate_valid, owa_forms_based, owa_logon_format, \
               owa_language, owa_problem, owa_reported_at) \
             SELECT v_id, v_url, v_checked, v_reachable, v_valid, v_forms, v_format, \
               v_language, v_problem, v_at FROM v \
             WHERE EXISTS (SELECT 1 FROM workstations w WHERE w.id = v.v_id) \
             ON CONFLICT (workstation_id) DO UPDATE SET owa_url = excluded.owa_url, \
               owa_checked_at = excluded.owa_checked_at, \
               owa_reachable = excluded.owa_reachable, \
               owa_certificate_valid = excluded.owa_certificate_valid, \
               owa_forms_based = excluded.owa_forms_based, \
               owa_logon_format = excluded.owa_logon_format, \
               owa_language = excluded.owa_language, owa_problem = excluded.owa_problem, \
               owa_reported_at = excluded.owa_reported_at",
            values(chunk.len(), 11, |p| {
                format!(
                    "(CAST(${} AS TEXT), CAST(${} AS TEXT), CASE WHEN ${} THEN ${} END, ${}, \
                     ${}, ${}, CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), ${})",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10)
                )
            })
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, (owa, at)) in chunk {
            query = query
                .bind(*id)
                .bind(owa.owa_url.as_str())
                .bind(owa.checked_at.is_some())
                .bind(owa.checked_at.unwrap_or(*at))
                .bind(owa.reachable)
                .bind(owa.certificate_valid)
                .bind(owa.forms_based)
                .bind(owa.logon_format.as_str())
                .bind(owa.language.as_str())
                .bind(owa.problem.as_str())
                .bind(*at);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{SIZES, sized_chunks};

    #[test]
    fn a_batch_is_cut_into_the_kept_statement_sizes_and_keeps_every_row_in_order() {
        for n in [0, 1, 2, 9, 250, 251, 399, 1_000, 16_700] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks = sized_chunks(&rows);
            assert!(chunks.iter().all(|c| SIZES.contains(&c.len())), "{n}");
            assert_eq!(chunks.concat(), rows, "{n}");
        }
        // 399 = 250 + 2 × 50 + 4 × 10 + 3 × 3: ten statements, each of a kept shape.
        assert_eq!(sized_chunks(&[0u8; 399]).len(), 10);
    }
}
