//! What a run counted, and how it is printed: for people (throughput, latency percentiles, errors
//! by gRPC code) and as one JSON line (`RESULT {...}`) for the benchmark script.

use std::collections::BTreeMap;

use serde_json::json;

use crate::histogram::Histogram;

/// Counts of one run's measured window.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Latencies of successful rounds, from their intended start.
    pub(crate) latency: Histogram,
    /// Rounds whose intended time fell in the window.
    pub(crate) offered: u64,
    /// Successful rounds that completed within the window.
    pub(crate) completed_in_window: u64,
    /// Successful rounds.
    pub(crate) ok: u64,
    /// Failed rounds, by gRPC code (or a local reason).
    pub(crate) errors: BTreeMap<String, u64>,
    /// `GetPendingRotations` calls.
    pub(crate) pending_calls: u64,
    /// Rotations delivered.
    pub(crate) rotations: u64,
    /// Step reports recorded.
    pub(crate) reports: u64,
}

impl Stats {
    /// Counts an error.
    pub(crate) fn error(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }

    /// All errors.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The name of a gRPC code, as the errors are counted.
pub(crate) fn code_name(status: &tonic::Status) -> String {
    format!("{:?}", status.code())
}

/// Prints a run's results, and the JSON line.
#[allow(clippy::too_many_arguments)] // Reason: one run's figures, each named at the call.
pub(crate) fn print_run(
    label: &str,
    connections: usize,
    rate: f64,
    seconds: f64,
    stats: &Stats,
    server_cpu: Option<f64>,
    sim_cpu: Option<f64>,
) {
    let achieved = stats.completed_in_window as f64 / seconds;
    let offered = stats.offered as f64 / seconds;
    let per_check_in =
        |cpu: Option<f64>| cpu.filter(|_| stats.ok > 0).map(|cpu| cpu * 1e6 / stats.ok as f64);
    let h = &stats.latency;
    out!(
        "== {label}: {connections} agents, offered {offered:.0}/s (asked {rate:.0}/s), achieved {achieved:.0}/s ({:.1}%)",
        100.0 * achieved / offered.max(1e-9)
    );
    out!(
        "   latency µs: p50 {} p99 {} p99.9 {} max {} mean {} ({} rounds)",
        h.quantile(0.5),
        h.quantile(0.99),
        h.quantile(0.999),
        h.max(),
        h.mean(),
        h.count()
    );
    out!(
        "   rotations: {} GetPendingRotations, {} rotations, {} step reports",
        stats.pending_calls,
        stats.rotations,
        stats.reports
    );
    if stats.errors.is_empty() {
        out!("   errors: none");
    } else {
        out!("   errors: {:?}", stats.errors);
    }
    if let Some(us) = per_check_in(server_cpu) {
        out!("   server CPU per check-in: {us:.1} µs");
    }
    if let Some(us) = per_check_in(sim_cpu) {
        out!("   simulator CPU per check-in: {us:.1} µs");
    }
    let line = json!({
        "kind": "run",
        "label": label,
        "connections": connections,
        "rate": rate,
        "seconds": seconds,
        "offered_rps": offered,
        "achieved_rps": achieved,
        "ok": stats.ok,
        "p50_us": h.quantile(0.5),
        "p99_us": h.quantile(0.99),
        "p999_us": h.quantile(0.999),
        "max_us": h.max(),
        "mean_us": h.mean(),
        "errors": stats.errors,
        "error_count": stats.error_count(),
        "pending_calls": stats.pending_calls,
        "rotations": stats.rotations,
        "reports": stats.reports,
        "server_cpu_us_per_check_in": per_check_in(server_cpu),
        "sim_cpu_us_per_check_in": per_check_in(sim_cpu),
    });
    out!("RESULT {line}");
}
