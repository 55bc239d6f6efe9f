//! Change notices between the servers that share one database: what a server's caches must drop
//! after another server changed something ([`Change`]), how a notice is written on the wire (the
//! payload of PostgreSQL's `NOTIFY sesame_cache`), and the feed a server listens to
//! ([`ChangeFeed`]). On PostgreSQL the feed is `LISTEN sesame_cache` on a connection of its own;
//! SQLite has one server, which drops its entries itself, so it has no feed. [`ChangeStore`] is
//! what the rest of the server calls; it is implemented here once for both databases, on `Db<D>`.

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::postgres::PgListener;

use super::Error;
use super::db::Db;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::Crpcen;

/// The PostgreSQL channel change notices travel on.
pub(super) const CHANNEL: &str = "sesame_cache";

/// What changed, as far as a cache cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One workstation's row (status, certificate, office) or its assignments.
    Workstation(WorkstationId),
    /// The rotations an office's workstations have to fetch (a rotation opened or closed, an
    /// assignment changed).
    Rotations(Crpcen),
    /// The rotations of every office (a compliance policy changed, rotations expired).
    AllRotations,
    /// The OWA address, global or of an office.
    OwaUrl,
    /// Anything: every cached entry.
    Everything,
}

impl Change {
    /// The notice's text (at most a few dozen bytes; PostgreSQL allows 8000).
    pub fn payload(&self) -> String {
        match self {
            Change::Workstation(id) => format!("workstation:{}", id.as_str()),
            Change::Rotations(office) => format!("rotations:{}", office.as_str()),
            Change::AllRotations => "rotations".to_owned(),
            Change::OwaUrl => "owa_url".to_owned(),
            Change::Everything => "all".to_owned(),
        }
    }

    /// Reads a notice's text; anything unknown (a newer server's notice) means
    /// [`Change::Everything`], which is always safe.
    pub fn from_payload(payload: &str) -> Change {
        let parsed = match payload.split_once(':') {
            Some(("workstation", id)) if !id.is_empty() => {
                WorkstationId::parse("workstation", id).ok().map(Change::Workstation)
            }
            Some(("rotations", office)) => Crpcen::parse(office).ok().map(Change::Rotations),
            None if payload == "rotations" => Some(Change::AllRotations),
            None if payload == "owa_url" => Some(Change::OwaUrl),
            _ => None,
        };
        parsed.unwrap_or(Change::Everything)
    }
}

/// The changes announced by every server sharing the database, this one included.
#[async_trait]
pub trait ChangeFeed: Send + std::fmt::Debug {
    /// The next change announced. `Ok(None)` when the connection was lost, so that changes may
    /// have been missed: the caller drops everything it caches; the next call reconnects.
    async fn next(&mut self) -> Result<Option<Change>, Error>;
}

/// Change notices between the servers sharing the database; a part of [`Store`](super::Store).
/// What differs between the databases is the [`Dialect`](super::dialect::Dialect)'s.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Whether other servers may share the database (PostgreSQL), so that what a server caches
    /// is only sound while it hears their notices.
    fn shares_changes(&self) -> bool;

    /// Tells every server listening (this one included) that something changed; nothing on
    /// SQLite.
    async fn notify_changed(&self, change: &Change) -> Result<(), Error>;

    /// The notices of every server, on a connection of its own; `None` on SQLite (one server).
    async fn listen_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, Error>;
}

#[sql_impl]
impl<D> ChangeStore for Db<D> {
    fn shares_changes(&self) -> bool {
        D::SHARED
    }

    async fn notify_changed(&self, change: &Change) -> Result<(), Error> {
        D::notify_changed(self.writer(), &change.payload()).await
    }

    async fn listen_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, Error> {
        D::listen_changes(self.writer()).await
    }
}

/// `LISTEN sesame_cache` on a connection of its own.
#[derive(Debug)]
pub(super) struct PgFeed(pub(super) PgListener);

#[async_trait]
impl ChangeFeed for PgFeed {
    async fn next(&mut self) -> Result<Option<Change>, Error> {
        Ok(self.0.try_recv().await?.map(|n| Change::from_payload(n.payload())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back_and_unknown_ones_mean_everything() {
        let changes = [
            Change::Workstation(WorkstationId::parse("id", "ws-0123456789abcdef").unwrap()),
            Change::Rotations(Crpcen::parse("12345").unwrap()),
            Change::AllRotations,
            Change::OwaUrl,
            Change::Everything,
        ];
        for change in changes {
            assert_eq!(Change::from_payload(&change.payload()), change);
        }
        for odd in ["", "workstation:", "rotations:abc", "future:thing", "owa_url:x"] {
            assert_eq!(Change::from_payload(odd), Change::Everything, "{odd}");
        }
    }
}
