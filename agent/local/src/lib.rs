//! The local channel between the person and the agent's service: `sesame-agent change` and
//! `status`, and the window, run by the person as themselves, talk to the service (root /
//! LocalSystem) over a Unix socket that only local users can reach (a named pipe on Windows, to
//! come), the kernel telling the service who connected. Both ends link this crate; it knows
//! nothing of USB, OWA, gRPC or the server.
//!
//! - `protocol`: the versioned, line-delimited JSON messages ([`protocol::Request`],
//!   [`protocol::Event`]); `secret`: [`secret::LocalSecret`], a password in a message;
//! - `wire`: one message per bounded line over a stream; `transport`: the socket, peer
//!   credentials;
//! - `server`: [`server::LocalServer`] and the [`server::LocalHandler`] the service implements;
//! - `client`: the `change` and `status` commands (and the window's status); `texts_fr`: every
//!   word the person reads;
//! - `password_check`: the local checks of a new password (rule, typings, names, and the strength
//!   checks of the office's policy), with `personal_words` (the person's words),
//!   `common_passwords` (the list of common passwords, a filter in the binary) and `strength`
//!   (zxcvbn's estimate);
//! - `account`: [`account::LocalAccount`], the local account behind a session (the user name
//!   behind the uid on Linux, the SID on Windows), which is what binds a person to a mailbox.

pub mod account;
pub mod client;
pub mod common_passwords;
pub mod password_check;
pub mod personal_words;
pub mod protocol;
pub mod secret;
pub mod server;
pub mod strength;
pub mod texts_fr;
pub mod transport;
pub mod wire;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
