//! The open-loop arrival schedule: the k-th check-in is due at a time fixed in advance, `k / rate`
//! plus a jitter drawn uniformly within its own slot, whatever the server answers. Latency is
//! measured from that intended time, so a slow server cannot slow the offered load down and hide
//! its queueing (no coordinated omission).

use std::time::Duration;

use rand::Rng;

/// Intended send times, as offsets from the start.
#[derive(Debug)]
pub(crate) struct Schedule<R> {
    interval_nanos: f64,
    jitter: bool,
    next: u64,
    rng: R,
}

impl<R: Rng> Schedule<R> {
    /// `rate` arrivals per second (more than 0); with `jitter`, each arrival is placed uniformly
    /// within its slot `[k, k+1) / rate`, otherwise at its start.
    pub(crate) fn new(rate: f64, jitter: bool, rng: R) -> Schedule<R> {
        Schedule { interval_nanos: 1e9 / rate.max(1e-9), jitter, next: 0, rng }
    }

    /// The index and intended time of the next arrival.
    pub(crate) fn next_arrival(&mut self) -> (u64, Duration) {
        let k = self.next;
        self.next += 1;
        let offset = if self.jitter { self.rng.random::<f64>() } else { 0.0 };
        let nanos = (k as f64 + offset) * self.interval_nanos;
        (k, Duration::from_nanos(nanos as u64))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_rate_is_exact_and_each_arrival_stays_in_its_slot() {
        let mut schedule = Schedule::new(1_000.0, true, StdRng::seed_from_u64(7));
        let mut last = Duration::ZERO;
        let mut in_first_second = 0;
        for k in 0..5_000u64 {
            let (index, at) = schedule.next_arrival();
            assert_eq!(index, k);
            assert!(at >= Duration::from_micros(k * 1_000));
            assert!(at < Duration::from_micros((k + 1) * 1_000));
            assert!(at >= last, "arrivals are in order");
            last = at;
            if at < Duration::from_secs(1) {
                in_first_second += 1;
            }
        }
        assert_eq!(in_first_second, 1_000);
    }

    #[test]
    fn the_jitter_spreads_arrivals_within_their_slots() {
        let mut schedule = Schedule::new(10.0, true, StdRng::seed_from_u64(1));
        let offsets: Vec<u64> =
            (0..200).map(|k| schedule.next_arrival().1.as_millis() as u64 - k * 100).collect();
        assert!(offsets.iter().any(|o| *o < 25));
        assert!(offsets.iter().any(|o| *o > 75));
        let mut steady = Schedule::new(10.0, false, StdRng::seed_from_u64(1));
        assert_eq!(steady.next_arrival().1, Duration::ZERO);
        assert_eq!(steady.next_arrival().1, Duration::from_millis(100));
    }
}
