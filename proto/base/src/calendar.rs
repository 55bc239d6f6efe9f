//! The person's calendar: which day and hour an instant is where the person reads it, and how a
//! date is written for them in French ("15 décembre 2026", "15 décembre 2026 à 14 h 30"). Every
//! date a person reads (the window, `sesame-agent status`, the letters) goes through here; times
//! stay in UTC everywhere else (the wire, the journal, the database, the logs).
//!
//! The `time` crate's `current_local_offset` is refused once a process has threads (reading the
//! time zone through libc is not thread-safe), and an offset read once at start would be wrong
//! after a change to or from summer time. [`LocalCalendar`] instead reads the TZ database with
//! `jiff` (`TZ`, else `/etc/localtime` on Unix; the system's zone on Windows, with a bundled
//! database), which is sound from any thread and follows summer time. [`FixedCalendar`] is a fixed
//! offset, for the tests. The instant itself is always a parameter (time is a parameter): a
//! calendar only says where it falls.

use time::{Date, OffsetDateTime, Time, UtcOffset};

/// Where instants fall for the person: their time zone.
pub trait Calendar: Send + Sync + std::fmt::Debug {
    /// The offset from UTC in force at `at` (summer time included).
    fn offset_at(&self, at: OffsetDateTime) -> UtcOffset;

    /// `at` as the person's clock shows it (as it is, in UTC, at the very ends of the calendar
    /// where the local time would not fit).
    fn local(&self, at: OffsetDateTime) -> OffsetDateTime {
        at.checked_to_offset(self.offset_at(at)).unwrap_or(at)
    }

    /// The date of `at` in the person's calendar.
    fn day_of(&self, at: OffsetDateTime) -> Date {
        self.local(at).date()
    }
}

/// A time zone could not be read.
#[derive(Debug, thiserror::Error)]
#[error("time zone {name:?}: {reason}")]
pub struct ZoneError {
    name: String,
    reason: String,
}

/// A zone from the TZ database: the workstation's (or the administrator's machine's).
#[derive(Debug, Clone)]
pub struct LocalCalendar {
    zone: jiff::tz::TimeZone,
}

impl LocalCalendar {
    /// Reads this machine's time zone now (`TZ`, else the system's). Falls back to UTC when no
    /// zone can be read (logged).
    pub fn new() -> LocalCalendar {
        let zone = jiff::tz::TimeZone::try_system().unwrap_or_else(|error| {
            tracing::warn!(%error, "this machine's time zone could not be read; dates in UTC");
            jiff::tz::TimeZone::UTC
        });
        LocalCalendar { zone }
    }

    /// A named zone of the TZ database (`Europe/Paris`).
    pub fn named(name: &str) -> Result<LocalCalendar, ZoneError> {
        jiff::tz::TimeZone::get(name)
            .map(|zone| LocalCalendar { zone })
            .map_err(|error| ZoneError { name: name.to_owned(), reason: error.to_string() })
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
    fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        jiff::Timestamp::from_second(at.unix_timestamp())
            .ok()
            .and_then(|instant| {
                UtcOffset::from_whole_seconds(self.zone.to_offset(instant).seconds()).ok()
            })
            .unwrap_or(UtcOffset::UTC)
    }
}

/// A fixed offset from UTC (`UtcOffset::UTC` for UTC days).
#[derive(Debug, Clone, Copy)]
pub struct FixedCalendar(pub UtcOffset);

impl Calendar for FixedCalendar {
    fn offset_at(&self, _at: OffsetDateTime) -> UtcOffset {
        self.0
    }
}

/// The months' names in French, January first.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `15 décembre 2026`, `1er décembre 2026`.
pub fn date_fr(date: Date) -> String {
    let month = MONTHS[usize::from(u8::from(date.month())) - 1];
    let day = match date.day() {
        1 => "1er".to_owned(),
        day => day.to_string(),
    };
    format!("{day} {month} {}", date.year())
}

/// `14 h 30`, `9 h 05`.
pub fn time_fr(time: Time) -> String {
    format!("{} h {:02}", time.hour(), time.minute())
}

/// The date of `at` in the person's calendar: `15 décembre 2026`.
pub fn day_fr(at: OffsetDateTime, calendar: &dyn Calendar) -> String {
    date_fr(calendar.day_of(at))
}

/// The date and time of `at` in the person's calendar: `15 décembre 2026 à 14 h 30`.
pub fn moment_fr(at: OffsetDateTime, calendar: &dyn Calendar) -> String {
    let local = calendar.local(at);
    format!("{} à {}", date_fr(local.date()), time_fr(local.time()))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime, offset, time};

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
        let Ok(paris) = LocalCalendar::named("Europe/Paris") else {
            // No TZ database on this machine (Debian's tzdata): nothing to compare with.
            assert!(std::env::var_os("CI").is_none(), "tzdata is required under CI");
            return;
        };
        // Winter (UTC+1): 23:30 UTC is 00:30 the next day; 22:30 UTC is still the same day.
        assert_eq!(paris.day_of(datetime!(2026-12-01 23:30 UTC)), date!(2026 - 12 - 02));
        assert_eq!(paris.day_of(datetime!(2026-12-01 22:30 UTC)), date!(2026 - 12 - 01));
        // Summer (UTC+2): 22:30 UTC is already 00:30 the next day.
        assert_eq!(paris.day_of(datetime!(2026-07-01 22:30 UTC)), date!(2026 - 07 - 02));
        assert_eq!(paris.offset_at(datetime!(2026-07-01 22:30 UTC)), offset!(+2));
        assert_eq!(paris.zone_name(), Some("Europe/Paris"));
        assert!(LocalCalendar::named("Nowhere/Atlantis").is_err());
    }

    #[test]
    fn dates_are_written_in_french() {
        assert_eq!(date_fr(date!(2026 - 12 - 15)), "15 décembre 2026");
        assert_eq!(date_fr(date!(2026 - 08 - 01)), "1er août 2026");
        assert_eq!(time_fr(time!(9:05)), "9 h 05");
        assert_eq!(time_fr(time!(14:30:59)), "14 h 30");
        let at = datetime!(2026-12-07 23:30 UTC);
        assert_eq!(moment_fr(at, &FixedCalendar(offset!(+1))), "8 décembre 2026 à 0 h 30");
        assert_eq!(moment_fr(at, &FixedCalendar(UtcOffset::UTC)), "7 décembre 2026 à 23 h 30");
        assert_eq!(day_fr(at, &FixedCalendar(offset!(+1))), "8 décembre 2026");
        // The last instant `time` knows has no local time a day later: it stays as it is.
        let end = datetime!(9999-12-31 23:59 UTC);
        assert_eq!(day_fr(end, &FixedCalendar(offset!(+1))), "31 décembre 9999");
    }
}
