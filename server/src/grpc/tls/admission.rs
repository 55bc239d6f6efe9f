//! Admission of TCP connections to a TLS handshake: at most a few handshakes in progress per source
//! address and a bounded number overall, decided at once so that the accept loop never waits.
//!
//! When every slot is taken, the newest handshake of the most crowded address gives way to a
//! connection from a less crowded one; a connection from the crowding address itself is refused.
//! A silent or slow client therefore only ever delays its own address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// Why a connection was not admitted to a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its address already has the most handshakes in progress an address may have.
    AddressFull,
    /// Every slot is taken and no address is more crowded than this one.
    Full,
}

/// What happened at the edge since the last [`Admission::take_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Connections closed at once because their address had its share.
    pub(crate) refused_address_full: u64,
    /// Connections closed at once because every slot was taken.
    pub(crate) refused_full: u64,
    /// Handshakes in progress ended to make room for a less crowded address.
    pub(crate) evicted: u64,
    /// Handshakes that did not complete in time.
    pub(crate) timed_out: u64,
}

impl Counts {
    /// Whether nothing happened.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// The handshakes in progress, per source address.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    state: Arc<Mutex<State>>,
    per_address: usize,
    total: usize,
}

/// A handshake's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Ticket {
    state: Arc<Mutex<State>>,
    source: IpAddr,
    id: u64,
}

/// Resolves (with an error) when the handshake holding the matching [`Ticket`] must give way.
pub(crate) type Evicted = oneshot::Receiver<()>;

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    in_progress: usize,
    /// Oldest first; dropping a sender tells its handshake to give way.
    by_source: HashMap<IpAddr, Vec<(u64, oneshot::Sender<()>)>>,
    counts: Counts,
}

impl Admission {
    /// Admits at most `per_address` handshakes per source address and `total` overall.
    pub(crate) fn new(per_address: usize, total: usize) -> Admission {
        Admission { state: Arc::default(), per_address, total }
    }

    /// Admits a connection from `remote` to a handshake, or says why not. Never waits.
    pub(crate) fn admit(&self, remote: IpAddr) -> Result<(Ticket, Evicted), Refused> {
        let source = source_of(remote);
        let mut state = lock(&self.state);
        let own = state.by_source.get(&source).map_or(0, Vec::len);
        if own >= self.per_address {
            state.counts.refused_address_full += 1;
            return Err(Refused::AddressFull);
        }
        if state.in_progress >= self.total && !state.evict_newest_of_most_crowded(own) {
            state.counts.refused_full += 1;
            return Err(Refused::Full);
        }
        let id = state.next_id;
        state.next_id += 1;
        state.in_progress += 1;
        let (tx, rx) = oneshot::channel();
        state.by_source.entry(source).or_default().push((id, tx));
        Ok((Ticket { state: self.state.clone(), source, id }, rx))
    }

    /// Counts a handshake that did not complete in time.
    pub(crate) fn count_timeout(&self) {
        lock(&self.state).counts.timed_out += 1;
    }

    /// What happened since the last call, and the handshakes in progress now.
    pub(crate) fn take_counts(&self) -> (Counts, usize) {
        let mut state = lock(&self.state);
        (std::mem::take(&mut state.counts), state.in_progress)
    }
}

impl State {
    /// Ends the newest handshake of the address with the most in progress, if it has more than
    /// `own`. Returns whether one was ended.
    fn evict_newest_of_most_crowded(&mut self, own: usize) -> bool {
        let Some((&source, _)) = self
            .by_source
            .iter()
            .filter(|(_, pending)| pending.len() > own)
            .max_by_key(|(_, p)| p.len())
        else {
            return false;
        };
        self.remove(source, None);
        self.counts.evicted += 1;
        true
    }

    /// Removes handshake `id` of `source` (its newest when `None`), if it is still there.
    fn remove(&mut self, source: IpAddr, id: Option<u64>) {
        let Some(pending) = self.by_source.get_mut(&source) else { return };
        let index = match id {
            Some(id) => pending.iter().position(|(i, _)| *i == id),
            None => pending.len().checked_sub(1),
        };
        if let Some(index) = index {
            // Dropping the sender tells the handshake to give way.
            pending.remove(index);
            self.in_progress -= 1;
        }
        if pending.is_empty() {
            self.by_source.remove(&source);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.state).remove(self.source, Some(self.id));
    }
}

/// The unit of accounting: an IPv4 address, or an IPv6 /64 (what one host or site is given).
fn source_of(remote: IpAddr) -> IpAddr {
    match remote {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// The state stays consistent under every panic (no code between its updates can panic), so a
/// poisoned lock is taken over.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_share_and_no_more() {
        let admission = Admission::new(2, 10);
        let first = admission.admit(ip("10.0.0.1")).unwrap();
        let _second = admission.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(admission.admit(ip("10.0.0.1")).unwrap_err(), Refused::AddressFull);
        assert!(admission.admit(ip("10.0.0.2")).is_ok(), "another address is not held up");
        drop(first);
        let _third = admission.admit(ip("10.0.0.1")).expect("a finished handshake frees its slot");
        let (counts, in_progress) = admission.take_counts();
        assert_eq!(counts.refused_address_full, 1);
        assert_eq!(in_progress, 2, "the tickets dropped at once are no longer counted");
        assert!(admission.take_counts().0.is_empty(), "counts are taken once");
    }

    #[test]
    fn when_full_the_newest_of_the_crowding_address_gives_way() {
        let admission = Admission::new(3, 4);
        let (_a1, mut a1_evicted) = admission.admit(ip("10.0.0.1")).unwrap();
        let (_a2, mut a2_evicted) = admission.admit(ip("10.0.0.1")).unwrap();
        let (_a3, mut a3_evicted) = admission.admit(ip("10.0.0.1")).unwrap();
        let (_b1, _) = admission.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(admission.take_counts().1, 4);

        let (_c1, _) = admission.admit(ip("10.0.0.3")).unwrap();
        assert!(a3_evicted.try_recv().is_err(), "the newest of 10.0.0.1 is told to give way");
        assert_eq!(a2_evicted.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        assert_eq!(a1_evicted.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        let (counts, in_progress) = admission.take_counts();
        assert_eq!((counts.evicted, in_progress), (1, 4));

        // 10.0.0.1 (2) is still the most crowded: 10.0.0.2 (1) gets a slot from it.
        let (_b2, _) = admission.admit(ip("10.0.0.2")).unwrap();
        assert!(a2_evicted.try_recv().is_err());
        // Now no address has more than 10.0.0.2's two: its third is refused, not anyone else's.
        assert_eq!(admission.admit(ip("10.0.0.2")).unwrap_err(), Refused::Full);
        assert_eq!(a1_evicted.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        let (counts, in_progress) = admission.take_counts();
        assert_eq!((counts.evicted, counts.refused_full, in_progress), (1, 1, 4));
    }

    #[test]
    fn an_evicted_ticket_dropped_later_frees_nothing_twice() {
        let admission = Admission::new(2, 2);
        let (a1, _) = admission.admit(ip("10.0.0.1")).unwrap();
        let (a2, _) = admission.admit(ip("10.0.0.1")).unwrap();
        let (b1, _) = admission.admit(ip("10.0.0.2")).unwrap();
        drop(a2);
        assert_eq!(admission.take_counts().1, 2);
        drop(a1);
        drop(b1);
        assert_eq!(admission.take_counts().1, 0);
        assert!(lock(&admission.state).by_source.is_empty(), "no empty entry is kept");
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let admission = Admission::new(1, 10);
        let _a = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(admission.admit(ip("2001:db8:1:2::ffff")).unwrap_err(), Refused::AddressFull);
        assert!(admission.admit(ip("2001:db8:1:3::1")).is_ok());
        let _b = admission.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(admission.admit(ip("::ffff:192.0.2.7")).unwrap_err(), Refused::AddressFull);
    }
}
