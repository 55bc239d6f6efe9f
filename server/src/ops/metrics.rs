//! [`Metrics`]: the server's Prometheus metrics, kept with the `prometheus-client` crate and
//! written in its text exposition (OpenMetrics).
//!
//! Two kinds: what the process counts as it serves (RPC latency by service, method and gRPC code,
//! check-ins, each listener's connections open and refused over its cap), and gauges set at
//! scrape time from the last [`OperationsSnapshot`] the background refresh took (rotations by
//! status, mailboxes by compliance state, database connections, the check-in writer's queue and
//! last flush), with that snapshot's age. Every
//! label takes its values from a closed set: method names are checked against the contract by the
//! gRPC edge before they get here, and listeners are named by the code, so traffic cannot grow
//! the registry.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::services::operations::OperationsSnapshot;

/// The upper bounds of the RPC latency buckets, in seconds: 1 ms to the 120 s request limit.
const LATENCY_BUCKETS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// The labels of one RPC's latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    /// The gRPC service, e.g. `sesame.v1.AdminService`.
    service: String,
    /// The method, e.g. `ListOffices`, or `unknown` for a name the contract does not have.
    method: String,
    /// The gRPC status code's name, e.g. `OK`, `UNAUTHENTICATED`.
    code: String,
}

/// A rotation status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// A compliance state.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// A database connection's state: `in_use` or `idle`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabel {
    state: String,
}

/// A listener: `grpc` or `operations`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabel {
    listener: String,
}

/// One listener's connection counts, shared with its accept loop.
#[derive(Debug, Clone)]
pub(crate) struct ListenerMetrics {
    /// The connections it holds now.
    pub(crate) open: Gauge,
    /// The connections it closed at once because it held its cap.
    pub(crate) refused: Counter,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// The gRPC listener's completed TLS handshakes, shared with its handshake tasks.
#[derive(Debug, Clone)]
pub(crate) struct HandshakeMetrics {
    /// Full handshakes: a certificate chain sent and a signature made.
    pub(crate) full: Counter,
    /// Sessions resumed from a ticket.
    pub(crate) resumed: Counter,
}

/// A latency histogram with [`LATENCY_BUCKETS`].
fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The server's metrics. One per process, shared by the gRPC edge (which counts) and the
/// operations endpoint (which sets the scrape-time gauges and writes them all out).
pub(crate) struct Metrics {
    registry: Registry,
    rpc_duration: Family<RpcLabels, Histogram, fn() -> Histogram>,
    check_ins: Counter,
    database_up: Gauge,
    rotations: Family<StatusLabel, Gauge>,
    mailboxes: Family<StateLabel, Gauge>,
    connections: Family<ConnectionLabel, Gauge>,
    connections_max: Gauge,
    listener_open: Family<ListenerLabel, Gauge>,
    listener_max: Family<ListenerLabel, Gauge>,
    listener_refused: Family<ListenerLabel, Counter>,
    tls_handshakes: Family<KindLabel, Counter>,
    snapshot_age: Gauge<f64, AtomicU64>,
    snapshot_refreshes: Counter,
    check_ins_pending: Gauge,
    check_in_flush: Gauge<f64, AtomicU64>,
    check_in_flushes_failed: Gauge,
    /// Held while a scrape sets the gauges and writes them, so that two scrapes do not mix.
    scrape: Mutex<()>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every family registered, none with a sample yet.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sesame");
        let rpc_duration = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "rpc_duration",
            "gRPC calls by service, method and status code, from the request to the end of the answer",
            prometheus_client::registry::Unit::Seconds,
            rpc_duration.clone(),
        );
        let check_ins = Counter::default();
        registry.register(
            "check_ins",
            "Agent check-ins (Heartbeat calls) answered",
            check_ins.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "Whether the database answered this scrape's queries (1) or not (0)",
            database_up.clone(),
        );
        let rotations = Family::default();
        registry.register("rotations", "Rotations by status", rotations.clone());
        let mailboxes = Family::default();
        registry.register("mailboxes", "Mailboxes by compliance state", mailboxes.clone());
        let connections = Family::default();
        registry.register(
            "database_connections",
            "The server's database connections, in use or idle",
            connections.clone(),
        );
        let connections_max = Gauge::default();
        registry.register(
            "database_connections_max",
            "The most database connections the server may open",
            connections_max.clone(),
        );
        let listener_open = Family::default();
        registry.register(
            "listener_connections",
            "Connections each listener holds now (gRPC: TLS handshakes and established)",
            listener_open.clone(),
        );
        let listener_max = Family::default();
        registry.register(
            "listener_connections_max",
            "The most connections each listener holds at once, sized from the descriptor limit",
            listener_max.clone(),
        );
        let listener_refused = Family::default();
        registry.register(
            "listener_connections_refused",
            "Connections a listener closed at once because it held its most",
            listener_refused.clone(),
        );
        let tls_handshakes = Family::default();
        registry.register(
            "tls_handshakes",
            "TLS handshakes completed on the gRPC listener, full or resumed from a ticket",
            tls_handshakes.clone(),
        );
        let snapshot_age = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "metrics_snapshot_age",
            "How old the database's numbers in this scrape are (read in the background)",
            prometheus_client::registry::Unit::Seconds,
            snapshot_age.clone(),
        );
        let snapshot_refreshes = Counter::default();
        registry.register(
            "metrics_snapshot_refreshes",
            "Readings of the database's numbers for the metrics, by the background refresh",
            snapshot_refreshes.clone(),
        );
        let check_ins_pending = Gauge::default();
        registry.register(
            "check_ins_pending",
            "Workstations whose check-ins were answered and not yet written, before the snapshot's flush",
            check_ins_pending.clone(),
        );
        let check_in_flush = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "check_in_flush_duration",
            "How long the check-in writer's last flush (one transaction) took",
            prometheus_client::registry::Unit::Seconds,
            check_in_flush.clone(),
        );
        let check_in_flushes_failed = Gauge::default();
        registry.register(
            "check_in_flushes_failed",
            "Flushes of the check-in writer that failed since the start (retried at the next window)",
            check_in_flushes_failed.clone(),
        );
        Metrics {
            registry,
            rpc_duration,
            check_ins,
            database_up,
            rotations,
            mailboxes,
            connections,
            connections_max,
            listener_open,
            listener_max,
            listener_refused,
            tls_handshakes,
            snapshot_age,
            snapshot_refreshes,
            check_ins_pending,
            check_in_flush,
            check_in_flushes_failed,
            scrape: Mutex::new(()),
        }
    }

    /// Records one finished RPC: `code` is the gRPC status code's name.
    pub(crate) fn observe_rpc(&self, service: &str, method: &str, code: &str, seconds: f64) {
        let labels = RpcLabels {
            service: service.to_owned(),
            method: method.to_owned(),
            code: code.to_owned(),
        };
        self.rpc_duration.get_or_create(&labels).observe(seconds);
    }

    /// Counts one check-in answered.
    pub(crate) fn count_check_in(&self) {
        self.check_ins.inc();
    }

    /// The gRPC listener's handshake counters.
    pub(crate) fn handshakes(&self) -> HandshakeMetrics {
        // One statement each: the family's read guard must be gone before the next entry is
        // created (a write), or the two deadlock.
        let full = self.tls_handshakes.get_or_create(&KindLabel { kind: "full" }).clone();
        let resumed = self.tls_handshakes.get_or_create(&KindLabel { kind: "resumed" }).clone();
        HandshakeMetrics { full, resumed }
    }

    /// The connection counts of `listener`, whose cap is `max`.
    pub(crate) fn listener(&self, listener: &str, max: usize) -> ListenerMetrics {
        let labels = ListenerLabel { listener: listener.to_owned() };
        self.listener_max.get_or_create(&labels).set(i64::try_from(max).unwrap_or(i64::MAX));
        ListenerMetrics {
            open: self.listener_open.get_or_create(&labels).clone(),
            refused: self.listener_refused.get_or_create(&labels).clone(),
        }
    }

    /// Counts one reading of the database's numbers.
    pub(crate) fn count_snapshot_refresh(&self) {
        self.snapshot_refreshes.inc();
    }

    /// Sets the scrape-time gauges from `snapshot`, taken `age` ago (none yet: the database's
    /// numbers are left out and `age` is the time since the endpoint started), and writes every
    /// metric in the text exposition format.
    pub(crate) fn render(
        &self,
        snapshot: Option<&OperationsSnapshot>,
        age: Duration,
    ) -> Result<String, fmt::Error> {
        let _scrape = self.scrape.lock().unwrap_or_else(PoisonError::into_inner);
        self.snapshot_age.set(age.as_secs_f64());
        self.rotations.clear();
        self.mailboxes.clear();
        let Some(snapshot) = snapshot else {
            self.database_up.set(0);
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
            return Ok(text);
        };
        self.database_up.set(i64::from(snapshot.database_up));
        for (status, count) in &snapshot.rotations {
            let labels = StatusLabel { status: status.as_str().to_owned() };
            self.rotations.get_or_create(&labels).set(saturating(*count));
        }
        for (state, count) in &snapshot.mailboxes {
            let labels = StateLabel { state: state.clone() };
            self.mailboxes.get_or_create(&labels).set(saturating(*count));
        }
        for (state, count) in [("in_use", snapshot.pool.in_use), ("idle", snapshot.pool.idle)] {
            let labels = ConnectionLabel { state: state.to_owned() };
            self.connections.get_or_create(&labels).set(i64::from(count));
        }
        self.connections_max.set(i64::from(snapshot.pool.max));
        self.check_ins_pending.set(saturating(snapshot.check_ins.pending));
        self.check_in_flush.set(snapshot.check_ins.last_flush.as_secs_f64());
        self.check_in_flushes_failed.set(saturating(snapshot.check_ins.failed_flushes));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// A count as a gauge's value.
fn saturating(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rotation::RotationStatus;
    use crate::services::check_in_writer::WriterStats;
    use crate::store::PoolUsage;

    #[test]
    fn every_family_is_written_with_its_samples() {
        let metrics = Metrics::new();
        metrics.observe_rpc("sesame.v1.AdminService", "ListOffices", "OK", 0.003);
        metrics.count_check_in();
        let snapshot = OperationsSnapshot {
            database_up: true,
            rotations: vec![(RotationStatus::Issued, 2), (RotationStatus::Expired, 0)],
            pool: PoolUsage { in_use: 1, idle: 2, max: 9 },
            mailboxes: vec![("compliant".to_owned(), 5)],
            check_ins: WriterStats {
                pending: 7,
                last_flush: Duration::from_millis(250),
                rows_written: 9,
                failed_flushes: 1,
            },
        };
        let open = metrics.listener("operations", 64);
        open.open.inc();
        open.refused.inc();
        metrics.count_snapshot_refresh();
        let text = metrics.render(Some(&snapshot), Duration::from_millis(2500)).unwrap();
        for line in [
            "# TYPE sesame_rpc_duration_seconds histogram",
            "sesame_rpc_duration_seconds_count{service=\"sesame.v1.AdminService\",method=\"ListOffices\",code=\"OK\"} 1",
            "sesame_rpc_duration_seconds_bucket{le=\"0.005\",service=\"sesame.v1.AdminService\",method=\"ListOffices\",code=\"OK\"} 1",
            "sesame_check_ins_total 1",
            "sesame_database_up 1",
            "sesame_rotations{status=\"issued\"} 2",
            "sesame_rotations{status=\"expired\"} 0",
            "sesame_mailboxes{state=\"compliant\"} 5",
            "sesame_database_connections{state=\"in_use\"} 1",
            "sesame_database_connections{state=\"idle\"} 2",
            "sesame_database_connections_max 9",
            "sesame_listener_connections{listener=\"operations\"} 1",
            "sesame_listener_connections_max{listener=\"operations\"} 64",
            "sesame_listener_connections_refused_total{listener=\"operations\"} 1",
            "sesame_metrics_snapshot_age_seconds 2.5",
            "sesame_metrics_snapshot_refreshes_total 1",
            "sesame_check_ins_pending 7",
            "sesame_check_in_flush_duration_seconds 0.25",
            "sesame_check_in_flushes_failed 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }

        // A scrape without the database drops the numbers it could not read.
        let down = OperationsSnapshot { database_up: false, rotations: Vec::new(), ..snapshot };
        let text = metrics.render(Some(&down), Duration::ZERO).unwrap();
        assert!(text.lines().any(|l| l == "sesame_database_up 0"), "{text}");
        assert!(!text.contains("sesame_rotations{"), "{text}");
        // Before the first reading, nothing of the database either.
        let text = metrics.render(None, Duration::from_secs(1)).unwrap();
        assert!(text.lines().any(|l| l == "sesame_database_up 0"), "{text}");
        assert!(!text.contains("sesame_mailboxes{"), "{text}");
    }
}
