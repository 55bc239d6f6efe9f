//! The transitions of the rotation state machine (the table is in the `rotation` module docs):
//! [`handle`] takes a rotation and an event and returns the next rotation and the commands, the
//! journal record first whenever the journaled state changed.

use sesame_local::account::LocalAccount;
use time::OffsetDateTime;

use super::{
    CancelledBy, Command, Delivery, Event, FailureReason, JournalRecord, KeyGate, MAX_REFUSALS,
    Memory, Message, Phase, ProbeKind, ProbeOutcome, Refusal, ReportDraft, Rotation, RotationKind,
    Step, limit,
};

/// The commands of one transition, built in order; [`Out::finish`] puts the journal record first
/// when the journaled part of the rotation changed.
struct Out {
    before: Rotation,
    commands: Vec<Command>,
}

impl Out {
    fn new(before: &Rotation) -> Out {
        Out { before: before.clone(), commands: Vec::new() }
    }

    fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    fn tell(&mut self, message: Message) {
        self.push(Command::TellPerson(message));
    }

    /// A report naming the account that started the change (none before any change started).
    fn report(&mut self, r: &Rotation, step: Step, detail: &str, now: OffsetDateTime) {
        let key_evidence = if step == Step::Started { r.evidence.clone() } else { None };
        self.push(Command::Report(ReportDraft {
            rotation_id: r.id.clone(),
            step,
            occurred_at: now,
            key_evidence,
            detail: detail.to_owned(),
            local_account: r.started_by.clone(),
        }));
    }

    fn finish(self, mut after: Rotation, now: OffsetDateTime) -> (Rotation, Vec<Command>) {
        let durable_changed = {
            let mut a = after.clone();
            let mut b = self.before.clone();
            a.memory = Memory::default();
            b.memory = Memory::default();
            a.updated_at = b.updated_at;
            a != b
        };
        let mut commands = self.commands;
        if durable_changed {
            if after.phase != self.before.phase {
                after.updated_at = now;
            }
            let mut snapshot = after.clone();
            snapshot.memory = Memory::default();
            commands.insert(0, Command::Journal(JournalRecord::Snapshot(Box::new(snapshot))));
        }
        (after, commands)
    }
}

/// A delivered rotation: journaled, reported Pending.
pub(super) fn deliver(delivery: Delivery, now: OffsetDateTime) -> (Rotation, Vec<Command>) {
    let rotation = Rotation {
        id: delivery.id,
        mailbox: delivery.mailbox,
        kind: delivery.kind,
        phase: Phase::Ready,
        attempts: 0,
        refusals: 0,
        provisional: delivery.provisional,
        evidence: None,
        updated_at: now,
        bound: delivery.bound,
        started_by: None,
        refused_current: None,
        memory: Memory::default(),
    };
    let mut out = Out::new(&rotation);
    out.report(&rotation, Step::Pending, "delivered", now);
    let mut commands = vec![Command::Journal(JournalRecord::Snapshot(Box::new(rotation.clone())))];
    commands.append(&mut out.commands);
    (rotation, commands)
}

/// The rotation after `event`, and what to do, in order.
pub fn handle(state: Rotation, event: Event, now: OffsetDateTime) -> (Rotation, Vec<Command>) {
    let mut out = Out::new(&state);
    let mut r = state;
    match event {
        Event::Delivered { provisional, bound } => {
            if r.kind == RotationKind::Provisional && r.provisional.is_none() {
                r.provisional = provisional;
            }
            r.bound = bound;
        }
        Event::ChangeRequested { key, typed_matches, new_password, by, lockout_threshold } => {
            let asked = Asked { key, typed_matches, new_password, by, lockout_threshold };
            change_requested(&mut r, &mut out, asked, now);
        }
        Event::VerifyRequested { key, new_password } => match r.phase {
            Phase::Changed | Phase::AwaitingAnswer => {
                if gate_closed(&mut r, &key) {
                    out.tell(Message::RemoveKeyFirst);
                } else {
                    r.memory.new_password = Some(new_password);
                    let known_change = r.phase == Phase::Changed;
                    r.phase = Phase::Verifying { known_change };
                    out.push(Command::CallOwaVerify);
                }
            }
            phase => out.tell(Message::NotNow(phase.step())),
        },
        Event::PersonSaysUnchanged => {
            if r.phase == Phase::AwaitingAnswer {
                nothing_changed(&mut r, &mut out, now);
            }
        }
        Event::OwaChanged { verified } => {
            if r.phase == Phase::Changing {
                if verified {
                    out.report(&r, Step::Changed, "changed on Exchange", now);
                    verified_now(&mut r, &mut out, now);
                } else {
                    out.report(&r, Step::Changed, "changed on Exchange", now);
                    after_known_change(&mut r, &mut out);
                }
            }
        }
        Event::OwaRefused(refusal) => {
            if r.phase == Phase::Changing {
                refused(&mut r, &mut out, refusal, now);
            }
        }
        Event::OwaUnavailable(reason) => {
            if r.phase == Phase::Changing {
                let reason = unavailable_reason(reason);
                r.phase = Phase::Failed(reason);
                out.report(&r, r.step(), unavailable_detail(reason), now);
                out.push(Command::ForgetPasswords);
                out.tell(Message::OwaUnavailable(reason));
            }
        }
        Event::OwaAmbiguous => {
            if r.phase == Phase::Changing {
                r.phase = Phase::Unsettled { probe_spent: false };
                reconcile(&mut r, &mut out, now);
            }
        }
        Event::Verified => {
            if let Phase::Verifying { known_change } = r.phase {
                if !known_change {
                    out.report(&r, Step::Changed, "changed (found by verification)", now);
                }
                verified_now(&mut r, &mut out, now);
            }
        }
        Event::VerifyFailed => {
            if matches!(r.phase, Phase::Verifying { .. }) {
                needs_human(&mut r, &mut out, "the new password was refused at verification", now);
            }
        }
        Event::VerifyUnavailable(reason) => {
            if let Phase::Verifying { known_change } = r.phase {
                r.phase = if known_change { Phase::Changed } else { Phase::AwaitingAnswer };
                out.tell(Message::OwaUnavailable(unavailable_reason(reason)));
            }
        }
        Event::ProbeResult(outcome) => {
            if r.phase == Phase::Probing {
                probed(&mut r, &mut out, outcome, now);
            }
        }
        Event::KeyInserted => key_inserted(&mut r, &mut out, now),
        Event::KeyRemoved => {
            r.memory.key_present = false;
            if r.phase == Phase::Changed {
                after_known_change(&mut r, &mut out);
            }
        }
        Event::Restarted => restarted(&mut r, &mut out, now),
        Event::JournalFailed => {
            r.phase = match r.phase {
                Phase::Changing => {
                    r.attempts = r.attempts.saturating_sub(1);
                    Phase::Failed(FailureReason::LocalStorage)
                }
                Phase::Verifying { known_change: true } => Phase::Changed,
                Phase::Verifying { known_change: false } => Phase::AwaitingAnswer,
                Phase::Probing => Phase::Unsettled { probe_spent: false },
                phase => phase,
            };
            out.tell(Message::LocalStorage);
            // Nothing is journaled or reported: the journal is what failed.
            return (r, out.commands);
        }
        Event::Cancelled(by) => match r.phase {
            Phase::Failed(FailureReason::Cancelled) => {}
            Phase::Ready | Phase::Failed(_) => {
                r.phase = Phase::Failed(FailureReason::Cancelled);
                if by == CancelledBy::Person {
                    out.report(&r, r.step(), "cancelled by the person", now);
                    if let Some(Command::Report(draft)) = out.commands.last_mut() {
                        draft.local_account = None;
                    }
                }
                out.push(Command::ForgetPasswords);
                out.tell(Message::Cancelled);
            }
            phase => out.tell(Message::NotNow(phase.step())),
        },
    }
    out.finish(r, now)
}

/// Whether the key blocks a new step. The gate is the freshest look (taken by the service when
/// the person asked), so the machine remembers what it said.
fn gate_closed(r: &mut Rotation, key: &KeyGate) -> bool {
    r.memory.key_present = matches!(key, KeyGate::Present);
    r.memory.key_present
}

/// What the person's `ChangeRequested` carries.
struct Asked {
    key: KeyGate,
    typed_matches: bool,
    new_password: super::Fingerprint,
    by: LocalAccount,
    lockout_threshold: u32,
}

fn change_requested(r: &mut Rotation, out: &mut Out, asked: Asked, now: OffsetDateTime) {
    let Asked { key, typed_matches, new_password, by, lockout_threshold } = asked;
    match r.phase {
        Phase::Ready => {}
        Phase::Failed(reason) if reason.retryable() && r.refusals < MAX_REFUSALS => {}
        Phase::Unsettled { .. } => return reconcile(r, out, now),
        phase => return out.tell(Message::NotNow(phase.step())),
    }
    if gate_closed(r, &key) {
        return out.tell(Message::RemoveKeyFirst);
    }
    let KeyGate::Absent(evidence) = key else { return out.tell(Message::RemoveKeyFirst) };
    if !typed_matches {
        return out.tell(Message::ProvisionalMismatch);
    }
    if r.memory.rejected.contains(&new_password) {
        return out.tell(Message::NewPasswordAlreadyRefused);
    }
    if !limit::may_send(r.refused_current, lockout_threshold, now) {
        return out.tell(Message::CurrentPasswordLimit);
    }
    r.phase = Phase::Changing;
    r.started_by = Some(by);
    r.attempts = r.attempts.saturating_add(1);
    r.evidence = Some(evidence);
    r.memory.new_password = Some(new_password);
    out.report(r, Step::Started, "change requested by the person", now);
    out.push(Command::CallOwaChange);
    out.tell(Message::Changing);
}

/// Changed on Exchange, not verified: verify now if the key is out and the password is held.
fn after_known_change(r: &mut Rotation, out: &mut Out) {
    if r.memory.key_present {
        r.phase = Phase::Changed;
        out.tell(Message::KeyPluggedDuringChange);
    } else if r.memory.new_password.is_some() {
        r.phase = Phase::Verifying { known_change: true };
        out.push(Command::CallOwaVerify);
    } else {
        r.phase = Phase::Changed;
        out.push(Command::AskPersonForNewPassword);
    }
}

fn verified_now(r: &mut Rotation, out: &mut Out, now: OffsetDateTime) {
    out.report(r, Step::Verified, "a logon with the new password succeeded", now);
    out.push(Command::ForgetPasswords);
    if r.memory.key_present {
        r.phase = Phase::Completed;
        out.report(r, Step::Completed, "the key was already back in", now);
        out.tell(Message::ReenterInOutlook);
    } else {
        r.phase = Phase::AwaitingKey;
        out.tell(Message::ReenterInOutlookThenPlugKey);
    }
}

fn refused(r: &mut Rotation, out: &mut Out, refusal: Refusal, now: OffsetDateTime) {
    r.refusals = r.refusals.saturating_add(1);
    if refusal == Refusal::NewPassword
        && let Some(fingerprint) = r.memory.new_password.take()
    {
        r.memory.rejected.push(fingerprint);
    }
    if matches!(refusal, Refusal::CurrentPassword | Refusal::LockedOut) {
        r.refused_current = Some(limit::one_more(r.refused_current, now));
    }
    out.push(Command::ForgetPasswords);
    if refusal == Refusal::LockedOut {
        return needs_human(r, out, "the account is locked", now);
    }
    if r.refusals >= MAX_REFUSALS {
        return needs_human(r, out, "refused by Exchange three times", now);
    }
    let reason = match refusal {
        Refusal::NewPassword => FailureReason::NewPasswordRefused,
        _ => FailureReason::CurrentPasswordRefused,
    };
    r.phase = Phase::Failed(reason);
    out.report(r, r.step(), "refused by Exchange", now);
    out.tell(Message::Refused { refusal, tries_left: MAX_REFUSALS - r.refusals });
}

fn needs_human(r: &mut Rotation, out: &mut Out, detail: &str, now: OffsetDateTime) {
    r.phase = Phase::Failed(FailureReason::NeedsHuman);
    out.report(r, r.step(), detail, now);
    out.push(Command::ForgetPasswords);
    out.tell(Message::NeedsHuman);
}

fn nothing_changed(r: &mut Rotation, out: &mut Out, now: OffsetDateTime) {
    r.phase = Phase::Ready;
    out.report(r, Step::Pending, "reconciled: nothing changed", now);
    out.push(Command::ForgetPasswords);
    out.tell(Message::NothingChanged);
}

/// The outcome of a change post is unknown: one probe (provisional) or ask (periodic).
fn reconcile(r: &mut Rotation, out: &mut Out, now: OffsetDateTime) {
    let probe_spent = matches!(r.phase, Phase::Unsettled { probe_spent: true });
    match r.kind {
        RotationKind::Provisional if !probe_spent => {
            r.phase = Phase::Probing;
            out.push(Command::Probe(ProbeKind::ProvisionalStillExpired));
        }
        RotationKind::Provisional => {
            needs_human(r, out, "the outcome of the change is unknown", now);
        }
        RotationKind::Periodic => {
            r.phase = Phase::AwaitingAnswer;
            out.tell(Message::DidYouChange);
        }
    }
}

fn probed(r: &mut Rotation, out: &mut Out, outcome: ProbeOutcome, now: OffsetDateTime) {
    match outcome {
        ProbeOutcome::StillExpired => nothing_changed(r, out, now),
        ProbeOutcome::Refused => {
            out.report(r, Step::Changed, "reconciled: the provisional password changed", now);
            after_known_change(r, out);
        }
        ProbeOutcome::Inconclusive(reason) => {
            r.phase = Phase::Unsettled { probe_spent: false };
            out.tell(Message::OwaUnavailable(unavailable_reason(reason)));
        }
    }
}

fn key_inserted(r: &mut Rotation, out: &mut Out, now: OffsetDateTime) {
    let was_present = r.memory.key_present;
    r.memory.key_present = true;
    match r.phase {
        Phase::AwaitingKey => {
            r.phase = Phase::Completed;
            out.report(r, Step::Completed, "the key is back in", now);
            out.tell(Message::Completed);
        }
        // A step is in flight: it finishes, and its outcome tells the person what to do (verified:
        // enter it in Outlook; changed but not verified: unplug the key and go on).
        Phase::Changing | Phase::Verifying { .. } | Phase::Probing => {}
        Phase::Changed if !was_present => out.tell(Message::KeyPluggedDuringChange),
        _ => {}
    }
}

fn restarted(r: &mut Rotation, out: &mut Out, now: OffsetDateTime) {
    r.memory = Memory::default();
    match r.phase {
        Phase::Changing => {
            r.phase = Phase::Unsettled { probe_spent: false };
            reconcile(r, out, now);
        }
        Phase::Unsettled { .. } => reconcile(r, out, now),
        Phase::Probing => needs_human(r, out, "interrupted during the probe", now),
        Phase::AwaitingAnswer => out.tell(Message::DidYouChange),
        Phase::Changed | Phase::Verifying { known_change: true } => {
            r.phase = Phase::Changed;
            out.push(Command::AskPersonForNewPassword);
        }
        Phase::Verifying { known_change: false } => {
            needs_human(r, out, "interrupted during verification", now);
        }
        Phase::AwaitingKey => out.tell(Message::ReenterInOutlookThenPlugKey),
        Phase::Ready | Phase::Completed | Phase::Failed(_) => {}
    }
}

/// What the administrator reads about a change that was not attempted: the cause and what to do.
fn unavailable_detail(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::OwaUntrusted => {
            "no change was attempted: the agent does not trust the OWA server's certificate \
             (expired, issued for another name, or by an authority the workstation does not know; \
             the agent's log says which); renew the certificate, or add its authority to the \
             agent's [owa] extra_ca_files, then issue the change again"
        }
        FailureReason::OwaUnreachable => {
            "no change was attempted: OWA could not be reached from the workstation (network, \
             proxy or address); check `sesamectl office readiness`, the person may try again"
        }
        FailureReason::LogonNameMissing => {
            "no change was attempted: OWA asks for DOMAIN\\user and the mailbox has no logon \
             name; set one (`sesamectl mailbox set-logon ADDRESS 'DOMAIN\\user'`), then the \
             person may try again"
        }
        _ => {
            "no change was attempted: OWA answered in a way the agent does not know (the agent's \
             log has the page); the person may try again"
        }
    }
}

/// An "unavailable" reason as a failure; anything not about reaching OWA is "unexpected".
fn unavailable_reason(reason: FailureReason) -> FailureReason {
    match reason {
        FailureReason::OwaUnreachable
        | FailureReason::OwaUntrusted
        | FailureReason::LogonNameMissing
        | FailureReason::OwaUnexpected => reason,
        _ => FailureReason::OwaUnexpected,
    }
}
