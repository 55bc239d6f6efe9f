//! The service's state and the executor of the machine's local commands: the rotations as the
//! journal keeps them, what the server delivered (in memory: the provisional passwords never touch
//! the disk), and the outbox. Applying an event runs the machine, writes the journal *before*
//! anything else of its batch, queues the reports, and hands back what needs the outside world
//! (OWA, the person, the session's passwords) as [`Effect`]s. The passwords of a change are not
//! here: each session holds its own (`service::slot::Slot`), handed to the drive of its request
//! and wiped when that ends. Only the service's actor (`service::actor`) holds a `Core`.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::SecretString;
use sesame_base::rotation::Step;
use time::OffsetDateTime;

use crate::failpoint;
use crate::journal::{Journal, JournalError, JournalRecord};
use crate::outbox::{Outbox, OutboxError, Report};
use crate::rotation::{
    self, CancelledBy, Command, Delivery, Event, Fingerprint, FingerprintKey, Message, Phase,
    ProbeKind, ReportDraft, Rotation, Verifier,
};
use crate::uplink::rotations::PendingRotation;
use sesame_base::ids::{ReportId, RotationId};

/// What the caller must do after an event: OWA work to run (in its own task) and feed back, or
/// words for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Effect {
    /// Post the change with the held passwords.
    Change,
    /// Log in with the held new password.
    Verify,
    /// Run the reconciliation probe.
    Probe(ProbeKind),
    /// Tell the person.
    Tell(Message),
    /// Ask the person for the new password again (to verify it).
    AskNewPassword,
    /// The session's passwords are no longer needed: wipe them.
    ForgetPasswords,
}

/// Why the service's state cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The journal.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The outbox.
    #[error("outbox: {0}")]
    Outbox(#[from] OutboxError),
}

/// The service's state.
pub(super) struct Core {
    journal: Journal,
    outbox: Outbox,
    rotations: BTreeMap<RotationId, Rotation>,
    deliveries: BTreeMap<RotationId, PendingRotation>,
    fingerprints: FingerprintKey,
    last_report: Option<(Report, bool)>,
    /// Rotations whose verified report was queued again this run.
    requeued: Vec<RotationId>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("rotations", &self.rotations.len())
            .field("reports_waiting", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens the journal and the outbox in `state_dir`.
    pub(super) fn open(state_dir: &Path) -> Result<Core, CoreError> {
        let journal = Journal::open(state_dir)?;
        let outbox = Outbox::open(state_dir)?;
        let rotations = journal.rotations().map(|r| (r.id.clone(), r.clone())).collect();
        // After a restart, the newest report still waiting is the last one, not yet delivered.
        let last_report = outbox.newest().map(|report| (report.clone(), false));
        Ok(Core {
            journal,
            outbox,
            rotations,
            deliveries: BTreeMap::new(),
            fingerprints: FingerprintKey::random(),
            last_report,
            requeued: Vec::new(),
        })
    }

    /// After a start: every rotation learns it was restarted, then where the key is.
    pub(super) fn restart(
        &mut self,
        key_present: bool,
        now: OffsetDateTime,
    ) -> Vec<(RotationId, Vec<Effect>)> {
        let ids: Vec<RotationId> = self.rotations.keys().cloned().collect();
        let mut all = Vec::new();
        for id in ids {
            let mut effects = self.apply(id.as_str(), Event::Restarted, now);
            if key_present {
                effects.extend(self.apply(id.as_str(), Event::KeyInserted, now));
            }
            all.push((id, effects));
        }
        all
    }

    /// A crash between the journal record of a verified change and its report would lose the
    /// report: a rotation the server still lists as open while the journal says verified, with no
    /// such report waiting, gets it queued again (once per run).
    fn requeue_verified(&mut self, listed: &[RotationId]) {
        let waiting = self.outbox.peek(self.outbox.len());
        let missing: Vec<ReportDraft> = self
            .rotations
            .values()
            .filter(|r| listed.contains(&r.id) && !self.requeued.contains(&r.id))
            .filter(|r| matches!(r.step(), Step::Verified | Step::Completed))
            .filter(|r| !waiting.iter().any(|w| w.rotation_id == r.id && w.step == Step::Verified))
            .map(|r| ReportDraft {
                rotation_id: r.id.clone(),
                step: Step::Verified,
                occurred_at: r.updated_at,
                key_evidence: None,
                detail: "sent again after a restart".to_owned(),
                local_account: r.started_by.clone(),
            })
            .collect();
        for draft in missing {
            self.requeued.push(draft.rotation_id.clone());
            if let Err(error) = self.outbox.push(draft) {
                tracing::error!(%error, "cannot queue a report again");
            }
        }
    }

    /// Runs the machine on `event` for rotation `id`, executes the local commands, and returns the
    /// rest. An unknown rotation gives nothing.
    pub(super) fn apply(&mut self, id: &str, event: Event, now: OffsetDateTime) -> Vec<Effect> {
        let Some(current) = self.rotations.get(id).cloned() else { return Vec::new() };
        let (next, commands) = rotation::handle(current, event, now);
        self.run(next, commands, now)
    }

    fn run(&mut self, next: Rotation, commands: Vec<Command>, now: OffsetDateTime) -> Vec<Effect> {
        let id = next.id.clone();
        self.rotations.insert(id.clone(), next);
        let mut effects = Vec::new();
        for command in commands {
            match command {
                Command::Journal(record) => {
                    if let Err(error) = self.journal.record(&record) {
                        tracing::error!(rotation = %id, %error, "cannot write the journal; stopping");
                        let current = self.rotations.get(&id).cloned();
                        if let Some(current) = current {
                            let (next, after) =
                                rotation::handle(current, Event::JournalFailed, now);
                            self.rotations.insert(id.clone(), next);
                            effects.extend(after.into_iter().filter_map(|c| match c {
                                Command::TellPerson(message) => Some(Effect::Tell(message)),
                                _ => None,
                            }));
                        }
                        return effects;
                    }
                    if let JournalRecord::Snapshot(rotation) = &record {
                        failpoint::hit(&format!("journaled:{}", step_name(rotation.step())));
                    }
                }
                Command::Report(draft) => {
                    let step = draft.step;
                    let report = Report::new(draft);
                    match self.outbox.push_report(report.clone()) {
                        Ok(_) => self.last_report = Some((report, false)),
                        Err(error) => {
                            tracing::error!(rotation = %id, %error, "cannot queue a report");
                        }
                    }
                    failpoint::hit(&format!("reported:{}", step_name(step)));
                }
                Command::ForgetPasswords => effects.push(Effect::ForgetPasswords),
                Command::CallOwaChange => effects.push(Effect::Change),
                Command::CallOwaVerify => effects.push(Effect::Verify),
                Command::Probe(kind) => effects.push(Effect::Probe(kind)),
                Command::TellPerson(message) => effects.push(Effect::Tell(message)),
                Command::AskPersonForNewPassword => effects.push(Effect::AskNewPassword),
            }
        }
        effects
    }

    /// What the server lists now: new rotations are journaled and reported Pending, known ones
    /// refreshed, those it no longer lists cancelled (when nothing is under way) or forgotten
    /// (when finished and reported).
    pub(super) fn deliver(
        &mut self,
        pending: Vec<PendingRotation>,
        now: OffsetDateTime,
    ) -> Vec<(RotationId, Vec<Effect>)> {
        let mut all = Vec::new();
        let listed: Vec<RotationId> = pending.iter().map(|p| p.id.clone()).collect();
        self.requeue_verified(&listed);
        for rotation in pending {
            let id = rotation.id.clone();
            let verifier = rotation.provisional.as_ref().map(Verifier::new);
            let bound = rotation.bound_account.clone();
            let effects = if self.rotations.contains_key(&id) {
                self.apply(id.as_str(), Event::Delivered { provisional: verifier, bound }, now)
            } else {
                let delivery = Delivery {
                    id: id.clone(),
                    mailbox: rotation.mailbox.clone(),
                    kind: rotation.kind,
                    provisional: verifier,
                    bound,
                };
                let (created, commands) = Rotation::new(delivery, now);
                self.run(created, commands, now)
            };
            self.deliveries.insert(id.clone(), rotation);
            all.push((id, effects));
        }
        let gone: Vec<RotationId> =
            self.rotations.keys().filter(|id| !listed.contains(id)).cloned().collect();
        for id in gone {
            self.deliveries.remove(&id);
            let Some(phase) = self.rotations.get(&id).map(|r| r.phase) else { continue };
            let idle = matches!(phase, Phase::Ready)
                || matches!(phase, Phase::Failed(reason) if reason.retryable());
            let finished = matches!(phase, Phase::Completed)
                || matches!(phase, Phase::Failed(reason) if !reason.retryable());
            if idle {
                let effects = self.apply(id.as_str(), Event::Cancelled(CancelledBy::Server), now);
                all.push((id, effects));
            } else if finished && !self.reports_waiting_for(id.as_str()) {
                self.forget(&id);
            }
        }
        all
    }

    fn reports_waiting_for(&self, id: &str) -> bool {
        self.outbox.peek(self.outbox.len()).iter().any(|r| r.rotation_id == id)
    }

    fn forget(&mut self, id: &RotationId) {
        let record = JournalRecord::Forget { rotation_id: id.clone() };
        match self.journal.record(&record) {
            Ok(()) => {
                failpoint::hit("journaled:forgotten");
                self.rotations.remove(id);
            }
            Err(error) => {
                tracing::warn!(rotation = %id, %error, "cannot forget a finished rotation")
            }
        }
    }

    /// A new password's in-memory fingerprint (this run's key).
    pub(super) fn fingerprint(&self, new: &SecretString) -> Fingerprint {
        self.fingerprints.fingerprint(new)
    }

    /// The rotation `id`.
    pub(super) fn rotation(&self, id: &str) -> Option<&Rotation> {
        self.rotations.get(id)
    }

    /// Every rotation.
    pub(super) fn rotations(&self) -> impl Iterator<Item = &Rotation> {
        self.rotations.values()
    }

    /// What the server delivered for `id` (this run).
    pub(super) fn delivery(&self, id: &str) -> Option<&PendingRotation> {
        self.deliveries.get(id)
    }

    /// Each rotation with its step, for the check-in.
    pub(super) fn progress(&self) -> Vec<(RotationId, Step)> {
        self.rotations.values().map(|r| (r.id.clone(), r.step())).collect()
    }

    /// The outbox.
    pub(super) fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    /// Reports waiting for the server.
    pub(super) fn reports_waiting(&self) -> usize {
        self.outbox.len()
    }

    /// The last report queued, and whether it reached the server.
    pub(super) fn last_report(&self) -> Option<&(Report, bool)> {
        self.last_report.as_ref()
    }

    /// Marks delivered reports.
    pub(super) fn delivered(&mut self, report_ids: &[ReportId]) {
        if let Some((report, delivered)) = &mut self.last_report
            && report_ids.contains(&report.report_id)
        {
            *delivered = true;
        }
    }
}

/// A step's name in crash points and logs.
pub(super) fn step_name(step: Step) -> &'static str {
    match step {
        Step::Pending => "pending",
        Step::Started => "started",
        Step::Changed => "changed",
        Step::Verified => "verified",
        Step::Completed => "completed",
        Step::Failed(_) => "failed",
    }
}

#[cfg(test)]
mod tests;
