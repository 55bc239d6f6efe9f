//! Administrators made on the server host rather than through the API: the bootstrap
//! administrator at first start, and `sesame-server admin create`. Start-up (`lib.rs`) calls these
//! and writes the credentials files; only this module reaches the store for them, with the
//! system as the audited actor.

use time::OffsetDateTime;

use crate::domain::admin::{Admin, AdminRole, NewAdmin};
use crate::domain::audit::Actor;
use crate::domain::identifier::AdminName;
use crate::domain::office::Crpcen;
use crate::domain::token::TokenHash;
use crate::store::{self, AdminStore};

/// The name of the administrator the first start creates.
pub const BOOTSTRAP_NAME: &str = "bootstrap";

/// Why `admin create` made no administrator.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request is inconsistent; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken.
    #[error("an administrator named {0:?} already exists")]
    NameTaken(String),
    /// An office does not exist.
    #[error("office {0} does not exist")]
    UnknownOffice(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Checks an administrator to create on the host: a valid name, and offices exactly for office
/// administrators. Nothing is written.
pub fn check_new_admin(name: &str, role: AdminRole, offices: &[Crpcen]) -> Result<(), Refusal> {
    if AdminName::parse("name", name).is_err() {
        return Err(Refusal::Invalid(AdminName::RULE.to_owned()));
    }
    match (role, offices.is_empty()) {
        (AdminRole::Office, true) => {
            Err(Refusal::Invalid("an office administrator needs --offices".to_owned()))
        }
        (AdminRole::Global | AdminRole::Auditor, false) => {
            Err(Refusal::Invalid("--offices applies to office administrators only".to_owned()))
        }
        _ => Ok(()),
    }
}

/// Creates an administrator for `sesame-server admin create`, the system being the actor.
pub async fn create_admin(
    store: &dyn AdminStore,
    admin: &NewAdmin,
    at: OffsetDateTime,
) -> Result<Admin, Refusal> {
    check_new_admin(&admin.name, admin.role, &admin.offices)?;
    match store.create_admin(admin, &Actor::system(), at).await {
        Ok(created) => Ok(created),
        Err(store::Error::Conflict) => Err(Refusal::NameTaken(admin.name.clone())),
        Err(store::Error::MissingOffices(missing)) => Err(Refusal::UnknownOffice(
            missing.first().map(ToString::to_string).unwrap_or_default(),
        )),
        Err(other) => Err(other.into()),
    }
}

/// Whether a start must create the bootstrap administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// An active global administrator exists: nothing to do.
    NotNeeded,
    /// There is no active global administrator, but the bootstrap one was made (and revoked)
    /// before: a person must create one on the host.
    Exhausted,
    /// The database has no global administrator yet: create `bootstrap`.
    Create,
}

/// What a start must do about the bootstrap administrator.
pub async fn bootstrap_needed(store: &dyn AdminStore) -> Result<Bootstrap, store::Error> {
    let admins = store.list_admins().await?;
    if admins.iter().any(|a| a.role == AdminRole::Global && a.revoked_at.is_none()) {
        return Ok(Bootstrap::NotNeeded);
    }
    if admins.iter().any(|a| a.name == BOOTSTRAP_NAME) {
        return Ok(Bootstrap::Exhausted);
    }
    Ok(Bootstrap::Create)
}

/// Creates the bootstrap global administrator with this token hash. `false` if another server
/// sharing the database created it first.
pub async fn create_bootstrap(
    store: &dyn AdminStore,
    token_hash: TokenHash,
    at: OffsetDateTime,
) -> Result<bool, store::Error> {
    let admin = NewAdmin {
        name: BOOTSTRAP_NAME.to_owned(),
        role: AdminRole::Global,
        offices: Vec::new(),
        token_hash,
    };
    match store.create_admin(&admin, &Actor::system(), at).await {
        Ok(_) => Ok(true),
        Err(store::Error::Conflict) => Ok(false),
        Err(other) => Err(other),
    }
}
