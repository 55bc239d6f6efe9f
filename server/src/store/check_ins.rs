//! What workstations report at their check-ins (the key's state, their look at OWA), kept one row
//! per workstation, and the assignments the readiness rule reads. Check-ins are not audited: they
//! change no decision and come every minute from every workstation.

use sqlx::{ColumnIndex, Encode, Executor, Type};
use time::OffsetDateTime;

use super::Error;
use super::dialect::{Dialect, Value};
use super::rows::{AssignmentRow, CheckInRow};
use super::sql_store::Db;
use crate::domain::checkin::{AssignedMailbox, CheckInState, KeyPresence, KeyState, OwaReadiness};
use crate::domain::office::Crpcen;

/// The check-in methods of [`Store`](super::Store), documented there.
impl<D> Db<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D> + ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D>,
    for<'a> &'a [u8]: Encode<'a, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    i64: Value<D>,
    bool: Value<D>,
    String: Value<D>,
    Vec<u8>: Value<D>,
    OffsetDateTime: Value<D>,
{
    pub(super) async fn record_check_in(
        &self,
        workstation_id: &str,
        key: Option<&KeyState>,
        readiness: Option<&OwaReadiness>,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO workstation_check_ins (workstation_id) VALUES ($1) \
             ON CONFLICT (workstation_id) DO NOTHING",
        )
        .bind(workstation_id)
        .execute(&mut *tx)
        .await?;
        if let Some(key) = key {
            let (presence, device, reason) = match &key.presence {
                KeyPresence::Present { device } => ("present", device.as_str(), ""),
                KeyPresence::Absent => ("absent", "", ""),
                KeyPresence::Unknown { reason } => ("unknown", "", reason.as_str()),
            };
            sqlx::query(
                "UPDATE workstation_check_ins SET key_presence = $2, key_device = $3, \
                 key_reason = $4, key_since = CASE WHEN $5 THEN $6 END, key_reported_at = $7 \
                 WHERE workstation_id = $1",
            )
            .bind(workstation_id)
            .bind(presence)
            .bind(device)
            .bind(reason)
            .bind(key.since.is_some())
            .bind(key.since.unwrap_or(at))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(owa) = readiness {
            sqlx::query(
                "UPDATE workstation_check_ins SET owa_url = $2, \
                 owa_checked_at = CASE WHEN $11 THEN $3 END, \
                 owa_reachable = $4, owa_certificate_valid = $5, owa_forms_based = $6, \
                 owa_logon_format = $7, owa_language = $8, owa_problem = $9, \
                 owa_reported_at = $10 WHERE workstation_id = $1",
            )
            .bind(workstation_id)
            .bind(owa.owa_url.as_str())
            .bind(owa.checked_at.unwrap_or(at))
            .bind(owa.reachable)
            .bind(owa.certificate_valid)
            .bind(owa.forms_based)
            .bind(owa.logon_format.as_str())
            .bind(owa.language.as_str())
            .bind(owa.problem.as_str())
            .bind(at)
            .bind(owa.checked_at.is_some())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn check_ins(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<Vec<CheckInState>, Error> {
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

    pub(super) async fn assignments(
        &self,
        office: &Crpcen,
    ) -> Result<Vec<(String, AssignedMailbox)>, Error> {
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
