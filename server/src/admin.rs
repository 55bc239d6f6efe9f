//! Administrator identities and their bearer tokens.
//!
//! A token is 256 random bits shown once, in the credentials file given to the administrator. The
//! database keeps only its SHA-256 (a plain hash is enough for a secret of this entropy, OWASP ASVS
//! 6.5.2), so a dump of the database grants nothing.

use std::fmt;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The prefix of every admin token, so that leaked tokens are easy to find with a scanner.
pub const TOKEN_PREFIX: &str = "sesame_admin_";

/// What an administrator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRole {
    /// Everything, on every office.
    Global,
}

impl AdminRole {
    /// The role's stable name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Global => "global",
        }
    }

    /// Parses a stored role name.
    pub fn parse(value: &str) -> Option<AdminRole> {
        match value {
            "global" => Some(AdminRole::Global),
            _ => None,
        }
    }
}

/// A registered administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Database id.
    pub id: i64,
    /// Unique name, e.g. `bootstrap` or `marie.durand`.
    pub name: String,
    /// What it may do.
    pub role: AdminRole,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// An administrator to create.
#[derive(Debug, Clone)]
pub struct NewAdmin {
    /// Unique name.
    pub name: String,
    /// Its role.
    pub role: AdminRole,
    /// The hash of its token.
    pub token_hash: TokenHash,
}

/// A bearer token in clear. Its `Debug` is redacted and its memory is wiped on drop.
#[derive(Clone)]
pub struct AdminToken(SecretString);

impl AdminToken {
    /// A new random token.
    pub fn generate() -> AdminToken {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        AdminToken(SecretString::from(format!("{TOKEN_PREFIX}{}", hex::encode(bytes.as_ref()))))
    }

    /// Wraps a token read from a credentials file or a request.
    pub fn from_secret(token: SecretString) -> AdminToken {
        AdminToken(token)
    }

    /// The token in clear, to be written to its credentials file or sent to the server.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The hash the database keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.expose_secret().as_bytes()).into())
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken([REDACTED])")
    }
}

/// The SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_redacted() {
        let a = AdminToken::generate();
        let b = AdminToken::generate();
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "AdminToken([REDACTED])");
        assert!(!format!("{:?}", a.hash()).contains(&hex::encode(a.hash().0)));
    }
}
