//! Rotations as administrators drive them: the password policy, issuing provisional passwords
//! (generated here, sealed in escrow, stored with their rotation in one transaction), cancelling,
//! reissuing and listing them. Disclosure, delivery (periodic rotations included), decryption and
//! expiry are in `disclosure`; agents' step reports and a mailbox's history in `reports`.

mod disclosure;
mod reports;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

pub use self::disclosure::{DeliveredRotations, Disclosed, DisclosurePurpose};

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::{MailboxId, RotationId};
use crate::domain::office::{Crpcen, Mailbox, MailboxAddress};
use crate::domain::page::{self, RotationCursor};
use crate::domain::password::PasswordPolicy;
use crate::domain::rotation::{NewRotation, Rotation, RotationStatus, new_rotation_id};
use crate::services::access::{self, authorize};
use crate::services::{Error, Services, failpoint};
use crate::store::{self, Change};

/// Which mailboxes a request names: one, or all of an office's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One mailbox.
    Mailbox(MailboxAddress),
    /// Every mailbox of the office.
    Office(Crpcen),
}

impl Target {
    /// The office the mailboxes belong to.
    pub fn office(&self) -> &Crpcen {
        match self {
            Target::Mailbox(address) => address.office(),
            Target::Office(office) => office,
        }
    }
}

/// Which page of rotations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationPageRequest {
    /// At most this many (0: [`page::DEFAULT_PAGE`]; never more than [`page::MAX_PAGE`]).
    pub size: u32,
    /// Where the previous page ended, if this is not the first.
    pub after: Option<RotationCursor>,
}

/// A page of rotations, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPage {
    /// The rotations.
    pub rotations: Vec<Rotation>,
    /// Where the next page starts; `None` on the last one.
    pub next: Option<RotationCursor>,
}

/// What issuing provisional passwords did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The rotations opened, by address.
    pub issued: Vec<Rotation>,
    /// The mailboxes left alone because a rotation was already open for them.
    pub skipped: Vec<MailboxAddress>,
}

/// A [`Target`] found in the store.
enum Resolved {
    Mailbox(Mailbox),
    Office(Crpcen),
}

impl Services {
    /// The policy in force for an office (or the global one), for whoever may read there.
    pub async fn password_policy(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
    ) -> Result<PasswordPolicy, Error> {
        authorize(admin, Permission::Read(office))?;
        Ok(self.store.password_policy(office).await?)
    }

    /// Sets the global policy (global administrators) or an office's override.
    pub async fn set_password_policy(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        policy: &PasswordPolicy,
    ) -> Result<(), Error> {
        authorize(admin, office.map_or(Permission::Global, Permission::Write))?;
        policy.validate().map_err(|e| Error::invalid(format!("policy: {e}")))?;
        if let Some(office) = office
            && let Err(store::Error::NotFound) = self.store.get_office(office).await
        {
            return Err(Error::NotFound(format!("office {office} does not exist")));
        }
        self.store
            .set_password_policy(office, policy, &Actor::admin(admin), self.clock.now())
            .await?;
        tracing::info!(admin = %admin.name, office = ?office.map(ToString::to_string), "policy set");
        Ok(())
    }

    /// Opens a rotation, with a fresh provisional password, for the mailbox or for each of the
    /// office's mailboxes that has none open. One mailbox with an open rotation is refused.
    pub async fn open_rotations(&self, admin: &Admin, target: &Target) -> Result<Issued, Error> {
        let (candidates, skipped) = match self.resolve(admin, target).await? {
            Resolved::Mailbox(mailbox) => {
                if self.store.current_rotation(mailbox.id).await?.is_some() {
                    return Err(Error::AlreadyExists(format!(
                        "a rotation is already open for {}; cancel or reissue it",
                        mailbox.address
                    )));
                }
                (vec![mailbox], Vec::new())
            }
            Resolved::Office(office) => {
                let open: HashSet<MailboxId> = self
                    .office_open_rotations(&office)
                    .await?
                    .iter()
                    .map(|r| r.mailbox_id)
                    .collect();
                let (skipped, candidates): (Vec<Mailbox>, Vec<Mailbox>) = self
                    .office_mailboxes(&office)
                    .await?
                    .into_iter()
                    .partition(|m| open.contains(&m.id));
                (candidates, skipped.into_iter().map(|m| m.address).collect())
            }
        };
        let issued = if candidates.is_empty() {
            Vec::new()
        } else {
            self.open_for(admin, target.office(), &candidates).await?
        };
        tracing::info!(admin = %admin.name, office = %target.office(), issued = issued.len(), skipped = skipped.len(), "rotations opened");
        Ok(Issued { issued, skipped })
    }

    /// Cancels the open rotation of the mailbox, or every open rotation of the office, destroying
    /// their escrowed passwords. Returns how many were cancelled.
    pub async fn cancel_rotations(&self, admin: &Admin, target: &Target) -> Result<u64, Error> {
        let ids: Vec<RotationId> = match self.resolve(admin, target).await? {
            Resolved::Mailbox(mailbox) => {
                self.store.current_rotation(mailbox.id).await?.into_iter().map(|r| r.id).collect()
            }
            Resolved::Office(office) => {
                self.office_open_rotations(&office).await?.into_iter().map(|r| r.id).collect()
            }
        };
        let cancelled = self
            .store
            .close_rotations(
                &ids,
                RotationStatus::Cancelled,
                &Actor::admin(admin),
                self.clock.now(),
            )
            .await?;
        failpoint("cancel:committed")?;
        self.changed(Change::Rotations(target.office().clone())).await;
        tracing::info!(admin = %admin.name, office = %target.office(), cancelled, "rotations cancelled");
        Ok(cancelled)
    }

    /// Cancels the mailbox's open rotation, if any, and opens a new one with a fresh password.
    pub async fn reissue_rotation(
        &self,
        admin: &Admin,
        address: &MailboxAddress,
    ) -> Result<Option<Rotation>, Error> {
        authorize(admin, Permission::Write(address.office()))?;
        let mailbox = self.existing_mailbox(address).await?;
        if let Some(open) = self.store.current_rotation(mailbox.id).await? {
            self.store
                .close_rotations(
                    &[open.id],
                    RotationStatus::Cancelled,
                    &Actor::admin(admin),
                    self.clock.now(),
                )
                .await?;
            self.changed(Change::Rotations(address.office().clone())).await;
        }
        let rotation = self
            .open_for(admin, mailbox.address.office(), std::slice::from_ref(&mailbox))
            .await?
            .into_iter()
            .next();
        tracing::info!(admin = %admin.name, mailbox = %mailbox.address, "rotation reissued");
        Ok(rotation)
    }

    /// A page of the rotations of one office (or of every office the administrator may read),
    /// open ones only or all: newest first, then by address and id; an office administrator of
    /// several offices gets them office after office (by CRPCEN), each newest first, so that
    /// every page follows the database's own order.
    pub async fn list_rotations(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        open_only: bool,
        page: &RotationPageRequest,
    ) -> Result<RotationPage, Error> {
        let mut scope = access::listing_scope(admin, office)?;
        let size = page::page_size(page.size).map_err(|e| Error::invalid(e.to_string()))?;
        scope.sort_by(|a, b| a.as_ref().map(Crpcen::as_str).cmp(&b.as_ref().map(Crpcen::as_str)));
        let mut rotations: Vec<Rotation> = Vec::new();
        for office in &scope {
            let remaining = size - rotations.len() as u32;
            if remaining == 0 {
                break;
            }
            let after = match (office, &page.after) {
                (Some(office), Some(after))
                    if after.address.office().as_str() > office.as_str() =>
                {
                    continue;
                }
                (Some(office), Some(after)) if after.address.office() != office => None,
                (_, after) => after.as_ref(),
            };
            let found =
                self.store.list_rotations(office.as_ref(), open_only, after, remaining).await?;
            rotations.extend(found);
        }
        let next = match rotations.last() {
            Some(last) if rotations.len() == size as usize => Some(RotationCursor {
                issued_at: last.issued_at,
                address: last.address.clone(),
                id: last.id.clone(),
            }),
            _ => None,
        };
        Ok(RotationPage { rotations, next })
    }

    /// Every open rotation of an office, read a page at a time. Callers authorize first.
    async fn office_open_rotations(&self, office: &Crpcen) -> Result<Vec<Rotation>, Error> {
        let mut all: Vec<Rotation> = Vec::new();
        loop {
            let after = all.last().map(|r| RotationCursor {
                issued_at: r.issued_at,
                address: r.address.clone(),
                id: r.id.clone(),
            });
            let page = self
                .store
                .list_rotations(Some(office), true, after.as_ref(), page::MAX_PAGE)
                .await?;
            let done = page.len() < page::MAX_PAGE as usize;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Authorizes a change on the target's office, then finds the target.
    async fn resolve(&self, admin: &Admin, target: &Target) -> Result<Resolved, Error> {
        authorize(admin, Permission::Write(target.office()))?;
        match target {
            Target::Mailbox(address) => {
                Ok(Resolved::Mailbox(self.existing_mailbox(address).await?))
            }
            Target::Office(office) => {
                self.existing_office(office).await?;
                Ok(Resolved::Office(office.clone()))
            }
        }
    }

    /// Opens a rotation for each mailbox, with a fresh provisional password sealed in escrow.
    async fn open_for(
        &self,
        admin: &Admin,
        office: &Crpcen,
        mailboxes: &[Mailbox],
    ) -> Result<Vec<Rotation>, Error> {
        let now = self.clock.now();
        let policy = self.store.password_policy(Some(office)).await?;
        let mut rotations = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            let id = new_rotation_id();
            let password = policy.generate_provisional();
            let sealed = self
                .escrow
                .seal(&password, mailbox.id, &id)
                .map_err(|e| Error::Internal(Box::new(e)))?;
            rotations.push(NewRotation {
                id,
                mailbox_id: mailbox.id,
                sealed,
                expires_at: now + self.provisional_validity,
            });
        }
        match self.store.open_rotations(&rotations, &Actor::admin(admin), now).await {
            Ok(()) => {
                failpoint("issue:escrowed")?;
                self.changed(Change::Rotations(office.clone())).await
            }
            Err(store::Error::Conflict) => {
                return Err(Error::AlreadyExists(
                    "a rotation is already open for one of these mailboxes; cancel or reissue it"
                        .to_owned(),
                ));
            }
            Err(other) => return Err(other.into()),
        }
        let ids: HashSet<&str> = rotations.iter().map(|r| r.id.as_str()).collect();
        let mut opened = self.office_open_rotations(office).await?;
        opened.retain(|r| ids.contains(r.id.as_str()));
        opened.sort_by(|a, b| a.address.as_str().cmp(b.address.as_str()));
        Ok(opened)
    }
}
