//! Administrators signing in to the web dashboard: a web password (`password`: argon2id) and a TOTP
//! second factor (`domain::totp`, the secret sealed with the escrow key), both set by the
//! administrator itself with sesamectl; sessions stored in the database (so that servers sharing
//! PostgreSQL share them) under the hash of a random token, living by `SessionPolicy`; failed
//! sign-ins limited per account and per address ([`SignInLimiter`]) and audited. The web edge
//! calls [`Services::web_sign_in`], [`Services::web_session`] and [`Services::web_sign_out`], and
//! puts [`csrf_token`] in its forms; sesamectl the rest, through gRPC.

mod password;
mod sign_in_limiter;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::AdminName;
use crate::domain::token::{Token, TokenHash};
use crate::domain::totp::TotpSecret;
pub use crate::domain::web_session::WebSessionInfo;
use crate::domain::web_session::{
    MAX_REMOTE_LEN, MAX_USER_AGENT_LEN, NewWebSessionRecord, SessionEnd, SessionPolicy,
    SessionState, shown,
};
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store;

pub use self::password::{MAX_LEN as MAX_PASSWORD_LEN, MIN_LEN as MIN_PASSWORD_LEN};
pub use self::sign_in_limiter::SignInLimiter;

/// The most sessions a listing returns (newest first).
pub const MAX_LISTED_SESSIONS: u32 = 1_000;

/// A sign-in attempt, as the web edge received it.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// The administrator's name, as typed.
    pub name: &'a str,
    /// Its web password.
    pub password: &'a SecretString,
    /// The code of its authenticator app.
    pub code: &'a str,
    /// Where the attempt came from, when known.
    pub remote: Option<IpAddr>,
    /// The browser's user agent (kept, bounded, for display).
    pub user_agent: &'a str,
}

/// A valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Its id.
    pub id: i64,
    /// The administrator signed in.
    pub admin: Admin,
    /// When it was signed in.
    pub created_at: OffsetDateTime,
    /// When it was last used (to the minute).
    pub last_seen_at: OffsetDateTime,
    /// When it ends however used.
    pub expires_at: OffsetDateTime,
}

/// A session just signed in, with its token: the cookie's value, shown once and never stored.
#[derive(Debug)]
pub struct NewWebSession {
    /// The session token (32 random bytes, base64url).
    pub token: SecretString,
    /// The session.
    pub session: WebSession,
}

/// A TOTP secret being enrolled, to show once.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The `otpauth://` URI (for a QR code).
    pub uri: SecretString,
    /// The secret in base32 (to type).
    pub secret_base32: SecretString,
}

/// Which sessions to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRevocation {
    /// One session, by id.
    One(i64),
    /// Every session of an administrator (`None`: the caller's own): "sign out everywhere".
    AllOf(Option<AdminName>),
}

/// The token a web form carries against cross-site requests: the hex SHA-256 of a fixed label and
/// the session token, so that it is bound to the session and reveals nothing of it.
pub fn csrf_token(session_token: &SecretString) -> String {
    let mut hash = Sha256::new();
    hash.update(b"sesame-web-csrf-v1\0");
    hash.update(session_token.expose_secret().as_bytes());
    hex::encode(hash.finalize())
}

/// Why a sign-in failed, for the audit trail (never told to the client).
enum Refusal {
    Failed(&'static str),
    Error(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::Error(error)
    }
}

impl From<store::Error> for Refusal {
    fn from(error: store::Error) -> Refusal {
        Refusal::Error(error.into())
    }
}

/// The one answer to a refused sign-in, whatever was wrong.
fn sign_in_refused() -> Error {
    Error::unauthenticated("the name, password or code is wrong")
}

/// The one answer to a session that is not (or no longer) valid.
fn no_session() -> Error {
    Error::unauthenticated("no valid web session: sign in")
}

fn session_hash(token: &SecretString) -> TokenHash {
    Token::from_secret(token.clone()).hash()
}

impl Services {
    /// Signs an administrator in with its name, web password and TOTP code, and opens a session.
    /// Any wrong or missing part is [`Error::Unauthenticated`] with one message, audited
    /// (`web.sign_in.fail`, with why, never the password or code); past the account's or the
    /// address's allowance of failures, [`Error::ResourceExhausted`] before anything is checked.
    pub async fn web_sign_in(&self, attempt: SignIn<'_>) -> Result<NewWebSession, Error> {
        let now = self.clock.now();
        let account: String = attempt.name.chars().take(64).collect::<String>().to_lowercase();
        if !self.sign_in_limiter.has_room(&account, attempt.remote, now) {
            tracing::warn!(remote = ?attempt.remote, "web sign-in refused: too many failures");
            return Err(Error::ResourceExhausted(
                "too many failed sign-ins: try again later".to_owned(),
            ));
        }
        match self.check_sign_in(&attempt, now).await {
            Ok(session) => Ok(session),
            Err(Refusal::Error(error)) => Err(error),
            Err(Refusal::Failed(reason)) => {
                self.sign_in_limiter.fail(account, attempt.remote, now);
                let target = AdminName::parse("name", attempt.name)
                    .map_or_else(|_| "(not a valid name)".to_owned(), |name| name.to_string());
                let remote = attempt.remote.map(|ip| ip.to_string());
                self.store
                    .record_web_sign_in_failure(&target, reason, remote.as_deref(), now)
                    .await?;
                tracing::warn!(name = %target, reason, remote = ?attempt.remote, "web sign-in refused");
                Err(sign_in_refused())
            }
        }
    }

    async fn check_sign_in(
        &self,
        attempt: &SignIn<'_>,
        now: OffsetDateTime,
    ) -> Result<NewWebSession, Refusal> {
        let credentials = match AdminName::parse("name", attempt.name) {
            Ok(name) => match self.store.web_credentials(&name).await {
                Ok(credentials) => Some(credentials),
                Err(store::Error::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
            Err(_) => None,
        };
        let hash = credentials.as_ref().and_then(|c| c.password_hash.clone());
        let has_password = hash.is_some();
        let matches = password::verify(attempt.password.clone(), hash).await?;
        let Some(credentials) = credentials else {
            return Err(Refusal::Failed("unknown_admin"));
        };
        if !has_password {
            return Err(Refusal::Failed("no_password"));
        }
        if !matches {
            return Err(Refusal::Failed("password"));
        }
        let admin = credentials.admin;
        let Some(sealed) = &credentials.totp else {
            return Err(Refusal::Failed("no_totp"));
        };
        let secret =
            self.escrow.open_totp(sealed, admin.id).map_err(|e| Error::Internal(e.into()))?;
        let Some(step) = secret.verify(attempt.code, now) else {
            return Err(Refusal::Failed("code"));
        };
        if credentials.last_step.is_some_and(|last| step <= last) {
            return Err(Refusal::Failed("replayed_code"));
        }
        let token = new_session_token();
        let record = NewWebSessionRecord {
            token_hash: session_hash(&token),
            created_at: now,
            expires_at: SessionPolicy::default().expires_at(now),
            remote_address: attempt.remote.map(|ip| shown(&ip.to_string(), MAX_REMOTE_LEN)),
            user_agent: shown(attempt.user_agent, MAX_USER_AGENT_LEN),
        };
        let info = match self.store.create_web_session(&admin, &record, step, now).await {
            Ok(info) => info,
            Err(store::Error::Conflict) => return Err(Refusal::Failed("replayed_code")),
            Err(other) => return Err(other.into()),
        };
        tracing::info!(admin = %admin.name, session = info.id, "web sign-in");
        let session = WebSession {
            id: info.id,
            admin,
            created_at: info.created_at,
            last_seen_at: info.last_seen_at,
            expires_at: info.expires_at,
        };
        Ok(NewWebSession { token, session })
    }

    /// The valid session of this token, noting its use (at most once a minute). Unknown, signed
    /// out, revoked, idle, expired, or of a revoked administrator: [`Error::Unauthenticated`].
    pub async fn web_session(&self, token: &SecretString) -> Result<WebSession, Error> {
        let now = self.clock.now();
        let (admin, info) = match self.store.web_session_by_token(&session_hash(token)).await {
            Ok(found) => found,
            Err(store::Error::NotFound) => return Err(no_session()),
            Err(other) => return Err(other.into()),
        };
        let mut last_seen_at = info.last_seen_at;
        match SessionPolicy::default().assess(info.last_seen_at, info.expires_at, now) {
            SessionState::Idle | SessionState::Expired => return Err(no_session()),
            SessionState::Active { touch: false } => {}
            SessionState::Active { touch: true } => {
                self.store.touch_web_session(info.id, now).await?;
                last_seen_at = now;
            }
        }
        Ok(WebSession {
            id: info.id,
            admin,
            created_at: info.created_at,
            last_seen_at,
            expires_at: info.expires_at,
        })
    }

    /// Ends the session of this token (`web.sign_out`); an unknown or ended one is left as it is.
    pub async fn web_sign_out(&self, token: &SecretString) -> Result<(), Error> {
        let (admin, info) = match self.store.web_session_by_token(&session_hash(token)).await {
            Ok(found) => found,
            Err(store::Error::NotFound) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        let actor = Actor::admin(&admin);
        self.store
            .revoke_web_session(info.id, SessionEnd::SignOut, &actor, self.clock.now())
            .await?;
        Ok(())
    }

    /// Sets the administrator's own web password: at least [`MIN_PASSWORD_LEN`] characters,
    /// stored as an argon2id hash (`admin.web_password.set`). Any administrator, for itself.
    pub async fn set_web_password(
        &self,
        admin: &Admin,
        password: SecretString,
    ) -> Result<(), Error> {
        password::check_rule(&password)?;
        let hash = password::hash(password).await?;
        let actor = Actor::admin(admin);
        self.store.set_web_password(admin, &hash, &actor, self.clock.now()).await?;
        tracing::info!(admin = %admin.name, "web sign-in credential changed");
        Ok(())
    }

    /// Starts enrolling a new TOTP secret for the administrator itself (`admin.totp.enrol`),
    /// replacing any pending one; the confirmed one stays in use until [`Services::confirm_totp`].
    pub async fn begin_totp_enrolment(&self, admin: &Admin) -> Result<TotpEnrolment, Error> {
        let secret = TotpSecret::generate();
        let sealed =
            self.escrow.seal_totp(&secret, admin.id).map_err(|e| Error::Internal(e.into()))?;
        self.store.set_pending_totp(admin, &sealed, &Actor::admin(admin), self.clock.now()).await?;
        Ok(TotpEnrolment { uri: secret.otpauth_uri(&admin.name), secret_base32: secret.base32() })
    }

    /// Confirms the pending TOTP secret with a code of it, which then replaces the one in use
    /// (`admin.totp.confirm`).
    pub async fn confirm_totp(&self, admin: &Admin, code: &str) -> Result<(), Error> {
        let now = self.clock.now();
        let name = AdminName::parse("name", &admin.name).map_err(|e| Error::Internal(e.into()))?;
        let credentials = self.store.web_credentials(&name).await?;
        let Some(pending) = credentials.pending_totp else {
            return Err(Error::FailedPrecondition(
                "no TOTP enrolment is pending: begin one first".to_owned(),
            ));
        };
        let wrong = || {
            Error::invalid(
                "the code does not match: check the device's clock and type the next code",
            )
        };
        let secret =
            self.escrow.open_totp(&pending, admin.id).map_err(|e| Error::Internal(e.into()))?;
        let step = secret.verify(code, now).ok_or_else(wrong)?;
        match self.store.confirm_totp(admin, &pending, step, &Actor::admin(admin), now).await {
            Ok(()) => {}
            Err(store::Error::Conflict) => return Err(wrong()),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(admin = %admin.name, "TOTP second factor confirmed");
        Ok(())
    }

    /// Unexpired, unrevoked, non-idle sessions, newest first (at most [`MAX_LISTED_SESSIONS`]):
    /// of `of`, or with `None` every administrator's for a global administrator and its own for
    /// the others. Another administrator's: global administrators only.
    pub async fn list_web_sessions(
        &self,
        admin: &Admin,
        of: Option<&AdminName>,
    ) -> Result<Vec<WebSessionInfo>, Error> {
        let own = AdminName::parse("name", &admin.name).map_err(|e| Error::Internal(e.into()))?;
        let of = match of {
            Some(name) if *name != own => {
                authorize(admin, Permission::Global)?;
                Some(name.clone())
            }
            Some(_) => Some(own),
            None if admin.may(Permission::Global) => None,
            None => Some(own),
        };
        let now = self.clock.now();
        let idle = SessionPolicy::default().idle;
        Ok(self.store.list_web_sessions(of.as_ref(), now, now - idle, MAX_LISTED_SESSIONS).await?)
    }

    /// Revokes one session or all of an administrator's (`web.session.revoke`) and returns how
    /// many were ended. Its own: any administrator; another's: global administrators only.
    pub async fn revoke_web_sessions(
        &self,
        admin: &Admin,
        which: SessionRevocation,
    ) -> Result<u64, Error> {
        let now = self.clock.now();
        let actor = Actor::admin(admin);
        match which {
            SessionRevocation::One(id) => {
                let outside = || Error::denied(format!("web session {id} is not yours"));
                let session = match self.store.web_session(id).await {
                    Ok(session) => session,
                    Err(store::Error::NotFound) if admin.may(Permission::Global) => {
                        return Err(Error::NotFound(format!("web session {id} does not exist")));
                    }
                    Err(store::Error::NotFound) => return Err(outside()),
                    Err(other) => return Err(other.into()),
                };
                if session.admin_id != admin.id && !admin.may(Permission::Global) {
                    tracing::warn!(admin = %admin.name, session = id, "permission denied");
                    return Err(outside());
                }
                let ended =
                    self.store.revoke_web_session(id, SessionEnd::Revoke, &actor, now).await?;
                Ok(u64::from(ended))
            }
            SessionRevocation::AllOf(name) => {
                let own =
                    AdminName::parse("name", &admin.name).map_err(|e| Error::Internal(e.into()))?;
                let name = match name {
                    Some(name) if name != own => {
                        authorize(admin, Permission::Global)?;
                        name
                    }
                    _ => own,
                };
                let count = self.store.revoke_web_sessions_of(&name, &actor, now).await?;
                tracing::info!(admin = %admin.name, of = %name, count, "web sessions revoked");
                Ok(count)
            }
        }
    }
}

/// A new session token: 32 random bytes, base64url without padding.
fn new_session_token() -> SecretString {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(bytes.as_mut());
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}
