//! The escrow of provisional passwords: ChaCha20-Poly1305 under a key kept outside the database.
//! The same key seals administrators' TOTP secrets (`seal_totp`), under associated data of their
//! own bound to the administrator.
//!
//! The key is 32 random bytes in a file (`escrow.key` in the data directory, mode 0600, created on
//! first start; or the file named by `escrow.key_file`). Each ciphertext carries the id of the key
//! that sealed it, and its associated data binds it to its mailbox and rotation, so a ciphertext
//! copied to another row does not decrypt. Neither the database file nor a dump holds a password
//! in clear, and a stolen database is useless without the key file.
//!
//! Back the key up with the data directory, separately from database backups. Servers sharing a
//! PostgreSQL database need the same key file. To rotate the key: stop issuing, let open rotations
//! complete or cancel them (provisional passwords live 14 days), replace the file, reissue.

use std::fmt;
use std::path::Path;

use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use sesame_base::private_file::write_private;
use sha2::{Digest, Sha256};

use crate::domain::identifier::{MailboxId, RotationId};
use crate::domain::rotation::Sealed;
use crate::domain::totp::TotpSecret;

/// Why the escrow key or a ciphertext could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    /// The key file could not be read or written.
    #[error("cannot access the escrow key file {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold 32 bytes in hex.
    #[error("the escrow key file {0} does not hold a 64-digit hexadecimal key")]
    BadKey(String),
    /// The ciphertext was sealed with another key.
    #[error("sealed with escrow key {found}, but the server holds key {expected}")]
    WrongKey {
        /// The key id of the ciphertext.
        found: String,
        /// The key id of the server's key.
        expected: String,
    },
    /// The ciphertext was altered, or belongs to another mailbox or rotation.
    #[error("an escrowed password failed its integrity check")]
    Integrity,
}

/// The escrow key.
pub struct EscrowKey {
    key: LessSafeKey,
    id: String,
}

impl fmt::Debug for EscrowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EscrowKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The associated data of a TOTP secret: bound to its administrator, and never confused with a
/// provisional password.
fn totp_associated_data(admin_id: i64) -> Vec<u8> {
    let mut aad = b"sesame-totp-v1".to_vec();
    aad.extend_from_slice(&admin_id.to_be_bytes());
    aad
}

fn associated_data(mailbox_id: i64, rotation_id: &str) -> Vec<u8> {
    let mut aad = b"sesame-escrow-v1".to_vec();
    aad.extend_from_slice(&mailbox_id.to_be_bytes());
    aad.extend_from_slice(rotation_id.as_bytes());
    aad
}

impl EscrowKey {
    /// Loads the key from `path`, creating it (mode 0600) if `create` and it does not exist.
    pub fn load_or_create(path: &Path, create: bool) -> Result<EscrowKey, EscrowError> {
        let io = |source| EscrowError::Io { path: path.display().to_string(), source };
        if !path.exists() && create {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(bytes.as_mut());
            let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(bytes.as_ref())));
            write_private(path, text.as_bytes()).map_err(io)?;
            tracing::info!(path = %path.display(), "created the escrow key: back it up with the data directory");
        }
        let text = SecretString::from(std::fs::read_to_string(path).map_err(io)?);
        let bytes = zeroize::Zeroizing::new(
            hex::decode(text.expose_secret().trim())
                .map_err(|_| EscrowError::BadKey(path.display().to_string()))?,
        );
        EscrowKey::from_bytes(&bytes).ok_or_else(|| EscrowError::BadKey(path.display().to_string()))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<EscrowKey> {
        if bytes.len() != 32 {
            return None;
        }
        let id =
            hex::encode(&Sha256::digest([b"sesame-escrow-key-id".as_slice(), bytes].concat())[..8]);
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?);
        Some(EscrowKey { key, id })
    }

    /// The key's id (not secret: a hash of the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals a password for one mailbox's rotation.
    pub fn seal(
        &self,
        password: &SecretString,
        mailbox_id: MailboxId,
        rotation_id: &RotationId,
    ) -> Result<Sealed, EscrowError> {
        self.seal_bytes(
            password.expose_secret().as_bytes(),
            associated_data(mailbox_id.0, rotation_id.as_str()),
        )
    }

    /// Opens a sealed password; fails if it was altered or belongs to another mailbox or rotation.
    pub fn open(
        &self,
        sealed: &Sealed,
        mailbox_id: MailboxId,
        rotation_id: &RotationId,
    ) -> Result<SecretString, EscrowError> {
        let plain = self.open_bytes(sealed, associated_data(mailbox_id.0, rotation_id.as_str()))?;
        let text = std::str::from_utf8(&plain).map_err(|_| EscrowError::Integrity)?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// Seals an administrator's TOTP secret, bound to that administrator.
    pub fn seal_totp(&self, secret: &TotpSecret, admin_id: i64) -> Result<Sealed, EscrowError> {
        self.seal_bytes(secret.expose(), totp_associated_data(admin_id))
    }

    /// Opens an administrator's sealed TOTP secret; fails if it was altered or belongs to another
    /// administrator.
    pub fn open_totp(&self, sealed: &Sealed, admin_id: i64) -> Result<TotpSecret, EscrowError> {
        let plain = self.open_bytes(sealed, totp_associated_data(admin_id))?;
        TotpSecret::from_bytes(&plain).ok_or(EscrowError::Integrity)
    }

    fn seal_bytes(&self, plain: &[u8], aad: Vec<u8>) -> Result<Sealed, EscrowError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buffer = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .map_err(|_| EscrowError::Integrity)?;
        Ok(Sealed { key_id: self.id.clone(), nonce: nonce.to_vec(), ciphertext: buffer })
    }

    fn open_bytes(
        &self,
        sealed: &Sealed,
        aad: Vec<u8>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, EscrowError> {
        if sealed.key_id != self.id {
            return Err(EscrowError::WrongKey {
                found: sealed.key_id.clone(),
                expected: self.id.clone(),
            });
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| EscrowError::Integrity)?;
        let mut buffer = zeroize::Zeroizing::new(sealed.ciphertext.clone());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| EscrowError::Integrity)?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_opens_only_for_its_own_mailbox_and_rotation() {
        let rid = |id: &str| RotationId::parse("id", id).unwrap();
        let key = EscrowKey::from_bytes(&[7; 32]).unwrap();
        let password = SecretString::from("Provisoire#2026xy".to_owned());
        let a = key.seal(&password, MailboxId(1), &rid("rot-a")).unwrap();
        let b = key
            .seal(&SecretString::from("Autre!Mot2passe".to_owned()), MailboxId(2), &rid("rot-b"))
            .unwrap();
        assert_eq!(
            key.open(&a, MailboxId(1), &rid("rot-a")).unwrap().expose_secret(),
            "Provisoire#2026xy"
        );
        assert!(
            !a.ciphertext.windows(10).any(|w| w == b"Provisoire"),
            "no clear text in the ciphertext"
        );
        // Swapping two rows' ciphertexts makes both fail.
        assert!(matches!(key.open(&b, MailboxId(1), &rid("rot-a")), Err(EscrowError::Integrity)));
        assert!(matches!(key.open(&a, MailboxId(2), &rid("rot-b")), Err(EscrowError::Integrity)));
        assert!(matches!(
            key.open(&a, MailboxId(1), &rid("rot-other")),
            Err(EscrowError::Integrity)
        ));
        let mut flipped = a.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(
            key.open(&flipped, MailboxId(1), &rid("rot-a")),
            Err(EscrowError::Integrity)
        ));
        let other = EscrowKey::from_bytes(&[8; 32]).unwrap();
        assert!(matches!(
            other.open(&a, MailboxId(1), &rid("rot-a")),
            Err(EscrowError::WrongKey { .. })
        ));
        assert!(!format!("{key:?}").contains("07"));
    }

    #[test]
    fn a_totp_secret_opens_only_for_its_own_administrator() {
        let key = EscrowKey::from_bytes(&[7; 32]).unwrap();
        let secret = TotpSecret::generate();
        let sealed = key.seal_totp(&secret, 3).unwrap();
        assert_eq!(key.open_totp(&sealed, 3).unwrap().expose(), secret.expose());
        assert!(matches!(key.open_totp(&sealed, 4), Err(EscrowError::Integrity)));
        let password = key
            .seal(
                &SecretString::from("x".repeat(20)),
                MailboxId(3),
                &RotationId::parse("id", "r").unwrap(),
            )
            .unwrap();
        assert!(matches!(key.open_totp(&password, 3), Err(EscrowError::Integrity)));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escrow.key");
        assert!(EscrowKey::load_or_create(&path, false).is_err(), "not created unless asked");
        let first = EscrowKey::load_or_create(&path, true).unwrap();
        let again = EscrowKey::load_or_create(&path, true).unwrap();
        assert_eq!(first.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(EscrowKey::load_or_create(&path, true), Err(EscrowError::BadKey(_))));
    }
}
