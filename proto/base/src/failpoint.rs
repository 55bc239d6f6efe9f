//! Failpoints for the crash tests (the fault suite, `tests/faults/`, and the end-to-end tests):
//! named places in a binary where a test makes the process abort (as `kill -9` would: no
//! destructor, no flush, no answer) or fail with an injected error. Debug builds only: in a build
//! without `debug_assertions` (release) [`arm_from_env`] reads nothing and [`hit`] is an empty
//! function, so no variable can make a shipped binary crash.
//!
//! A binary arms its points once at start from its own variable (the server
//! `SESAME_SERVER_CRASH_AT`, the agent `SESAME_AGENT_CRASH_AT`): a comma-separated list of
//! `point` (abort) or `point=abort` / `point=error` (an [`Injected`] error, which the caller turns
//! into a retriable failure). Unset (the normal case), every point is a no-op.
//!
//! The server's points (`sesame_server::failpoint`), one per persistence step of a rotation and of
//! the other writes a client waits for:
//! - `issue:escrowed`: provisional passwords escrowed with their rotations and audit records
//!   (committed), nothing answered yet;
//! - `import:in-transaction`: an import's rows written inside its transaction, not committed;
//! - `import:committed`: the import committed, nothing answered yet;
//! - `disclosure:audited`: a disclosure's audit record committed, nothing decrypted or answered;
//! - `delivery:audited`: a delivery to a workstation audited (rotations marked delivered),
//!   nothing answered yet;
//! - `report:committed`: a workstation's step reports committed, nothing answered yet (B1);
//! - `report:confirmed`: the same, when one of them verified a change: its rotation is closed
//!   and its escrow destroyed;
//! - `cancel:committed`: rotations cancelled (escrow destroyed), nothing answered yet;
//! - `check-ins:written`: a flush of the check-in writer committed, its check-ins already
//!   answered (or, for a certificate's confirmation, about to be).
//!
//! The agent's points (`sesame_agent::failpoint`): `journaled:<step>` (a snapshot at that step is
//! durable, nothing after it ran), `reported:<step>` (the report is queued), `owa-answered` (OWA
//! answered the change, nothing recorded yet), `delivered` (reports reached the server, the outbox
//! not yet acknowledged), `acknowledged` (the outbox's acknowledgment written) and
//! `journaled:forgotten` (a finished rotation forgotten in the journal).

#[cfg(debug_assertions)]
use std::sync::OnceLock;

/// What an armed point does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `std::process::abort()`: the process dies at once, as with `kill -9`.
    Abort,
    /// [`hit`] returns [`Injected`].
    Error,
}

/// The error an armed `point=error` injects.
#[derive(Debug, thiserror::Error)]
#[error("failpoint {0} injected an error (test build)")]
pub struct Injected(pub String);

#[cfg(debug_assertions)]
static ARMED: OnceLock<Vec<(String, Action)>> = OnceLock::new();

/// Parses a list of points: `a,b=error,c=abort`. Unknown actions are refused.
pub fn parse(spec: &str) -> Result<Vec<(String, Action)>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            None => Ok((item.to_owned(), Action::Abort)),
            Some((point, "abort")) => Ok((point.to_owned(), Action::Abort)),
            Some((point, "error")) => Ok((point.to_owned(), Action::Error)),
            Some((_, other)) => Err(format!("unknown failpoint action {other:?} in {item:?}")),
        })
        .collect()
}

/// Arms the points named by the environment variable `variable` (once per process; later calls
/// keep the first reading). Does nothing in release builds.
pub fn arm_from_env(variable: &str) {
    #[cfg(debug_assertions)]
    {
        let spec = std::env::var(variable).unwrap_or_default();
        let points = parse(&spec).unwrap_or_else(|_| Vec::new());
        let _ = ARMED.set(points);
    }
    #[cfg(not(debug_assertions))]
    let _ = variable;
}

/// What `point` is armed to do, if anything (always `None` in release builds).
pub fn armed(point: &str) -> Option<Action> {
    #[cfg(debug_assertions)]
    {
        ARMED.get()?.iter().find(|(name, _)| name == point).map(|(_, action)| *action)
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = point;
        None
    }
}

/// Passes `point`: aborts the process, or returns [`Injected`], when it is armed so; otherwise
/// returns `Ok`. An abort says which point on standard error first.
#[cfg(debug_assertions)]
pub fn hit(point: &str) -> Result<(), Injected> {
    match armed(point) {
        None => Ok(()),
        Some(Action::Error) => Err(Injected(point.to_owned())),
        Some(Action::Abort) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "failpoint {point} reached: aborting (test build)");
            std::process::abort()
        }
    }
}

/// Passes `point`: nothing happens in a release build.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hit(point: &str) -> Result<(), Injected> {
    let _ = point;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_names_points_and_their_actions() {
        let parsed = parse("a, b=error,c=abort,").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("a".to_owned(), Action::Abort),
                ("b".to_owned(), Action::Error),
                ("c".to_owned(), Action::Abort)
            ]
        );
        assert!(parse("a=explode").is_err());
        assert_eq!(parse("").unwrap(), Vec::new());
    }

    #[test]
    fn nothing_is_armed_without_the_variable() {
        arm_from_env("SESAME_TEST_NO_SUCH_FAILPOINT_VARIABLE");
        assert!(hit("issue:escrowed").is_ok());
    }
}
