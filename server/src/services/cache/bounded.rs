//! [`Bounded`]: the map every cache of the server is made of: bounded (least recently used out
//! first), each entry good for a time to live at most, split in shards behind their own locks,
//! and safe against the race between a read from the database and an invalidation (the
//! [`Ticket`] taken before the read).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashlink::LruCache;
use time::{Duration, OffsetDateTime};

/// Shards, each behind its own lock.
const SHARDS: usize = 16;

/// Taken before reading what will be cached: an entry read before an invalidation that ended
/// after the ticket was taken is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

/// One cached value and when it was read.
#[derive(Debug)]
struct Slot<V> {
    value: V,
    read_at: OffsetDateTime,
}

/// One shard: its keys, least recently used first.
type Shard<V> = Mutex<LruCache<String, Slot<V>>>;

/// A bounded map from text keys to values, each kept for at most `ttl`.
pub(crate) struct Bounded<V> {
    shards: Box<[Shard<V>]>,
    /// Bumped (under the shard's lock) by every removal and clearing.
    epoch: AtomicU64,
    ttl: Duration,
}

impl<V: Clone> std::fmt::Debug for Bounded<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded").field("len", &self.len()).field("ttl", &self.ttl).finish()
    }
}

impl<V: Clone> Bounded<V> {
    /// A map of at most `capacity` entries (at least one per shard), each good for `ttl`.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Bounded<V> {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS).map(|_| Mutex::new(LruCache::new(per_shard))).collect();
        Bounded { shards, epoch: AtomicU64::new(0), ttl }
    }

    /// Take before reading a value to [`insert`](Self::insert).
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
    }

    /// The value under `key`, if read less than the time to live before `now`.
    pub(crate) fn get(&self, key: &str, now: OffsetDateTime) -> Option<V> {
        let mut shard = self.shard(key);
        let fresh = match shard.get(key) {
            None => return None,
            Some(slot) => now >= slot.read_at && now - slot.read_at < self.ttl,
        };
        if fresh {
            shard.get(key).map(|slot| slot.value.clone())
        } else {
            shard.remove(key);
            None
        }
    }

    /// Keeps `value`, read at `read_at` after `ticket` was taken, unless something was removed
    /// since: then it may be older than the removal and is dropped.
    pub(crate) fn insert(&self, key: String, value: V, read_at: OffsetDateTime, ticket: Ticket) {
        let mut shard = self.shard(&key);
        if self.epoch.load(Ordering::Acquire) == ticket.0 {
            shard.insert(key, Slot { value, read_at });
        }
    }

    /// Drops the entry under `key`, and any value being read for the map.
    pub(crate) fn remove(&self, key: &str) {
        let mut shard = self.shard(key);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        shard.remove(key);
    }

    /// Drops everything, and any value being read for the map.
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// How many entries are kept (expired ones included until they are next looked up).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, LruCache<String, Slot<V>>> {
        // FNV-1a: keys are ids the server issued, an even spread needs no keyed hash.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let index = usize::try_from(hash % SHARDS as u64).unwrap_or(0);
        lock(&self.shards[index])
    }
}

/// A shard's lock; a panic while it was held leaves a map that is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn entries_live_for_the_ttl_and_the_capacity_holds() {
        let map: Bounded<u32> = Bounded::new(SHARDS, Duration::seconds(60));
        let ticket = map.ticket();
        map.insert("a".into(), 1, T0, ticket);
        assert_eq!(map.get("a", T0 + Duration::seconds(59)), Some(1));
        assert_eq!(map.get("a", T0 + Duration::seconds(60)), None);
        assert_eq!(map.get("a", T0), None, "an expired entry is gone");
        for i in 0..1000 {
            map.insert(format!("k{i}"), i, T0, map.ticket());
        }
        assert!(map.len() <= SHARDS, "{}", map.len());
    }

    #[test]
    fn a_value_read_before_a_removal_is_not_kept() {
        let map: Bounded<u32> = Bounded::new(100, Duration::seconds(60));
        let ticket = map.ticket();
        map.remove("other");
        map.insert("a".into(), 1, T0, ticket);
        assert_eq!(map.get("a", T0), None);
        let ticket = map.ticket();
        map.insert("a".into(), 2, T0, ticket);
        map.clear();
        assert_eq!(map.get("a", T0), None);
        let ticket = map.ticket();
        map.insert("a".into(), 3, T0, ticket);
        assert_eq!(map.get("a", T0), Some(3));
        map.remove("a");
        assert_eq!(map.get("a", T0), None);
    }
}
