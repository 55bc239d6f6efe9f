//! The Sesame workstation agent.
//!
//! The agent enrolls (pinning the server's CA by fingerprint), keeps its short-lived client
//! certificate fresh (renewal at two thirds of its life, recovery with its registered key after a
//! long absence) and reports that it is alive. Its OWA client ([`owa`]) logs in to Outlook Web App
//! and changes a password on Exchange's expired-password page as a person would; `owa::cli` offers
//! it by hand. [`key`] tells whether the person's clé REAL is plugged in (rusb, polled). A
//! rotation is driven by the pure state machine [`rotation`], whose steps are written to the
//! durable [`journal`] before they are attempted and reported through the [`outbox`]; [`service`]
//! runs it all (`sesame-agent run`), serving the person's side over the local channel
//! (`sesame_local`: `change`, `status`, the window); [`console`] is the person at a terminal.

pub mod backoff;
pub mod config;
pub mod console;
pub mod failpoint;
pub mod identity;
pub mod journal;
pub mod key;
pub mod outbox;
pub mod owa;
pub mod pinning;
pub mod recovery;
pub mod rotation;
pub mod service;
pub mod uplink;

#[cfg(test)]
mod fuzz;

/// The agent's version, as reported to the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
