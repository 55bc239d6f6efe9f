//! The OWA client's conversation with one server ([`OwaClient`]): what it can find and how it
//! ends, its budget of requests, and what it learns on its way. The steps live in the child
//! modules: `logon` (reach the logon form, log in, log off), `change` (the expired-password page,
//! the change post and its verification), `inspect` (the read-only `check` and `capture`), and
//! `pages` (reading Exchange's pages and filling their forms). The Exchange behaviour each step
//! relies on is described in `agent/src/owa/PROTOCOL.md`.
//!
//! Safety, by construction:
//! - every URL (redirect, form action) goes through [`OwaEndpoint`]: HTTPS on the configured host
//!   only, checked before anything is sent (see `owa::http`);
//! - one client makes **at most two logins** and **at most one change post**; a third login or a
//!   second change is an error, not a request, so the agent can never lock an account by retrying;
//! - once the change post has left, no outcome is an error: whatever happens after (timeout, odd
//!   page, refused verification) is [`ChangeOutcome::Unknown`], to be reconciled, never retried
//!   blindly;
//! - success is only claimed after logging in with the new password (the `cadata` cookies), and
//!   the session is closed with `/owa/logoff.owa`;
//! - passwords stay in [`SecretString`]s and zeroizing buffers; no message carries one.

mod change;
mod inspect;
mod logon;
mod pages;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::owa::html::Page;
use crate::owa::http::{HttpError, HttpSettings, OwaHttp, Response};
use crate::owa::url::{OwaEndpoint, UrlRefusal};
use sesame_base::clock::SharedClock;

use self::pages::{logon_format, version_in_paths};

/// Logins one client may make: the current password, then the verification.
const MAX_LOGINS: u8 = 2;
/// Redirects followed to reach a page.
const MAX_REDIRECTS: usize = 5;
/// The marker Exchange puts in every logon page.
const LOGON_PAGE_GUID: &str = "{57A118C6-2DA9-419d-BE9A-F92B0F9A418B}";
/// Ids of the elements that may hold a message (the logon page's, and the change page's).
const MESSAGE_IDS: [&str; 3] = ["signInErrorDiv", "expltxt", "errorText"];
/// The label of the user-name field, which tells the logon format.
const USER_LABEL_ID: &str = "userNameLabel";
/// Ids of the elements whose text the client reads.
const TEXT_IDS: &[&str] = &[USER_LABEL_ID, MESSAGE_IDS[0], MESSAGE_IDS[1], MESSAGE_IDS[2]];

/// What logging in found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in (302 with the `cadata` cookies): the password does not need changing.
    LoggedIn,
    /// The credentials are right and the password must change (redirect to the expired-password
    /// page).
    MustChangePassword,
    /// Refused: wrong password, or locked, disabled or unknown account, or a password that must
    /// change on a server whose expired-password page is switched off. Exchange answers all of
    /// these alike.
    BadCredentials,
    /// The server does not use forms-based authentication (ADFS, Windows or Basic); nothing was
    /// sent.
    NotFormsBased(String),
    /// The server answered with an error.
    ServerError(String),
}

impl fmt::Display for LoginOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginOutcome::LoggedIn => f.write_str("logged in"),
            LoginOutcome::MustChangePassword => f.write_str("the password must be changed"),
            LoginOutcome::BadCredentials => f.write_str("credentials refused"),
            LoginOutcome::NotFormsBased(detail) => write!(f, "not forms-based: {detail}"),
            LoginOutcome::ServerError(detail) => write!(f, "server error: {detail}"),
        }
    }
}

/// How a password change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Changed, and a login with the new password succeeded.
    ChangedAndVerified,
    /// The new password was refused by the domain's policy (length, complexity, history or
    /// minimum age: Exchange cannot tell them apart). The password is unchanged.
    RejectedByPolicy,
    /// The current password (or the user name) is wrong. The password is unchanged. When this
    /// comes from the first login it may also mean a locked account or a switched-off page.
    WrongCurrentPassword,
    /// Exchange found the two new passwords different. The password is unchanged.
    ConfirmationMismatch,
    /// The account is locked. The password is unchanged.
    LockedOut,
    /// No change was attempted, and why (not forms-based, no expired-password page, a
    /// `DOMAIN\user` server, a server error before the change).
    Unavailable(String),
    /// The change was sent but its result is not known for sure: report it for reconciliation,
    /// never retry it blindly.
    Unknown(String),
}

impl ChangeOutcome {
    /// Whether a change post reached Exchange and may have changed the password.
    pub fn may_have_changed(&self) -> bool {
        matches!(self, ChangeOutcome::ChangedAndVerified | ChangeOutcome::Unknown(_))
    }
}

/// Why the client stopped. Before the change post only: afterwards every end is a
/// [`ChangeOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum OwaError {
    /// The transport failed or refused a URL.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A page is not what Exchange sends.
    #[error("unexpected answer from the OWA server: {0}")]
    UnexpectedPage(String),
    /// More redirects than a login needs.
    #[error("the OWA server redirects in a loop")]
    TooManyRedirects,
    /// A third login was asked for: refused, to protect the account from lockout.
    #[error("refused: this run already made its two logins (lockout protection)")]
    LoginBudgetSpent,
    /// A second change was asked for: refused, a change is attempted once.
    #[error("refused: this run already attempted a change")]
    ChangeAlreadyAttempted,
    /// A password Exchange cannot carry (it must be printable ASCII).
    #[error("the password contains characters Exchange cannot receive (printable ASCII only)")]
    NotAscii,
    /// The server asks for `DOMAIN\user` names and the mailbox has no logon name: nothing
    /// carrying a password was sent.
    #[error(
        "the OWA server asks for DOMAIN\\user names and this mailbox has no logon name \
         (sesamectl mailbox set-logon ADDRESS 'DOMAIN\\user'); no password was sent"
    )]
    LogonNameMissing,
    /// The mailbox's logon name is not a `DOMAIN\user` name, which the server asks for: nothing
    /// carrying a password was sent.
    #[error(
        "the OWA server asks for DOMAIN\\user names and this mailbox's logon name is not one; \
         no password was sent"
    )]
    LogonNameNotDomainUser,
}

impl From<UrlRefusal> for OwaError {
    fn from(refusal: UrlRefusal) -> Self {
        OwaError::Http(HttpError::Refused(refusal))
    }
}

/// How the server asks for the user name (the virtual directory's `LogonFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonFormat {
    /// An e-mail address or UPN ("Adresse de courrier"): what MAILNOT addresses need.
    PrincipalName,
    /// `DOMAIN\user`: an e-mail address cannot change its password there.
    FullDomain,
    /// A bare user name, the server adding its own domain.
    UserName,
}

impl fmt::Display for LogonFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogonFormat::PrincipalName => "e-mail address (PrincipalName)",
            LogonFormat::FullDomain => "DOMAIN\\user (FullDomain)",
            LogonFormat::UserName => "user name (UserName)",
        })
    }
}

/// Who logs in: the mailbox address, and the logon name (`DOMAIN\user`) that a server asking
/// for `DOMAIN\user` names needs. Which one is posted is decided by the logon page's format
/// ([`OwaLogon::user_for`]), read before any credential leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwaLogon {
    /// The mailbox address, `Nom.Prenom@CRPCEN.mailnot.fr`.
    pub address: String,
    /// The mailbox's logon name, `DOMAIN\user`, when the server needs one.
    pub logon_name: Option<String>,
}

impl OwaLogon {
    /// The mailbox `address`, with its `logon_name` if it has one (an empty one counts as none).
    pub fn new(address: impl Into<String>, logon_name: Option<String>) -> OwaLogon {
        OwaLogon {
            address: address.into(),
            logon_name: logon_name.filter(|name| !name.trim().is_empty()),
        }
    }

    /// The user name to post to a server that asks for `format` (`None`: not told, the address).
    /// A `DOMAIN\user` server gets the logon name, or an error and nothing.
    pub fn user_for(&self, format: Option<LogonFormat>) -> Result<&str, OwaError> {
        match (format, self.logon_name.as_deref()) {
            (Some(LogonFormat::FullDomain), None) => Err(OwaError::LogonNameMissing),
            (Some(LogonFormat::FullDomain), Some(name)) if !is_domain_user(name) => {
                Err(OwaError::LogonNameNotDomainUser)
            }
            (Some(LogonFormat::FullDomain | LogonFormat::UserName), Some(name)) => Ok(name),
            _ => Ok(&self.address),
        }
    }
}

/// Whether `name` is `DOMAIN\user`: one backslash, something on each side.
pub fn is_domain_user(name: &str) -> bool {
    matches!(name.split_once('\\'), Some((domain, user))
        if !domain.trim().is_empty() && !user.trim().is_empty() && !user.contains('\\'))
}

/// What the client learned about the server on its way (for `owa-check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    /// Whether a forms-based logon page was found.
    pub forms_based: Option<bool>,
    /// The language of the pages (`<html lang>`, else `Content-Language`, else known texts).
    pub language: Option<String>,
    /// The Exchange build, from `X-OWA-Version` or the logon page's resource paths.
    pub version: Option<String>,
    /// The front-end server's name (`X-FEServer`).
    pub front_end: Option<String>,
    /// The user-name format the logon page asks for.
    pub logon_format: Option<LogonFormat>,
    /// Whether the expired-password page answered with its form.
    pub expired_password_page: Option<bool>,
}

/// A page as the server sent it (see [`OwaClient::capture`]).
#[derive(Debug, Clone)]
pub struct CapturedPage {
    /// `logon` or `expiredpassword`.
    pub name: &'static str,
    /// Where it was fetched.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The body, as received.
    pub body: Vec<u8>,
}

/// A login and password-change conversation with one OWA server.
pub struct OwaClient {
    http: OwaHttp,
    clock: SharedClock,
    /// The user name the last login posted (the change form posts the same).
    user_name: Option<String>,
    logins_left: u8,
    change_sent: bool,
    expired_page: Option<Url>,
    observations: Observations,
}

impl fmt::Debug for OwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwaClient")
            .field("http", &self.http)
            .field("logins_left", &self.logins_left)
            .field("change_sent", &self.change_sent)
            .finish_non_exhaustive()
    }
}

/// Refuses passwords Exchange cannot carry: FBA encodes them in the server's ANSI code page
/// (PROTOCOL.md, "The login post and its answers"), so only printable ASCII is safe.
pub fn check_exchange_alphabet(password: &SecretString) -> Result<(), OwaError> {
    if password.expose_secret().bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(OwaError::NotAscii)
    }
}

impl OwaClient {
    /// A client for the OWA server at `endpoint`.
    pub fn new(
        endpoint: OwaEndpoint,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<OwaClient, OwaError> {
        Ok(OwaClient {
            http: OwaHttp::new(endpoint, settings, clock.clone())?,
            clock,
            user_name: None,
            logins_left: MAX_LOGINS,
            change_sent: false,
            expired_page: None,
            observations: Observations::default(),
        })
    }

    /// What was learned about the server so far.
    pub fn observations(&self) -> &Observations {
        &self.observations
    }

    fn observe(&mut self, response: &Response, page: &Page) {
        let observed = &mut self.observations;
        if let Some(version) = response.hint("X-OWA-Version") {
            observed.version = Some(version.chars().take(32).collect());
        } else if observed.version.is_none() {
            observed.version = version_in_paths(&response.body);
        }
        if let Some(server) = response.hint("X-FEServer") {
            observed.front_end = Some(server.chars().take(64).collect());
        }
        if !page.lang.is_empty() {
            observed.language = Some(page.lang.clone());
        } else if let Some(language) = response.hint("Content-Language") {
            observed.language = Some(language.chars().take(16).collect());
        } else if let Some(language) = pages::language_of_texts(page) {
            observed.language = Some(language.to_owned());
        }
        if let Some(format) = logon_format(page) {
            observed.logon_format = Some(format);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_takes_printable_ascii_only() {
        assert!(check_exchange_alphabet(&SecretString::from("Abc123!@# ~")).is_ok());
        assert!(check_exchange_alphabet(&SecretString::from("Mot2passeé!")).is_err());
        assert!(check_exchange_alphabet(&SecretString::from("tab\there")).is_err());
    }
}
