//! The readiness look: an anonymous look at an office's OWA before any rollout, sending no
//! credential, that says whether a rotation can succeed there (issue 11, item 9). It fetches the
//! logon page the way a login would (`GET /owa/` and its redirects, PROTOCOL.md "Reaching the
//! logon form") and stops there: reachable over HTTPS, certificate valid, forms-based, the
//! user-name format the page asks for, the pages' language, and a plain problem text.
//!
//! [`Readiness`] is an agent-side type; the uplink converts it to the contract's `OwaReadiness`.

use std::fmt;

use time::OffsetDateTime;

use crate::owa::client::{LogonFormat, OwaClient};
use crate::owa::http::HttpSettings;
use crate::owa::url::OwaEndpoint;
use sesame_base::clock::SharedClock;

/// The longest problem text kept (the contract allows 500 characters).
pub const MAX_PROBLEM_CHARS: usize = 500;
/// The longest language tag kept (the contract allows 20 characters).
pub const MAX_LANGUAGE_CHARS: usize = 20;

/// What the anonymous look at one OWA address found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The address looked at, as configured.
    pub owa_url: String,
    /// When (the injected clock).
    pub checked_at: OffsetDateTime,
    /// The server answered over HTTPS (its certificate may still have been refused).
    pub reachable: bool,
    /// Its certificate was valid for the host (against the platform's roots and the extra CAs).
    pub certificate_valid: bool,
    /// It offers the forms-based logon page the agent drives.
    pub forms_based: bool,
    /// The user-name format its logon page asks for, when it says.
    pub logon_format: Option<LogonFormat>,
    /// The language of its pages (`fr`, `en-US`), when known.
    pub language: Option<String>,
    /// What stands in the way, in plain words; `None` when nothing does.
    pub problem: Option<String>,
}

impl Readiness {
    fn unchecked(owa_url: &str, checked_at: OffsetDateTime) -> Readiness {
        Readiness {
            owa_url: owa_url.to_owned(),
            checked_at,
            reachable: false,
            certificate_valid: false,
            forms_based: false,
            logon_format: None,
            language: None,
            problem: None,
        }
    }

    /// Records what stands in the way (bounded).
    pub(crate) fn with_problem(mut self, problem: impl fmt::Display) -> Readiness {
        self.problem = Some(problem.to_string().chars().take(MAX_PROBLEM_CHARS).collect());
        self
    }

    /// Whether a rotation can succeed there for a mailbox that has (or not) a logon name: the
    /// server is reachable, trusted, forms-based, and its format does not need a logon name the
    /// mailbox lacks. An unknown format counts as the address (what the client then posts).
    pub fn ready_for(&self, has_logon_name: bool) -> bool {
        self.reachable
            && self.certificate_valid
            && self.forms_based
            && self.problem.is_none()
            && (has_logon_name || self.logon_format != Some(LogonFormat::FullDomain))
    }
}

impl fmt::Display for Readiness {
    /// The look, for an administrator (English), one fact per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let checked_at = self
            .checked_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.checked_at.to_string());
        writeln!(f, "OWA address:          {}", self.owa_url)?;
        writeln!(f, "Checked at:           {checked_at}")?;
        writeln!(f, "Reachable (HTTPS):    {}", yes_no(self.reachable))?;
        writeln!(f, "Certificate valid:    {}", yes_no(self.certificate_valid))?;
        writeln!(f, "Forms-based logon:    {}", yes_no(self.forms_based))?;
        match self.logon_format {
            Some(format) => writeln!(f, "User name format:     {format}")?,
            None => writeln!(f, "User name format:     unknown")?,
        }
        writeln!(f, "Language:             {}", self.language.as_deref().unwrap_or("unknown"))?;
        match &self.problem {
            Some(problem) => write!(f, "Problem:              {problem}"),
            None if self.logon_format == Some(LogonFormat::FullDomain) => write!(
                f,
                "Ready:                yes, for mailboxes with a logon name (DOMAIN\\user)"
            ),
            None => write!(f, "Ready:                yes"),
        }
    }
}

/// Looks at the OWA server at `owa_url` anonymously (see the module's documentation). Never
/// fails: whatever goes wrong, an unusable address included, is the [`Readiness::problem`].
pub async fn readiness(owa_url: &str, settings: &HttpSettings, clock: SharedClock) -> Readiness {
    let checked_at = clock.now();
    let endpoint = match OwaEndpoint::parse(owa_url) {
        Ok(endpoint) => endpoint,
        Err(refusal) => {
            return Readiness::unchecked(owa_url, checked_at)
                .with_problem(format_args!("not a usable OWA address: {refusal}"));
        }
    };
    match OwaClient::new(endpoint, settings, clock) {
        Ok(mut client) => client.readiness(owa_url).await,
        Err(error) => Readiness::unchecked(owa_url, checked_at).with_problem(error),
    }
}

impl OwaClient {
    /// The anonymous look at this client's server (see [`readiness`]); `owa_url` is the address as
    /// configured, reported as it is. Sends no credential and counts no login.
    pub async fn readiness(&mut self, owa_url: &str) -> Readiness {
        let mut look = Readiness::unchecked(owa_url, self.now());
        let found = self.anonymous_logon_look().await;
        let seen = self.observations();
        look.language =
            seen.language.as_ref().map(|l| l.chars().take(MAX_LANGUAGE_CHARS).collect());
        match found {
            Ok(Ok(format)) => {
                look.reachable = true;
                look.certificate_valid = true;
                look.forms_based = true;
                look.logon_format = format;
                look
            }
            Ok(Err(problem)) => {
                look.reachable = true;
                look.certificate_valid = true;
                look.with_problem(problem)
            }
            Err(failure) => {
                look.reachable = failure.reachable;
                look.certificate_valid = failure.certificate_valid;
                look.with_problem(failure.problem)
            }
        }
    }
}

/// Why the look could not reach a logon page at all.
pub(crate) struct LookFailure {
    /// The server answered over HTTPS.
    pub(crate) reachable: bool,
    /// The TLS handshake accepted its certificate.
    pub(crate) certificate_valid: bool,
    /// In plain words.
    pub(crate) problem: String,
}
