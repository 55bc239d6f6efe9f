//! The service's one actor: a single task owns [`Core`] (the journal, the outbox, the rotations)
//! and reads a closed set of [`Input`]s from one channel: the person's sessions, the key watcher,
//! the check-in loop, and the results of OWA work. It handles one input at a time and never awaits
//! a client or OWA: OWA work runs in its own task (`service::actor::drive`) and comes back as
//! [`Input::OwaDone`]; words for the person go to the session's own queue, which the session's
//! task writes out with its own timeout. Every other task is a client: it sends an input and, when
//! it needs an answer, awaits the input's `oneshot` reply.
//!
//! Invariant: only this task touches `Core`; no lock is held across I/O with a client or OWA.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use secrecy::SecretString;
use sesame_base::clock::SharedClock;
use sesame_base::ids::{ReportId, RotationId};
use sesame_base::password_rule::{PasswordRule, StrengthChecks};
use sesame_base::rotation::Step;
use sesame_local::account::LocalAccount;
use sesame_local::protocol::{Event as LocalEvent, MailboxChoice, StatusReport};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use self::drive::{Driven, Job, Person, Start};
use self::listing::{actionable, short};
use super::core::{Core, Effect};
use super::owa_ops::OwaWork;
use super::slot::Slot;
use crate::key::KeyState;
use crate::outbox::Report;
use crate::rotation::access::{self, Access};
use crate::rotation::{
    Event, KeyEvidence, KeyGate, Phase, ProbeKind, RotationKind, Verifier, limit,
};
use crate::uplink::rotations::PendingRotation;

mod drive;
mod listing;

pub(super) use self::listing::{CHOICES, short as short_choice};

/// Where an input's answer goes.
pub(super) type Reply<T> = oneshot::Sender<T>;

/// The actor's inbox (unbounded: its senders are the capped sessions, one key watcher, one
/// check-in loop and the OWA tasks; a send never waits, so a guard may send from `Drop`).
pub(super) type Inbox = mpsc::UnboundedSender<Input>;

/// Where a drive queues the events for the person's session (never a write to the client).
pub(super) type Tell = mpsc::UnboundedSender<LocalEvent>;

/// Everything the actor reacts to: a closed set.
pub(super) enum Input {
    /// A session's `status`: page `page` of what `account` may see.
    Status {
        /// The session's account.
        account: Option<LocalAccount>,
        /// The page.
        page: u32,
        /// Whether the workstation is enrolled.
        enrolled: bool,
        /// The answer.
        reply: Reply<StatusReport>,
    },
    /// A session's `begin`: the mailboxes `account` may change, and whether `mailbox` (or any,
    /// when `None`) belongs to a rotation not bound to it.
    Begin {
        /// The session's account.
        account: Option<LocalAccount>,
        /// The mailbox asked for.
        mailbox: Option<String>,
        /// The answer.
        reply: Reply<Candidates>,
    },
    /// A session's page of a long mailbox choice.
    Choices {
        /// The session's account.
        account: Option<LocalAccount>,
        /// The page.
        page: u32,
        /// The answer.
        reply: Reply<LocalEvent>,
    },
    /// A session chooses rotation `rotation`: it drives it alone from now (another gets `busy`).
    Choose {
        /// The session's number.
        session: u64,
        /// The session's account.
        account: LocalAccount,
        /// The rotation.
        rotation: String,
        /// The answer.
        reply: Reply<Chosen>,
    },
    /// The person asked for the change, with the session's passwords handed over.
    ChangeRequested {
        /// The rotation.
        rotation: String,
        /// The key out.
        evidence: KeyEvidence,
        /// Whether the typed provisional password matched its verifier.
        typed_matches: bool,
        /// The account acting.
        by: LocalAccount,
        /// The directory's lockout threshold.
        lockout_threshold: u32,
        /// The session's passwords (wiped when the drive ends or the machine says so).
        slot: Slot,
        /// The session's event queue.
        tell: Tell,
        /// How the drive ended.
        reply: Reply<Outcome>,
    },
    /// The person typed the new password again, to verify an interrupted change.
    VerifyRequested {
        /// The rotation.
        rotation: String,
        /// The key out.
        evidence: KeyEvidence,
        /// The new password.
        new: SecretString,
        /// The session's event queue.
        tell: Tell,
        /// How the drive ended.
        reply: Reply<Outcome>,
    },
    /// The person says they did not change the password (periodic reconciliation).
    PersonSaysUnchanged {
        /// The rotation.
        rotation: String,
        /// The session's event queue.
        tell: Tell,
        /// How the drive ended.
        reply: Reply<Outcome>,
    },
    /// A session no longer drives anything.
    SessionEnded {
        /// The session's number.
        session: u64,
    },
    /// The key watcher saw the key change.
    KeyChanged(KeyState),
    /// The check-in's snapshot: each rotation's step, and whether any is still under way.
    Progress {
        /// The answer.
        reply: Reply<Progress>,
    },
    /// The pending rotations the server listed; the answer waits on each background drive.
    Deliver {
        /// The server's list.
        pending: Vec<PendingRotation>,
        /// One receiver per drive started.
        reply: Reply<Vec<oneshot::Receiver<()>>>,
    },
    /// Rotations a restart left mid-change get their one probe.
    Reconcile {
        /// One receiver per probe started.
        reply: Reply<Vec<oneshot::Receiver<()>>>,
    },
    /// The oldest reports waiting, at most `max`.
    OutboxPeek {
        /// How many.
        max: usize,
        /// The reports.
        reply: Reply<Vec<Report>>,
    },
    /// The server answered for these reports: they leave the outbox.
    OutboxAck {
        /// The report ids.
        answered: Vec<ReportId>,
        /// Whether the outbox was written.
        reply: Reply<bool>,
    },
    /// An OWA task's outcome for `rotation`.
    OwaDone {
        /// The rotation.
        rotation: String,
        /// The machine's event for it.
        event: Event,
    },
    /// The service stops.
    Shutdown,
}

/// The answer to [`Input::Begin`].
#[derive(Debug, Default)]
pub(super) struct Candidates {
    /// The rotations open to the account, with what the choice shows.
    pub open: Vec<(RotationId, MailboxChoice)>,
    /// A rotation asked for exists but is bound to another account (or to none yet, periodic).
    pub not_bound: bool,
}

/// The answer to [`Input::Choose`].
#[derive(Debug)]
pub(super) enum Chosen {
    /// Another session drives it.
    Busy,
    /// Gone, or no longer open to the account.
    Gone,
    /// This session drives it now.
    Taken(Chose),
}

/// What a session needs of the rotation it drives.
#[derive(Debug)]
pub(super) struct Chose {
    pub phase: Phase,
    pub mailbox: String,
    pub kind: RotationKind,
    pub display_name: String,
    pub rule: PasswordRule,
    pub strength: StrengthChecks,
    pub office_name: String,
    pub office_city: String,
    pub verifier: Option<Verifier>,
    pub refused: Option<limit::RefusedOn>,
}

/// How a person's drive ended: what it asked, and the rotation's phase then.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub driven: Driven,
    pub phase: Option<Phase>,
}

/// The answer to [`Input::Progress`].
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Each rotation with its step.
    pub steps: Vec<(RotationId, Step)>,
    /// Whether any rotation is still under way (the key is then probed quickly).
    pub active: bool,
}

/// The rotations sessions are driving: rotation id → (session number, its account; `status`
/// shows it "in hand" to that account only).
type Driving = HashMap<String, (u64, LocalAccount)>;

/// The actor: the rotation state and the drives under way.
pub(super) struct Actor<O> {
    core: Core,
    key: watch::Receiver<KeyState>,
    owa: Arc<O>,
    clock: SharedClock,
    /// Wakes the check-in loop: reports were queued.
    wake: Arc<Notify>,
    /// Its own inbox, for the OWA tasks.
    inbox: Inbox,
    /// At most one drive per rotation: the one running.
    drives: HashMap<String, drive::Drive>,
    /// The jobs waiting for a rotation's drive to end, in order.
    waiting: HashMap<String, VecDeque<Job>>,
    driving: Driving,
    /// The check-in loop is to be woken once the current input is handled.
    wake_due: bool,
}

impl<O: OwaWork> Actor<O> {
    /// An actor over `core`.
    pub(super) fn new(
        core: Core,
        key: watch::Receiver<KeyState>,
        owa: Arc<O>,
        clock: SharedClock,
        wake: Arc<Notify>,
        inbox: Inbox,
    ) -> Actor<O> {
        Actor {
            core,
            key,
            owa,
            clock,
            wake,
            inbox,
            drives: HashMap::new(),
            waiting: HashMap::new(),
            driving: HashMap::new(),
            wake_due: false,
        }
    }

    pub(super) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(super) fn key_now(&self) -> KeyState {
        self.key.borrow().clone()
    }

    /// After a start: the journal's rotations learn they were restarted and where the key is.
    /// Their OWA work (a reconciliation probe) waits for the server's delivery (check-in).
    pub(super) fn restart(&mut self) {
        let present = matches!(self.key_now(), KeyState::Present { .. });
        let now = self.now();
        for (id, effects) in self.core.restart(present, now) {
            self.submit(id.as_str(), Job::background(Start::Effects(effects), None));
        }
    }

    /// Handles inputs one at a time until [`Input::Shutdown`] or every sender is gone.
    pub(super) async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        self.restart();
        while let Some(input) = inputs.recv().await {
            if matches!(input, Input::Shutdown) {
                break;
            }
            self.handle(input);
            if std::mem::take(&mut self.wake_due) {
                self.wake.notify_one();
            }
        }
        tracing::debug!("the service's actor stopped");
    }

    /// One input.
    pub(super) fn handle(&mut self, input: Input) {
        match input {
            Input::Status { account, page, enrolled, reply } => {
                let _ = reply.send(self.status_report(account.as_ref(), page, enrolled));
            }
            Input::Begin { account, mailbox, reply } => {
                let _ = reply.send(self.candidates(account.as_ref(), mailbox.as_deref()));
            }
            Input::Choices { account, page, reply } => {
                let _ = reply.send(self.choices(account.as_ref(), page));
            }
            Input::Choose { session, account, rotation, reply } => {
                let _ = reply.send(self.choose(session, account, &rotation));
            }
            Input::ChangeRequested {
                rotation,
                evidence,
                typed_matches,
                by,
                lockout_threshold,
                slot,
                tell,
                reply,
            } => {
                let new_password = match &slot.new {
                    Some(new) => self.core.fingerprint(new),
                    None => self.core.fingerprint(&SecretString::from(String::new())),
                };
                let event = Event::ChangeRequested {
                    key: KeyGate::Absent(evidence),
                    typed_matches,
                    new_password,
                    by,
                    lockout_threshold,
                };
                let person = Person { slot, tell };
                self.submit(&rotation, Job::person(Start::Apply(event), person, reply));
            }
            Input::VerifyRequested { rotation, evidence, new, tell, reply } => {
                let new_password = self.core.fingerprint(&new);
                let event = Event::VerifyRequested { key: KeyGate::Absent(evidence), new_password };
                let person = Person { slot: Slot { old: None, new: Some(new) }, tell };
                self.submit(&rotation, Job::person(Start::Apply(event), person, reply));
            }
            Input::PersonSaysUnchanged { rotation, tell, reply } => {
                let person = Person { slot: Slot::default(), tell };
                let start = Start::Apply(Event::PersonSaysUnchanged);
                self.submit(&rotation, Job::person(start, person, reply));
            }
            Input::SessionEnded { session } => {
                self.driving.retain(|_, (number, _)| *number != session);
            }
            Input::KeyChanged(state) => self.key_changed(&state),
            Input::Progress { reply } => {
                let active = self
                    .core
                    .rotations()
                    .any(|r| !matches!(r.phase, Phase::Completed | Phase::Failed(_)));
                let _ = reply.send(Progress { steps: self.core.progress(), active });
            }
            Input::Deliver { pending, reply } => {
                let now = self.now();
                let mut done = Vec::new();
                for (id, effects) in self.core.deliver(pending, now) {
                    let effects = without_person(effects);
                    if !effects.is_empty() {
                        let (tx, rx) = oneshot::channel();
                        self.submit(
                            id.as_str(),
                            Job::background(Start::Effects(effects), Some(tx)),
                        );
                        done.push(rx);
                    }
                }
                let _ = reply.send(done);
            }
            Input::Reconcile { reply } => {
                let _ = reply.send(self.reconcile());
            }
            Input::OutboxPeek { max, reply } => {
                let _ = reply.send(self.core.outbox().peek(max));
            }
            Input::OutboxAck { answered, reply } => {
                let written = match self.core.outbox().ack(&answered) {
                    Ok(_) => {
                        crate::failpoint::hit("acknowledged");
                        self.core.delivered(&answered);
                        true
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot acknowledge delivered reports");
                        false
                    }
                };
                let _ = reply.send(written);
            }
            Input::OwaDone { rotation, event } => self.owa_done(&rotation, event),
            Input::Shutdown => {}
        }
    }

    /// Each key change goes to every rotation (after the drive under way, for a rotation that
    /// has one).
    fn key_changed(&mut self, state: &KeyState) {
        let event = match state {
            KeyState::Present { .. } => Event::KeyInserted,
            KeyState::Absent => Event::KeyRemoved,
            KeyState::Unknown { .. } => return,
        };
        let ids: Vec<RotationId> = self.core.rotations().map(|r| r.id.clone()).collect();
        for id in ids {
            self.submit(id.as_str(), Job::key(event.clone()));
        }
        self.wake_due = true;
    }

    /// One probe for each rotation a restart left in the middle of a change, now that the
    /// server's delivery holds the provisional password.
    fn reconcile(&mut self) -> Vec<oneshot::Receiver<()>> {
        let waiting: Vec<RotationId> = self
            .core
            .rotations()
            .filter(|r| matches!(r.phase, Phase::Probing))
            .filter(|r| {
                self.core.delivery(r.id.as_str()).and_then(|d| d.provisional.as_ref()).is_some()
            })
            .filter(|r| !self.drives.contains_key(r.id.as_str()))
            .map(|r| r.id.clone())
            .collect();
        let mut done = Vec::new();
        for id in waiting {
            tracing::info!(rotation = %id, "reconciling an interrupted change (one probe)");
            let probe = Effect::Probe(ProbeKind::ProvisionalStillExpired);
            let (tx, rx) = oneshot::channel();
            self.submit(id.as_str(), Job::background(Start::Effects(vec![probe]), Some(tx)));
            done.push(rx);
        }
        done
    }

    /// The rotations `account` may change, for a `begin`.
    fn candidates(&self, account: Option<&LocalAccount>, mailbox: Option<&str>) -> Candidates {
        let core = &self.core;
        let open = core
            .rotations()
            .filter(|r| actionable(r.phase) && access::access(r, account) == Access::Open)
            .map(|r| {
                let display_name = core
                    .delivery(r.id.as_str())
                    .map(|d| d.display_name.clone())
                    .unwrap_or_default();
                (r.id.clone(), MailboxChoice { mailbox: r.mailbox.clone(), display_name })
            })
            .collect();
        let not_bound = core.rotations().any(|r| {
            actionable(r.phase)
                && mailbox.is_none_or(|w| r.mailbox.eq_ignore_ascii_case(w))
                && access::access(r, account) == Access::NotBound
        });
        Candidates { open, not_bound }
    }

    /// Page `page` of the mailboxes `account` may choose from.
    fn choices(&self, account: Option<&LocalAccount>, page: u32) -> LocalEvent {
        let open: Vec<MailboxChoice> =
            self.candidates(account, None).open.into_iter().map(|(_, c)| short(c)).collect();
        let per_page = CHOICES;
        let start = usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(per_page);
        let next_page =
            (open.len() > start.saturating_add(per_page)).then(|| page.saturating_add(1));
        let choices = open.into_iter().skip(start).take(per_page).collect();
        LocalEvent::ChooseMailboxPage { choices, next_page }
    }

    /// Session `session` takes rotation `id`, checked again now that it holds it.
    fn choose(&mut self, session: u64, account: LocalAccount, id: &str) -> Chosen {
        if self.driving.get(id).is_some_and(|(other, _)| *other != session) {
            return Chosen::Busy;
        }
        let Some(rotation) = self.core.rotation(id) else { return Chosen::Gone };
        if access::access(rotation, Some(&account)) != Access::Open {
            return Chosen::Gone;
        }
        let delivery = self.core.delivery(id);
        let chose = Chose {
            phase: rotation.phase,
            mailbox: rotation.mailbox.clone(),
            kind: rotation.kind,
            display_name: delivery.map(|d| d.display_name.clone()).unwrap_or_default(),
            rule: delivery.map(|d| d.rule).unwrap_or_default(),
            strength: delivery.map(|d| d.strength).unwrap_or_default(),
            office_name: delivery.map(|d| d.office_name.clone()).unwrap_or_default(),
            office_city: delivery.map(|d| d.office_city.clone()).unwrap_or_default(),
            verifier: rotation.provisional.clone(),
            refused: rotation.refused_current,
        };
        self.driving.insert(id.to_owned(), (session, account));
        Chosen::Taken(chose)
    }

    /// The rotations shown "in hand" to `account`: those its own sessions are changing.
    pub(super) fn in_hand(&self, account: Option<&LocalAccount>) -> Vec<String> {
        self.driving
            .iter()
            .filter(|(_, (_, holder))| access::in_hand_for(holder, account))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Effects of a background drive: words for a person nobody is listening to are dropped, OWA
/// work waits for the person (a change needs their passwords).
fn without_person(effects: Vec<Effect>) -> Vec<Effect> {
    effects.into_iter().filter(|e| matches!(e, Effect::Probe(_) | Effect::Verify)).collect()
}

#[cfg(test)]
mod tests;
