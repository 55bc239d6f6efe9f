//! Where time comes from, for the server and the agent alike: a [`Clock`] passed in, never read
//! deep inside logic, so that tests can set it.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// A source of the current time, in UTC, truncated to whole microseconds (the precision both
/// databases keep, so a value read back equals the value written).
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // Reason: this is the one place that reads the wall clock.
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// The operating system's clock moved by a fixed offset: a process started "a week later" in an
/// end-to-end test.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: Duration,
}

impl OffsetClock {
    /// The system clock plus `offset`.
    pub fn new(offset: Duration) -> OffsetClock {
        OffsetClock { offset }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(SystemClock.now() + self.offset)
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: OffsetDateTime) -> ManualClock {
        ManualClock { now: Arc::new(Mutex::new(truncate_to_micros(start))) }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = truncate_to_micros(*now + by);
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = truncate_to_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_are_truncated_to_microseconds() {
        let clock = ManualClock::new(datetime!(2026-11-25 09:00:00.123_456_789 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-25 09:00:00.123_456 UTC));
        clock.advance(Duration::nanoseconds(1_999));
        assert_eq!(clock.now(), datetime!(2026-11-25 09:00:00.123_457 UTC));
        clock.set(datetime!(2026-11-26 00:00:00.000_000_999 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-26 00:00 UTC));
        assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
    }
}
