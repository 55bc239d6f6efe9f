//! What every Sesame binary links besides the wire contract: the pieces the server, the agent, the
//! window and sesamectl would otherwise each write for themselves.
//!
//! - [`audit_actions`]: audit action names across versions (old records keep theirs);
//! - [`calendar`]: the person's calendar (their time zone, with `jiff`) and dates written in
//!   French: the one place a date a person reads is formatted;
//! - [`clock`]: where time comes from (truncated to microseconds, as both databases keep it);
//! - [`error_chain`]: an error and its causes on one line;
//! - [`failpoint`]: the crash tests' failpoints (abort or injected error), compiled out of
//!   release builds;
//! - [`private_file`]: atomic writes with a mode (0600 for secrets) and owner-only directories;
//! - [`credentials`]: the administrator credentials file the server writes and sesamectl reads;
//! - [`ids`]: the identifiers both sides exchange (rotation, step report, workstation);
//! - [`password_rule`]: the password rule (`PasswordRule`) the server and the agent both apply;
//! - [`rotation`]: a rotation's `Step` and `FailureReason`, for the agent, the server and the
//!   local socket alike;
//! - `fuzz_tally` (feature `fuzzing`, tests only): what a fuzz target counts of its run.
//!
//! It depends on no database, TLS or gRPC crate, so that every binary can link it.

pub mod audit_actions;
pub mod calendar;
pub mod clock;
pub mod credentials;
pub mod error_chain;
pub mod failpoint;
#[cfg(feature = "fuzzing")]
pub mod fuzz_tally;
pub mod ids;
pub mod password_rule;
pub mod private_file;
pub mod rotation;
