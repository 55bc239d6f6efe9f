//! Crash points for the crash-safety tests: when the environment variable
//! `SESAME_AGENT_CRASH_AT` names a point, the service aborts there (as `kill -9` would: no
//! destructor, no flush), so a test can restart it and check that it ends in the true state. The
//! variable is read once, when the service starts; unset (the normal case), every point is a
//! no-op. Debug builds only: in release builds the points are compiled out
//! ([`sesame_base::failpoint`], which also lists the points).
//!
//! Points, in the order of a change: `journaled:pending` and `reported:pending` (a delivered
//! rotation), `journaled:started`, `reported:started`, `owa-answered` (OWA answered the change,
//! nothing recorded yet), `journaled:changed`, `reported:changed`, `journaled:verified`,
//! `reported:verified`, `journaled:completed`, `reported:completed` (`journaled:<step>`: a
//! snapshot at that step is durable, nothing after it ran; `reported:<step>`: the report is
//! queued in the outbox), `delivered` (reports reached the server, the outbox not yet
//! acknowledged), `acknowledged` (the outbox acknowledged them) and `journaled:forgotten` (a
//! finished rotation the server no longer lists is forgotten in the journal).

use sesame_base::failpoint;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "SESAME_AGENT_CRASH_AT";

/// Reads the variable (once; later calls keep the first reading).
pub fn arm_from_env() {
    failpoint::arm_from_env(VARIABLE);
}

/// Aborts the process if `point` is the armed one (the agent's points only abort).
pub fn hit(point: &str) {
    if failpoint::armed(point).is_some() {
        tracing::error!(point, "crash point reached: aborting (test)");
        std::process::abort();
    }
}
