//! What the server's fuzz targets share (tests only): [`Tally`], which counts a target's cases and
//! its slowest one. The targets sit next to what they read: `grpc::fuzz` (every request of the
//! contract), `config::fuzz` (the file and the variables), `services::offices::import::fuzz` (the
//! import's rows); `tests/FUZZING.md` says how to run them longer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts a target's cases and its slowest one, printed at the end (`--nocapture` shows it).
#[derive(Debug)]
pub(crate) struct Tally {
    name: &'static str,
    started: Instant,
    cases: AtomicU64,
    accepted: AtomicU64,
    slowest_micros: AtomicU64,
}

impl Tally {
    pub(crate) fn new(name: &'static str) -> Tally {
        Tally {
            name,
            started: Instant::now(),
            cases: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            slowest_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn case<R>(&self, f: impl FnOnce() -> R) -> R {
        let at = Instant::now();
        let result = f();
        let micros = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.cases.fetch_add(1, Ordering::Relaxed);
        self.slowest_micros.fetch_max(micros, Ordering::Relaxed);
        result
    }

    /// Counts a case whose input was accepted (the rest were refused, as they should be).
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let cases = self.cases.load(Ordering::Relaxed);
        let accepted = self.accepted.load(Ordering::Relaxed);
        let wall = self.started.elapsed();
        let slowest = Duration::from_micros(self.slowest_micros.load(Ordering::Relaxed));
        println!(
            "fuzz {}: {cases} cases ({accepted} accepted) in {:.1} s ({:.0}/s), slowest case {:.1} ms",
            self.name,
            wall.as_secs_f64(),
            cases as f64 / wall.as_secs_f64().max(1e-9),
            slowest.as_secs_f64() * 1e3
        );
    }
}
