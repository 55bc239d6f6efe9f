//! Bearer secrets: administrator tokens and enrollment tokens.
//!
//! A token is a prefix naming its kind (so that leaked tokens are easy to find with a scanner)
//! followed by 256 random bits in hex. It is shown once; the database keeps only its SHA-256 (a
//! plain hash is enough for a secret of this entropy, OWASP ASVS 6.5.2), so a dump grants nothing.

use std::fmt;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The kinds of token, by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An administrator's credential: `sesame_admin_…`.
    Admin,
    /// A workstation enrollment token: `sesame_enroll_…`.
    Enroll,
}

impl TokenKind {
    /// The prefix of tokens of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Admin => "sesame_admin_",
            TokenKind::Enroll => "sesame_enroll_",
        }
    }
}

/// A token in clear. Its `Debug` is redacted and its memory is wiped on drop.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    /// A new random token of the given kind.
    pub fn generate(kind: TokenKind) -> Token {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        Token(SecretString::from(format!("{}{}", kind.prefix(), hex::encode(bytes.as_ref()))))
    }

    /// Wraps a token read from a file or a request.
    pub fn from_secret(token: SecretString) -> Token {
        Token(token)
    }

    /// The token in clear, to be written to its file or sent.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The hash the database keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.expose_secret().as_bytes()).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
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
        let a = Token::generate(TokenKind::Admin);
        let b = Token::generate(TokenKind::Admin);
        assert!(a.expose().starts_with("sesame_admin_"));
        assert_eq!(a.expose().len(), "sesame_admin_".len() + 64);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "Token([REDACTED])");
        assert!(!format!("{:?}", a.hash()).contains(&hex::encode(a.hash().0)));
        assert!(Token::generate(TokenKind::Enroll).expose().starts_with("sesame_enroll_"));
    }
}
