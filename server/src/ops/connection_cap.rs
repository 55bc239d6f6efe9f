//! [`ConnectionCap`]: the most connections one listener holds at once, decided in its accept loop
//! without waiting: a connection over the cap is closed at once and counted
//! (`sesame_listener_connections_refused_total`), never queued. Each listener (gRPC, operations)
//! has its own, sized by `descriptors::ListenerCaps`, so that none can take the descriptors
//! another needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::metrics::{ListenerMetrics, Metrics};

/// One listener's cap and counts. Clones share them.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionCap {
    permits: Arc<Semaphore>,
    max: usize,
    metrics: ListenerMetrics,
    /// Refused since the accept loop last reported them.
    unreported: Arc<AtomicU64>,
}

/// An admitted connection's place under the cap: dropping it (with the connection) frees it.
#[derive(Debug)]
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
    metrics: ListenerMetrics,
}

impl ConnectionCap {
    /// At most `max` connections at once for `listener` (its label in the metrics).
    pub(crate) fn new(listener: &str, max: usize, metrics: &Metrics) -> ConnectionCap {
        // Within what `all_closed` can wait for at once.
        let most = usize::try_from(u32::MAX).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        let max = max.clamp(1, most);
        ConnectionCap {
            permits: Arc::new(Semaphore::new(max)),
            max,
            metrics: metrics.listener(listener, max),
            unreported: Arc::default(),
        }
    }

    /// A place for a new connection, or `None` (counted) when the listener holds its cap. Never
    /// waits.
    pub(crate) fn admit(&self) -> Option<Admitted> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                self.metrics.open.inc();
                Some(Admitted { _permit: permit, metrics: self.metrics.clone() })
            }
            Err(_) => {
                self.metrics.refused.inc();
                self.unreported.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The connections refused since the last call.
    pub(crate) fn take_refused(&self) -> u64 {
        self.unreported.swap(0, Ordering::Relaxed)
    }

    /// The cap.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Waits until every admitted connection has ended.
    pub(crate) async fn all_closed(&self) {
        let max = u32::try_from(self.max).unwrap_or(u32::MAX);
        let _all = self.permits.acquire_many(max).await;
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.metrics.open.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_cap_a_connection_is_refused_and_counted_until_one_ends() {
        let metrics = Metrics::new();
        let cap = ConnectionCap::new("operations", 2, &metrics);
        let first = cap.admit().unwrap();
        let _second = cap.admit().unwrap();
        assert!(cap.admit().is_none());
        assert!(cap.admit().is_none());
        assert_eq!(cap.take_refused(), 2);
        assert_eq!(cap.take_refused(), 0, "taken once");
        drop(first);
        assert!(cap.admit().is_some(), "an ended connection frees its place");
        let text = metrics.render(None, std::time::Duration::ZERO).unwrap();
        for line in [
            "sesame_listener_connections{listener=\"operations\"} 1",
            "sesame_listener_connections_max{listener=\"operations\"} 2",
            "sesame_listener_connections_refused_total{listener=\"operations\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
