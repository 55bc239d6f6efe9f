//! Administrators as other administrators see them: who am I, the list, and revocation; and
//! (`provisioning`) the ones made on the server host.

pub mod provisioning;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::AdminName;
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store;

/// The server's version, as `WhoAmI` reports it.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What an administrator learns about itself and the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    /// The authenticated administrator.
    pub admin: Admin,
    /// The server's version.
    pub server_version: &'static str,
}

impl Services {
    /// The authenticated administrator and the server's version; every administrator may ask.
    pub fn who_am_i(&self, admin: &Admin) -> WhoAmI {
        WhoAmI { admin: admin.clone(), server_version: SERVER_VERSION }
    }

    /// Every administrator, revoked ones included, by name (global administrators only).
    pub async fn list_admins(&self, admin: &Admin) -> Result<Vec<Admin>, Error> {
        authorize(admin, Permission::Global)?;
        Ok(self.store.list_admins().await?)
    }

    /// Revokes another administrator's credential (global administrators only; never its own).
    pub async fn revoke_admin(&self, admin: &Admin, name: &AdminName) -> Result<(), Error> {
        authorize(admin, Permission::Global)?;
        if name.as_str() == admin.name {
            return Err(Error::FailedPrecondition(
                "an administrator cannot revoke itself".to_owned(),
            ));
        }
        match self.store.revoke_admin(name, &Actor::admin(admin), self.clock.now()).await {
            Ok(()) => {}
            Err(store::Error::NotFound) => {
                return Err(Error::NotFound(format!("no active administrator named {name:.60}")));
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(admin = %admin.name, revoked = %name, "administrator revoked");
        Ok(())
    }
}
