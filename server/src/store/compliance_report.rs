//! Compliance reports from the database: counts per office and state, the fleet's totals and each
//! mailbox's standing, now (from `mailbox_compliance`, whose indexes cover these queries) or at a
//! past date (from `compliance_history`: each mailbox's last row at or before the date).
//! [`ComplianceReportStore`] is what the rest of the server calls; it is implemented here once for
//! both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::compliance::CORRUPT;
use super::db::Db;
use super::rows::crpcen;
use crate::domain::compliance::{
    ComplianceState, FleetSummary, MailboxStanding, OfficeCounts, StateCounts, earliest,
};
use crate::domain::office::{Crpcen, MailboxAddress};

#[derive(Debug, sqlx::FromRow)]
struct CountRow {
    office: String,
    name: String,
    state: String,
    n: i64,
    oldest: Option<OffsetDateTime>,
    changed: i64,
    late_since: Option<OffsetDateTime>,
}

#[derive(Debug, sqlx::FromRow)]
struct SummaryRow {
    state: String,
    n: i64,
    oldest: Option<OffsetDateTime>,
    changed: i64,
}

/// The history's last row per mailbox at or before `$1`: the standings at a past date.
const STANDINGS_AT: &str = "WITH latest AS (SELECT MAX(seq) AS seq FROM compliance_history \
     WHERE at <= $1 GROUP BY mailbox_id), standings AS (SELECT c.office, c.state, \
     c.last_verified_at FROM latest JOIN compliance_history c ON c.seq = latest.seq) ";

#[derive(Debug, sqlx::FromRow)]
struct StandingRow {
    address: String,
    display_name: String,
    state: String,
    reason: Option<String>,
    since: OffsetDateTime,
    non_compliant_since: Option<OffsetDateTime>,
    last_verified_at: Option<OffsetDateTime>,
}

/// Each office's counts per state from the history rows named by a `latest` CTE (the `seq` of
/// each mailbox's row in force at a time): what every report at a time, page or range reads.
macro_rules! counts_of_latest {
    () => {
        "SELECT c.office, o.name, c.state, COUNT(*) AS n, \
         MIN(c.last_verified_at) AS oldest, COUNT(c.last_verified_at) AS changed, \
         MIN(c.non_compliant_since) AS late_since \
         FROM latest JOIN compliance_history c ON c.seq = latest.seq \
         JOIN offices o ON o.crpcen = c.office \
         GROUP BY c.office, o.name, c.state ORDER BY c.office"
    };
}

/// The compliance reports: counts per state, the fleet's totals, mailbox standings, now or at a past
/// date; a part of [`Store`](super::Store).
#[async_trait]
pub trait ComplianceReportStore: Send + Sync {
    /// Counts per state for each office (or one), now (`at` = `None`, after a sweep) or at a past
    /// date from the history; offices ordered by CRPCEN, those without mailboxes left out.
    async fn compliance_counts(
        &self,
        office: Option<&Crpcen>,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<OfficeCounts>, Error>;

    /// The fleet's totals now (after a sweep) or at a past date, without per-office rows.
    async fn compliance_summary(&self, at: Option<OffsetDateTime>) -> Result<FleetSummary, Error>;

    /// The standing of each mailbox of an office, now or at a past date, ordered by address.
    async fn compliance_mailboxes(
        &self,
        office: &Crpcen,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<MailboxStanding>, Error>;

    /// A page of the standings at `at` (from the history) of an office's mailboxes (or every
    /// mailbox): at most `limit`, ordered by office then address, after `after` if given.
    async fn compliance_mailbox_page(
        &self,
        office: Option<&Crpcen>,
        at: OffsetDateTime,
        after: Option<&MailboxAddress>,
        limit: u32,
    ) -> Result<Vec<MailboxStanding>, Error>;

    /// Counts per state at `at` (from the history) of the first `limit` offices after `after`
    /// (by CRPCEN) that had a mailbox then, as [`Self::compliance_counts`] gives them.
    async fn compliance_office_page(
        &self,
        at: OffsetDateTime,
        after: Option<&Crpcen>,
        limit: u32,
    ) -> Result<Vec<OfficeCounts>, Error>;

    /// Counts per state at `at` (from the history) of the offices from `first` to `last`
    /// (CRPCENs, both included), as [`Self::compliance_counts`] gives them.
    async fn compliance_counts_between(
        &self,
        first: &Crpcen,
        last: &Crpcen,
        at: OffsetDateTime,
    ) -> Result<Vec<OfficeCounts>, Error>;
}

#[sql_impl]
impl<D> ComplianceReportStore for Db<D> {
    async fn compliance_counts(
        &self,
        office: Option<&Crpcen>,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<OfficeCounts>, Error> {
        // $1 is the office, or '' for the fleet.
        let filter = if office.is_some() { "WHERE c.office = $1" } else { "WHERE $1 = ''" };
        let sql = match at {
            None => format!(
                "SELECT c.office, o.name, c.state, COUNT(*) AS n, \
                 MIN(c.last_verified_at) AS oldest, COUNT(c.last_verified_at) AS changed, \
                 MIN(c.non_compliant_since) AS late_since \
                 FROM mailbox_compliance c JOIN offices o ON o.crpcen = c.office {filter} \
                 GROUP BY c.office, o.name, c.state ORDER BY c.office"
            ),
            Some(_) => format!(
                concat!(
                    "WITH latest AS (SELECT MAX(seq) AS seq FROM compliance_history \
                     WHERE at <= $2{} GROUP BY mailbox_id) ",
                    counts_of_latest!()
                ),
                if office.is_some() { " AND office = $1" } else { " AND $1 = ''" }
            ),
        };
        let mut query = sqlx::query_as::<_, CountRow>(AssertSqlSafe(sql))
            .bind(office.map_or("", Crpcen::as_str));
        if let Some(at) = at {
            query = query.bind(at);
        }
        office_counts(query.fetch_all(self.reader()).await?)
    }

    async fn compliance_counts_between(
        &self,
        first: &Crpcen,
        last: &Crpcen,
        at: OffsetDateTime,
    ) -> Result<Vec<OfficeCounts>, Error> {
        let rows = sqlx::query_as::<_, CountRow>(concat!(
            "WITH latest AS (SELECT MAX(seq) AS seq FROM compliance_history \
             WHERE office >= $1 AND office <= $2 AND at <= $3 GROUP BY mailbox_id) ",
            counts_of_latest!()
        ))
        .bind(first.as_str())
        .bind(last.as_str())
        .bind(at)
        .fetch_all(self.reader())
        .await?;
        office_counts(rows)
    }

    async fn compliance_office_page(
        &self,
        at: OffsetDateTime,
        after: Option<&Crpcen>,
        limit: u32,
    ) -> Result<Vec<OfficeCounts>, Error> {
        // The first `limit` offices after $1 with a mailbox registered by $2 (the history's index
        // on (office, mailbox_id)), then their counts as the whole report makes them.
        let rows = sqlx::query_as::<_, CountRow>(concat!(
            "WITH page AS (SELECT DISTINCT office FROM compliance_history \
             WHERE office > $1 AND at <= $2 ORDER BY office LIMIT $3), \
             latest AS (SELECT MAX(h.seq) AS seq FROM compliance_history h \
             JOIN page ON page.office = h.office WHERE h.at <= $2 GROUP BY h.mailbox_id) ",
            counts_of_latest!()
        ))
        .bind(after.map_or("", Crpcen::as_str))
        .bind(at)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        office_counts(rows)
    }

    async fn compliance_mailbox_page(
        &self,
        office: Option<&Crpcen>,
        at: OffsetDateTime,
        after: Option<&MailboxAddress>,
        limit: u32,
    ) -> Result<Vec<MailboxStanding>, Error> {
        // Each mailbox's last history row at or before $2 (the index on (mailbox_id, at, seq)),
        // in the order of the index on mailboxes (office, address); a page resumes after the
        // last mailbox of the one before ($3, $4; '' before the first).
        let rows = sqlx::query_as::<_, StandingRow>(
            "SELECT m.address, m.display_name, c.state, c.reason, c.at AS since, \
             c.non_compliant_since, c.last_verified_at \
             FROM mailboxes m JOIN compliance_history c ON c.seq = (SELECT MAX(h.seq) \
             FROM compliance_history h WHERE h.mailbox_id = m.id AND h.at <= $2) \
             WHERE (CAST($1 AS TEXT) IS NULL OR m.office = $1) \
             AND (m.office > $3 OR (m.office = $3 AND m.address > $4)) \
             ORDER BY m.office, m.address LIMIT $5",
        )
        .bind(office.map(Crpcen::as_str))
        .bind(at)
        .bind(after.map_or("", |a| a.office().as_str()))
        .bind(after.map_or("", MailboxAddress::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(standing).collect()
    }

    async fn compliance_summary(&self, at: Option<OffsetDateTime>) -> Result<FleetSummary, Error> {
        // Now: the standings table (its indexes cover these queries); at a past date (`$1`): the
        // history's last row per mailbox.
        let (prefix, source) = match at {
            None => ("", "mailbox_compliance"),
            Some(_) => (STANDINGS_AT, "standings"),
        };
        let mut rows = sqlx::query_as::<_, SummaryRow>(AssertSqlSafe(format!(
            "{prefix}SELECT state, COUNT(*) AS n, MIN(last_verified_at) AS oldest, \
             COUNT(last_verified_at) AS changed FROM {source} GROUP BY state"
        )));
        // One pass over the offices (in the order of the office index): how many, how many late.
        let mut offices = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
            "{prefix}SELECT COUNT(*), COALESCE(SUM(late), 0) FROM (SELECT office, \
             MAX(CASE WHEN state IN ('compliant', 'due_soon') THEN 0 ELSE 1 END) AS late \
             FROM {source} GROUP BY office) per_office"
        )));
        if let Some(at) = at {
            rows = rows.bind(at);
            offices = offices.bind(at);
        }
        let rows = rows.fetch_all(self.reader()).await?;
        let (offices, late) = offices.fetch_one(self.reader()).await?;
        let count = |n: i64| u64::try_from(n).map_err(|_| CORRUPT);
        let mut summary = FleetSummary {
            offices: count(offices)?,
            offices_compliant: count(offices - late)?,
            ..FleetSummary::default()
        };
        for row in rows {
            // Counted per state: a failed change's reason does not matter here.
            let state = ComplianceState::parse(&row.state, Some("needs_human")).ok_or(CORRUPT)?;
            let n = count(row.n)?;
            summary.counts.add(state, n);
            summary.never_changed += n - count(row.changed)?;
            summary.oldest_verified_change = earliest(summary.oldest_verified_change, row.oldest);
        }
        Ok(summary)
    }

    async fn compliance_mailboxes(
        &self,
        office: &Crpcen,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<MailboxStanding>, Error> {
        let sql = match at {
            None => "SELECT m.address, m.display_name, c.state, c.reason, c.since, \
                 c.non_compliant_since, c.last_verified_at FROM mailbox_compliance c \
                 JOIN mailboxes m ON m.id = c.mailbox_id WHERE c.office = $1 \
                 ORDER BY m.address"
                .to_owned(),
            Some(_) => "WITH latest AS (SELECT MAX(seq) AS seq FROM compliance_history \
                 WHERE office = $1 AND at <= $2 GROUP BY mailbox_id) \
                 SELECT m.address, m.display_name, c.state, c.reason, c.at AS since, \
                 c.non_compliant_since, c.last_verified_at \
                 FROM latest JOIN compliance_history c ON c.seq = latest.seq \
                 JOIN mailboxes m ON m.id = c.mailbox_id ORDER BY m.address"
                .to_owned(),
        };
        let mut query = sqlx::query_as::<_, StandingRow>(AssertSqlSafe(sql)).bind(office.as_str());
        if let Some(at) = at {
            query = query.bind(at);
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.into_iter().map(standing).collect()
    }
}

/// Offices' counts from their rows per (office, state), ordered by office.
fn office_counts(rows: Vec<CountRow>) -> Result<Vec<OfficeCounts>, Error> {
    let mut offices: Vec<OfficeCounts> = Vec::new();
    for row in rows {
        // Counted per state: a failed change's reason does not matter here.
        let state = ComplianceState::parse(&row.state, Some("needs_human")).ok_or(CORRUPT)?;
        let n = u64::try_from(row.n).map_err(|_| CORRUPT)?;
        let changed = u64::try_from(row.changed).map_err(|_| CORRUPT)?;
        if offices.last().is_none_or(|o| o.crpcen.as_str() != row.office) {
            offices.push(OfficeCounts {
                crpcen: crpcen(&row.office, "mailbox_compliance")?,
                name: row.name,
                counts: StateCounts::default(),
                oldest_verified_change: None,
                never_changed: 0,
                late_since: None,
            });
        }
        let Some(entry) = offices.last_mut() else { continue };
        entry.counts.add(state, n);
        entry.never_changed += n - changed;
        entry.oldest_verified_change = earliest(entry.oldest_verified_change, row.oldest);
        entry.late_since = earliest(entry.late_since, row.late_since);
    }
    Ok(offices)
}

/// A mailbox's standing from its row.
fn standing(row: StandingRow) -> Result<MailboxStanding, Error> {
    Ok(MailboxStanding {
        address: MailboxAddress::parse_stored(&row.address).map_err(|_| CORRUPT)?,
        display_name: row.display_name,
        state: ComplianceState::parse(&row.state, row.reason.as_deref()).ok_or(CORRUPT)?,
        since: row.since,
        non_compliant_since: row.non_compliant_since,
        last_verified_at: row.last_verified_at,
    })
}
