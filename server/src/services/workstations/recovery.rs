//! Recovery: an agent whose certificate expired proves it still holds the workstation's registered
//! key by signing a one-time challenge, and gets a new certificate, within the recovery window.

use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

use super::agent::Certified;
use crate::domain::identifier::WorkstationId;
use crate::domain::workstation::{IssuedCertificate, WorkstationStatus};
use crate::services::{Error, Services};
use crate::store;

/// How long a recovery challenge stays valid.
const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);

/// The one refusal of a recovery, whatever was wrong.
const REFUSED_RECOVERY: &str = "recovery refused: enroll again with a new token";

/// The bytes an agent signs to answer `challenge` for workstation `id`.
pub fn recovery_message(id: &str, challenge: &[u8]) -> Vec<u8> {
    let mut message = sesame_proto::RECOVERY_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(id.as_bytes());
    message.extend_from_slice(challenge);
    message
}

impl Services {
    /// A fresh 32-byte challenge for an active workstation, valid five minutes. An unknown or
    /// inactive workstation gets the same [`Error::Unauthenticated`] as a bad answer would;
    /// too many open challenges are [`Error::ResourceExhausted`].
    pub async fn recovery_challenge(
        &self,
        workstation_id: &WorkstationId,
    ) -> Result<Vec<u8>, Error> {
        let now = self.clock.now();
        let refused = || Error::unauthenticated(REFUSED_RECOVERY);
        match self.store.get_workstation(workstation_id).await {
            Ok(ws) if ws.status == WorkstationStatus::Active => {}
            Ok(_) | Err(store::Error::NotFound) => return Err(refused()),
            Err(other) => return Err(other.into()),
        }
        let mut challenge = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut challenge);
        match self
            .store
            .add_recovery_challenge(workstation_id, &challenge, now + CHALLENGE_LIFETIME, now)
            .await
        {
            Ok(()) => Ok(challenge),
            Err(store::Error::Conflict) => Err(Error::ResourceExhausted(
                "too many recovery attempts; wait a few minutes".into(),
            )),
            Err(store::Error::NotFound) => Err(refused()),
            Err(other) => Err(other.into()),
        }
    }

    /// A new certificate for a workstation that answered one of its challenges with a signature
    /// (see [`recovery_message`]) by its registered key, while active and no later than the
    /// recovery window after its last certificate expired. The challenge is spent whatever the
    /// outcome; every refusal is the same [`Error::Unauthenticated`], its reason logged.
    pub async fn recover(
        &self,
        workstation_id: &WorkstationId,
        challenge: &[u8],
        signature: &[u8],
    ) -> Result<Certified, Error> {
        let now = self.clock.now();
        let refused = |why: &str| {
            tracing::warn!(workstation = %workstation_id, why, "recovery refused");
            Error::unauthenticated(REFUSED_RECOVERY)
        };
        if !self.store.take_recovery_challenge(workstation_id, challenge, now).await? {
            return Err(refused("unknown or expired challenge"));
        }
        let ws = match self.store.get_workstation(workstation_id).await {
            Ok(ws) => ws,
            Err(store::Error::NotFound) => return Err(refused("unknown workstation")),
            Err(other) => return Err(other.into()),
        };
        if ws.status != WorkstationStatus::Active {
            return Err(refused("workstation not active"));
        }
        if now > ws.cert_not_after + self.agents.recovery_window {
            return Err(refused("outside the recovery window"));
        }
        let message = recovery_message(ws.id.as_str(), challenge);
        if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ws.public_key)
            .verify(&message, signature)
            .is_err()
        {
            return Err(refused("bad signature"));
        }
        let certificate = self.issue_certificate(ws.id.as_str(), &ws.office, &ws.public_key)?;
        let issued = IssuedCertificate {
            serial: certificate.serial.clone(),
            not_after: certificate.not_after,
        };
        let updated = self
            .store
            .replace_certificate(&ws.id, None, &issued, "workstation.recover", now)
            .await?;
        self.changed(crate::store::Change::Workstation(ws.id.clone())).await;
        tracing::info!(workstation = %ws.id, generation = updated.generation, "workstation recovered");
        Ok(Certified { certificate, generation: updated.generation })
    }
}
