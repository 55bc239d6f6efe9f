//! What an enrolled agent does: prove who it is with its certificate (checked on every request
//! against its row, the fork-detection rule [`classify`] included; the row from the identity cache
//! when it may answer, see `services::cache`), renew that certificate, report in; and which agent
//! versions this server works with.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::domain::audit::Actor;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::Text;
use crate::domain::workstation::{
    IssuedCertificate, Presented, Workstation, WorkstationStatus, classify,
};
use crate::keys::pki::{self, AgentCertificate};
use crate::services::workstations::check_in::CheckIn;
use crate::services::{Error, Services};
use crate::store::{self, Change};

/// The oldest agent version this server works with.
pub const MIN_AGENT_VERSION: AgentVersion = AgentVersion(0, 1, 0);

const LOCKED: &str = "this workstation is locked because its identity was used from two machines; an administrator must unlock it";

/// An agent's version: major, minor, patch (pre-release and build metadata ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentVersion(pub u64, pub u64, pub u64);

impl AgentVersion {
    /// Reads `1.2.3`, `1.2.3-rc.1` or `1.2.3+build`; `None` for anything else.
    pub fn parse(value: &str) -> Option<AgentVersion> {
        let core = value.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let version = AgentVersion(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(version)
    }

    /// Whether this server works with agents of this version.
    pub fn is_supported(self) -> bool {
        self >= MIN_AGENT_VERSION
    }
}

impl std::fmt::Display for AgentVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// An authenticated agent: the workstation its certificate names, as stored now.
#[derive(Debug)]
pub struct AgentIdentity {
    /// The workstation.
    pub workstation: Workstation,
    /// The serial of the certificate it presented.
    pub serial: String,
}

/// A certificate just issued to a workstation, and how many it has had.
#[derive(Debug)]
pub struct Certified {
    /// The certificate.
    pub certificate: AgentCertificate,
    /// Certificates issued to the workstation so far.
    pub generation: i64,
}

impl Services {
    /// The workstation presenting `certificate` (DER, verified against the CA during the TLS
    /// handshake; `None` when the client sent none), checked against its row on every request
    /// (the cached row only for an active workstation presenting its current, confirmed
    /// certificate; anything else against the row read now): revoked, locked, superseded or
    /// expired certificates are refused even on a connection opened while they were good. A certificate that [`classify`] finds stale locks the workstation.
    pub async fn authenticate_agent(
        &self,
        certificate: Option<&[u8]>,
    ) -> Result<AgentIdentity, Error> {
        let refused = |why: &str| Error::unauthenticated(why.to_owned());
        let der = certificate.ok_or_else(|| {
            refused("a workstation certificate is required: enroll the agent first")
        })?;
        let presented = pki::read_agent_certificate(der)
            .ok_or_else(|| refused("not a workstation certificate"))?;
        let now = self.clock.now();
        if presented.not_after <= now {
            return Err(refused(
                "the workstation certificate has expired: recover or enroll again",
            ));
        }
        // The cached row serves only the common case: active, its current certificate
        // presented and confirmed. Anything else (a refusal, the previous certificate, a serial
        // the cached row does not know, an unconfirmed certificate, whose confirmation decides
        // what the previous one means) is decided on the row read now, as without a cache.
        let cached = self.cached_workstation(&presented.workstation_id, now).filter(|w| {
            w.status == WorkstationStatus::Active
                && w.current_confirmed
                && classify(w, &presented.serial) == Presented::Current
        });
        let workstation = match cached {
            Some(workstation) => workstation,
            None => match self.read_workstation(&presented.workstation_id, now).await {
                Ok(w) => w,
                Err(store::Error::NotFound) => return Err(refused("unknown workstation")),
                Err(other) => return Err(other.into()),
            },
        };
        match workstation.status {
            WorkstationStatus::Active => {}
            WorkstationStatus::Revoked => return Err(refused("this workstation has been revoked")),
            WorkstationStatus::Locked => return Err(refused(LOCKED)),
        }
        if classify(&workstation, &presented.serial) == Presented::Stale {
            let reason = format!(
                "certificate {} was presented after it had been replaced",
                presented.serial
            );
            tracing::warn!(workstation = %workstation.id, %reason, "identity fork: locking the workstation");
            self.store
                .set_workstation_status(
                    &workstation.id,
                    WorkstationStatus::Locked,
                    Some(&reason),
                    &Actor::system(),
                    now,
                )
                .await?;
            self.changed(Change::Workstation(workstation.id.clone())).await;
            return Err(refused(LOCKED));
        }
        Ok(AgentIdentity { workstation, serial: presented.serial })
    }

    /// The workstation's row from the cache, if the cache may answer and holds it.
    fn cached_workstation(&self, id: &WorkstationId, now: OffsetDateTime) -> Option<Workstation> {
        if !self.caches.live() {
            return None;
        }
        self.caches.identity.get(id.as_str(), now).map(|w| Workstation::clone(&w))
    }

    /// The workstation's row read now, and kept in the cache.
    async fn read_workstation(
        &self,
        id: &WorkstationId,
        now: OffsetDateTime,
    ) -> Result<Workstation, store::Error> {
        let ticket = self.caches.identity.ticket();
        let workstation = self.store.get_workstation(id).await?;
        if self.caches.live() {
            let row = Arc::new(workstation.clone());
            self.caches.identity.insert(id.as_str().to_owned(), row, now, ticket);
        }
        Ok(workstation)
    }

    /// A new certificate for the agent's registered key. [`Error::Aborted`] when a concurrent
    /// renewal won (the agent retries with the certificate it then holds).
    pub async fn renew_certificate(&self, agent: &AgentIdentity) -> Result<Certified, Error> {
        let ws = &agent.workstation;
        let certificate = self.issue_certificate(ws.id.as_str(), &ws.office, &ws.public_key)?;
        let issued = IssuedCertificate {
            serial: certificate.serial.clone(),
            not_after: certificate.not_after,
        };
        let updated = match self
            .store
            .replace_certificate(
                &ws.id,
                Some(&agent.serial),
                &issued,
                "workstation.renew",
                self.clock.now(),
            )
            .await
        {
            Ok(updated) => updated,
            Err(store::Error::Conflict) => {
                return Err(Error::Aborted(
                    "a concurrent renewal won; retry with the current certificate".into(),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        self.changed(Change::Workstation(ws.id.clone())).await;
        tracing::info!(workstation = %ws.id, generation = updated.generation, "certificate renewed");
        Ok(Certified { certificate, generation: updated.generation })
    }

    /// Records that the agent is alive, with the version it reports (`None`, when unreadable,
    /// leaves the recorded one), through the check-in writer; answers the server's time.
    pub async fn heartbeat(
        &self,
        agent: &AgentIdentity,
        agent_version: Option<&Text>,
    ) -> Result<OffsetDateTime, Error> {
        let check_in = CheckIn { agent_version: agent_version.cloned(), ..CheckIn::default() };
        self.queue_check_in(agent, &check_in).await
    }
}
