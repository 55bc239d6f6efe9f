//! What the rotation keeps instead of passwords: a salted SHA-256 [`Verifier`] of the provisional
//! password (journaled, so a typo is caught locally even offline after a restart; the provisional
//! password has at least 16 random characters, so a plain salted hash is enough), and an
//! in-memory [`Fingerprint`] of a new password under a per-process random [`FingerprintKey`]
//! (never serialised), so that a refused new password is recognised without being kept.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A salted SHA-256 of the provisional password, hex-encoded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    salt: String,
    hash: String,
}

impl Verifier {
    /// A verifier of `password` with a fresh random salt.
    pub fn new(password: &SecretString) -> Verifier {
        let salt: [u8; 16] = rand::rng().random();
        Verifier::with_salt(&salt, password)
    }

    fn with_salt(salt: &[u8], password: &SecretString) -> Verifier {
        Verifier { salt: hex::encode(salt), hash: hex::encode(digest(salt, password)) }
    }

    /// Whether `typed` is the password this verifier was made from.
    pub fn matches(&self, typed: &SecretString) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else { return false };
        let expected = digest(&salt, typed);
        let Ok(stored) = hex::decode(&self.hash) else { return false };
        // Constant time: the comparison does not stop at the first difference.
        stored.len() == expected.len()
            && stored.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

fn digest(salt: &[u8], password: &SecretString) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"sesame provisional verifier v1\0");
    hasher.update(salt);
    hasher.update(password.expose_secret().as_bytes());
    hasher.finalize().into()
}

/// A random key, one per service run, under which new passwords are fingerprinted.
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    /// A fresh random key.
    pub fn random() -> FingerprintKey {
        FingerprintKey(rand::rng().random())
    }

    /// The fingerprint of `password` under this key.
    pub fn fingerprint(&self, password: &SecretString) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(b"sesame new-password fingerprint v1\0");
        hasher.update(self.0);
        hasher.update(password.expose_secret().as_bytes());
        Fingerprint(hasher.finalize().into())
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

/// A new password's fingerprint under the run's [`FingerprintKey`]; never written anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// A fingerprint from raw bytes (tests and fakes).
    pub fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_recognises_its_password_only_and_hides_it() {
        let password = SecretString::from("Kx9#mPq2$vL7wZ4!");
        let verifier = Verifier::new(&password);
        assert!(verifier.matches(&password));
        assert!(!verifier.matches(&SecretString::from("Kx9#mPq2$vL7wZ4?")));
        let json = serde_json::to_string(&verifier).unwrap();
        assert!(!json.contains("Kx9#mPq2"));
        assert_eq!(format!("{verifier:?}"), "Verifier(..)");
        let other = Verifier::new(&password);
        assert_ne!(verifier, other, "each verifier has its own salt");
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let password = SecretString::from("Nouveau-Mot-2026!");
        let key = FingerprintKey::random();
        assert_eq!(key.fingerprint(&password), key.fingerprint(&password));
        assert_ne!(key.fingerprint(&password), FingerprintKey::random().fingerprint(&password));
    }
}
