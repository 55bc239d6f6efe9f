//! Back-off with full jitter, for everything the agent retries against the server (check-ins,
//! report delivery): thousands of agents coming back together must not retry in step.

use std::time::Duration;

use rand::Rng;

/// The longest wait between attempts while the server is unreachable.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// A delay drawn uniformly from [0, min(cap, base · 2^attempt)] ("full jitter"), so that thousands
/// of agents coming back together do not retry in step.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_spreads_over_the_whole_range_and_never_exceeds_the_cap() {
        let cap = Duration::from_secs(900);
        let samples: Vec<Duration> =
            (0..2000).map(|_| backoff(30, Duration::from_secs(5), cap)).collect();
        assert!(samples.iter().all(|d| *d <= cap));
        assert!(samples.iter().any(|d| *d < cap / 4), "jitter is not clamped at the cap");
        assert!(samples.iter().any(|d| *d > cap * 3 / 4));
        assert!(backoff(0, Duration::from_secs(5), cap) <= Duration::from_secs(5));
    }
}
