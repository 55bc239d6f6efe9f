//! Check-ins: an agent reports its version, the clé REAL's state and its anonymous look at OWA;
//! the server keeps the last of each (not audited: they change no decision) and answers the
//! interval to the next check-in, the OWA address of the workstation's office and whether it has
//! rotations to fetch (both from the caches, `services::cache`). From what was
//! kept, [`Services::office_readiness`] tells per workstation whether a rotation can succeed.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::agent::AgentIdentity;
use crate::domain::admin::{Admin, Permission};
use crate::domain::check_in::{AssignedMailbox, CheckInState, KeyState, OwaReadiness, blockers};
use crate::domain::office::{Crpcen, Text};
use crate::domain::settings::OwaUrl;
use crate::domain::workstation::{Workstation, WorkstationStatus};
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store;

/// What an agent reports at a check-in, parsed and bounded at the edge.
#[derive(Debug, Clone, Default)]
pub struct CheckIn {
    /// Its version (`None`, when unreadable, leaves the recorded one).
    pub agent_version: Option<Text>,
    /// The key's state, when the agent reports one.
    pub key: Option<KeyState>,
    /// Its last look at OWA, when it made one.
    pub readiness: Option<OwaReadiness>,
}

/// The answer to a check-in.
#[derive(Debug, Clone)]
pub struct CheckInAnswer {
    /// The server's time.
    pub server_time: OffsetDateTime,
    /// Until the next check-in.
    pub interval: time::Duration,
    /// The OWA address of the workstation's office.
    pub owa_url: OwaUrl,
    /// Whether `GetPendingRotations` would give the workstation anything now
    /// ([`Services::rotations_pending`]).
    pub rotations_pending: bool,
}

/// One workstation's readiness.
#[derive(Debug, Clone)]
pub struct WorkstationReadiness {
    /// The workstation.
    pub workstation: Workstation,
    /// What it last reported.
    pub check_in: Option<CheckInState>,
    /// The mailboxes assigned to it.
    pub mailboxes: Vec<AssignedMailbox>,
    /// What stands in the way; empty when ready.
    pub blockers: Vec<String>,
}

/// An office's readiness.
#[derive(Debug, Clone)]
pub struct OfficeReadiness {
    /// The office.
    pub office: Crpcen,
    /// The address its agents are told to use.
    pub owa_url: OwaUrl,
    /// Its workstations that are not revoked, by id.
    pub workstations: Vec<WorkstationReadiness>,
}

impl Services {
    /// Records a check-in (through the check-in writer) and answers it.
    pub async fn check_in(
        &self,
        agent: &AgentIdentity,
        check_in: &CheckIn,
    ) -> Result<CheckInAnswer, Error> {
        let ws = &agent.workstation;
        let now = self.queue_check_in(agent, check_in).await?;
        tracing::debug!(
            workstation = %ws.id,
            key = check_in.key.as_ref().map(KeyState::describe).as_deref().unwrap_or("not reported"),
            readiness = check_in.readiness.is_some(),
            "check-in"
        );
        let setting = self.owa_url_setting(Some(&ws.office)).await?;
        let rotations_pending = self.rotations_pending(ws).await?;
        Ok(CheckInAnswer {
            server_time: now,
            interval: self.agents.check_in_interval,
            owa_url: setting.effective().clone(),
            rotations_pending,
        })
    }

    /// Whether a rotation can succeed on each of an office's workstations, from what their agents
    /// last reported.
    pub async fn office_readiness(
        &self,
        admin: &Admin,
        office: &Crpcen,
    ) -> Result<OfficeReadiness, Error> {
        authorize(admin, Permission::Read(Some(office)))?;
        self.settle_check_ins().await?;
        let owa_url = self.owa_url_setting(Some(office)).await?.effective().clone();
        let mut check_ins: HashMap<String, CheckInState> = self
            .store
            .check_ins(Some(office))
            .await?
            .into_iter()
            .map(|c| (c.workstation_id.clone(), c))
            .collect();
        let mut assigned: HashMap<String, Vec<AssignedMailbox>> = HashMap::new();
        for (ws, mailbox) in self.store.assignments(office).await? {
            assigned.entry(ws).or_default().push(mailbox);
        }
        let now = self.clock.now();
        let mut workstations = Vec::new();
        let listed = match self.store.list_workstations(Some(office)).await {
            Ok(listed) => listed,
            Err(store::Error::NotFound) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        for workstation in listed {
            if workstation.status == WorkstationStatus::Revoked {
                continue;
            }
            let check_in = check_ins.remove(workstation.id.as_str());
            let mailboxes = assigned.remove(workstation.id.as_str()).unwrap_or_default();
            let mut found = Vec::new();
            if workstation.status == WorkstationStatus::Locked {
                found.push("workstation locked: an administrator must unlock it".to_owned());
            }
            found.extend(blockers(
                workstation.last_seen_at,
                check_in.as_ref().and_then(|c| c.readiness.as_ref()),
                &owa_url,
                &mailboxes,
                now,
                self.agents.check_in_interval,
            ));
            workstations.push(WorkstationReadiness {
                workstation,
                check_in,
                mailboxes,
                blockers: found,
            });
        }
        workstations.sort_by(|a, b| a.workstation.id.as_str().cmp(b.workstation.id.as_str()));
        Ok(OfficeReadiness { office: office.clone(), owa_url, workstations })
    }
}

#[cfg(test)]
mod tests;
