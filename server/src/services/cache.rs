//! What the server keeps between requests so that an agent's request does not read the database
//! each time: each workstation's row (its identity, checked on every request), the OWA address of
//! each office, and whether a workstation has rotations to fetch. Each is a [`Bounded`] map: at
//! most so many entries, each good for a time to live at most (a missed invalidation heals by
//! itself), and dropped at once when a service changes what it holds ([`Services::changed`]):
//! locally, and on every other server sharing the database through the store's change notices
//! ([`Services::run_change_listener`]). While a server does not hear the notices (PostgreSQL,
//! before its listener is up or after it lost its connection), its caches answer nothing and
//! every request reads the database, as without a cache.
//!
//! Two rules keep a cache from changing an answer: the cached row serves only an active
//! workstation presenting its current, confirmed certificate (anything else is decided on the row
//! read now, so the fork rule sees what it would see without a cache), and the pending flag is
//! never `false` while `GetPendingRotations` would deliver something: "nothing to fetch" is kept
//! only until the workstation's next periodic due date.

mod bounded;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use time::{Duration, OffsetDateTime};

pub(crate) use self::bounded::{Bounded, Ticket};
use crate::domain::office::Crpcen;
use crate::domain::rotation::PendingRotations;
use crate::domain::workstation::Workstation;
use crate::services::settings::OwaUrlSetting;
use crate::services::{Error, Services};
use crate::store::Change;

/// The caches' sizes and time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Workstations kept (their identity and their pending flag each); 0 turns every cache off.
    pub workstations: usize,
    /// How long an entry is trusted at most without a change notice.
    pub ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> CacheSettings {
        CacheSettings { workstations: 1_000_000, ttl: Duration::seconds(60) }
    }
}

/// Offices whose OWA address is kept (the global one counts as one).
const OFFICES: usize = 100_000;
/// Compliance charts kept (one per scope asked: the fleet, an office, an administrator's offices).
const TRENDS: usize = 1_024;
/// How old a kept compliance chart may be.
pub(crate) const TREND_TTL: Duration = Duration::minutes(5);
/// How old a kept fleet overview may be.
pub const OVERVIEW_TTL: Duration = Duration::seconds(30);

/// The server's caches.
#[derive(Debug)]
pub struct Caches {
    /// Workstation rows by id.
    pub(crate) identity: Bounded<Arc<Workstation>>,
    /// OWA addresses by office (`""`: the global one alone).
    pub(crate) owa: Bounded<OwaUrlSetting>,
    /// Whether workstations have rotations to fetch.
    pub(crate) pending: PendingCache,
    /// The dashboard's compliance charts, by scope: history that only grows, so no notice drops
    /// them; they are at most [`TREND_TTL`] old (the dashboard draws today's point from the
    /// report it shows).
    pub(crate) trends: Bounded<Arc<Vec<crate::domain::compliance::TrendPoint>>>,
    /// The dashboard's fleet overviews, by scope: dropped by every change this server makes or
    /// hears, and at most [`OVERVIEW_TTL`] old (deadlines passing send no notice).
    pub(crate) overviews: Bounded<Arc<crate::services::compliance::Overview>>,
    /// Whether the caches may answer: always on a database this server has alone, only while the
    /// change notices are heard on a shared one; never when turned off.
    live: AtomicBool,
    /// Whether the caches are on (`CacheSettings::workstations` is not 0).
    enabled: bool,
}

impl Caches {
    /// Empty caches; `shared`: the database is shared, so they answer only once
    /// [`Services::run_change_listener`] hears the change notices.
    pub fn new(settings: CacheSettings, shared: bool) -> Caches {
        Caches {
            identity: Bounded::new(settings.workstations, settings.ttl),
            owa: Bounded::new(OFFICES, settings.ttl),
            pending: PendingCache::new(settings.workstations, settings.ttl),
            trends: Bounded::new(TRENDS, TREND_TTL),
            overviews: Bounded::new(TRENDS, OVERVIEW_TTL),
            live: AtomicBool::new(!shared && settings.workstations > 0),
            enabled: settings.workstations > 0,
        }
    }

    /// Whether the caches are on (`[agents] cache_workstations` is not 0).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the caches may answer now.
    pub(crate) fn live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Drops what `change` makes stale.
    pub fn apply(&self, change: &Change) {
        // Any change may move a count of the overview.
        self.overviews.clear();
        match change {
            Change::Workstation(id) => {
                self.identity.remove(id.as_str());
                self.pending.map.remove(id.as_str());
            }
            Change::Rotations(office) => self.pending.invalidate_office(office),
            Change::AllRotations => self.pending.map.clear(),
            Change::OwaUrl => self.owa.clear(),
            Change::Everything => self.clear(),
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.identity.clear();
        self.owa.clear();
        self.pending.map.clear();
        self.overviews.clear();
    }

    /// Stops (`false`, clearing everything) or starts answering.
    fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.clear();
        if live && self.enabled {
            self.live.store(true, Ordering::Release);
        }
    }
}

/// Whether each workstation has rotations to fetch, as last read, invalidated per workstation,
/// per office or all at once.
pub(crate) struct PendingCache {
    map: Bounded<PendingEntry>,
    /// Bumped by every office invalidation.
    seq: AtomicU64,
    /// The `seq` of each office's last invalidation.
    offices: RwLock<HashMap<String, u64>>,
}

impl std::fmt::Debug for PendingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCache").field("map", &self.map).finish()
    }
}

/// A workstation's pending flag, as read.
#[derive(Debug, Clone)]
struct PendingEntry {
    office: Crpcen,
    /// `seq` before the read: an office invalidation after it makes the entry stale.
    seq: u64,
    pending: PendingRotations,
}

/// Taken before reading a pending flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingTicket {
    map: Ticket,
    seq: u64,
}

impl PendingCache {
    fn new(capacity: usize, ttl: Duration) -> PendingCache {
        PendingCache {
            map: Bounded::new(capacity, ttl),
            seq: AtomicU64::new(0),
            offices: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn ticket(&self) -> PendingTicket {
        PendingTicket { map: self.map.ticket(), seq: self.seq.load(Ordering::Acquire) }
    }

    /// Whether the workstation has rotations to fetch `now`, if known.
    pub(crate) fn get(&self, workstation: &str, now: OffsetDateTime) -> Option<bool> {
        let entry = self.map.get(workstation, now)?;
        let invalidated = self
            .offices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(entry.office.as_str())
            .copied()
            .unwrap_or(0);
        if invalidated > entry.seq {
            return None;
        }
        match entry.pending {
            PendingRotations { now: true, .. } => Some(true),
            PendingRotations { next_due: Some(due), .. } if due <= now => None,
            PendingRotations { .. } => Some(false),
        }
    }

    pub(crate) fn insert(
        &self,
        workstation: &str,
        office: &Crpcen,
        pending: PendingRotations,
        read_at: OffsetDateTime,
        ticket: PendingTicket,
    ) {
        let entry = PendingEntry { office: office.clone(), seq: ticket.seq, pending };
        self.map.insert(workstation.to_owned(), entry, read_at, ticket.map);
    }

    fn invalidate_office(&self, office: &Crpcen) {
        let mut offices = self.offices.write().unwrap_or_else(PoisonError::into_inner);
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        offices.insert(office.as_str().to_owned(), seq);
    }
}

/// How long to wait before listening again after the listener failed.
const RELISTEN_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

impl Services {
    /// Drops what `change` made stale from this server's caches, then tells the other servers
    /// sharing the database. Called by every service after a change it made succeeded. A notice
    /// that cannot be sent is logged: the other servers' entries then live out their time to live.
    pub(crate) async fn changed(&self, change: Change) {
        self.caches.apply(&change);
        if self.store.shares_changes()
            && let Err(error) = self.store.notify_changed(&change).await
        {
            tracing::warn!(error = %sesame_base::error_chain::chain(&error), change = %change.payload(), "cannot announce a change to the other servers");
        }
    }

    /// Listens to the change notices of every server sharing the database, forever, dropping
    /// what each makes stale; the server spawns it and aborts it at shutdown. The caches answer
    /// only while the notices are heard: when the connection is lost they are cleared and stop
    /// answering until it is back (notices may have been missed). Returns at once on a database
    /// this server has alone.
    pub async fn run_change_listener(self: Arc<Self>) {
        if !self.store.shares_changes() {
            return;
        }
        loop {
            match self.store.listen_changes().await {
                Ok(Some(mut feed)) => {
                    self.caches.set_live(true);
                    tracing::debug!("listening to change notices");
                    loop {
                        match feed.next().await {
                            Ok(Some(change)) => self.caches.apply(&change),
                            Ok(None) => {
                                self.caches.set_live(false);
                                tracing::warn!(
                                    "change notices lost: caches off until listening again"
                                );
                                break;
                            }
                            Err(error) => {
                                self.caches.set_live(false);
                                tracing::warn!(error = %sesame_base::error_chain::chain(&error), "change notices lost: caches off until listening again");
                                break;
                            }
                        }
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    self.caches.set_live(false);
                    tracing::warn!(error = %sesame_base::error_chain::chain(&error), "cannot listen to change notices: caches off");
                }
            }
            tokio::time::sleep(RELISTEN_DELAY).await;
        }
    }

    /// Whether the workstation would be given anything by `GetPendingRotations` now: from the
    /// cache, else read (and kept). Never `false` while something is pending, short of a missed
    /// change notice (for the time to live at most).
    pub async fn rotations_pending(&self, workstation: &Workstation) -> Result<bool, Error> {
        let now = self.clock.now();
        let live = self.caches.live();
        if live && let Some(pending) = self.caches.pending.get(workstation.id.as_str(), now) {
            return Ok(pending);
        }
        let ticket = self.caches.pending.ticket();
        let pending = self.store.pending_rotations(&workstation.id, now).await?;
        if live {
            self.caches.pending.insert(
                workstation.id.as_str(),
                &workstation.office,
                pending,
                now,
                ticket,
            );
        }
        Ok(pending.now)
    }
}

#[cfg(test)]
mod tests;
