//! The local account bound to a mailbox on a workstation, as administrators manage it: set or
//! reset a mailbox's binding on one workstation, or its default account (all its workstations
//! without a binding of their own). Bindings made by agents' verified reports are the store's
//! (`ReportStore::record_reports`); what agents receive is `Services::deliver_rotations`'s.

use crate::domain::account::LocalAccount;
use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::MailboxAddress;
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store;

impl Services {
    /// Sets (`account` `Some`) or resets (`None`) the account bound to a mailbox on one
    /// workstation, or (`workstation_id` `None`) its default account; audited by the store. For
    /// administrators who may change the mailbox's office.
    pub async fn set_mailbox_account(
        &self,
        admin: &Admin,
        address: &MailboxAddress,
        workstation_id: Option<&WorkstationId>,
        account: Option<&LocalAccount>,
    ) -> Result<(), Error> {
        authorize(admin, Permission::Write(address.office()))?;
        let mailbox = self.existing_mailbox(address).await?;
        let actor = Actor::admin(admin);
        match self
            .store
            .set_mailbox_account(&mailbox, workstation_id, account, &actor, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(store::Error::NotFound) => {
                return Err(Error::NotFound(format!(
                    "workstation_id: no workstation {:.40} in office {}",
                    workstation_id.map_or("", WorkstationId::as_str),
                    address.office()
                )));
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(
            admin = %admin.name,
            mailbox = %address,
            workstation = workstation_id.map_or("(default)", WorkstationId::as_str),
            account = account.map_or("(reset)", |a| a.id.as_str()),
            "mailbox account set"
        );
        Ok(())
    }
}
