//! STUB, replaced by the webaccess branch: people signing in to the dashboard.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::admin::Admin;
use crate::services::{Error, Services};

/// A sign-in attempt.
#[derive(Debug)]
pub struct SignIn<'a> {
    /// The administrator's name.
    pub name: &'a str,
    /// Its web password.
    pub password: &'a SecretString,
    /// Its TOTP code.
    pub code: &'a str,
    /// Where it comes from.
    pub remote: Option<std::net::IpAddr>,
    /// Its browser.
    pub user_agent: &'a str,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// Id.
    pub id: i64,
    /// Who.
    pub admin: Admin,
    /// Opened.
    pub created_at: OffsetDateTime,
    /// Last seen.
    pub last_seen_at: OffsetDateTime,
    /// Ends.
    pub expires_at: OffsetDateTime,
}

/// A new session.
#[derive(Debug)]
pub struct NewWebSession {
    /// Its token.
    pub token: SecretString,
    /// It.
    pub session: WebSession,
}

/// The session's form token.
pub fn csrf_token(session_token: &SecretString) -> String {
    let mut hash = Sha256::new();
    hash.update(b"sesame-csrf\0");
    hash.update(session_token.expose_secret().as_bytes());
    hex::encode(hash.finalize())
}

impl Services {
    /// Stub.
    pub async fn web_sign_in(&self, _attempt: SignIn<'_>) -> Result<NewWebSession, Error> {
        Err(Error::unauthenticated("stub"))
    }

    /// Stub.
    pub async fn web_session(&self, _token: &SecretString) -> Result<WebSession, Error> {
        Err(Error::unauthenticated("stub"))
    }

    /// Stub.
    pub async fn web_sign_out(&self, _token: &SecretString) -> Result<(), Error> {
        Ok(())
    }
}
