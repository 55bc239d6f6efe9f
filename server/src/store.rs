//! Persistence: the [`Store`] trait and its two implementations, [`SqliteStore`] (embedded, the
//! default) and [`PostgresStore`] (several servers on one database).
//!
//! Both pass the same conformance suite (`store/conformance.rs`). Every method that changes state
//! writes its audit record in the same transaction, so a change never exists without its record.

mod postgres;
mod rows;
mod shared;
mod sqlite;

#[cfg(test)]
mod conformance;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;
use crate::admin::{Admin, NewAdmin};
use crate::audit::{Actor, AuditRecord};
use crate::domain::{Crpcen, ImportReport, Mailbox, MailboxAddress, NewMailbox, NewOffice, Office};
use crate::escrow::Sealed;
use crate::password::PasswordPolicy;
use crate::rotation::{Disclosure, NewRotation, Rotation, RotationStatus};
use crate::token::TokenHash;
use crate::workstation::{
    EnrollmentToken, IssuedCertificate, NewEnrollmentToken, NewWorkstation, Workstation,
    WorkstationStatus,
};

/// Most unanswered recovery challenges a workstation may have at once.
const MAX_OPEN_CHALLENGES: i64 = 5;

/// Why an enrollment token was refused. Logged, never told to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No such token.
    Unknown,
    /// Past its expiry.
    Expired,
    /// No uses left.
    UsedUp,
    /// Revoked by an administrator.
    Revoked,
}

/// A store failure. Its `Display` never carries database text; the source chain does, for logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The thing to create exists already.
    #[error("already exists")]
    Conflict,
    /// An import names offices that do not exist; nothing was written.
    #[error("{} office(s) do not exist", .0.len())]
    MissingOffices(Vec<Crpcen>),
    /// An enrollment token was refused; nothing was written.
    #[error("enrollment token refused ({0:?})")]
    TokenRefused(TokenRefusal),
    /// The database URL is not one the server can use.
    #[error("unsupported database URL: expected sqlite:... or postgres://...")]
    UnsupportedUrl,
    /// The database failed or could not be reached.
    #[error("database error")]
    Backend(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored row does not hold what the schema promises.
    #[error("corrupt row in {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Error {
        match &error {
            sqlx::Error::RowNotFound => Error::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict,
            _ => Error::Backend(error),
        }
    }
}

/// The server's persistent state. Implementations are cheap to share (`Arc<dyn Store>`) and hold
/// no state of their own beyond a connection pool: several servers may share one PostgreSQL
/// database.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Registers an office. [`Error::Conflict`] if its CRPCEN is taken.
    async fn create_office(
        &self,
        office: &NewOffice,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Office, Error>;

    /// One office, with its mailbox count. [`Error::NotFound`] if there is none.
    async fn get_office(&self, crpcen: &Crpcen) -> Result<Office, Error>;

    /// Every office, ordered by CRPCEN.
    async fn list_offices(&self) -> Result<Vec<Office>, Error>;

    /// Imports mailboxes in one transaction: creates the new ones, updates changed display names,
    /// leaves identical ones alone. With `dry_run` it only counts. The rows must have distinct
    /// addresses. [`Error::MissingOffices`] (and nothing written) if an office does not exist.
    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error>;

    /// Mailboxes ordered by address, of one office or of all, starting after the address `after`,
    /// at most `limit`.
    async fn list_mailboxes(
        &self,
        office: Option<&Crpcen>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Mailbox>, Error>;

    /// Creates an administrator. [`Error::Conflict`] if the name is taken, [`Error::MissingOffices`]
    /// if one of its offices does not exist.
    async fn create_admin(
        &self,
        admin: &NewAdmin,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Admin, Error>;

    /// The unrevoked administrator holding the token with this hash. [`Error::NotFound`] otherwise.
    async fn admin_by_token(&self, token_hash: &TokenHash) -> Result<Admin, Error>;

    /// Every administrator, revoked ones included, by name.
    async fn list_admins(&self) -> Result<Vec<Admin>, Error>;

    /// Revokes an administrator's credential. [`Error::NotFound`] if there is no such unrevoked
    /// administrator.
    async fn revoke_admin(
        &self,
        name: &str,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Stores an enrollment token (its hash). [`Error::MissingOffices`] if its office does not exist.
    async fn create_enrollment_token(
        &self,
        token: &NewEnrollmentToken,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<EnrollmentToken, Error>;

    /// Enrollment tokens, of one office or all, by id.
    async fn list_enrollment_tokens(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<Vec<EnrollmentToken>, Error>;

    /// One enrollment token. [`Error::NotFound`] if there is none.
    async fn get_enrollment_token(&self, id: i64) -> Result<EnrollmentToken, Error>;

    /// Revokes an enrollment token (again is harmless). [`Error::NotFound`] if there is none.
    async fn revoke_enrollment_token(
        &self,
        id: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// The office of the enrollment token with this hash, valid or not. [`Error::NotFound`] if
    /// there is no such token.
    async fn enrollment_office(&self, token_hash: &TokenHash) -> Result<Crpcen, Error>;

    /// Spends one use of the token with this hash and registers the workstation in its office, in
    /// one transaction. [`Error::TokenRefused`] (and nothing written) if the token is unknown,
    /// expired, used up or revoked.
    async fn enroll_workstation(
        &self,
        token_hash: &TokenHash,
        workstation: &NewWorkstation,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// One workstation. [`Error::NotFound`] if there is none.
    async fn get_workstation(&self, id: &str) -> Result<Workstation, Error>;

    /// Workstations, of one office or all.
    async fn list_workstations(&self, office: Option<&Crpcen>) -> Result<Vec<Workstation>, Error>;

    /// Records a newly issued certificate for an active workstation, if the certificate the agent
    /// presented (`None` for a recovery) is still acceptable; [`Error::Conflict`] otherwise (a
    /// concurrent renewal won, or the workstation is no longer active).
    async fn replace_certificate(
        &self,
        id: &str,
        presented_serial: Option<&str>,
        certificate: &IssuedCertificate,
        action: &'static str,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// Notes a request from the workstation: last seen, the certificate confirmed if it is the
    /// current one, the agent's version if given. Not audited: it changes no decision.
    async fn touch_workstation(
        &self,
        id: &str,
        serial: &str,
        agent_version: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Locks, unlocks or revokes a workstation (a revoked one stays revoked: [`Error::NotFound`]).
    async fn set_workstation_status(
        &self,
        id: &str,
        status: WorkstationStatus,
        reason: Option<&str>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error>;

    /// Stores a recovery challenge. [`Error::Conflict`] if the workstation already has too many
    /// open ones, [`Error::NotFound`] if it does not exist.
    async fn add_recovery_challenge(
        &self,
        id: &str,
        challenge: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Removes a recovery challenge and tells whether it existed and was still valid.
    async fn take_recovery_challenge(
        &self,
        id: &str,
        challenge: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// One mailbox. [`Error::NotFound`] if there is none.
    async fn get_mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, Error>;

    /// The password policy in force for an office (its override, else the global policy, else the
    /// default), or the global one with `None`.
    async fn password_policy(&self, office: Option<&Crpcen>) -> Result<PasswordPolicy, Error>;

    /// Sets the global policy (`None`) or an office's override.
    async fn set_password_policy(
        &self,
        office: Option<&Crpcen>,
        policy: &PasswordPolicy,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Assigns a mailbox to a workstation (again is harmless).
    async fn assign_mailbox(
        &self,
        workstation_id: &str,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Removes an assignment. [`Error::NotFound`] if there was none.
    async fn unassign_mailbox(
        &self,
        workstation_id: &str,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Opens rotations in one transaction. [`Error::Conflict`] (nothing written) if one of the
    /// mailboxes already has an open rotation.
    async fn open_rotations(
        &self,
        rotations: &[NewRotation],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error>;

    /// Rotations of an office (or every office), open ones only or all, newest first.
    async fn list_rotations(
        &self,
        office: Option<&Crpcen>,
        open_only: bool,
    ) -> Result<Vec<Rotation>, Error>;

    /// The open rotation of a mailbox, if any.
    async fn open_rotation(&self, mailbox_id: i64) -> Result<Option<Rotation>, Error>;

    /// Closes open rotations with the given final status, destroying their escrowed passwords.
    /// Returns how many were closed (rotations no longer open are left alone).
    async fn close_rotations(
        &self,
        ids: &[String],
        status: RotationStatus,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error>;

    /// Expires the open rotations whose provisional password ran out, destroying their escrow.
    async fn expire_rotations(&self, now: OffsetDateTime) -> Result<u64, Error>;

    /// The open rotations a disclosure covers, with their sealed passwords, after writing its
    /// audit record (and, for a delivery, marking them delivered) in the same transaction: if the
    /// record cannot be written, nothing is returned.
    async fn disclose_rotations(
        &self,
        disclosure: Disclosure<'_>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<(Rotation, Sealed)>, Error>;

    /// Closes the connections (SQLite checkpoints its WAL). Called once, at shutdown.
    async fn close(&self);

    /// Audit records after `after_seq`, in order, at most `limit`, optionally of one office.
    async fn audit_records(
        &self,
        office: Option<&Crpcen>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, Error>;
}

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// How to reach the database.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite:PATH` or `postgres://...`. May hold a password: never logged.
    pub url: SecretString,
    /// Connections in the pool (PostgreSQL) or readers (SQLite, which has one writer).
    pub max_connections: u32,
    /// How long to wait for a connection before failing the request.
    pub acquire_timeout: Duration,
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// A database URL safe to log: the password, if any, replaced by `[REDACTED]`, query parameters
/// dropped.
pub fn redact_url(url: &str) -> String {
    let url = url.split('?').next().unwrap_or("");
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.rsplit_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or("");
        let pass = if userinfo.contains(':') { ":[REDACTED]" } else { "" };
        return format!("{scheme}://{user}{pass}@{host}");
    }
    url.to_owned()
}

/// Opens the store the URL names, runs its migrations and returns it.
pub async fn connect(options: &StoreOptions) -> Result<SharedStore, Error> {
    let url = options.url.expose_secret();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(options).await?))
    } else {
        Err(Error::UnsupportedUrl)
    }
}

/// Decodes a 32-byte hash column.
fn hash_column(bytes: Vec<u8>, table: &'static str) -> Result<[u8; 32], Error> {
    bytes.try_into().map_err(|_| Error::Corrupt(table))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://sesame:hunter2@db:5432/sesame"),
            "postgres://sesame:[REDACTED]@db:5432/sesame"
        );
        assert_eq!(
            redact_url("postgres://sesame@db/sesame?password=hunter2"),
            "postgres://sesame@db/sesame"
        );
        assert_eq!(
            redact_url("sqlite:/var/lib/sesame/sesame.db"),
            "sqlite:/var/lib/sesame/sesame.db"
        );
        assert_eq!(redact_url("postgres://u:p@ss@db/x"), "postgres://u:[REDACTED]@db/x");
    }
}

/// What an import will do, worked out from the rows and the mailboxes already registered. Shared
/// by both backends so that they count alike.
#[derive(Debug)]
struct ImportPlan<'a> {
    create: Vec<&'a NewMailbox>,
    update: Vec<&'a NewMailbox>,
    unchanged: u64,
}

impl<'a> ImportPlan<'a> {
    fn new(
        rows: &'a [NewMailbox],
        existing: &std::collections::HashMap<String, String>,
    ) -> ImportPlan<'a> {
        let mut plan = ImportPlan { create: Vec::new(), update: Vec::new(), unchanged: 0 };
        for row in rows {
            match existing.get(row.address.as_str()) {
                None => plan.create.push(row),
                Some(name) if name == row.display_name.as_str() => plan.unchanged += 1,
                Some(_) => plan.update.push(row),
            }
        }
        plan
    }

    fn report(&self) -> ImportReport {
        ImportReport {
            created: self.create.len() as u64,
            updated: self.update.len() as u64,
            unchanged: self.unchanged,
        }
    }

    /// One audit event per office touched, listing the addresses created and updated.
    fn audit_events(&self, actor: &Actor) -> Vec<crate::audit::AuditEvent> {
        let mut by_office: std::collections::BTreeMap<&Crpcen, (Vec<&str>, Vec<&str>)> =
            Default::default();
        for row in &self.create {
            by_office.entry(row.address.office()).or_default().0.push(row.address.as_str());
        }
        for row in &self.update {
            by_office.entry(row.address.office()).or_default().1.push(row.address.as_str());
        }
        by_office
            .into_iter()
            .map(|(office, (created, updated))| crate::audit::AuditEvent {
                actor: actor.clone(),
                action: "mailbox.import",
                office: Some(office.clone()),
                target: office.to_string(),
                details: serde_json::json!({ "created": created, "updated": updated }),
            })
            .collect()
    }
}

/// The distinct offices named by import rows.
fn offices_of(rows: &[NewMailbox]) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.address.office().as_str()).collect();
    set.into_iter().map(str::to_owned).collect()
}

/// The offices in `wanted` that are not in `found`.
fn missing_offices(wanted: &[String], found: &[String]) -> Vec<Crpcen> {
    wanted.iter().filter(|w| !found.contains(w)).filter_map(|w| Crpcen::parse(w).ok()).collect()
}
