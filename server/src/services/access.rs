//! Who is asking and what they may do: administrators are authenticated by their bearer token and
//! authorized through [`Admin::may`] before anything is looked up, so that a refusal about an
//! office outside an administrator's scope says nothing about what exists there.

use crate::domain::admin::{Admin, Permission};
use crate::domain::identifier::WorkstationId;
use crate::domain::office::Crpcen;
use crate::domain::token::Token;
use crate::domain::workstation::Workstation;
use crate::services::{Error, Services};
use crate::store;

impl Services {
    /// The unrevoked administrator holding this bearer token; [`Error::Unauthenticated`] for any
    /// other token, without saying why.
    pub async fn authenticate_admin(&self, token: &Token) -> Result<Admin, Error> {
        match self.store.admin_by_token(&token.hash()).await {
            Ok(admin) => Ok(admin),
            Err(store::Error::NotFound) => Err(unauthenticated()),
            Err(other) => Err(other.into()),
        }
    }

    /// A workstation the administrator may change. Outside its offices (or absent, for an office
    /// administrator) is [`Error::PermissionDenied`], so the answer reveals nothing.
    pub async fn workstation_for_change(
        &self,
        admin: &Admin,
        id: &WorkstationId,
    ) -> Result<Workstation, Error> {
        let outside = || Error::denied(format!("workstation {id:.40} is not in your offices"));
        match self.store.get_workstation(id).await {
            Ok(ws) if admin.may(Permission::Write(&ws.office)) => Ok(ws),
            Ok(_) => Err(outside()),
            Err(store::Error::NotFound) if admin.may(Permission::WriteAll) => {
                Err(Error::NotFound(format!("workstation {id:.40} does not exist")))
            }
            Err(store::Error::NotFound) => Err(outside()),
            Err(other) => Err(other.into()),
        }
    }

    /// The workstation, if the administrator may read its office; outside its offices, the same
    /// refusal whether it exists or not.
    pub async fn workstation_for_reading(
        &self,
        admin: &Admin,
        id: &WorkstationId,
    ) -> Result<Workstation, Error> {
        let outside = || Error::denied(format!("workstation {id:.40} is not in your offices"));
        match self.store.get_workstation(id).await {
            Ok(ws) if admin.may(Permission::Read(Some(&ws.office))) => Ok(ws),
            Ok(_) => Err(outside()),
            Err(store::Error::NotFound) if admin.may(Permission::Read(None)) => {
                Err(Error::NotFound(format!("workstation {id:.40} does not exist")))
            }
            Err(store::Error::NotFound) => Err(outside()),
            Err(other) => Err(other.into()),
        }
    }
}

/// The refusal of a missing or unknown administrator credential.
pub fn unauthenticated() -> Error {
    Error::unauthenticated("a valid administrator credential is required")
}

/// Whether the administrator may do `permission`; [`Error::PermissionDenied`] (logged) otherwise.
pub fn authorize(admin: &Admin, permission: Permission<'_>) -> Result<(), Error> {
    if admin.may(permission) {
        Ok(())
    } else {
        tracing::warn!(admin = %admin.name, ?permission, "permission denied");
        Err(denied(&permission))
    }
}

/// The refusal of `permission`, naming what the administrator lacks.
pub fn denied(permission: &Permission<'_>) -> Error {
    match permission {
        Permission::Read(Some(office)) | Permission::Write(office) => {
            Error::denied(format!("office {office} is not in your offices"))
        }
        Permission::Read(None) => Error::denied("name one of your offices"),
        Permission::Global | Permission::WriteAll => {
            Error::denied("only a global administrator may do this")
        }
        Permission::WriteSome => Error::denied("an auditor may read, not change"),
    }
}

/// The offices whose data a listing shows: the filter, if the administrator may read it, or
/// everything it may read (`None` standing for every office).
pub fn listing_scope(admin: &Admin, filter: Option<&Crpcen>) -> Result<Vec<Option<Crpcen>>, Error> {
    match (filter, admin.read_scope()) {
        (Some(office), _) if admin.may(Permission::Read(Some(office))) => {
            Ok(vec![Some(office.clone())])
        }
        (Some(office), _) => Err(denied(&Permission::Read(Some(office)))),
        (None, None) => Ok(vec![None]),
        (None, Some(offices)) => Ok(offices.iter().cloned().map(Some).collect()),
    }
}
