//! The service layer: every operation the server offers, whichever edge asks for it (gRPC today,
//! an HTTPS dashboard later). One module per capability. Services take and return domain types,
//! authorize the administrator through `Admin::may` before reading anything, and own the rules;
//! the edges only authenticate, convert and call.

pub mod access;
pub mod accounts;
pub mod admins;
pub mod audit;
pub mod cache;
pub mod check_in_writer;
pub mod compliance;
pub mod enrollment;
pub mod offices;
pub mod operations;
pub(crate) mod rate_limit;
pub mod rotations;
pub mod settings;
#[cfg(test)]
pub(crate) mod testing;
pub mod web_access;
pub mod workstations;

use std::error::Error as StdError;
use std::sync::Arc;

use sesame_base::clock::SharedClock;
use sesame_base::error_chain::chain;

use crate::domain::office::MailDomain;
use crate::domain::workstation::AgentPolicy;
use crate::keys::escrow::EscrowKey;
use crate::keys::pki::Pki;
use crate::store::{self, SharedStore};

/// What every service needs: the store, the clock, the keys and the settings. Holds no state of
/// its own beyond its caches (`cache`): everything that must outlive a request is in the store,
/// except the check-ins answered within the last flush window, which [`check_in_writer`] writes,
/// and the recent failed web sign-ins ([`web_access::SignInLimiter`]).
#[derive(Debug)]
pub struct Services {
    /// The database.
    pub store: SharedStore,
    /// Where time comes from.
    pub clock: SharedClock,
    /// The MAILNOT domain mailbox addresses must be under.
    pub mail_domain: MailDomain,
    /// The certificate authority that signs agent certificates.
    pub pki: Arc<Pki>,
    /// How agent identities are managed.
    pub agents: AgentPolicy,
    /// The key escrowed provisional passwords are sealed with.
    pub escrow: EscrowKey,
    /// How long a provisional password (and any open rotation) stays valid.
    pub provisional_validity: time::Duration,
    /// The configuration's rotation period: the default compliance limit (an administrator's
    /// global or office policy overrides it).
    pub rotation_period: time::Duration,
    /// The audit trail's signing key, signed-head file and shipping.
    pub audit: audit::AuditTrail,
    /// Workstation rows, OWA addresses and pending flags, kept between requests.
    pub caches: cache::Caches,
    /// The check-ins answered and not written yet.
    pub check_in_writer: check_in_writer::CheckInWriter,
    /// The failed web sign-ins of the last minutes, per account and per address.
    pub sign_in_limiter: web_access::SignInLimiter,
}

/// Why a service refused or failed a request. The edges turn it into their own codes
/// (`grpc::status`); only [`Error::Internal`] carries a cause, which is logged, never shown.
#[derive(Debug)]
pub enum Error {
    /// The request is malformed; the message says which field or line.
    InvalidArgument(String),
    /// The thing named does not exist.
    NotFound(String),
    /// The thing to create exists already.
    AlreadyExists(String),
    /// No valid credential; the message says what to do, never why a secret was refused.
    Unauthenticated(String),
    /// The caller may not do this (or may not know whether the thing exists).
    PermissionDenied(String),
    /// The thing is not in a state that allows this; retrying will not help.
    FailedPrecondition(String),
    /// A concurrent change won; the client may retry.
    Aborted(String),
    /// The request is too large.
    ResourceExhausted(String),
    /// The database is unreachable or overloaded; the client may retry.
    Unavailable,
    /// Anything else: logged, never shown.
    Internal(Box<dyn StdError + Send + Sync>),
}

impl Error {
    /// A write refused because the server's disk is full (the database's or the data
    /// directory's): RESOURCE_EXHAUSTED, which gRPC gives to a full file system.
    pub fn storage_full() -> Error {
        Error::ResourceExhausted(
            "the server's storage is full; try again once space is freed".to_owned(),
        )
    }

    /// An office that does not exist (`None`: the office asked for was not named).
    pub fn office_not_found(office: Option<&crate::domain::office::Crpcen>) -> Error {
        let office = office.map_or("?", crate::domain::office::Crpcen::as_str);
        Error::NotFound(format!("office {office} does not exist"))
    }

    /// A malformed request; the message names the field.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }

    /// No valid credential.
    pub fn unauthenticated(message: impl Into<String>) -> Error {
        Error::Unauthenticated(message.into())
    }

    /// Not allowed.
    pub fn denied(message: impl Into<String>) -> Error {
        Error::PermissionDenied(message.into())
    }
}

/// The environment variable naming the server's armed failpoints (test builds only; the points
/// are listed in [`sesame_base::failpoint`]).
pub const FAILPOINT_VARIABLE: &str = "SESAME_SERVER_CRASH_AT";

/// Passes a failpoint (test builds only): aborts the process, or fails with
/// [`Error::Unavailable`] (a retriable failure), when `point` is armed so.
pub(crate) fn failpoint(point: &str) -> Result<(), Error> {
    sesame_base::failpoint::hit(point)
        .map_err(|injected| store::Error::Unavailable(Box::new(injected)).into())
}

impl From<store::Error> for Error {
    fn from(error: store::Error) -> Error {
        match error {
            store::Error::NotFound => Error::NotFound("not found".to_owned()),
            store::Error::Conflict => Error::AlreadyExists("already exists".to_owned()),
            store::Error::Unavailable(_) => {
                tracing::warn!(error = %chain(&error), "database unavailable");
                Error::Unavailable
            }
            store::Error::StorageFull(_) => {
                tracing::error!(error = %chain(&error), "the database's storage is full");
                Error::storage_full()
            }
            other => Error::Internal(Box::new(other)),
        }
    }
}
