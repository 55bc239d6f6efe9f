//! Workstations: what administrators do with them (list, revoke, unlock, assign mailboxes) here;
//! what agents do (their identity checked on every request, renewal, heartbeat) in
//! [`agent`], their check-ins and the office's readiness they tell in [`check_in`], and recovery
//! with the registered key in [`recovery`].

pub mod agent;
pub mod check_in;
pub mod recovery;

use std::collections::HashMap;

use crate::domain::admin::Admin;
use crate::domain::audit::Actor;
use crate::domain::check_in::KeyState;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Mailbox, MailboxAddress};
use crate::domain::rotation::Rotation;
use crate::domain::workstation::{Workstation, WorkstationStatus};
use crate::services::access;
use crate::services::rotations::RotationPageRequest;
use crate::services::{Error, Services};
use crate::store::{self, Change};

/// Most mailboxes one request assigns.
pub const MAX_ASSIGNED_AT_ONCE: usize = 1_000;
/// Most rotations `workstation show` lists.
pub const MAX_SHOWN_ROTATIONS: usize = 100;

/// What a workstation holds ([`Services::workstation_details`]).
#[derive(Debug, Clone)]
pub struct WorkstationDetails {
    /// The workstation.
    pub workstation: Workstation,
    /// The key state of its last check-in that reported one.
    pub key: Option<KeyState>,
    /// Its readiness, with its mailboxes; `None` for a revoked workstation.
    pub readiness: Option<check_in::WorkstationReadiness>,
    /// The last rotations of its mailboxes, newest first.
    pub rotations: Vec<Rotation>,
}

impl Services {
    /// The workstations of `office`, or of every office the administrator may read, each with the
    /// key state of its last check-in that reported one.
    pub async fn list_workstations(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
    ) -> Result<Vec<(Workstation, Option<KeyState>)>, Error> {
        let scope = access::listing_scope(admin, office)?;
        self.settle_check_ins().await?;
        let mut workstations = Vec::new();
        for office in scope {
            let mut keys: HashMap<String, KeyState> = HashMap::new();
            for check_in in self.store.check_ins(office.as_ref()).await? {
                if let Some(key) = check_in.key {
                    keys.insert(check_in.workstation_id, key);
                }
            }
            for ws in self.store.list_workstations(office.as_ref()).await? {
                let key = keys.remove(ws.id.as_str());
                workstations.push((ws, key));
            }
        }
        Ok(workstations)
    }

    /// Revokes a workstation for good (nothing to do if it already is); its certificate is refused
    /// from its next request.
    pub async fn revoke_workstation(&self, admin: &Admin, id: &WorkstationId) -> Result<(), Error> {
        let ws = self.workstation_for_change(admin, id).await?;
        if ws.status != WorkstationStatus::Revoked {
            self.store
                .set_workstation_status(
                    &ws.id,
                    WorkstationStatus::Revoked,
                    None,
                    &Actor::admin(admin),
                    self.clock.now(),
                )
                .await?;
            self.changed(Change::Workstation(ws.id.clone())).await;
        }
        tracing::info!(admin = %admin.name, workstation = %ws.id, "workstation revoked");
        Ok(())
    }

    /// Makes a locked workstation active again; a revoked one is [`Error::FailedPrecondition`].
    pub async fn unlock_workstation(&self, admin: &Admin, id: &WorkstationId) -> Result<(), Error> {
        let ws = self.workstation_for_change(admin, id).await?;
        if ws.status == WorkstationStatus::Revoked {
            return Err(Error::FailedPrecondition(
                "a revoked workstation cannot be unlocked; enroll it again".to_owned(),
            ));
        }
        self.store
            .set_workstation_status(
                &ws.id,
                WorkstationStatus::Active,
                None,
                &Actor::admin(admin),
                self.clock.now(),
            )
            .await?;
        self.changed(Change::Workstation(ws.id.clone())).await;
        tracing::info!(admin = %admin.name, workstation = %ws.id, "workstation unlocked");
        Ok(())
    }

    /// Assigns the mailbox at `mailbox` (an address under the server's mail domain) to a
    /// workstation of the same office the administrator may change.
    pub async fn assign_mailbox(
        &self,
        admin: &Admin,
        workstation_id: &WorkstationId,
        mailbox: &str,
    ) -> Result<(), Error> {
        self.assign_mailboxes(admin, workstation_id, &[mailbox]).await
    }

    /// Assigns several mailboxes (at most [`MAX_ASSIGNED_AT_ONCE`]) to a workstation of their
    /// office, all in one transaction or none: the first address refused names itself.
    pub async fn assign_mailboxes(
        &self,
        admin: &Admin,
        workstation_id: &WorkstationId,
        mailboxes: &[&str],
    ) -> Result<(), Error> {
        if mailboxes.is_empty() {
            return Err(Error::invalid("mailbox: name at least one mailbox"));
        }
        if mailboxes.len() > MAX_ASSIGNED_AT_ONCE {
            return Err(Error::invalid(format!(
                "mailboxes: at most {MAX_ASSIGNED_AT_ONCE} at once"
            )));
        }
        let ws = self.workstation_for_change(admin, workstation_id).await?;
        let mut found: Vec<Mailbox> = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            let mailbox = self.assigned_mailbox(&ws, mailbox).await?;
            if !found.iter().any(|m| m.id == mailbox.id) {
                found.push(mailbox);
            }
        }
        self.store.assign_mailboxes(&ws.id, &found, &Actor::admin(admin), self.clock.now()).await?;
        self.changed(Change::Rotations(ws.office.clone())).await;
        for mailbox in &found {
            tracing::info!(admin = %admin.name, workstation = %ws.id, mailbox = %mailbox.address, "mailbox assigned");
        }
        Ok(())
    }

    /// What a workstation holds, for an administrator who may read its office: the workstation
    /// and its key state, its readiness (its mailboxes among it), and the last `rotations` (at
    /// most [`MAX_SHOWN_ROTATIONS`]) of its mailboxes, newest first.
    pub async fn workstation_details(
        &self,
        admin: &Admin,
        id: &WorkstationId,
        rotations: usize,
    ) -> Result<WorkstationDetails, Error> {
        let ws = self.workstation_for_reading(admin, id).await?;
        let wanted = rotations.min(MAX_SHOWN_ROTATIONS);
        let readiness = self.office_readiness(admin, &ws.office).await?;
        let readiness = readiness.workstations.into_iter().find(|r| r.workstation.id == ws.id);
        let key = readiness.as_ref().and_then(|r| r.check_in.as_ref()).and_then(|c| c.key.clone());
        let held: Vec<String> = readiness
            .as_ref()
            .map(|r| r.mailboxes.iter().map(|m| m.address.clone()).collect())
            .unwrap_or_default();
        let mut last = Vec::new();
        let mut page = RotationPageRequest { size: 1_000, after: None };
        while !held.is_empty() && last.len() < wanted {
            let found = self.list_rotations(admin, Some(&ws.office), false, &page).await?;
            last.extend(
                found
                    .rotations
                    .into_iter()
                    .filter(|r| held.iter().any(|h| h == r.address.as_str())),
            );
            match found.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        last.truncate(wanted);
        Ok(WorkstationDetails { workstation: ws, key, readiness, rotations: last })
    }

    /// Ends the assignment of a mailbox to a workstation; [`Error::NotFound`] if there is none.
    pub async fn unassign_mailbox(
        &self,
        admin: &Admin,
        workstation_id: &WorkstationId,
        mailbox: &str,
    ) -> Result<(), Error> {
        let (ws, mailbox) = self.assignment(admin, workstation_id, mailbox).await?;
        match self
            .store
            .unassign_mailbox(&ws.id, &mailbox, &Actor::admin(admin), self.clock.now())
            .await
        {
            Ok(()) => {
                self.changed(Change::Rotations(ws.office.clone())).await;
                Ok(())
            }
            Err(store::Error::NotFound) => {
                Err(Error::NotFound(format!("{} is not assigned to {}", mailbox.address, ws.id)))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The workstation and mailbox of an (un)assignment, both in one office the administrator may
    /// change. The workstation is checked before the address is read, so that a refusal about it
    /// comes first.
    async fn assignment(
        &self,
        admin: &Admin,
        workstation_id: &WorkstationId,
        mailbox: &str,
    ) -> Result<(Workstation, Mailbox), Error> {
        let ws = self.workstation_for_change(admin, workstation_id).await?;
        let mailbox = self.assigned_mailbox(&ws, mailbox).await?;
        Ok((ws, mailbox))
    }

    /// The mailbox at `mailbox`, of the workstation's office.
    async fn assigned_mailbox(&self, ws: &Workstation, mailbox: &str) -> Result<Mailbox, Error> {
        let address = MailboxAddress::parse(mailbox, &self.mail_domain)
            .map_err(|e| Error::invalid(format!("mailbox: {e}")))?;
        if address.office() != &ws.office {
            return Err(Error::invalid(format!(
                "mailbox {address} belongs to office {}, workstation {} to office {}",
                address.office(),
                ws.id,
                ws.office
            )));
        }
        let mailbox = match self.store.get_mailbox(&address).await {
            Ok(m) => m,
            Err(store::Error::NotFound) => {
                return Err(Error::NotFound(format!("mailbox {address} does not exist")));
            }
            Err(other) => return Err(other.into()),
        };
        Ok(mailbox)
    }
}

#[cfg(test)]
mod tests;
