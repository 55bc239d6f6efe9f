//! The process's file descriptors: the soft `RLIMIT_NOFILE` raised to the hard limit at start
//! ([`raise_limit`]), and what that limit allows shared out between the listeners
//! ([`ListenerCaps`]), so that no listener can take the descriptors another needs.
//!
//! Every connection a listener holds is a descriptor. A reserve is kept for everything else (the
//! database pool, the data directory's files, logs, the listening sockets themselves), the
//! operations endpoint gets a small cap of its own, and the gRPC endpoint, which agents keep
//! connected, gets the rest. A listener at its cap closes newcomers at once: it never takes a
//! descriptor from the reserve or from the other listener.

use crate::config::Config;

/// Descriptors kept for everything but the listeners' connections: the standard streams, the
/// runtime's own (epoll, wakers), the listening sockets, the key, certificate and audit files,
/// syslog, and a margin for the moment a connection over a cap is accepted to be closed.
const RESERVED: u64 = 64;
/// What one database connection may hold: SQLite's database, WAL and shared-memory files
/// (PostgreSQL: one socket).
const PER_DATABASE_CONNECTION: u64 = 3;
/// The operations endpoint takes at most this fraction (1/N) of what the reserve leaves.
const OPERATIONS_SHARE: u64 = 8;
/// The ceiling of a cap sized from the limit, when the limit is unlimited or unknown.
const MOST: u64 = 1 << 20;

/// The soft descriptor limit before and after [`raise_limit`], and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
    /// The hard limit (the most the soft limit may be raised to without privilege).
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (the shipped systemd unit sets both with
/// `LimitNOFILE=`; most systems start services at a soft 1,024). `None` where the platform has no
/// such limit.
pub fn raise_limit() -> std::io::Result<Option<Raised>> {
    #[cfg(unix)]
    {
        let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
        let after = rlimit::increase_nofile_limit(u64::MAX)?;
        Ok(Some(Raised { before, after, hard }))
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// The soft descriptor limit in force, if the platform has one and it can be read.
pub fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The most connections each listener holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerCaps {
    /// The gRPC endpoint's (TLS handshakes and established connections).
    pub grpc: usize,
    /// The operations endpoint's.
    pub operations: usize,
    /// Whether a configured cap was lowered to fit the limit.
    pub lowered: bool,
}

impl ListenerCaps {
    /// The caps `config` asks for, within what a soft descriptor limit of `soft` allows (`None`:
    /// unknown, taken as unlimited).
    pub fn for_limit(soft: Option<u64>, config: &Config) -> ListenerCaps {
        let limit = soft.unwrap_or(MOST).min(MOST);
        let reserved = RESERVED + PER_DATABASE_CONNECTION * u64::from(config.max_connections);
        // At least one connection each, whatever the limit: a server that cannot be reached at all
        // helps nobody, and its start-up log says the limit is too low.
        let available = limit.saturating_sub(reserved).max(2);
        let operations_room = (available / OPERATIONS_SHARE).max(1);
        let operations_asked = u64::from(config.operations_max_connections);
        let operations = operations_asked.min(operations_room);
        let grpc_room = available - operations;
        let grpc_asked = config.grpc_max_connections.map(u64::from);
        let grpc = grpc_asked.unwrap_or(grpc_room).min(grpc_room);
        let lowered = operations < operations_asked || grpc_asked.is_some_and(|n| grpc < n);
        ListenerCaps { grpc: as_usize(grpc), operations: as_usize(operations), lowered }
    }

    /// The descriptors the caps and the reserve may use together, for a pool of `database`
    /// connections.
    pub fn descriptors_needed(&self, database: u32) -> u64 {
        let connections = u64::try_from(self.grpc + self.operations).unwrap_or(u64::MAX);
        RESERVED + PER_DATABASE_CONNECTION * u64::from(database) + connections
    }
}

fn as_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(grpc: Option<u32>, operations: u32) -> Config {
        Config {
            grpc_max_connections: grpc,
            operations_max_connections: operations,
            max_connections: 8,
            ..Config::default()
        }
    }

    #[test]
    fn the_caps_and_the_reserve_fit_in_the_limit() {
        for limit in [16, 100, 256, 1024, 4096, 65_536, 1_048_576] {
            for (grpc, operations) in [(None, 64), (Some(100_000), 4096), (Some(10), 1)] {
                let config = config(grpc, operations);
                let caps = ListenerCaps::for_limit(Some(limit), &config);
                assert!(caps.grpc >= 1 && caps.operations >= 1, "{limit}: {caps:?}");
                if limit >= 256 {
                    assert!(caps.descriptors_needed(8) <= limit, "{limit}: {caps:?}");
                    assert!(caps.operations as u64 <= limit / OPERATIONS_SHARE, "{caps:?}");
                }
            }
        }
    }

    #[test]
    fn the_shipped_limit_gives_a_fleet_room_and_operations_its_default() {
        let caps = ListenerCaps::for_limit(Some(1_048_576), &config(None, 64));
        assert_eq!(caps.operations, 64);
        assert_eq!(caps.grpc, 1_048_576 - 64 - 24 - 64);
        assert!(!caps.lowered);
        // The common default of 1,024 still leaves the gRPC port most of it.
        let caps = ListenerCaps::for_limit(Some(1024), &config(None, 64));
        assert_eq!((caps.grpc, caps.operations), (1024 - 88 - 64, 64));
    }

    #[test]
    fn a_configured_cap_is_kept_when_it_fits_and_lowered_when_it_does_not() {
        let caps = ListenerCaps::for_limit(Some(65_536), &config(Some(5000), 16));
        assert_eq!((caps.grpc, caps.operations, caps.lowered), (5000, 16, false));
        let caps = ListenerCaps::for_limit(Some(256), &config(Some(5000), 64));
        // 256 - 88 = 168: operations an eighth (21), gRPC the rest.
        assert_eq!((caps.grpc, caps.operations, caps.lowered), (147, 21, true));
        let unknown = ListenerCaps::for_limit(None, &config(None, 64));
        assert_eq!(unknown.grpc as u64, MOST - 88 - 64);
    }
}
