//! The compliance trend: how many mailboxes complied, day after day ([`TrendPoint`]), at the times
//! [`trend_times`] names: the end of each past day (as a report "at a date" reads it) and now.

use time::macros::time;
use time::{Duration, OffsetDateTime, UtcOffset};

/// The most days a trend covers.
pub const MAX_TREND_POINTS: u32 = 90;

/// How many mailboxes complied at one time, out of how many there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendPoint {
    /// The time: the end of a day (UTC), or now for today.
    pub at: OffsetDateTime,
    /// Mailboxes compliant then (compliant or due soon).
    pub compliant: u64,
    /// Mailboxes registered then.
    pub total: u64,
}

/// The times of a trend of `points` days ending now, oldest first: the last microsecond (UTC, as a
/// report at a bare date takes it) of each of the `points - 1` days before today, then `now`.
/// Empty for 0.
pub fn trend_times(now: OffsetDateTime, points: u32) -> Vec<OffsetDateTime> {
    let now = now.to_offset(UtcOffset::UTC);
    let end_of_day = time!(23:59:59.999999);
    let mut times: Vec<OffsetDateTime> = (1..i64::from(points))
        .rev()
        .map(|days_ago| (now - Duration::days(days_ago)).replace_time(end_of_day))
        .collect();
    if points > 0 {
        times.push(now);
    }
    times
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_trend_ends_each_past_day_and_today_now() {
        let now = datetime!(2026-03-03 10:00 UTC);
        assert_eq!(
            trend_times(now, 3),
            [
                datetime!(2026-03-01 23:59:59.999999 UTC),
                datetime!(2026-03-02 23:59:59.999999 UTC),
                now
            ]
        );
        assert_eq!(trend_times(now, 1), [now]);
        assert!(trend_times(now, 0).is_empty());
    }
}
