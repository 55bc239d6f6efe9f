//! [`Tally`]: what a fuzz target counts of its run (cases, accepted inputs, the slowest case),
//! shown by the target when it ends (`tests/FUZZING.md`). Compiled with the `fuzzing` feature
//! only, which the crates' dev-dependencies turn on: nothing of it ships.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fuzz target's figures, counted from any thread.
#[derive(Debug)]
pub struct Tally {
    name: &'static str,
    started: Instant,
    cases: AtomicU64,
    accepted: AtomicU64,
    slowest_micros: AtomicU64,
}

impl Tally {
    /// Starts counting for the target `name`.
    pub fn new(name: &'static str) -> Tally {
        Tally {
            name,
            started: Instant::now(),
            cases: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            slowest_micros: AtomicU64::new(0),
        }
    }

    /// Runs one case, timing it.
    pub fn case<R>(&self, f: impl FnOnce() -> R) -> R {
        let at = Instant::now();
        let result = f();
        let micros = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.cases.fetch_add(1, Ordering::Relaxed);
        self.slowest_micros.fetch_max(micros, Ordering::Relaxed);
        result
    }

    /// Counts a case whose input was accepted (the others were refused, as they should be).
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

/// `fuzz NAME: CASES cases (ACCEPTED accepted) in S s (RATE/s), slowest case MS ms`.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cases = self.cases.load(Ordering::Relaxed);
        let accepted = self.accepted.load(Ordering::Relaxed);
        let wall = self.started.elapsed().as_secs_f64();
        let slowest = Duration::from_micros(self.slowest_micros.load(Ordering::Relaxed));
        write!(
            f,
            "fuzz {}: {cases} cases ({accepted} accepted) in {wall:.1} s ({:.0}/s), slowest case {:.1} ms",
            self.name,
            cases as f64 / wall.max(1e-9),
            slowest.as_secs_f64() * 1e3
        )
    }
}
