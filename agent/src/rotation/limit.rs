//! The limit on refused current passwords: each one Exchange refuses is a failed logon in the
//! directory, which locks the account at its lockout threshold. The rotation journals how many it
//! had refused on which day ([`RefusedOn`]), so the count survives sessions and restarts.
//!
//! # The rule ([`may_send`])
//! A change carrying a current (or provisional) password is sent only when both hold:
//! - **at most one refusal per mailbox per day**: none was refused yet on the same day (UTC
//!   calendar day of the agent's clock);
//! - **always below the lockout threshold** `T` (`[owa] lockout_threshold`, default 5; 0 means
//!   the directory locks no one): even if this attempt is refused, the refusals of the day stay
//!   strictly below `T - 1`, i.e. `refused_today + 1 < T - 1`, so the person keeps at least one
//!   logon of their own (Outlook, a typo at the desk) before the directory would lock them. The
//!   configuration refuses `T` of 1 or 2, with which nothing could ever be sent.
//!
//! Refused locally, nothing is sent to Exchange and the person is told to wait until tomorrow or
//! to ask the administrator (`Refusal::CurrentPasswordLimit`).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

/// The default lockout threshold of the directory.
pub const DEFAULT_LOCKOUT_THRESHOLD: u32 = 5;
/// Refused current passwords allowed per mailbox and day.
pub const PER_DAY: u32 = 1;

/// How many current passwords Exchange refused on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedOn {
    /// The UTC day.
    pub day: Date,
    /// Refusals that day.
    pub count: u32,
}

fn day_of(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

/// Refusals already counted on `now`'s day.
pub fn refused_today(refused: Option<RefusedOn>, now: OffsetDateTime) -> u32 {
    refused.filter(|r| r.day == day_of(now)).map_or(0, |r| r.count)
}

/// Whether a change with a current password may be sent now (the rule in the module docs).
pub fn may_send(refused: Option<RefusedOn>, lockout_threshold: u32, now: OffsetDateTime) -> bool {
    let today = refused_today(refused, now);
    let below_threshold =
        lockout_threshold == 0 || today.saturating_add(1) < lockout_threshold.saturating_sub(1);
    today < PER_DAY && below_threshold
}

/// The count after one more refusal at `now`.
pub fn one_more(refused: Option<RefusedOn>, now: OffsetDateTime) -> RefusedOn {
    RefusedOn { day: day_of(now), count: refused_today(refused, now).saturating_add(1) }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn one_refusal_a_day_then_nothing_until_the_next_day() {
        let morning = datetime!(2026-12-01 08:00 UTC);
        assert!(may_send(None, DEFAULT_LOCKOUT_THRESHOLD, morning));
        let refused = Some(one_more(None, morning));
        assert!(!may_send(refused, DEFAULT_LOCKOUT_THRESHOLD, datetime!(2026-12-01 23:59 UTC)));
        assert!(
            !may_send(refused, 0, datetime!(2026-12-01 12:00 UTC)),
            "no threshold: still 1/day"
        );
        assert!(may_send(refused, DEFAULT_LOCKOUT_THRESHOLD, datetime!(2026-12-02 00:00 UTC)));
        assert_eq!(one_more(refused, datetime!(2026-12-02 00:00 UTC)).count, 1, "a new day");
        assert_eq!(one_more(refused, morning).count, 2);
    }

    #[test]
    fn never_up_to_the_threshold_minus_one() {
        let now = datetime!(2026-12-01 08:00 UTC);
        // T = 3: a refusal would make 1 < 2, allowed; T = 2: 1 would reach T - 1, refused.
        assert!(may_send(None, 3, now));
        assert!(!may_send(None, 2, now));
        assert!(!may_send(None, 1, now));
        assert!(may_send(None, 0, now), "0: the directory locks no one");
    }

    #[test]
    fn the_day_is_the_utc_day_whatever_the_offset() {
        let refused = Some(one_more(None, datetime!(2026-12-01 23:30 UTC)));
        let paris_next_morning = datetime!(2026-12-02 00:30 +01:00);
        assert!(!may_send(refused, 5, paris_next_morning), "still 23:30 UTC on the 1st");
    }
}
