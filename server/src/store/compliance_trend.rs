//! The compliance trend from the database: for each of a few times, how many mailboxes were
//! compliant and how many there were, read from the compliance history (`compliance_history`) in
//! one query whatever the number of times. [`ComplianceTrendStore`] is what the rest of the server
//! calls; it is implemented here once for both databases, on `Db<D>`.
//!
//! How: a mailbox's history row is in force from its `at` until the mailbox's next row (in `seq`
//! order), as a report at a past date reads it (each mailbox's last row at or before the date).
//! Each row is turned into a change of the counts (a first row adds a mailbox; a row adds 1 to the
//! compliant count when it becomes compliant, takes 1 away when it stops being so), those changes
//! and the times asked for are sorted together, and a running sum reads the counts at each time.
//! Before the first time only each mailbox's row in force then is read (as a report at that time
//! reads it), so the cost is about one report at a past date plus the rows of the period, instead
//! of one report per time: on 100,000 mailboxes of 10,000 offices with 900,000 history rows, a
//! fleet's 90 days took about 0.9 s on SQLite and 1.1 s on PostgreSQL (one report at a past date:
//! 0.5 s and 0.8 s), one office's a few milliseconds.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::compliance::CORRUPT;
use super::db::Db;
use crate::domain::office::Crpcen;

/// The compliance trend: counts at several times from the history; a part of
/// [`Store`](super::Store).
#[async_trait]
pub trait ComplianceTrendStore: Send + Sync {
    /// For each of `times` (in ascending order), `(compliant, total)`: how many of the mailboxes
    /// registered then were compliant (compliant or due soon) and how many there were, as a report
    /// at that time counts them; of the mailboxes of `offices`, or of every office for `None`.
    /// The history must be complete up to the last time (a sweep first).
    async fn compliance_trend(
        &self,
        offices: Option<&[Crpcen]>,
        times: &[OffsetDateTime],
    ) -> Result<Vec<(u64, u64)>, Error>;
}

#[sql_impl]
impl<D> ComplianceTrendStore for Db<D> {
    async fn compliance_trend(
        &self,
        offices: Option<&[Crpcen]>,
        times: &[OffsetDateTime],
    ) -> Result<Vec<(u64, u64)>, Error> {
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            return Ok(Vec::new());
        };
        if offices.is_some_and(<[Crpcen]>::is_empty) {
            return Ok(vec![(0, 0); times.len()]);
        }
        // $1 the first time, $2 the last, then each time, then each office.
        let points: Vec<String> = (0..times.len()).map(|i| format!("(${})", i + 3)).collect();
        let filter = match offices {
            None => String::new(),
            Some(offices) => {
                let first = times.len() + 3;
                let marks: Vec<String> =
                    (0..offices.len()).map(|i| format!("${}", first + i)).collect();
                format!(" AND office IN ({})", marks.join(", "))
            }
        };
        let sql = format!(
            "WITH points (p) AS (VALUES {points}), \
             before AS (SELECT MAX(seq) AS seq FROM compliance_history \
               WHERE at < $1{filter} GROUP BY mailbox_id), \
             rows_in_force AS (SELECT h.mailbox_id, h.seq, h.at, h.state \
               FROM before JOIN compliance_history h ON h.seq = before.seq \
               UNION ALL SELECT mailbox_id, seq, at, state FROM compliance_history \
               WHERE at >= $1 AND at <= $2{filter}), \
             history AS (SELECT mailbox_id, seq, at, \
               CASE WHEN state IN ('compliant', 'due_soon') THEN 1 ELSE 0 END AS c \
               FROM rows_in_force), \
             changes AS (SELECT at AS t, \
               CASE WHEN LAG(seq) OVER w IS NULL THEN 1 ELSE 0 END AS dt, \
               c - COALESCE(LAG(c) OVER w, 0) AS dc \
               FROM history WINDOW w AS (PARTITION BY mailbox_id ORDER BY seq)), \
             steps AS (SELECT $1 AS t, 0 AS kind, COALESCE(SUM(dt), 0) AS dt, \
               COALESCE(SUM(dc), 0) AS dc FROM changes WHERE t < $1 \
               UNION ALL SELECT t, 0, dt, dc FROM changes \
               WHERE t >= $1 AND (dt <> 0 OR dc <> 0) \
               UNION ALL SELECT p, 1, 0, 0 FROM points), \
             running AS (SELECT t, kind, SUM(dt) OVER r AS total, SUM(dc) OVER r AS compliant \
               FROM steps WINDOW r AS (ORDER BY t, kind ROWS BETWEEN UNBOUNDED PRECEDING \
               AND CURRENT ROW)) \
             SELECT CAST(compliant AS BIGINT), CAST(total AS BIGINT) FROM running \
             WHERE kind = 1 ORDER BY t",
            points = points.join(", "),
        );
        let mut query =
            sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql)).bind(*first).bind(*last);
        for at in times {
            query = query.bind(*at);
        }
        for office in offices.unwrap_or_default() {
            query = query.bind(office.as_str());
        }
        let rows = query.fetch_all(self.reader()).await?;
        if rows.len() != times.len() {
            return Err(CORRUPT);
        }
        let count = |n: i64| u64::try_from(n).map_err(|_| CORRUPT);
        rows.into_iter().map(|(compliant, total)| Ok((count(compliant)?, count(total)?))).collect()
    }
}
