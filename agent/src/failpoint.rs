//! Crash points for the crash-safety tests: when the environment variable
//! `SESAME_AGENT_CRASH_AT` names a point, the service aborts there (as `kill -9` would: no
//! destructor, no flush), so a test can restart it and check that it ends in the true state. The
//! variable is read once, when the service starts; unset (the normal case), every point is a
//! no-op.
//!
//! Points: `journaled:<step>` (a snapshot at that step is durable, nothing after it ran),
//! `reported:<step>` (the report is queued), `owa-answered` (OWA answered the change, nothing
//! recorded yet), `delivered` (reports reached the server, the outbox not yet acknowledged).

use std::sync::OnceLock;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "SESAME_AGENT_CRASH_AT";

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Reads the variable (once; later calls keep the first reading).
pub fn arm_from_env() {
    let _ = ARMED.set(std::env::var(VARIABLE).ok().filter(|point| !point.is_empty()));
}

/// Aborts the process if `point` is the armed one.
pub fn hit(point: &str) {
    if ARMED.get().and_then(Option::as_deref) == Some(point) {
        tracing::error!(point, "crash point reached: aborting (test)");
        std::process::abort();
    }
}
