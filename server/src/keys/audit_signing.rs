//! The audit signing key: Ed25519 (ring), kept outside the database, that signs the audit chain's
//! head so that whoever can write the database cannot rewrite the chain unnoticed.
//!
//! The key is a 32-byte seed in hex in a file (`audit-signing.key` in the data directory, mode
//! 0600, created on first start; or the file named by `audit.signing_key_file`). Its id is the
//! first 8 bytes of the SHA-256 of the public key, in hex; each signed head names the id of the key
//! that signed it. Back the file up with the data directory; servers sharing a PostgreSQL
//! database need the same file (copy it, like the escrow key). Give the public key
//! (`sesame-server audit public-key`) to the auditors: with it, a signature can be checked without
//! the server.
//!
//! Once the database holds signed heads, the key is never replaced quietly: start-up refuses a
//! missing or different key file (`lib.rs`), and a new key comes only from
//! `sesame-server audit rotate-key`, which records the hand-over in the chain
//! (`services::audit::key_rotation`) and keeps the old file aside ([`set_aside`]).

use std::fmt;
use std::path::Path;

use rand::RngCore;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use secrecy::{ExposeSecret, SecretString};
use sesame_base::private_file::write_private;
use sha2::{Digest, Sha256};

/// Why the audit signing key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    /// The key file could not be read or written.
    #[error("cannot access the audit signing key file {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold a 32-byte seed in hex.
    #[error("the audit signing key file {0} does not hold a 64-digit hexadecimal key")]
    BadKey(String),
}

/// The audit signing key pair.
pub struct AuditSigningKey {
    pair: Ed25519KeyPair,
    id: String,
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigningKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl AuditSigningKey {
    /// Loads the key from `path`, creating it (mode 0600) if `create` and it does not exist.
    pub fn load_or_create(path: &Path, create: bool) -> Result<AuditSigningKey, AuditKeyError> {
        if !path.exists() && create {
            let key = AuditSigningKey::create(path)?;
            tracing::info!(path = %path.display(), key_id = key.id(), "created the audit signing key: back it up with the data directory");
            return Ok(key);
        }
        AuditSigningKey::load(path)
    }

    /// A new random key, written to `path` (mode 0600, replacing any file there).
    pub fn create(path: &Path) -> Result<AuditSigningKey, AuditKeyError> {
        let io = |source| AuditKeyError::Io { path: path.display().to_string(), source };
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(seed.as_mut());
        let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(seed.as_ref())));
        write_private(path, text.as_bytes()).map_err(io)?;
        AuditSigningKey::from_seed(&seed[..])
            .ok_or_else(|| AuditKeyError::BadKey(path.display().to_string()))
    }

    /// Loads the key from `path`, which must exist.
    pub fn load(path: &Path) -> Result<AuditSigningKey, AuditKeyError> {
        let io = |source| AuditKeyError::Io { path: path.display().to_string(), source };
        let text = SecretString::from(std::fs::read_to_string(path).map_err(io)?);
        let bad = || AuditKeyError::BadKey(path.display().to_string());
        let seed =
            zeroize::Zeroizing::new(hex::decode(text.expose_secret().trim()).map_err(|_| bad())?);
        AuditSigningKey::from_seed(&seed).ok_or_else(bad)
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(seed: &[u8]) -> Option<AuditSigningKey> {
        if seed.len() != 32 {
            return None;
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).ok()?;
        let id = key_id(pair.public_key().as_ref());
        Some(AuditSigningKey { pair, id })
    }

    /// The key's id (not secret: a hash of the public key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key, 32 bytes.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// Signs `message` (64 bytes).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        verify(self.public_key(), message, signature)
    }
}

impl AuditKeyError {
    /// Whether the key file does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, AuditKeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Keeps a key file that is being replaced: renamed beside itself to
/// `<name>.<label>.retired` (a number appended if that exists), never deleted. Returns the new
/// path.
pub fn set_aside(path: &Path, label: &str) -> Result<std::path::PathBuf, AuditKeyError> {
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut aside = path.with_file_name(format!("{name}.{label}.retired"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = path.with_file_name(format!("{name}.{label}.{n}.retired"));
    }
    std::fs::rename(path, &aside)
        .map_err(|source| AuditKeyError::Io { path: path.display().to_string(), source })?;
    Ok(aside)
}

/// The id of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Whether `signature` is the Ed25519 signature of `public_key` over `message`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(message, signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let key = AuditSigningKey::from_seed(&[7; 32]).unwrap();
        let signature = key.sign(b"head 1");
        assert_eq!(signature.len(), 64);
        assert!(key.verify(b"head 1", &signature));
        assert!(!key.verify(b"head 2", &signature));
        assert!(verify(key.public_key(), b"head 1", &signature));
        let other = AuditSigningKey::from_seed(&[8; 32]).unwrap();
        assert!(!other.verify(b"head 1", &signature));
        assert_ne!(key.id(), other.id());
        assert_eq!(key.id(), key_id(key.public_key()));
        assert_eq!(key.id().len(), 16);
        assert!(!format!("{key:?}").contains("0707"));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-signing.key");
        assert!(AuditSigningKey::load_or_create(&path, false).is_err(), "not created unless asked");
        let first = AuditSigningKey::load_or_create(&path, true).unwrap();
        let again = AuditSigningKey::load_or_create(&path, true).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let aside = set_aside(&path, first.id()).unwrap();
        assert_eq!(aside, dir.path().join(format!("audit-signing.key.{}.retired", first.id())));
        assert!(AuditSigningKey::load(&path).unwrap_err().is_missing());
        std::fs::copy(&aside, &path).unwrap();
        let second = set_aside(&path, first.id()).unwrap();
        assert_eq!(second, dir.path().join(format!("audit-signing.key.{}.2.retired", first.id())));
        assert_eq!(AuditSigningKey::load(&second).unwrap().id(), first.id());
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            AuditSigningKey::load_or_create(&path, true),
            Err(AuditKeyError::BadKey(_))
        ));
    }
}
