//! Which day it is on the workstation: "at most once a day" and "dans 3 jours" are counted in the
//! person's calendar, not in UTC (a reminder at 23:30 UTC is already the next day in Paris).
//!
//! The `time` crate's `current_local_offset` is refused once a process has threads (reading the
//! time zone through libc is not thread-safe), and an offset read once at start would be wrong
//! after a change to or from summer time. [`LocalCalendar`] instead reads the TZ database with
//! `jiff` (`TZ`, else `/etc/localtime` on Unix; the system's zone on Windows, with a bundled
//! database), which is sound from any thread and follows summer time. [`FixedCalendar`] is a fixed
//! offset, for the tests.

use time::{Date, Month, OffsetDateTime, UtcOffset};

/// The day an instant falls on, for the person.
pub trait Calendar: Send + Sync {
    /// The date of `at` in the person's calendar.
    fn day_of(&self, at: OffsetDateTime) -> Date;
}

/// The workstation's time zone, from the TZ database. Falls back to UTC when no zone can be read
/// (logged once).
#[derive(Debug, Clone)]
pub struct LocalCalendar {
    zone: jiff::tz::TimeZone,
}

impl LocalCalendar {
    /// Reads the workstation's time zone now (`TZ`, else the system's).
    pub fn new() -> LocalCalendar {
        let zone = jiff::tz::TimeZone::try_system().unwrap_or_else(|error| {
            tracing::warn!(%error, "the workstation's time zone could not be read; days in UTC");
            jiff::tz::TimeZone::UTC
        });
        LocalCalendar { zone }
    }

    /// The zone's name, when it has one (`Europe/Paris`), for the logs.
    pub fn zone_name(&self) -> Option<&str> {
        self.zone.iana_name()
    }
}

impl Default for LocalCalendar {
    fn default() -> Self {
        LocalCalendar::new()
    }
}

impl Calendar for LocalCalendar {
    fn day_of(&self, at: OffsetDateTime) -> Date {
        let local = jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|instant| instant.to_zoned(self.zone.clone()).date());
        local
            .ok()
            .and_then(|day| {
                let month = Month::try_from(u8::try_from(day.month()).ok()?).ok()?;
                let day_of_month = u8::try_from(day.day()).ok()?;
                Date::from_calendar_date(i32::from(day.year()), month, day_of_month).ok()
            })
            .unwrap_or_else(|| at.date())
    }
}

/// A fixed offset from UTC (`UtcOffset::UTC` for UTC days).
#[derive(Debug, Clone, Copy)]
pub struct FixedCalendar(pub UtcOffset);

impl Calendar for FixedCalendar {
    fn day_of(&self, at: OffsetDateTime) -> Date {
        at.to_offset(self.0).date()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime, offset};

    use super::*;

    #[test]
    fn a_late_evening_in_paris_is_the_next_day() {
        let paris_winter = FixedCalendar(offset!(+1));
        assert_eq!(paris_winter.day_of(datetime!(2026-12-01 23:30 UTC)), date!(2026 - 12 - 02));
        assert_eq!(paris_winter.day_of(datetime!(2026-12-01 22:59 UTC)), date!(2026 - 12 - 01));
        assert_eq!(FixedCalendar(UtcOffset::UTC).day_of(datetime!(2026-12-01 23:30 UTC)), {
            date!(2026 - 12 - 01)
        });
    }

    #[test]
    fn the_tz_database_follows_summer_time() {
        let Ok(zone) = jiff::tz::TimeZone::get("Europe/Paris") else {
            // No TZ database on this machine (Debian's tzdata): nothing to compare with.
            assert!(std::env::var_os("CI").is_none(), "tzdata is required under CI");
            return;
        };
        let paris = LocalCalendar { zone };
        // Winter (UTC+1): 23:30 UTC is 00:30 the next day; 22:30 UTC is still the same day.
        assert_eq!(paris.day_of(datetime!(2026-12-01 23:30 UTC)), date!(2026 - 12 - 02));
        assert_eq!(paris.day_of(datetime!(2026-12-01 22:30 UTC)), date!(2026 - 12 - 01));
        // Summer (UTC+2): 22:30 UTC is already 00:30 the next day.
        assert_eq!(paris.day_of(datetime!(2026-07-01 22:30 UTC)), date!(2026 - 07 - 02));
        assert_eq!(paris.zone_name(), Some("Europe/Paris"));
    }
}
