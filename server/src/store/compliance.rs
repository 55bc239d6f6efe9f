//! Compliance in the database: the policies, each mailbox's standing (`mailbox_compliance`) kept
//! current by [`Db::reassess`], and the append-only history of its states (`compliance_history`)
//! that answers any past date (read by `compliance_report`). [`ComplianceStore`] is what the rest
//! of the server calls; it is implemented here once for both databases, on `Db<D>`.
//!
//! The rule: whatever changes a fact a mailbox's state depends on (its rotations and their
//! reports, its assignments, its workstations' status and check-ins, the policy) calls
//! `reassess` for the mailboxes concerned inside its own transaction, once before the change
//! (replaying the deadlines that passed under the old facts) and once after. Deadlines that pass
//! with no change are replayed by the sweep ([`ComplianceStore::sweep_compliance`]), at their
//! exact time.

use std::collections::HashMap;

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::compliance::{
    CompliancePolicy, ComplianceState, MailboxFacts, RotationFact, Standing, advance,
};
use crate::domain::office::Crpcen;
use crate::domain::rotation::{FailureReason, RotationKind, RotationStatus};

/// How many mailboxes one sweep transaction assesses.
const SWEEP_BATCH: i64 = 500;

/// Which mailboxes to reassess.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    /// One mailbox.
    Mailbox(i64),
    /// The mailboxes assigned to a workstation.
    Workstation(&'a str),
    /// An office's mailboxes.
    Office(&'a str),
    /// Every mailbox.
    All,
    /// A batch of mailboxes whose next deadline has come.
    Due,
}

/// The policies as stored: the configuration's default, the global one, the offices' own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    /// From the server's configuration.
    pub default: Option<CompliancePolicy>,
    /// Set by an administrator for every office.
    pub global: Option<CompliancePolicy>,
    /// Set for one office.
    pub offices: HashMap<String, CompliancePolicy>,
}

impl Policies {
    /// The policy an office follows: its own, else the global one, else the default.
    pub fn effective(&self, office: &str) -> CompliancePolicy {
        self.offices
            .get(office)
            .or(self.global.as_ref())
            .or(self.default.as_ref())
            .copied()
            .unwrap_or_else(|| CompliancePolicy::with_limit(time::Duration::days(90)))
    }
}

#[derive(Debug, sqlx::FromRow)]
struct PolicyRow {
    scope: String,
    due_soon_days: i64,
    limit_days: i64,
    offline_days: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct FactsRow {
    mailbox_id: i64,
    office: String,
    created_at: OffsetDateTime,
    verified_at: Option<OffsetDateTime>,
    state: String,
    reason: Option<String>,
    since: OffsetDateTime,
    non_compliant_since: Option<OffsetDateTime>,
    assessed_at: Option<OffsetDateTime>,
    next_check_at: Option<OffsetDateTime>,
    last_check_in: Option<OffsetDateTime>,
    r_kind: Option<String>,
    r_status: Option<String>,
    r_issued_at: Option<OffsetDateTime>,
    r_expires_at: Option<OffsetDateTime>,
    r_closed_at: Option<OffsetDateTime>,
    r_last_step: Option<String>,
    r_failure: Option<String>,
    r_last_step_at: Option<OffsetDateTime>,
}

pub(super) const CORRUPT: Error = Error::Corrupt("mailbox_compliance");

impl FactsRow {
    fn facts(&self) -> Result<MailboxFacts, Error> {
        let rotation = match (&self.r_kind, &self.r_status, self.r_issued_at, self.r_expires_at) {
            (Some(kind), Some(status), Some(issued_at), Some(expires_at)) => {
                let failure = match (self.r_last_step.as_deref(), &self.r_failure) {
                    (Some("failed"), Some(reason)) => Some((
                        FailureReason::parse(reason).ok_or(CORRUPT)?,
                        self.r_last_step_at.unwrap_or(issued_at),
                    )),
                    _ => None,
                };
                Some(RotationFact {
                    kind: RotationKind::parse(kind).ok_or(CORRUPT)?,
                    status: RotationStatus::parse(status).ok_or(CORRUPT)?,
                    issued_at,
                    expires_at,
                    closed_at: self.r_closed_at,
                    failure,
                })
            }
            _ => None,
        };
        Ok(MailboxFacts {
            created_at: self.created_at,
            last_verified_at: self.verified_at,
            rotation,
            last_check_in: self.last_check_in,
        })
    }

    /// The stored standing; `None` for a mailbox not assessed yet.
    fn standing(&self) -> Result<Option<Standing>, Error> {
        let Some(assessed_at) = self.assessed_at else { return Ok(None) };
        Ok(Some(Standing {
            state: ComplianceState::parse(&self.state, self.reason.as_deref()).ok_or(CORRUPT)?,
            since: self.since,
            non_compliant_since: self.non_compliant_since,
            assessed_at,
            next_check_at: self.next_check_at,
        }))
    }
}

/// The facts of the selected mailboxes, with their stored standing (`c`) locked on PostgreSQL.
/// The last check-in is read from the mailbox's few assignments, then each workstation by its key
/// (SQLite keeps a CROSS JOIN's order; scanning an office's workstations instead costs a large
/// office milliseconds per mailbox).
const FACTS_SELECT: &str = "SELECT m.id AS mailbox_id, m.office, m.created_at, \
     v.verified_at, c.state, c.reason, c.since, c.non_compliant_since, c.assessed_at, \
     c.next_check_at, \
     (SELECT MAX(w.last_seen_at) FROM workstation_mailboxes a CROSS JOIN workstations w \
      WHERE a.mailbox_id = m.id AND w.id = a.workstation_id AND w.status = 'active' \
      AND w.office = m.office) AS last_check_in, \
     r.kind AS r_kind, r.status AS r_status, r.issued_at AS r_issued_at, \
     r.expires_at AS r_expires_at, r.closed_at AS r_closed_at, r.last_step AS r_last_step, \
     r.failure AS r_failure, r.last_step_at AS r_last_step_at \
     FROM mailbox_compliance c JOIN mailboxes m ON m.id = c.mailbox_id \
     LEFT JOIN mailbox_verified_changes v ON v.mailbox_id = m.id \
     LEFT JOIN rotations r ON r.id = (SELECT r2.id FROM rotations r2 WHERE r2.mailbox_id = m.id \
       ORDER BY r2.issued_at DESC, r2.id DESC LIMIT 1)";

/// Compliance policies and the sweep that keeps the standings current; a part of
/// [`Store`](super::Store). The reports on the standings are
/// [`ComplianceReportStore`](super::ComplianceReportStore)'s.
#[async_trait]
pub trait ComplianceStore: Send + Sync {
    /// The compliance policies: the configuration's default, the global one, each office's own.
    async fn compliance_policies(&self) -> Result<Policies, Error>;

    /// Sets (or with `None` removes) a compliance policy and reassesses the mailboxes it
    /// governs, audited; `Ok(false)` and nothing written when it is already so.
    /// [`Error::NotFound`] for an office that does not exist.
    async fn set_compliance_policy(
        &self,
        scope: PolicyScope<'_>,
        policy: Option<CompliancePolicy>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// Assesses one batch of mailboxes whose next deadline is at or before `at`, recording each
    /// transition at the time it happened; returns how many were assessed (0: none is left).
    async fn sweep_compliance(&self, at: OffsetDateTime) -> Result<u64, Error>;
}

#[sql_impl]
impl<D> ComplianceStore for Db<D> {
    async fn sweep_compliance(&self, at: OffsetDateTime) -> Result<u64, Error> {
        // Most sweeps find nothing: they look on a reader, without taking the writer, at the
        // earliest deadline (the first entry of its index).
        let next: Option<OffsetDateTime> =
            sqlx::query_scalar("SELECT MIN(next_check_at) FROM mailbox_compliance")
                .fetch_one(self.reader())
                .await?;
        if next.is_none_or(|next| next > at) {
            return Ok(0);
        }
        let mut tx = self.writer().begin().await?;
        let assessed = Self::reassess(&mut *tx, Scope::Due, at).await?;
        Self::commit(tx, &[], at).await?;
        Ok(assessed as u64)
    }

    async fn compliance_policies(&self) -> Result<Policies, Error> {
        let mut conn = self.reader().acquire().await?;
        Self::load_policies(&mut *conn).await
    }

    async fn set_compliance_policy(
        &self,
        scope: PolicyScope<'_>,
        policy: Option<CompliancePolicy>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.writer().begin().await?;
        let (key, office) = match scope {
            PolicyScope::Default => ("default", None),
            PolicyScope::Global => ("global", None),
            PolicyScope::Office(office) => (office.as_str(), Some(office)),
        };
        if let Some(office) = office {
            // NotFound for an office that does not exist.
            sqlx::query_scalar::<_, String>("SELECT crpcen FROM offices WHERE crpcen = $1")
                .bind(office.as_str())
                .fetch_one(&mut *tx)
                .await?;
        }
        let current = Self::load_policies(&mut *tx).await?;
        let stored = match scope {
            PolicyScope::Default => current.default,
            PolicyScope::Global => current.global,
            PolicyScope::Office(office) => current.offices.get(office.as_str()).copied(),
        };
        if stored == policy {
            return Ok(false);
        }
        let reassess_scope = match office {
            Some(office) => Scope::Office(office.as_str()),
            None => Scope::All,
        };
        // Only what a mailbox follows matters: a change that leaves it the same (the
        // configuration's default first recorded, a global policy under the same default...)
        // reassesses nothing.
        let mut after = current.clone();
        match scope {
            PolicyScope::Default => after.default = policy,
            PolicyScope::Global => after.global = policy,
            PolicyScope::Office(office) => {
                after.offices.remove(office.as_str());
                after.offices.extend(policy.map(|p| (office.as_str().to_owned(), p)));
            }
        }
        let probe = office.map_or("", Crpcen::as_str);
        let governs = current.effective(probe) != after.effective(probe);
        if governs {
            Self::reassess(&mut *tx, reassess_scope, at).await?;
        }
        match policy {
            Some(p) => {
                sqlx::query(
                    "INSERT INTO compliance_policies (scope, due_soon_days, limit_days, \
                     offline_days, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (scope) DO UPDATE SET due_soon_days = excluded.due_soon_days, \
                     limit_days = excluded.limit_days, offline_days = excluded.offline_days, \
                     updated_at = excluded.updated_at",
                )
                .bind(key)
                .bind(p.due_soon_days)
                .bind(p.limit_days)
                .bind(p.offline_days)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM compliance_policies WHERE scope = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if governs {
            Self::reassess(&mut *tx, reassess_scope, at).await?;
        }
        if scope == PolicyScope::Default && stored.is_none() {
            // The configuration's value, recorded at the first start: not an administrator's act.
            Self::commit(tx, &[], at).await?;
            return Ok(true);
        }
        let details = match policy {
            Some(p) => serde_json::json!({
                "due_soon_days": p.due_soon_days,
                "limit_days": p.limit_days,
                "offline_days": p.offline_days,
            }),
            None => serde_json::json!({ "inherit": true }),
        };
        let event = AuditEvent {
            actor: actor.clone(),
            action: "compliance_policy.set",
            office: office.cloned(),
            target: key.to_owned(),
            details,
        };
        Self::commit(tx, &[event], at).await?;
        Ok(true)
    }
}

/// The reassessment every write that changes a fact calls, and the policies it reads.
#[sql_impl]
impl<D> Db<D> {
    /// The stored policies, read inside the caller's transaction.
    pub(super) async fn load_policies(conn: &mut D::Connection) -> Result<Policies, Error> {
        let rows: Vec<PolicyRow> = sqlx::query_as(
            "SELECT scope, due_soon_days, limit_days, offline_days FROM compliance_policies",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut policies = Policies::default();
        for row in rows {
            let policy = CompliancePolicy {
                due_soon_days: row.due_soon_days,
                limit_days: row.limit_days,
                offline_days: row.offline_days,
            }
            .validate()
            .map_err(|_| Error::Corrupt("compliance_policies"))?;
            match row.scope.as_str() {
                "default" => policies.default = Some(policy),
                "global" => policies.global = Some(policy),
                office => {
                    policies.offices.insert(office.to_owned(), policy);
                }
            }
        }
        Ok(policies)
    }

    /// Brings the standing of the mailboxes in `scope` up to `at` inside the caller's
    /// transaction, appending every transition to the history. Returns how many were assessed.
    pub(super) async fn reassess(
        conn: &mut D::Connection,
        scope: Scope<'_>,
        at: OffsetDateTime,
    ) -> Result<usize, Error> {
        let policies = Self::load_policies(conn).await?;
        let condition = match scope {
            Scope::Mailbox(_) => "m.id = $1".to_owned(),
            Scope::Workstation(_) => {
                "m.id IN (SELECT mailbox_id FROM workstation_mailboxes WHERE workstation_id = $1)"
                    .to_owned()
            }
            Scope::Office(_) => "m.office = $1".to_owned(),
            Scope::All => "TRUE".to_owned(),
            // The earliest deadlines first, found through their index; then locked in mailbox
            // order like every other reassessment.
            Scope::Due => format!(
                "c.mailbox_id IN (SELECT d.mailbox_id FROM mailbox_compliance d \
                 WHERE d.next_check_at <= $1 ORDER BY d.next_check_at LIMIT {SWEEP_BATCH})"
            ),
        };
        let sql = format!("{FACTS_SELECT} WHERE {condition} ORDER BY c.mailbox_id{}", D::ROW_LOCK);
        let query = sqlx::query_as::<_, FactsRow>(AssertSqlSafe(sql));
        let query = match scope {
            Scope::Mailbox(id) => query.bind(id),
            Scope::Workstation(id) | Scope::Office(id) => query.bind(id),
            Scope::All => query,
            Scope::Due => query.bind(at),
        };
        let rows = query.fetch_all(&mut *conn).await?;
        for row in &rows {
            let facts = row.facts()?;
            let policy = policies.effective(&row.office);
            let mut transitions = Vec::new();
            let previous = match row.standing()? {
                Some(standing) => standing,
                None => {
                    // First seen: assessed from its registration, then brought up to date.
                    let (first, mut seen) = advance(None, &facts, policy, facts.created_at.min(at));
                    transitions.append(&mut seen);
                    first
                }
            };
            let (now, mut seen) = advance(Some(&previous), &facts, policy, at);
            transitions.append(&mut seen);
            for t in &transitions {
                sqlx::query(
                    "INSERT INTO compliance_history (mailbox_id, office, at, state, reason, \
                     non_compliant_since, last_verified_at) VALUES ($1, $2, $3, $4, $5, \
                     CASE WHEN $6 THEN $7 END, CASE WHEN $8 THEN $9 END)",
                )
                .bind(row.mailbox_id)
                .bind(row.office.as_str())
                .bind(t.since)
                .bind(t.state.as_str())
                .bind(t.state.reason().map(FailureReason::as_str))
                .bind(t.non_compliant_since.is_some())
                .bind(t.non_compliant_since.unwrap_or(t.since))
                .bind(facts.last_verified_at.is_some())
                .bind(facts.last_verified_at.unwrap_or(t.since))
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "UPDATE mailbox_compliance SET office = $2, state = $3, reason = $4, since = $5, \
                 non_compliant_since = CASE WHEN $6 THEN $7 END, \
                 last_verified_at = CASE WHEN $8 THEN $9 END, assessed_at = $10, \
                 next_check_at = CASE WHEN $11 THEN $12 END WHERE mailbox_id = $1",
            )
            .bind(row.mailbox_id)
            .bind(row.office.as_str())
            .bind(now.state.as_str())
            .bind(now.state.reason().map(FailureReason::as_str))
            .bind(now.since)
            .bind(now.non_compliant_since.is_some())
            .bind(now.non_compliant_since.unwrap_or(now.since))
            .bind(facts.last_verified_at.is_some())
            .bind(facts.last_verified_at.unwrap_or(now.since))
            .bind(now.assessed_at)
            .bind(now.next_check_at.is_some())
            .bind(now.next_check_at.unwrap_or(now.assessed_at))
            .execute(&mut *conn)
            .await?;
        }
        Ok(rows.len())
    }

    /// Assesses the mailboxes of `offices` registered `at` that have no standing yet (those an
    /// import just created) inside the caller's transaction, as [`Db::reassess`] would, but in a
    /// few set statements instead of a query per mailbox: a new mailbox's only facts are its
    /// registration and its office's policy, so every new mailbox under one policy has the same
    /// first standing. Their standing rows and first history rows are written at once, so that no
    /// report or sweep waits to assess them.
    pub(super) async fn assess_registered(
        conn: &mut D::Connection,
        offices: &[&str],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let policies = Self::load_policies(conn).await?;
        let facts = MailboxFacts {
            created_at: at,
            last_verified_at: None,
            rotation: None,
            last_check_in: None,
        };
        // The imported offices with a policy of their own, one by one; then every other one,
        // under the global policy or the default.
        let mut groups: Vec<(Option<&str>, CompliancePolicy)> = offices
            .iter()
            .filter_map(|o| policies.offices.get(*o).map(|p| (Some(*o), *p)))
            .collect();
        if groups.len() < offices.len() {
            groups.push((None, policies.effective("")));
        }
        for (office, policy) in groups {
            let (first, _) = advance(None, &facts, policy, at);
            // $1: the time; $2: the office, for an office with a policy of its own.
            let new = format!(
                "FROM mailboxes m WHERE m.created_at = $1 AND {} AND NOT EXISTS \
                 (SELECT 1 FROM mailbox_compliance c WHERE c.mailbox_id = m.id)",
                match office {
                    Some(_) => "m.office = $2",
                    None =>
                        "NOT EXISTS (SELECT 1 FROM compliance_policies p \
                             WHERE p.scope = m.office) AND $2 = ''",
                }
            );
            // The history first: the standing rows not written yet tell which mailboxes are new.
            let history = format!(
                "INSERT INTO compliance_history (mailbox_id, office, at, state, reason, \
                 non_compliant_since) SELECT m.id, m.office, $1, $3, $4, CASE WHEN $5 THEN $1 END \
                 {new}"
            );
            let standing = format!(
                "INSERT INTO mailbox_compliance (mailbox_id, office, state, reason, since, \
                 non_compliant_since, assessed_at, next_check_at) SELECT m.id, m.office, $3, $4, \
                 $1, CASE WHEN $5 THEN $1 END, $1, CASE WHEN $6 THEN $7 END {new}"
            );
            let state = first.state.as_str();
            let reason = first.state.reason().map(FailureReason::as_str);
            let non_compliant = first.non_compliant_since.is_some();
            sqlx::query(AssertSqlSafe(history))
                .bind(at)
                .bind(office.unwrap_or(""))
                .bind(state)
                .bind(reason)
                .bind(non_compliant)
                .execute(&mut *conn)
                .await?;
            sqlx::query(AssertSqlSafe(standing))
                .bind(at)
                .bind(office.unwrap_or(""))
                .bind(state)
                .bind(reason)
                .bind(non_compliant)
                .bind(first.next_check_at.is_some())
                .bind(first.next_check_at.unwrap_or(at))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Where a compliance policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyScope<'a> {
    /// The configuration's default (under the global policy).
    Default,
    /// Every office without its own.
    Global,
    /// One office.
    Office(&'a Crpcen),
}
