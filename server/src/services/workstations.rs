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
use crate::domain::workstation::{Workstation, WorkstationStatus};
use crate::services::access;
use crate::services::{Error, Services};
use crate::store::{self, Change};

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
        let (ws, mailbox) = self.assignment(admin, workstation_id, mailbox).await?;
        self.store.assign_mailbox(&ws.id, &mailbox, &Actor::admin(admin), self.clock.now()).await?;
        self.changed(Change::Rotations(ws.office.clone())).await;
        tracing::info!(admin = %admin.name, workstation = %ws.id, mailbox = %mailbox.address, "mailbox assigned");
        Ok(())
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
        Ok((ws, mailbox))
    }
}

#[cfg(test)]
mod tests;
