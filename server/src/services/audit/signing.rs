//! Signing the audit chain's head with the audit signing key: on demand
//! ([`Services::sign_audit_head`], which the compliance report calls) and at an interval when the
//! chain advanced ([`Services::run_head_signer`], spawned by `Server::serve`, and once more at
//! shutdown). Signing is not itself an audit record: that would move the head.
//!
//! After each signature the head's sequence number and hash are also written to a small file in
//! this server's data directory (`DataDir::audit_head`), which a database writer cannot reach:
//! verification then notices signed heads deleted, or the chain truncated, behind it. With several
//! servers on one database each keeps its own file, and only a database whose newest head is
//! older than the file's is flagged, so the servers never raise false alarms about each other.
//! A full data directory refuses the signature with RESOURCE_EXHAUSTED (the head stays stored);
//! the file is brought up to date at the next signature, even of the same head.

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::domain::audit::{SignedHead, head_message};
use crate::services::{Error, Services};

impl Services {
    /// Signs the chain's current head at `at`, stores it, and notes it in the data directory.
    /// When that record was already signed (by this server or another), returns the head stored
    /// first. `FailedPrecondition` while the chain is empty.
    pub async fn sign_audit_head(&self, at: OffsetDateTime) -> Result<SignedHead, Error> {
        let Some((seq, hash)) = self.store.audit_head().await? else {
            return Err(Error::FailedPrecondition("the audit trail is empty".to_owned()));
        };
        // Signed already (a report right after another, or the interval's signature): as stored,
        // noted in the file if an earlier attempt could not (a full disk).
        if let Some(latest) = self.store.latest_signed_head().await?
            && latest.seq == seq
            && latest.hash == hash
        {
            let path = &self.audit.head_file;
            note_head(path, latest.seq, &latest.hash).map_err(|e| head_file_error(path, e))?;
            return Ok(latest);
        }
        let key = &self.audit.key;
        let head = SignedHead {
            seq,
            hash,
            signed_at: at,
            key_id: key.id().to_owned(),
            signature: key.sign(&head_message(seq, &hash, at)),
        };
        let stored = self.store.insert_signed_head(&head).await?;
        let path = &self.audit.head_file;
        let noted = read_head_file(path)?;
        if noted.is_none_or(|(noted_seq, _)| noted_seq < stored.seq) {
            write_head_file(path, stored.seq, &stored.hash)
                .map_err(|e| head_file_error(path, e))?;
        }
        Ok(stored)
    }

    /// Signs the head every `sign_interval` (the first time one interval after start) when the
    /// chain advanced since the newest signed head (whichever server signed it), and once more
    /// when `shutdown` turns true. Failures are logged and retried at the next tick.
    pub async fn run_head_signer(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // The first signature one interval after start: what came before was signed at the last
        // shutdown, or by another server.
        let period = self.audit.sign_interval;
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stop = tokio::select! {
                _ = interval.tick() => false,
                _ = shutdown.changed() => true,
            };
            self.sign_if_advanced().await;
            if stop || *shutdown.borrow() {
                return;
            }
        }
    }

    /// Signs the head if the chain advanced since the newest signed head.
    async fn sign_if_advanced(&self) {
        let advanced = async {
            let head = self.store.audit_head().await?;
            let signed = self.store.latest_signed_head().await?;
            Ok::<_, Error>(head.is_some_and(|(seq, _)| signed.is_none_or(|s| s.seq < seq)))
        };
        let result = match advanced.await {
            Ok(true) => self.sign_audit_head(self.clock.now()).await.map(Some),
            Ok(false) => Ok(None),
            Err(error) => Err(error),
        };
        match result {
            Ok(Some(head)) => tracing::debug!(seq = head.seq, "signed the audit chain's head"),
            Ok(None) => {}
            Err(error) => tracing::warn!(?error, "cannot sign the audit chain's head"),
        }
    }
}

/// The last head this server signed, from its data directory: `None` before the first.
pub(crate) fn read_head_file(path: &Path) -> Result<Option<(i64, [u8; 32])>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Internal(Box::new(e))),
    };
    parse_head_file(&text).map(Some).ok_or_else(|| {
        Error::Internal(format!("{} is not an audit head file", path.display()).into())
    })
}

/// `<seq> <hash hex>`.
fn parse_head_file(text: &str) -> Option<(i64, [u8; 32])> {
    let (seq, hash) = text.trim().split_once(' ')?;
    let hash: [u8; 32] = hex::decode(hash).ok()?.try_into().ok()?;
    Some((seq.parse().ok()?, hash))
}

/// Notes `seq` and `hash` as the last head this server signed, unless it noted a later one.
pub(crate) fn note_head(path: &Path, seq: i64, hash: &[u8; 32]) -> std::io::Result<()> {
    let noted = match std::fs::read_to_string(path) {
        Ok(text) => parse_head_file(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if noted.is_none_or(|(noted_seq, _)| noted_seq < seq) {
        write_head_file(path, seq, hash)?;
    }
    Ok(())
}

/// What a failure to write the head file at `path` answers: RESOURCE_EXHAUSTED on a full disk
/// (logged with its cause), INTERNAL otherwise.
fn head_file_error(path: &Path, error: std::io::Error) -> Error {
    if error.kind() == std::io::ErrorKind::StorageFull {
        tracing::error!(path = %path.display(), %error, "cannot note the audit head: the data directory's storage is full");
        return Error::storage_full();
    }
    Error::Internal(Box::new(error))
}

fn write_head_file(path: &Path, seq: i64, hash: &[u8; 32]) -> std::io::Result<()> {
    sesame_base::private_file::write_private(
        path,
        format!("{seq} {}\n", hex::encode(hash)).as_bytes(),
    )
}

#[cfg(test)]
mod tests;
