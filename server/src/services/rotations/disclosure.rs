//! Where escrowed passwords leave the server, and where they die: disclosure to administrators
//! (export, letters) and delivery to workstations, each audited before anything is decrypted;
//! the decryption itself; and the sweeper that expires rotations whose password ran out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::account::LocalAccount;
use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::office::Crpcen;
use crate::domain::password::PasswordPolicy;
use crate::domain::rotation::{Disclosure, Rotation, Sealed, new_rotation_id};
use crate::domain::workstation::Workstation;
use crate::keys::escrow::EscrowKey;
use crate::services::access::authorize;
use crate::services::{Error, Services, failpoint};
use crate::store::Change;

/// How often the sweeper looks for expired rotations.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Why an administrator asks for an office's provisional passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosurePurpose {
    /// To set them on Exchange.
    Export,
    /// To print the letters.
    Letters,
}

/// The provisional passwords disclosed to an administrator, with the policy they follow.
#[derive(Debug)]
pub struct Disclosed {
    /// The office's password policy.
    pub policy: PasswordPolicy,
    /// Each open rotation of the office with its provisional password.
    pub passwords: Vec<(Rotation, SecretString)>,
}

/// What a workstation receives: the policy its new passwords must follow, and each open rotation
/// of the mailboxes assigned to it with its provisional password.
#[derive(Debug)]
pub struct DeliveredRotations {
    /// The office's password policy.
    pub policy: PasswordPolicy,
    /// The rotations and their provisional passwords.
    pub rotations: Vec<(Rotation, SecretString)>,
    /// The open periodic rotations (no provisional password).
    pub periodic: Vec<Rotation>,
    /// The effective binding on this workstation of each mailbox that has one, by mailbox id:
    /// only that account's sessions may see or change its rotations.
    pub accounts: HashMap<i64, LocalAccount>,
}

impl Services {
    /// An office's open rotations and their provisional passwords, for an administrator who may
    /// change the office. The disclosure's audit record is committed before anything is decrypted.
    pub async fn disclose_provisional(
        &self,
        admin: &Admin,
        office: &Crpcen,
        purpose: DisclosurePurpose,
    ) -> Result<Disclosed, Error> {
        authorize(admin, Permission::Write(office))?;
        let disclosure = match purpose {
            DisclosurePurpose::Export => Disclosure::Export(office),
            DisclosurePurpose::Letters => Disclosure::Letters(office),
        };
        let policy = self.store.password_policy(Some(office)).await?;
        let sealed = self
            .store
            .disclose_rotations(disclosure, &Actor::admin(admin), self.clock.now())
            .await?;
        failpoint("disclosure:audited")?;
        let passwords = open_all(&self.escrow, sealed)?;
        tracing::info!(admin = %admin.name, %office, action = disclosure.action(), count = passwords.len(), "escrow disclosed");
        Ok(Disclosed { policy, passwords })
    }

    /// The open rotations of the mailboxes assigned to an authenticated workstation, with their
    /// provisional passwords. The delivery is audited (and the rotations marked delivered) before
    /// anything is decrypted. Periodic rotations that came due are opened (audited) and delivered
    /// too, without a password. Each comes with its mailbox's effective binding on the workstation.
    pub async fn deliver_rotations(
        &self,
        workstation: &Workstation,
    ) -> Result<DeliveredRotations, Error> {
        let policy = self.store.password_policy(Some(&workstation.office)).await?;
        let sealed = self
            .store
            .disclose_rotations(
                Disclosure::Delivery(&workstation.id),
                &Actor::workstation(workstation.id.as_str()),
                self.clock.now(),
            )
            .await?;
        if !sealed.is_empty() {
            failpoint("delivery:audited")?;
        }
        let rotations = open_all(&self.escrow, sealed)?;
        let periodic = self
            .store
            .deliver_periodic(
                &workstation.id,
                self.provisional_validity,
                &new_rotation_id,
                self.clock.now(),
            )
            .await?;
        if !rotations.is_empty() || !periodic.is_empty() {
            tracing::info!(workstation = %workstation.id, count = rotations.len(), periodic = periodic.len(), "rotations delivered");
        }
        // Most calls deliver nothing: the bindings are read only for what is delivered.
        let accounts = if rotations.is_empty() && periodic.is_empty() {
            Default::default()
        } else {
            self.store.bound_accounts(&workstation.id).await?
        };
        Ok(DeliveredRotations { policy, rotations, periodic, accounts })
    }

    /// Closes the rotations whose provisional password ran out, destroying their escrow; returns
    /// how many. Failures are logged (the next sweep tries again) and count as none. Several
    /// servers may sweep at once: closing is idempotent.
    pub async fn expire_rotations(&self) -> u64 {
        match self.store.expire_rotations(self.clock.now()).await {
            Ok(0) => 0,
            Ok(n) => {
                self.changed(Change::AllRotations).await;
                tracing::info!(expired = n, "expired rotations closed, escrow destroyed");
                n
            }
            Err(error) => {
                tracing::warn!(error = %sesame_base::error_chain::chain(&error), "cannot expire rotations");
                0
            }
        }
    }

    /// Sweeps expired rotations, then passed compliance deadlines, every minute, forever; the server spawns it and aborts it at
    /// shutdown.
    pub async fn run_expiry_sweeper(self: Arc<Self>) {
        let mut interval = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            interval.tick().await;
            self.expire_rotations().await;
            self.sweep_compliance().await;
        }
    }
}

/// Decrypts disclosed rotations' passwords. Call only once their disclosure is audited.
fn open_all(
    escrow: &EscrowKey,
    sealed: Vec<(Rotation, Sealed)>,
) -> Result<Vec<(Rotation, SecretString)>, Error> {
    sealed
        .into_iter()
        .map(|(rotation, sealed)| {
            let password = escrow
                .open(&sealed, rotation.mailbox_id, &rotation.id)
                .map_err(|e| Error::Internal(Box::new(e)))?;
            Ok((rotation, password))
        })
        .collect()
}
