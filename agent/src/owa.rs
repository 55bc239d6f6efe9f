//! The OWA client: logs in to Outlook Web App (Exchange 2013/2016/2019, forms-based
//! authentication) and changes a password on Exchange's expired-password page, exactly as a person
//! does in a browser, so that the workstation never needs anything from Exchange but its web pages.
//!
//! What Exchange does at each step, and what is still unknown, is written down next to this code
//! in `agent/src/owa/PROTOCOL.md`; each of its sections names the functions that rely on it.
//!
//! The parts, from the wire up:
//! - [`url`]: where the client may go (HTTPS on the configured host and port only) and what the
//!   redirect answering a login means;
//! - [`http`]: the transport (reqwest over rustls, no automatic redirects, bounded in time and
//!   size, a desktop browser's User-Agent);
//! - [`cookies`]: the one-host cookie jar, whose values are secrets;
//! - [`html`]: reads untrusted pages in one linear, bounded pass (forms, marker comments, texts),
//!   with [`entities`] decoding their character references;
//! - [`messages`]: what the expired-password page's messages mean (English and French);
//! - [`client`]: the conversation ([`OwaClient`]): reach the logon form, log in, change the
//!   password, verify it, log off; and the read-only `check` and `capture`;
//! - [`readiness`]: the anonymous look at a server before any rollout ([`Readiness`]);
//! - [`cli`]: `owa-check`, `owa-change`, `owa-capture` and `owa-readiness`, the client by hand.
//!
//! Invariants every change here must keep:
//! - nothing is sent anywhere but the configured server over HTTPS: every redirect and form action
//!   is resolved and checked by [`OwaEndpoint`] before a request leaves, and the transport checks
//!   each request once more;
//! - the logon page's user-name format is read before any credential is posted: a `DOMAIN\user`
//!   server gets the mailbox's logon name, or nothing at all ([`OwaError::LogonNameMissing`]);
//! - one [`OwaClient`] makes at most two logins and at most one change post, so it can never lock
//!   an account by retrying; once the change post has left, every end is a [`ChangeOutcome`]
//!   (`Unknown` when in doubt), never an error to retry;
//! - success is claimed only after a login with the new password (the `cadata` cookies), and the
//!   session is closed with `/owa/logoff.owa`;
//! - a page's messages are matched against known texts only; an unknown message is never guessed;
//! - passwords and session cookies stay in `SecretString`s and zeroizing buffers, and no message,
//!   log line or `Debug` output carries one.

pub mod cli;
pub mod client;
pub mod cookies;
pub mod entities;
pub mod html;
pub mod http;
pub mod messages;
pub mod readiness;
pub mod url;

pub use self::client::{
    CapturedPage, ChangeOutcome, LoginOutcome, LogonFormat, Observations, OwaClient, OwaError,
    OwaLogon, check_exchange_alphabet,
};
pub use self::http::{HttpError, HttpSettings};
pub use self::readiness::{Readiness, readiness};
pub use self::url::{OwaEndpoint, UrlRefusal};
