//! Administrators signed in to the web dashboard: their web credentials as stored
//! ([`WebCredentials`]), their sessions ([`WebSessionInfo`], [`NewWebSessionRecord`]) and the
//! rules a session lives by ([`SessionPolicy`]: an idle timeout, an absolute expiry, and
//! `last_seen` written at most once a minute so that a busy page does not write on every request).

use time::{Duration, OffsetDateTime};

use crate::domain::admin::Admin;
use crate::domain::rotation::Sealed;
use crate::domain::token::TokenHash;

/// The most characters of a user agent kept with a session (the column's bound).
pub const MAX_USER_AGENT_LEN: usize = 256;
/// The most characters of a remote address kept with a session (the column's bound).
pub const MAX_REMOTE_LEN: usize = 64;

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long is over.
    pub idle: Duration,
    /// A session is over this long after sign-in, however used.
    pub absolute: Duration,
    /// `last_seen` is written when it is at least this old.
    pub touch_every: Duration,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours in all, `last_seen` written at most once a minute.
    fn default() -> SessionPolicy {
        SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
            touch_every: Duration::minutes(1),
        }
    }
}

/// What a session is at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable; `touch` when `last_seen` should be written now.
    Active {
        /// Whether to write `last_seen`.
        touch: bool,
    },
    /// Unused for longer than the idle timeout.
    Idle,
    /// Past its absolute expiry.
    Expired,
}

impl SessionPolicy {
    /// When a session signed in `at` expires, however used.
    pub fn expires_at(&self, created_at: OffsetDateTime) -> OffsetDateTime {
        created_at + self.absolute
    }

    /// What a session last seen `last_seen_at` and expiring `expires_at` is at `now`.
    pub fn assess(
        &self,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> SessionState {
        if now >= expires_at {
            SessionState::Expired
        } else if now - last_seen_at >= self.idle {
            SessionState::Idle
        } else {
            SessionState::Active { touch: now - last_seen_at >= self.touch_every }
        }
    }
}

/// An administrator's web credentials as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebCredentials {
    /// The (unrevoked) administrator.
    pub admin: Admin,
    /// The argon2id PHC string of its web password, once set.
    pub password_hash: Option<String>,
    /// Its confirmed TOTP secret, sealed.
    pub totp: Option<Sealed>,
    /// A TOTP secret being enrolled, sealed.
    pub pending_totp: Option<Sealed>,
    /// When the TOTP secret in use was confirmed.
    pub totp_confirmed_at: Option<OffsetDateTime>,
    /// The last TOTP step accepted.
    pub last_step: Option<i64>,
}

/// A session to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSessionRecord {
    /// The hash of its token.
    pub token_hash: TokenHash,
    /// When it was signed in (also its first `last_seen`).
    pub created_at: OffsetDateTime,
    /// Its absolute expiry.
    pub expires_at: OffsetDateTime,
    /// Where the sign-in came from, as shown (at most [`MAX_REMOTE_LEN`] characters).
    pub remote_address: Option<String>,
    /// The browser's user agent, as shown (at most [`MAX_USER_AGENT_LEN`] characters).
    pub user_agent: String,
}

/// How a session ends before its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Its administrator signed out (`web.sign_out`).
    SignOut,
    /// An administrator revoked it (`web.session.revoke`).
    Revoke,
}

impl SessionEnd {
    /// The audit action.
    pub fn action(self) -> &'static str {
        match self {
            SessionEnd::SignOut => "web.sign_out",
            SessionEnd::Revoke => "web.session.revoke",
        }
    }
}

/// A stored session, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSessionInfo {
    /// Its id.
    pub id: i64,
    /// The administrator's id.
    pub admin_id: i64,
    /// The administrator's name.
    pub admin_name: String,
    /// When it was signed in.
    pub created_at: OffsetDateTime,
    /// When it was last used (to the minute).
    pub last_seen_at: OffsetDateTime,
    /// Its absolute expiry.
    pub expires_at: OffsetDateTime,
    /// When it was revoked or signed out, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Where the sign-in came from, as shown.
    pub remote_address: Option<String>,
    /// The browser's user agent, as shown.
    pub user_agent: String,
}

/// `text` cut to at most `max` characters, control characters replaced, for display columns.
pub fn shown(text: &str, max: usize) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(max).collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-11-25 09:00 UTC);

    #[test]
    fn a_session_ends_when_idle_or_past_its_expiry_and_is_touched_once_a_minute() {
        let policy = SessionPolicy::default();
        let expires = policy.expires_at(T0);
        assert_eq!(expires, datetime!(2026-11-25 21:00 UTC));
        let assess = |last_seen, now| policy.assess(last_seen, expires, now);
        assert_eq!(assess(T0, T0), SessionState::Active { touch: false });
        assert_eq!(assess(T0, T0 + Duration::seconds(59)), SessionState::Active { touch: false });
        assert_eq!(assess(T0, T0 + Duration::minutes(1)), SessionState::Active { touch: true });
        assert_eq!(
            assess(T0, T0 + Duration::minutes(29) + Duration::seconds(59)),
            SessionState::Active { touch: true }
        );
        assert_eq!(assess(T0, T0 + Duration::minutes(30)), SessionState::Idle);
        let busy = expires - Duration::seconds(1);
        assert_eq!(assess(busy, busy), SessionState::Active { touch: false });
        assert_eq!(assess(busy, expires), SessionState::Expired, "however used");
        assert_eq!(assess(T0, expires + Duration::hours(1)), SessionState::Expired);
    }

    #[test]
    fn shown_text_is_bounded_and_has_no_control_characters() {
        assert_eq!(shown("Mozilla/5.0\n\u{1b}[31m", 64), "Mozilla/5.0??[31m");
        assert_eq!(shown(&"é".repeat(300), MAX_USER_AGENT_LEN).chars().count(), 256);
    }
}
