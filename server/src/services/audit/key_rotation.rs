//! The audit signing key's place in the chain: which key the chain expects ([`chain_key`], that
//! start-up checks the key file against), and its explicit rotation ([`rotate_key`], for
//! `sesame-server audit rotate-key`), recorded as an `audit.key.rotate` record that carries the new
//! public key, and signed by the old key when it is still available, so that the chain itself
//! vouches for the hand-over.
//!
//! The rotation writes the new key beside the old file first (`<file>.<new id>.new`), then records
//! the rotation and signs its head, and only then keeps the old file aside
//! (`<file>.<old id>.retired`) and puts the new one in its place: interrupted after the record,
//! start-up names the waiting file.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::domain::audit::key_history::{KEY_ROTATE_ACTION, KeyRotation, KnownKey};
use crate::domain::audit::{Actor, SignedHead, head_message};
use crate::keys::audit_signing::{self, AuditKeyError, AuditSigningKey};
use crate::store::{self, AuditStore};

/// Why a rotation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyRotationError {
    /// The database could not be read or written.
    #[error("cannot read or extend the audit trail")]
    Store(#[from] store::Error),
    /// A key file could not be read, written or moved.
    #[error(transparent)]
    Key(#[from] AuditKeyError),
    /// The signed head could not be noted in the data directory.
    #[error("cannot note the signed head in {path}")]
    HeadFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The key the chain expects to sign it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainKey {
    /// Its id.
    pub key_id: String,
    /// The rotation record that handed over to it, if it came from one.
    pub since_rotation: Option<i64>,
}

/// The key the chain expects: the one the last rotation handed over to, or else the one that
/// signed the newest head; `None` while nothing was signed (a new database).
pub async fn chain_key(store: &dyn AuditStore) -> Result<Option<ChainKey>, store::Error> {
    if let Some(record) = store.latest_audit_record(KEY_ROTATE_ACTION).await?
        && let Some(Some(rotation)) = KeyRotation::from_record(&record)
    {
        return Ok(Some(ChainKey {
            key_id: rotation.new_key_id,
            since_rotation: Some(record.seq),
        }));
    }
    Ok(store
        .latest_signed_head()
        .await?
        .map(|head| ChainKey { key_id: head.key_id, since_rotation: None }))
}

/// Where a rotation leaves the new key until it is recorded: `<file>.<id>.new`.
pub fn pending_key_file(key_file: &Path, key_id: &str) -> PathBuf {
    let name = key_file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    key_file.with_file_name(format!("{name}.{key_id}.new"))
}

/// What a rotation did.
#[derive(Debug)]
pub struct RotatedKey {
    /// The rotation recorded.
    pub rotation: KeyRotation,
    /// The rotation record's sequence number.
    pub seq: i64,
    /// The head signing it (by the old key when it was available, else by the new one).
    pub head: SignedHead,
    /// Where the old key file was kept, if there was one.
    pub old_file: Option<PathBuf>,
}

/// Rotates the audit signing key in `key_file`: a new key, an `audit.key.rotate` record by
/// `actor` at `at`, its head signed by the old key when the file holds the chain's key (by the new
/// one otherwise) and noted in `head_file`, then the old file kept aside and the new one in place.
pub async fn rotate_key(
    store: &dyn AuditStore,
    key_file: &Path,
    head_file: &Path,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<RotatedKey, KeyRotationError> {
    let expected = chain_key(store).await?;
    let file = match AuditSigningKey::load(key_file) {
        Ok(key) => Some(key),
        Err(error) if error.is_missing() => None,
        Err(error) => {
            tracing::warn!(%error, "the audit signing key file cannot be read: taken as lost");
            None
        }
    };
    let file_label = match &file {
        Some(key) => key.id().to_owned(),
        None => "unreadable".to_owned(),
    };
    // The old key is available when the file holds the key the chain expects (or, before any
    // signature, any key).
    let available = file.filter(|key| expected.as_ref().is_none_or(|e| e.key_id == key.id()));
    let old = match (&expected, &available) {
        (_, Some(key)) => {
            Some(KnownKey { id: key.id().to_owned(), public_key: Some(key.public_key().to_vec()) })
        }
        (Some(chain), None) => Some(KnownKey { id: chain.key_id.clone(), public_key: None }),
        (None, None) => None,
    };
    let new = new_key(key_file)?;
    let rotation = KeyRotation {
        old,
        new_key_id: new.key.id().to_owned(),
        new_public_key: new.key.public_key().to_vec(),
    };
    let (seq, hash) = store.append_audit_event(&rotation.event(actor), at).await?;
    let signer = available.as_ref().unwrap_or(&new.key);
    let head = SignedHead {
        seq,
        hash,
        signed_at: at,
        key_id: signer.id().to_owned(),
        signature: signer.sign(&head_message(seq, &hash, at)),
    };
    let head = store.insert_signed_head(&head).await?;
    super::signing::note_head(head_file, head.seq, &head.hash).map_err(|source| {
        KeyRotationError::HeadFile { path: head_file.display().to_string(), source }
    })?;
    let old_file = if key_file.exists() {
        Some(audit_signing::set_aside(key_file, &file_label)?)
    } else {
        None
    };
    std::fs::rename(&new.path, key_file)
        .map_err(|source| AuditKeyError::Io { path: key_file.display().to_string(), source })?;
    tracing::info!(seq, new_key_id = new.key.id(), "rotated the audit signing key");
    Ok(RotatedKey { rotation, seq, head, old_file })
}

/// A new key, written to its waiting file.
struct NewKey {
    key: AuditSigningKey,
    path: PathBuf,
}

fn new_key(key_file: &Path) -> Result<NewKey, AuditKeyError> {
    // Written under a temporary name first: its id is known only once it exists.
    let draft = pending_key_file(key_file, "draft");
    let key = AuditSigningKey::create(&draft)?;
    let path = pending_key_file(key_file, key.id());
    std::fs::rename(&draft, &path)
        .map_err(|source| AuditKeyError::Io { path: path.display().to_string(), source })?;
    Ok(NewKey { key, path })
}
