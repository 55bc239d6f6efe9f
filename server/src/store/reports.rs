//! What agents report about rotations, and what follows from it: step reports recorded once each
//! (idempotent by workstation and report id, one transaction per report, audited, with the local
//! account that acted), a verified change closing its rotation and destroying the escrow (and, for
//! a provisional rotation, binding its account where the mailbox is not bound yet), periodic
//! rotations opened when their mailbox becomes due soon under its office's compliance policy, and a
//! mailbox's history. [`ReportStore`] is what the rest of the server calls; it is implemented here
//! once for both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::accounts::stored_account;
use super::compliance::Scope;
use super::db::Db;
use super::dialect::RowsAffected;
use super::rows::{OPEN, ROTATION_SELECT, RotationRow};
use crate::domain::audit::{Actor, AuditEvent, unix_micros};
use crate::domain::identifier::{MailboxId, ReportId, RotationId, WorkstationId};
use crate::domain::office::Crpcen;
use crate::domain::rotation::{
    KeyEvidence, MailboxHistory, PendingRotations, ReportOutcome, Rotation, RotationEvent,
    RotationKind, Step, StepAction, StepReport, Transition, VerifiedChange, transition,
};

/// The rotations of mailboxes assigned to the active workstation `$W` of their office, as a
/// condition on `r`.
fn assigned_to(workstation: &str) -> String {
    format!(
        "r.mailbox_id IN (SELECT a.mailbox_id FROM workstation_mailboxes a \
         JOIN workstations w ON w.id = a.workstation_id \
         WHERE a.workstation_id = {workstation} AND w.office = r.office AND w.status = 'active')"
    )
}

#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    rotation_id: String,
    report_id: String,
    workstation_id: String,
    step: String,
    failure: Option<String>,
    occurred_at: OffsetDateTime,
    received_at: OffsetDateTime,
    evidence_kind: Option<String>,
    evidence_at: Option<OffsetDateTime>,
    evidence_detail: Option<String>,
    detail: String,
    account_id: Option<String>,
    account_detail: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct VerifiedRow {
    rotation_id: String,
    kind: String,
    verified_at: OffsetDateTime,
    workstation_id: String,
    evidence_kind: Option<String>,
    evidence_at: Option<OffsetDateTime>,
    evidence_detail: Option<String>,
}

fn evidence(
    kind: Option<String>,
    at: Option<OffsetDateTime>,
    detail: Option<String>,
    table: &'static str,
) -> Result<Option<KeyEvidence>, Error> {
    match (kind, at) {
        (Some(kind), Some(at)) => KeyEvidence::from_stored(&kind, at, detail.unwrap_or_default())
            .map(Some)
            .ok_or(Error::Corrupt(table)),
        _ => Ok(None),
    }
}

/// Step reports, periodic rotations, mailbox history; a part of [`Store`](super::Store).
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Records an agent's step reports, in order, each in its own transaction with its audit
    /// record: a report already recorded for this workstation is [`ReportOutcome::Duplicate`] and
    /// changes nothing; one about a rotation that is not among the workstation's mailboxes, or
    /// that cannot follow the rotation's state (`domain::rotation::transition`), is rejected. A
    /// verified step closes the rotation as completed, destroys its escrow and records the
    /// mailbox's last verified change with the key evidence of the last started report. Each
    /// report keeps the local account it names. A verified step of a provisional rotation that
    /// names an account binds it to the mailbox on this workstation (audited,
    /// `mailbox.account.bind`) unless the mailbox has an effective binding there already: a
    /// report never rebinds.
    async fn record_reports(
        &self,
        workstation_id: &WorkstationId,
        reports: &[StepReport],
        at: OffsetDateTime,
    ) -> Result<Vec<ReportOutcome>, Error>;

    /// Opens (audited) a periodic rotation for each mailbox assigned to the workstation that is
    /// due soon under its office's compliance policy (its last verified change, or creation, is
    /// at least the limit less the "due soon" delay old) and has no open rotation, valid for
    /// `validity` and due at the limit, with an id from `mint`; then returns the open periodic
    /// rotations of its mailboxes, marked delivered. Concurrent calls open one rotation per mailbox.
    async fn deliver_periodic(
        &self,
        workstation_id: &WorkstationId,
        validity: time::Duration,
        mint: &(dyn Fn() -> RotationId + Send + Sync),
        at: OffsetDateTime,
    ) -> Result<Vec<Rotation>, Error>;

    /// Whether [`RotationStore::disclose_rotations`](super::RotationStore::disclose_rotations)
    /// (delivery) or [`Self::deliver_periodic`] would give the workstation anything `at`, and if
    /// not, from when a periodic rotation comes due (the rule of `deliver_periodic`, read without
    /// writing).
    async fn pending_rotations(
        &self,
        workstation_id: &WorkstationId,
        at: OffsetDateTime,
    ) -> Result<PendingRotations, Error>;

    /// A mailbox's rotations (newest first), their reported steps (oldest first) with the local
    /// account that acted, its last verified change, the workstations it is assigned to, and its
    /// default account and bindings.
    async fn mailbox_history(&self, mailbox_id: MailboxId) -> Result<MailboxHistory, Error>;
}

#[sql_impl]
impl<D> ReportStore for Db<D> {
    async fn record_reports(
        &self,
        workstation_id: &WorkstationId,
        reports: &[StepReport],
        at: OffsetDateTime,
    ) -> Result<Vec<ReportOutcome>, Error> {
        let workstation_id = workstation_id.as_str();
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            let outcome = match self.record_report(workstation_id, report, at).await {
                // A concurrent request recorded the same report first.
                Err(Error::Conflict) => ReportOutcome::Duplicate,
                other => other?,
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn deliver_periodic(
        &self,
        workstation_id: &WorkstationId,
        validity: time::Duration,
        mint: &(dyn Fn() -> RotationId + Send + Sync),
        at: OffsetDateTime,
    ) -> Result<Vec<Rotation>, Error> {
        let workstation_id = workstation_id.as_str();
        let mut tx = self.writer().begin().await?;
        let office: Option<String> =
            sqlx::query_scalar("SELECT office FROM workstations WHERE id = $1")
                .bind(workstation_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(office) = office else { return Ok(Vec::new()) };
        let policy = Self::load_policies(&mut tx).await?.effective(&office);
        // Due soon (or later): the mailbox's last verified change, or its registration, is older
        // than the policy's limit less its "due soon" delay.
        let due: Vec<(i64, String, OffsetDateTime)> = sqlx::query_as(
            "SELECT m.id, m.office, COALESCE(v.verified_at, m.created_at) \
             FROM workstation_mailboxes a \
             JOIN workstations w ON w.id = a.workstation_id \
             JOIN mailboxes m ON m.id = a.mailbox_id \
             LEFT JOIN mailbox_verified_changes v ON v.mailbox_id = m.id \
             WHERE a.workstation_id = $1 AND w.office = m.office AND w.status = 'active' \
             AND COALESCE(v.verified_at, m.created_at) <= $2 \
             AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.mailbox_id = m.id \
             AND r.status IN ('issued', 'delivered')) ORDER BY m.address",
        )
        .bind(workstation_id)
        .bind(at - policy.due_soon_after())
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::new();
        for (mailbox_id, office, base) in due {
            Self::reassess(&mut tx, Scope::Mailbox(mailbox_id), at).await?;
            let id = mint();
            let due_at = base + policy.limit();
            // A concurrent call may have opened it: the one-open-rotation index says no then.
            let opened: Option<String> = sqlx::query_scalar(
                "INSERT INTO rotations (id, mailbox_id, office, kind, status, issued_by, \
                 issued_at, expires_at, due_at) \
                 VALUES ($1, $2, $3, 'periodic', 'issued', $4, $5, $6, $7) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(id.as_str())
            .bind(mailbox_id)
            .bind(office.as_str())
            .bind(Actor::system().as_str())
            .bind(at)
            .bind(at + validity)
            .bind(due_at)
            .fetch_optional(&mut *tx)
            .await?;
            if opened.is_some() {
                Self::reassess(&mut tx, Scope::Mailbox(mailbox_id), at).await?;
                events.push(AuditEvent {
                    actor: Actor::workstation(workstation_id),
                    action: "rotation.open_periodic",
                    office: Crpcen::parse(&office).ok(),
                    target: id.into_string(),
                    details: serde_json::json!({
                        "mailbox_id": mailbox_id,
                        "limit_days": policy.limit_days,
                        "due_at": unix_micros(due_at),
                        "expires_at": unix_micros(at + validity),
                    }),
                });
            }
        }
        let rows: Vec<RotationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE {} AND {OPEN} AND r.kind = 'periodic' AND r.expires_at > $2 \
             ORDER BY m.address",
            assigned_to("$1")
        )))
        .bind(workstation_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut rotations = Vec::with_capacity(rows.len());
        for row in rows {
            let (rotation, _) = row.into_rotation()?;
            // Not one a concurrent report closed since it was read.
            let updated = sqlx::query(
                "UPDATE rotations SET status = 'delivered', \
                 delivered_at = COALESCE(delivered_at, $2) \
                 WHERE id = $1 AND status IN ('issued', 'delivered')",
            )
            .bind(rotation.id.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 1 {
                rotations.push(rotation);
            }
        }
        Self::commit(tx, &events, at).await?;
        Ok(rotations)
    }

    /// [`ReportStore::pending_rotations`]: the conditions of `disclose_rotations` (delivery) and
    /// `deliver_periodic` above, read on a reader.
    async fn pending_rotations(
        &self,
        workstation_id: &WorkstationId,
        at: OffsetDateTime,
    ) -> Result<PendingRotations, Error> {
        let workstation_id = workstation_id.as_str();
        let mut conn = self.reader().acquire().await?;
        // Only an active workstation is handed rotations (as `assigned_to` says).
        let office: Option<String> = sqlx::query_scalar(
            "SELECT office FROM workstations WHERE id = $1 AND status = 'active'",
        )
        .bind(workstation_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(office) = office else {
            return Ok(PendingRotations { now: false, next_due: None });
        };
        // An open rotation not run out, provisional or periodic: delivered as it is. Read from
        // the workstation's own assignments (a few rows), never by scanning the open rotations
        // (SQLite keeps a CROSS JOIN's order).
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM workstation_mailboxes a CROSS JOIN rotations r \
             WHERE a.workstation_id = $1 AND r.mailbox_id = a.mailbox_id AND r.office = $3 \
             AND r.status IN ('issued', 'delivered') AND r.expires_at > $2",
        )
        .bind(workstation_id)
        .bind(at)
        .bind(office.as_str())
        .fetch_one(&mut *conn)
        .await?;
        if open > 0 {
            return Ok(PendingRotations { now: true, next_due: None });
        }
        // The mailboxes a periodic rotation may be opened for, with the time it counts from.
        let bases: Vec<OffsetDateTime> = sqlx::query_scalar(
            "SELECT COALESCE(v.verified_at, m.created_at) \
             FROM workstation_mailboxes a \
             JOIN workstations w ON w.id = a.workstation_id \
             JOIN mailboxes m ON m.id = a.mailbox_id \
             LEFT JOIN mailbox_verified_changes v ON v.mailbox_id = m.id \
             WHERE a.workstation_id = $1 AND w.office = m.office AND w.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.mailbox_id = m.id \
             AND r.status IN ('issued', 'delivered'))",
        )
        .bind(workstation_id)
        .fetch_all(&mut *conn)
        .await?;
        let policy = Self::load_policies(&mut *conn).await?.effective(&office);
        let next_due = bases.into_iter().min().map(|base| base + policy.due_soon_after());
        Ok(PendingRotations { now: next_due.is_some_and(|due| due <= at), next_due })
    }

    async fn mailbox_history(&self, mailbox_id: MailboxId) -> Result<MailboxHistory, Error> {
        let rows: Vec<RotationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE r.mailbox_id = $1 ORDER BY r.issued_at DESC, r.id DESC"
        )))
        .bind(mailbox_id.0)
        .fetch_all(self.reader())
        .await?;
        let rotations = rows
            .into_iter()
            .map(|row| row.into_rotation().map(|(rotation, _)| rotation))
            .collect::<Result<Vec<_>, _>>()?;
        let events: Vec<EventRow> = sqlx::query_as(
            "SELECT e.rotation_id, e.report_id, e.workstation_id, e.step, e.failure, \
             e.occurred_at, e.received_at, e.evidence_kind, e.evidence_at, e.evidence_detail, \
             e.detail, e.account_id, e.account_detail \
             FROM rotation_events e JOIN rotations r ON r.id = e.rotation_id \
             WHERE r.mailbox_id = $1 ORDER BY r.issued_at, r.id, e.seq",
        )
        .bind(mailbox_id.0)
        .fetch_all(self.reader())
        .await?;
        let events = events
            .into_iter()
            .map(|e| {
                Ok(RotationEvent {
                    step: Step::parse(&e.step, e.failure.as_deref())
                        .ok_or(Error::Corrupt("rotation_events"))?,
                    key_evidence: evidence(
                        e.evidence_kind,
                        e.evidence_at,
                        e.evidence_detail,
                        "rotation_events",
                    )?,
                    rotation_id: RotationId::parse("rotation_id", &e.rotation_id)
                        .map_err(|_| Error::Corrupt("rotation_events"))?,
                    report_id: ReportId::parse("report_id", &e.report_id)
                        .map_err(|_| Error::Corrupt("rotation_events"))?,
                    workstation_id: e.workstation_id,
                    occurred_at: e.occurred_at,
                    received_at: e.received_at,
                    detail: e.detail,
                    local_account: match e.account_id {
                        Some(id) => Some(stored_account(
                            id,
                            e.account_detail.unwrap_or_default(),
                            "rotation_events",
                        )?),
                        None => None,
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let verified: Option<VerifiedRow> = sqlx::query_as(
            "SELECT rotation_id, kind, verified_at, workstation_id, evidence_kind, evidence_at, \
             evidence_detail FROM mailbox_verified_changes WHERE mailbox_id = $1",
        )
        .bind(mailbox_id.0)
        .fetch_optional(self.reader())
        .await?;
        let last_verified_change = match verified {
            Some(v) => Some(VerifiedChange {
                kind: RotationKind::parse(&v.kind)
                    .ok_or(Error::Corrupt("mailbox_verified_changes"))?,
                key_evidence: evidence(
                    v.evidence_kind,
                    v.evidence_at,
                    v.evidence_detail,
                    "mailbox_verified_changes",
                )?,
                rotation_id: RotationId::parse("rotation_id", &v.rotation_id)
                    .map_err(|_| Error::Corrupt("mailbox_verified_changes"))?,
                verified_at: v.verified_at,
                workstation_id: v.workstation_id,
            }),
            None => None,
        };
        let workstations: Vec<String> = sqlx::query_scalar(
            "SELECT workstation_id FROM workstation_mailboxes WHERE mailbox_id = $1 \
             ORDER BY workstation_id",
        )
        .bind(mailbox_id.0)
        .fetch_all(self.reader())
        .await?;
        let accounts = self.mailbox_accounts(mailbox_id.0).await?;
        Ok(MailboxHistory { rotations, events, last_verified_change, workstations, accounts })
    }
}

/// The steps of [`ReportStore::record_reports`].
#[sql_impl]
impl<D> Db<D> {
    /// Records one report in its own transaction.
    async fn record_report(
        &self,
        workstation_id: &str,
        report: &StepReport,
        at: OffsetDateTime,
    ) -> Result<ReportOutcome, Error> {
        let mut tx = self.writer().begin().await?;
        let seen: Option<String> = sqlx::query_scalar(
            "SELECT report_id FROM rotation_events WHERE workstation_id = $1 AND report_id = $2",
        )
        .bind(workstation_id)
        .bind(report.report_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if seen.is_some() {
            return Ok(ReportOutcome::Duplicate);
        }
        let row: Option<RotationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{ROTATION_SELECT} WHERE r.id = $1 AND {}",
            assigned_to("$2")
        )))
        .bind(report.rotation_id.as_str())
        .bind(workstation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ReportOutcome::Rejected(
                "no such rotation among this workstation's mailboxes".to_owned(),
            ));
        };
        let (rotation, _) = row.into_rotation()?;
        Self::reassess(&mut tx, Scope::Mailbox(rotation.mailbox_id.0), at).await?;
        let effect = match transition(rotation.status, rotation.last_step, report.step) {
            Ok(effect) => effect,
            Err(reason) => return Ok(ReportOutcome::Rejected(reason.to_owned())),
        };
        let evidence = report.key_evidence.as_ref();
        let account = report.local_account.as_ref();
        sqlx::query(
            "INSERT INTO rotation_events (workstation_id, report_id, rotation_id, step, failure, \
             occurred_at, received_at, evidence_kind, evidence_detail, detail, account_id, \
             account_detail, seq) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             COALESCE(MAX(seq), 0) + 1 FROM rotation_events WHERE rotation_id = $3",
        )
        .bind(workstation_id)
        .bind(report.report_id.as_str())
        .bind(rotation.id.as_str())
        .bind(report.step.as_str())
        .bind(report.step.failure().map(|f| f.as_str()))
        .bind(report.occurred_at)
        .bind(at)
        .bind(evidence.map(KeyEvidence::kind))
        .bind(evidence.map(KeyEvidence::detail))
        .bind(report.detail.as_str())
        .bind(account.map(|a| a.id.as_str()))
        .bind(account.map(|a| a.detail.as_str()))
        .execute(&mut *tx)
        .await?;
        // (sqlx binds no optional time generically: the evidence's time is set apart.)
        if let Some(evidence) = evidence {
            sqlx::query(
                "UPDATE rotation_events SET evidence_at = $3 \
                 WHERE workstation_id = $1 AND report_id = $2",
            )
            .bind(workstation_id)
            .bind(report.report_id.as_str())
            .bind(evidence.at())
            .execute(&mut *tx)
            .await?;
        }
        let open_only = match effect {
            Transition::Verify => {
                "status = 'completed', closed_at = $5, key_id = NULL, nonce = NULL, \
                 ciphertext = NULL, "
            }
            Transition::Record | Transition::HistoryOnly => "",
        };
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE rotations SET {open_only}last_step = $2, failure = $3, last_step_at = $5, \
             last_workstation = $4 WHERE id = $1 AND status = $6"
        )))
        .bind(rotation.id.as_str())
        .bind(report.step.as_str())
        .bind(report.step.failure().map(|f| f.as_str()))
        .bind(workstation_id)
        .bind(at)
        .bind(rotation.status.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            // A concurrent report or an administrator changed the rotation first.
            return Err(Error::Conflict);
        }
        let mut details = serde_json::json!({
            "report_id": report.report_id,
            "step": report.step.as_str(),
            "occurred_at": unix_micros(report.occurred_at),
        });
        if let Some(failure) = report.step.failure() {
            details["failure"] = failure.as_str().into();
        }
        if let Some(evidence) = evidence {
            details["key_evidence"] = evidence.kind().into();
        }
        if let Some(account) = account {
            details["local_account"] = account.id.as_str().into();
        }
        let mut bound = None;
        if effect == Transition::Verify {
            self.record_verified_change(&mut tx, &rotation, workstation_id, at).await?;
            details["escrow"] = "destroyed".into();
            // The first verified change of a provisional rotation (proven by the letter) binds
            // its account where the mailbox is not bound yet; a periodic one never binds.
            if let Some(account) = account.filter(|_| rotation.kind == RotationKind::Provisional)
                && Self::bind_by_report(
                    &mut tx,
                    rotation.mailbox_id.0,
                    workstation_id,
                    rotation.id.as_str(),
                    account,
                    at,
                )
                .await?
            {
                bound = Some(AuditEvent {
                    actor: Actor::workstation(workstation_id),
                    action: "mailbox.account.bind",
                    office: Some(rotation.office.clone()),
                    target: rotation.address.to_string(),
                    details: serde_json::json!({
                        "workstation_id": workstation_id,
                        "account_id": account.id.as_str(),
                        "account_detail": account.detail,
                        "rotation_id": rotation.id.as_str(),
                    }),
                });
            }
        }
        Self::reassess(&mut tx, Scope::Mailbox(rotation.mailbox_id.0), at).await?;
        let event = AuditEvent {
            actor: Actor::workstation(workstation_id),
            action: report.step.action(),
            office: Some(rotation.office.clone()),
            target: rotation.id.to_string(),
            details,
        };
        let events: Vec<AuditEvent> = std::iter::once(event).chain(bound).collect();
        Self::commit(tx, &events, at).await?;
        Ok(ReportOutcome::Recorded)
    }

    /// Sets the mailbox's last verified change, with the evidence of the rotation's last started
    /// report.
    async fn record_verified_change(
        &self,
        conn: &mut D::Connection,
        rotation: &Rotation,
        workstation_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let started: Option<(Option<String>, Option<OffsetDateTime>, Option<String>)> =
            sqlx::query_as(
                "SELECT evidence_kind, evidence_at, evidence_detail FROM rotation_events \
                 WHERE rotation_id = $1 AND step = 'started' ORDER BY seq DESC LIMIT 1",
            )
            .bind(rotation.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let (kind, evidence_at, detail) = started.unwrap_or((None, None, None));
        sqlx::query(
            "INSERT INTO mailbox_verified_changes (mailbox_id, rotation_id, kind, verified_at, \
             workstation_id, evidence_kind, evidence_at, evidence_detail) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) \
             ON CONFLICT (mailbox_id) DO UPDATE SET rotation_id = excluded.rotation_id, \
             kind = excluded.kind, verified_at = excluded.verified_at, \
             workstation_id = excluded.workstation_id, evidence_kind = excluded.evidence_kind, \
             evidence_at = excluded.evidence_at, evidence_detail = excluded.evidence_detail",
        )
        .bind(rotation.mailbox_id.0)
        .bind(rotation.id.as_str())
        .bind(rotation.kind.as_str())
        .bind(at)
        .bind(workstation_id)
        .bind(kind.as_deref())
        .bind(detail.as_deref())
        .execute(&mut *conn)
        .await?;
        if let Some(evidence_at) = evidence_at {
            sqlx::query(
                "UPDATE mailbox_verified_changes SET evidence_at = $2 WHERE mailbox_id = $1",
            )
            .bind(rotation.mailbox_id.0)
            .bind(evidence_at)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
