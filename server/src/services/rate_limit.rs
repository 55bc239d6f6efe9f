//! A token bucket per key, in bounded memory: per source address for the unauthenticated agent
//! RPCs (enrollment, recovery, `grpc::agent`), and per account and per address for the failed web
//! sign-ins (`services::web_access`).
//!
//! It lives in each server's memory: with N servers behind a load balancer a key gets N times
//! the rate, which still bounds guessing. No other server needs it. Time comes from the server's
//! clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Most keys (addresses) remembered. Past it, keys whose bucket is full again are forgotten; when
/// every remembered key is still refilling (thousands of keys at once), newcomers share one
/// overflow bucket until some are forgotten, so the map never holds more than this.
const MAX_TRACKED: usize = 10_000;

/// Tokens left and when they were counted.
type Bucket = (f64, OffsetDateTime);

#[derive(Debug)]
struct Buckets<K> {
    by_address: HashMap<K, Bucket>,
    /// Shared by the addresses that found the map full.
    overflow: Option<Bucket>,
    /// When the map was last pruned: at most once a second, so that a full map does not cost a
    /// pass over every address on every attempt.
    pruned_at: Option<OffsetDateTime>,
}

/// Allows `burst` attempts at once per key (an address by default), refilled at `per_minute`.
#[derive(Debug)]
pub(crate) struct RateLimiter<K = IpAddr> {
    burst: f64,
    per_second: f64,
    buckets: Mutex<Buckets<K>>,
}

impl<K: Eq + Hash> RateLimiter<K> {
    pub(crate) fn new(burst: u32, per_minute: u32) -> RateLimiter<K> {
        RateLimiter::with_rate(burst, f64::from(per_minute) / 60.0)
    }

    /// Allows `burst` attempts at once, refilled to `burst` over `period`.
    pub(crate) fn refilled_over(burst: u32, period: time::Duration) -> RateLimiter<K> {
        let seconds = period.as_seconds_f64().max(1.0);
        RateLimiter::with_rate(burst, f64::from(burst.max(1)) / seconds)
    }

    fn with_rate(burst: u32, per_second: f64) -> RateLimiter<K> {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second,
            buckets: Mutex::new(Buckets {
                by_address: HashMap::new(),
                overflow: None,
                pruned_at: None,
            }),
        }
    }

    /// Whether `address` has an attempt left at `now`, without taking it.
    pub(crate) fn has_room(&self, address: &K, now: OffsetDateTime) -> bool {
        let buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = match buckets.by_address.get(address) {
            Some(bucket) => Some(bucket),
            None if buckets.by_address.len() >= MAX_TRACKED => buckets.overflow.as_ref(),
            None => None,
        };
        bucket.is_none_or(|(tokens, at)| {
            (*tokens + (now - *at).as_seconds_f64().max(0.0) * self.per_second).min(self.burst)
                >= 1.0
        })
    }

    /// Takes one attempt for `address` at `now`; false when none is left.
    pub(crate) fn allow(&self, address: K, now: OffsetDateTime) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Buckets { by_address, overflow, pruned_at } = &mut *buckets;
        let (burst, rate) = (self.burst, self.per_second);
        if by_address.len() >= MAX_TRACKED
            && !by_address.contains_key(&address)
            && pruned_at.is_none_or(|at| now - at >= time::Duration::SECOND)
        {
            *pruned_at = Some(now);
            by_address.retain(|_, (tokens, at)| {
                *tokens + (now - *at).as_seconds_f64().max(0.0) * rate < burst
            });
        }
        let bucket = if by_address.len() < MAX_TRACKED || by_address.contains_key(&address) {
            by_address.entry(address).or_insert((burst, now))
        } else {
            overflow.get_or_insert((burst, now))
        };
        let (tokens, at) = bucket;
        let refilled = (*tokens + (now - *at).as_seconds_f64().max(0.0) * rate).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            true
        } else {
            *tokens = refilled;
            false
        }
    }

    /// How many addresses are remembered.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_address.len()
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn bursts_then_refills_per_address() {
        let limiter: RateLimiter = RateLimiter::new(3, 6);
        let t = datetime!(2026-11-25 10:00 UTC);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, t)));
        assert!(!limiter.allow(a, t));
        assert!(limiter.allow(b, t), "another address has its own bucket");
        assert!(!limiter.allow(a, t + Duration::seconds(5)));
        assert!(limiter.allow(a, t + Duration::seconds(11)), "6 per minute: one every 10 s");
    }

    #[test]
    fn room_is_looked_at_without_taking_it() {
        let limiter: RateLimiter<String> =
            RateLimiter::refilled_over(2, time::Duration::minutes(10));
        let t = datetime!(2026-11-25 10:00 UTC);
        let key = "marie".to_owned();
        assert!((0..5).all(|_| limiter.has_room(&key, t)), "looking takes nothing");
        assert!(limiter.allow(key.clone(), t) && limiter.allow(key.clone(), t));
        assert!(!limiter.has_room(&key, t));
        assert!(limiter.has_room(&"paul".to_owned(), t));
        assert!(!limiter.has_room(&key, t + Duration::minutes(4)));
        assert!(limiter.has_room(&key, t + Duration::minutes(5)), "two per ten minutes");
    }

    #[test]
    fn remembers_a_bounded_number_of_addresses() {
        let limiter: RateLimiter = RateLimiter::new(2, 6);
        let t = datetime!(2026-11-25 10:00 UTC);
        let address = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        // Twice as many addresses as remembered, all within one refill: none can be forgotten.
        for i in 0..2 * MAX_TRACKED as u32 {
            limiter.allow(address(i), t);
            assert!(limiter.tracked() <= MAX_TRACKED);
        }
        assert_eq!(limiter.tracked(), MAX_TRACKED);
        assert!(!limiter.allow(address(3 * MAX_TRACKED as u32), t), "newcomers share one bucket");
        assert!(limiter.allow(address(0), t), "a remembered address keeps its own bucket");
        // Once their buckets are full again, remembered addresses give way to newcomers.
        let later = t + Duration::minutes(1);
        let newcomer = address(4 * MAX_TRACKED as u32);
        assert!(limiter.allow(newcomer, later) && limiter.allow(newcomer, later));
        assert!(!limiter.allow(newcomer, later), "the newcomer has a bucket of its own");
        assert_eq!(limiter.tracked(), 1);
    }
}
