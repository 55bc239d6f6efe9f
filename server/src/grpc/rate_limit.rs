//! A per-source-address token bucket for the unauthenticated agent RPCs (enrollment, recovery).
//!
//! It lives in each server's memory: with N servers behind a load balancer an address gets N times
//! the rate, which still bounds guessing. It is the one piece of in-memory state, and no other
//! server needs it. Time comes from the server's clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Most addresses remembered; past it, addresses whose bucket is full again are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Allows `burst` attempts at once per address, refilled at `per_minute`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, OffsetDateTime)>>,
}

impl RateLimiter {
    pub(crate) fn new(burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `address` at `now`; false when none is left.
    pub(crate) fn allow(&self, address: IpAddr, now: OffsetDateTime) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + (now - *at).as_seconds_f64().max(0.0) * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(address).or_insert((self.burst, now));
        let refilled =
            (*tokens + (now - *at).as_seconds_f64().max(0.0) * self.per_second).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            true
        } else {
            *tokens = refilled;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn bursts_then_refills_per_address() {
        let limiter = RateLimiter::new(3, 6);
        let t = datetime!(2026-11-25 10:00 UTC);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, t)));
        assert!(!limiter.allow(a, t));
        assert!(limiter.allow(b, t), "another address has its own bucket");
        assert!(!limiter.allow(a, t + Duration::seconds(5)));
        assert!(limiter.allow(a, t + Duration::seconds(11)), "6 per minute: one every 10 s");
    }
}
