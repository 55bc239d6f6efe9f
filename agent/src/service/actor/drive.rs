//! Driving a rotation, inside the actor: the machine's effects run in order; OWA work runs in its
//! own task, which sends its outcome back as [`Input::OwaDone`], and the outcome goes back to the
//! machine (after the key state, so that a key plugged in during a step stops the next one). At
//! most one drive per rotation: a person's request, a key change or a delivery for a rotation
//! whose drive is under way waits in line ([`Job`]) and starts when it ends. Drives of different
//! rotations (different mailboxes) run side by side; the actor answers every other input
//! meanwhile.
//!
//! A drive never touches a client: words for the person are queued on the session's [`Tell`]
//! channel, which the session's own task writes out (with its own timeout). The passwords come
//! from the session's [`Slot`], handed over with the request (none in a background drive: the key
//! watcher, a check-in); the OWA task gets copies, which zeroize when dropped. The slot is wiped
//! when the machine says so, and dropped (so wiped) when the drive ends.

use std::collections::VecDeque;

use secrecy::SecretString;
use sesame_base::rotation::FailureReason;
use sesame_local::protocol::{Event as LocalEvent, ProgressStep, Refusal as LocalRefusal};

use super::{Actor, Input, Outcome, Reply, Tell};
use crate::failpoint;
use crate::key::KeyState;
use crate::owa::OwaLogon;
use crate::rotation::{Event, Message, ProbeOutcome, Refusal};
use crate::service::core::Effect;
use crate::service::owa_ops::OwaWork;
use crate::service::slot::Slot;

/// How a drive ended, for the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::service) struct Driven {
    /// The machine asked for the new password again.
    pub ask_new_password: bool,
    /// Periodic reconciliation: the person must say whether they changed it.
    pub ask_did_you_change: bool,
    /// A refusal or failure was told.
    pub refused: bool,
}

/// The person behind a drive: their session's passwords (handed over) and its event queue.
pub(super) struct Person {
    /// The session's passwords.
    pub slot: Slot,
    /// The session's event queue.
    pub tell: Tell,
}

/// How a drive starts.
pub(super) enum Start {
    /// Apply this event, then run its effects.
    Apply(Event),
    /// Run these effects (already applied).
    Effects(Vec<Effect>),
}

/// A drive to run on a rotation, now or when the one under way ends.
pub(super) struct Job {
    start: Start,
    person: Option<Person>,
    reply: Option<Reply<Outcome>>,
    done: Option<Reply<()>>,
    wake: bool,
}

impl Job {
    /// A drive for nobody in particular (a delivery, a probe, a restart); `done` is told when
    /// it ends. The check-in that asked for it delivers its reports.
    pub(super) fn background(start: Start, done: Option<Reply<()>>) -> Job {
        Job { start, person: None, reply: None, done, wake: false }
    }

    /// A key change's drive: its end wakes the check-in loop (a re-insertion completes).
    pub(super) fn key(event: Event) -> Job {
        Job { start: Start::Apply(event), person: None, reply: None, done: None, wake: true }
    }

    /// A person's drive; `reply` gets how it ended, and its end wakes the check-in loop.
    pub(super) fn person(start: Start, person: Person, reply: Reply<Outcome>) -> Job {
        Job { start, person: Some(person), reply: Some(reply), done: None, wake: true }
    }
}

/// A drive under way.
pub(super) struct Drive {
    queue: VecDeque<Effect>,
    person: Option<Person>,
    driven: Driven,
    reply: Option<Reply<Outcome>>,
    done: Option<Reply<()>>,
    wake: bool,
}

/// What one effect needs of the outside world.
enum Owa {
    Change(OwaLogon, SecretString, SecretString),
    Verify(OwaLogon, SecretString),
    Probe(OwaLogon, SecretString),
}

impl<O: OwaWork> Actor<O> {
    /// Starts `job` on rotation `id`, or queues it behind the drive under way.
    pub(super) fn submit(&mut self, id: &str, job: Job) {
        if self.drives.contains_key(id) {
            self.waiting.entry(id.to_owned()).or_default().push_back(job);
        } else {
            self.start(id, job);
        }
    }

    fn start(&mut self, id: &str, job: Job) {
        let effects = match job.start {
            Start::Apply(event) => self.feed(id, event),
            Start::Effects(effects) => effects,
        };
        let drive = Drive {
            queue: effects.into(),
            person: job.person,
            driven: Driven::default(),
            reply: job.reply,
            done: job.done,
            wake: job.wake,
        };
        self.drives.insert(id.to_owned(), drive);
        self.advance(id);
    }

    /// Runs rotation `id`'s effects until one needs OWA (its task is started) or none is left
    /// (the drive ends).
    fn advance(&mut self, id: &str) {
        loop {
            let Some(drive) = self.drives.get_mut(id) else { return };
            let Some(effect) = drive.queue.pop_front() else { break };
            let owa = match effect {
                Effect::Tell(Message::DidYouChange) => {
                    drive.driven.ask_did_you_change = true;
                    continue;
                }
                Effect::Tell(message) => {
                    if let Some(event) = self.tell(&message) {
                        self.say(id, event);
                    }
                    continue;
                }
                Effect::AskNewPassword => {
                    drive.driven.ask_new_password = true;
                    continue;
                }
                Effect::ForgetPasswords => {
                    if let Some(person) = drive.person.as_mut() {
                        person.slot.wipe();
                    }
                    continue;
                }
                Effect::Change => {
                    self.say(id, LocalEvent::Progress(ProgressStep::Connecting));
                    self.say(id, LocalEvent::Progress(ProgressStep::Changing));
                    match self.change_inputs(id) {
                        Some((who, old, new)) => Owa::Change(who, old, new),
                        None => {
                            // Restarted without the passwords: nothing was sent.
                            let after =
                                self.feed(id, Event::OwaUnavailable(FailureReason::NeedsHuman));
                            self.extend(id, after);
                            continue;
                        }
                    }
                }
                Effect::Verify => {
                    self.say(id, LocalEvent::Progress(ProgressStep::Verifying));
                    match self.verify_inputs(id) {
                        Some((who, new)) => Owa::Verify(who, new),
                        None => {
                            self.answered(id, Event::VerifyUnavailable(FailureReason::NeedsHuman));
                            continue;
                        }
                    }
                }
                Effect::Probe(_) => match self.probe_inputs(id) {
                    Some((who, provisional)) => Owa::Probe(who, provisional),
                    None => {
                        // No provisional password at hand (the server is away): no logon made.
                        let nothing = ProbeOutcome::Inconclusive(FailureReason::OwaUnreachable);
                        self.answered(id, Event::ProbeResult(nothing));
                        continue;
                    }
                },
            };
            self.spawn_owa(id, owa);
            return;
        }
        self.end(id);
    }

    /// Runs `owa` in its own task, which reports back to the actor.
    fn spawn_owa(&self, id: &str, owa: Owa) {
        let worker = std::sync::Arc::clone(&self.owa);
        let inbox = self.inbox.clone();
        let rotation = id.to_owned();
        tokio::spawn(async move {
            let event = match owa {
                Owa::Change(who, old, new) => {
                    let event = worker.change(who, old, new).await;
                    failpoint::hit("owa-answered");
                    event
                }
                Owa::Verify(who, new) => worker.verify(who, new).await,
                Owa::Probe(who, provisional) => worker.probe(who, provisional).await,
            };
            if inbox.send(Input::OwaDone { rotation, event }).is_err() {
                tracing::debug!("the service stopped before OWA answered");
            }
        });
    }

    /// An OWA task's outcome for rotation `id`: back to the machine, then the drive goes on.
    pub(super) fn owa_done(&mut self, id: &str, event: Event) {
        if !self.drives.contains_key(id) {
            tracing::warn!(rotation = %id, "an OWA outcome for no drive; ignored");
            return;
        }
        if matches!(event, Event::OwaChanged { .. }) {
            self.say(id, LocalEvent::Progress(ProgressStep::Changed));
        }
        self.answered(id, event);
        self.advance(id);
    }

    /// The machine learns where the key is now, then OWA's `event`.
    fn answered(&mut self, id: &str, event: Event) {
        let key = self.sync_key(id);
        self.extend(id, key);
        let after = self.feed(id, event);
        self.extend(id, after);
    }

    fn extend(&mut self, id: &str, effects: Vec<Effect>) {
        if let Some(drive) = self.drives.get_mut(id) {
            drive.queue.extend(effects);
        }
    }

    /// The drive of rotation `id` ended: the person hears how, the slot is dropped (wiped), the
    /// check-in loop is woken (once per input, for a person's or a key change's drive), and the
    /// next job in line starts.
    fn end(&mut self, id: &str) {
        let Some(drive) = self.drives.remove(id) else { return };
        let phase = self.core.rotation(id).map(|r| r.phase);
        if let Some(reply) = drive.reply {
            let _ = reply.send(Outcome { driven: drive.driven, phase });
        }
        if let Some(done) = drive.done {
            let _ = done.send(());
        }
        drop(drive.person);
        self.wake_due |= drive.wake;
        let next = self.waiting.get_mut(id).and_then(VecDeque::pop_front);
        if self.waiting.get(id).is_some_and(VecDeque::is_empty) {
            self.waiting.remove(id);
        }
        if let Some(job) = next {
            self.start(id, job);
        }
    }

    /// Applies one event to rotation `id`.
    fn feed(&mut self, id: &str, event: Event) -> Vec<Effect> {
        let now = self.now();
        self.core.apply(id, event, now)
    }

    /// Tells the machine where the key is now, if it does not know.
    fn sync_key(&mut self, id: &str) -> Vec<Effect> {
        let present = match self.key_now() {
            KeyState::Present { .. } => true,
            KeyState::Absent => false,
            KeyState::Unknown { .. } => return Vec::new(),
        };
        let known = self.core.rotation(id).map(|r| r.memory.key_present);
        match known {
            Some(known) if known != present => {
                self.feed(id, if present { Event::KeyInserted } else { Event::KeyRemoved })
            }
            _ => Vec::new(),
        }
    }

    /// Queues `event` for the person behind rotation `id`'s drive, if any; never waits.
    fn say(&mut self, id: &str, event: LocalEvent) {
        let Some(drive) = self.drives.get_mut(id) else { return };
        drive.driven.refused |= matches!(event, LocalEvent::Refused(_));
        if let Some(person) = &drive.person
            && person.tell.send(event).is_err()
        {
            tracing::debug!("the person's command went away");
        }
    }

    fn slot(&self, id: &str) -> Option<&Slot> {
        self.drives.get(id)?.person.as_ref().map(|p| &p.slot)
    }

    fn logon(&self, id: &str) -> Option<OwaLogon> {
        let rotation = self.core.rotation(id)?;
        let logon_name = self.core.delivery(id).and_then(|d| d.logon_name.clone());
        Some(OwaLogon::new(rotation.mailbox.clone(), logon_name))
    }

    fn change_inputs(&self, id: &str) -> Option<(OwaLogon, SecretString, SecretString)> {
        let slot = self.slot(id)?;
        let (old, new) = (slot.old.clone()?, slot.new.clone()?);
        Some((self.logon(id)?, old, new))
    }

    fn verify_inputs(&self, id: &str) -> Option<(OwaLogon, SecretString)> {
        let new = self.slot(id)?.new.clone()?;
        Some((self.logon(id)?, new))
    }

    fn probe_inputs(&self, id: &str) -> Option<(OwaLogon, SecretString)> {
        let who = self.logon(id)?;
        let typed = self.slot(id).and_then(|s| s.old.clone());
        let delivered = self.core.delivery(id).and_then(|d| d.provisional.clone());
        Some((who, typed.or(delivered)?))
    }

    /// The person's event for a machine message; `None` for what the session says itself.
    fn tell(&self, message: &Message) -> Option<LocalEvent> {
        let refused = |refusal| Some(LocalEvent::Refused(refusal));
        match message {
            Message::RemoveKeyFirst => {
                let device = match self.key_now() {
                    KeyState::Present { device } => device,
                    _ => String::new(),
                };
                refused(LocalRefusal::KeyPresent { device })
            }
            Message::ProvisionalMismatch => refused(LocalRefusal::ProvisionalMismatch),
            Message::CurrentPasswordLimit => refused(LocalRefusal::CurrentPasswordLimit),
            Message::NewPasswordAlreadyRefused => refused(LocalRefusal::NewPasswordRefused),
            Message::NotNow(_) => refused(LocalRefusal::Busy),
            Message::Changing => None,
            Message::KeyPluggedDuringChange => refused(LocalRefusal::KeyPluggedDuringChange),
            Message::Refused { refusal, .. } => refused(match refusal {
                Refusal::NewPassword => LocalRefusal::NewPasswordRefused,
                Refusal::CurrentPassword => LocalRefusal::CurrentPasswordRefused,
                Refusal::LockedOut => LocalRefusal::AccountLocked,
            }),
            Message::OwaUnavailable(reason) => refused(match reason {
                FailureReason::OwaUnreachable => LocalRefusal::OwaUnreachable,
                FailureReason::OwaUntrusted => LocalRefusal::OwaUntrusted,
                FailureReason::LogonNameMissing => LocalRefusal::LogonNameMissing,
                FailureReason::LocalStorage => LocalRefusal::LocalStorage,
                FailureReason::NeedsHuman => LocalRefusal::NeedsHuman,
                _ => LocalRefusal::OwaUnexpected,
            }),
            Message::NeedsHuman => refused(LocalRefusal::NeedsHuman),
            Message::LocalStorage => refused(LocalRefusal::LocalStorage),
            Message::Cancelled => refused(LocalRefusal::NothingPending),
            Message::ReenterInOutlookThenPlugKey
            | Message::ReenterInOutlook
            | Message::Completed
            | Message::NothingChanged
            | Message::DidYouChange => None,
        }
    }
}
