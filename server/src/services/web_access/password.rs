//! Web passwords: argon2id (the crate's defaults, OWASP's minimum: 19 MiB, 2 passes, 1 lane) with
//! a random salt, kept as a PHC string. Both hashing and verifying run on the blocking pool, and a
//! sign-in as an unknown administrator verifies against a hash of its own, so that its answer
//! takes as long as a wrong password's.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::services::Error;

/// The fewest characters of a web password.
pub const MIN_LEN: usize = 12;
/// The most characters of a web password.
pub const MAX_LEN: usize = 1024;

/// Why a web password cannot be set.
pub(super) fn check_rule(password: &SecretString) -> Result<(), Error> {
    let len = password.expose_secret().chars().count();
    if len < MIN_LEN {
        return Err(Error::invalid(format!(
            "the web password must have at least {MIN_LEN} characters"
        )));
    }
    if len > MAX_LEN {
        return Err(Error::invalid(format!(
            "the web password must have at most {MAX_LEN} characters"
        )));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a random salt.
pub(super) async fn hash(password: SecretString) -> Result<String, Error> {
    blocking(move || hash_now(&password)).await?
}

/// Whether `password` matches `hash`; with no hash, verifies against a hash of a random password
/// (and answers false), spending the same time.
pub(super) async fn verify(password: SecretString, hash: Option<String>) -> Result<bool, Error> {
    blocking(move || {
        let (hash, known) = match hash {
            Some(hash) => (hash, true),
            None => (unknown_admin_hash()?.to_owned(), false),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| internal(&e))?;
        let matches =
            Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await?
}

fn hash_now(password: &SecretString) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| internal(&e))?;
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| internal(&e))?;
    Ok(hash.to_string())
}

/// A hash of a random password nobody knows, made once per process.
fn unknown_admin_hash() -> Result<&'static str, Error> {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(hash) = HASH.get() {
        return Ok(hash);
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; 24]);
    rand::rng().fill_bytes(bytes.as_mut());
    let made = hash_now(&SecretString::from(hex::encode(bytes.as_ref())))?;
    Ok(HASH.get_or_init(|| made))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(Box::new(e)))
}

fn internal(error: &argon2::password_hash::Error) -> Error {
    Error::Internal(error.to_string().into())
}
