//! Driving a rotation: the machine's effects run in order; OWA work runs outside the state lock
//! and its outcome goes back to the machine (after the key state, so that a key plugged in during
//! a step stops the next one). One drive at a time (`Service::drive_lock`).
//!
//! A drive never touches a client: words for the person are queued on the session's [`Tell`]
//! channel, which the session's own task writes out (with its own timeout), so a client that
//! stops reading cannot hold the drive lock. The passwords come from the session's [`Slot`]
//! (none in a background drive: the key watcher, a check-in), wiped when the machine says so.

use std::collections::VecDeque;

use secrecy::SecretString;
use tokio::sync::mpsc;

use super::Service;
use super::core::Effect;
use super::owa_ops::{self, OwaAccess};
use super::slot::Slot;
use crate::failpoint;
use crate::key::KeyState;
use crate::local::protocol::{Event as LocalEvent, ProgressStep, Refusal as LocalRefusal};
use crate::owa::OwaLogon;
use crate::rotation::{Event, FailureReason, Message, Refusal};

/// How a drive ended, for the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Driven {
    /// The machine asked for the new password again.
    pub ask_new_password: bool,
    /// Periodic reconciliation: the person must say whether they changed it.
    pub ask_did_you_change: bool,
    /// A refusal or failure was told.
    pub refused: bool,
}

/// Where a drive queues the events for the person's session (never a write to the client).
pub(super) type Tell = mpsc::UnboundedSender<LocalEvent>;

/// The person behind a drive: their session's passwords and its event queue.
pub(super) struct Person<'a> {
    /// The session's own passwords.
    pub slot: &'a mut Slot,
    /// The session's event queue.
    pub tell: &'a Tell,
}

impl Service {
    /// Runs `effects` for rotation `id` in the background (no person), taking the drive lock.
    pub(super) async fn drive(&self, id: &str, effects: Vec<Effect>) -> Driven {
        let _guard = self.drive_lock.lock().await;
        self.drive_locked(id, effects, None).await
    }

    /// Runs `effects` with the drive lock already held.
    pub(super) async fn drive_locked(
        &self,
        id: &str,
        effects: Vec<Effect>,
        mut person: Option<Person<'_>>,
    ) -> Driven {
        let mut driven = Driven::default();
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let event = match effect {
                Effect::Tell(message) => {
                    match &message {
                        Message::DidYouChange => driven.ask_did_you_change = true,
                        other => {
                            if let Some(event) = self.tell(other) {
                                driven.refused |= matches!(event, LocalEvent::Refused(_));
                                say(&person, &event);
                            }
                        }
                    }
                    continue;
                }
                Effect::AskNewPassword => {
                    driven.ask_new_password = true;
                    continue;
                }
                Effect::ForgetPasswords => {
                    if let Some(person) = person.as_mut() {
                        person.slot.wipe();
                    }
                    continue;
                }
                Effect::Change => {
                    say(&person, &LocalEvent::Progress(ProgressStep::Connecting));
                    say(&person, &LocalEvent::Progress(ProgressStep::Changing));
                    let slot = person.as_ref().map(|p| &*p.slot);
                    let Some((who, old, new)) = self.change_inputs(id, slot).await else {
                        // Restarted without the passwords: nothing was sent.
                        queue.extend(
                            self.feed(id, Event::OwaUnavailable(FailureReason::NeedsHuman)).await,
                        );
                        continue;
                    };
                    let event = owa_ops::change(&self.access(), &who, &old, &new).await;
                    failpoint::hit("owa-answered");
                    if matches!(event, Event::OwaChanged { .. }) {
                        say(&person, &LocalEvent::Progress(ProgressStep::Changed));
                    }
                    event
                }
                Effect::Verify => {
                    say(&person, &LocalEvent::Progress(ProgressStep::Verifying));
                    let slot = person.as_ref().map(|p| &*p.slot);
                    match self.verify_inputs(id, slot).await {
                        Some((who, new)) => owa_ops::verify(&self.access(), &who, &new).await,
                        None => Event::VerifyUnavailable(FailureReason::NeedsHuman),
                    }
                }
                Effect::Probe(_) => {
                    match self.probe_inputs(id, person.as_ref().map(|p| &*p.slot)).await {
                        Some((who, provisional)) => {
                            owa_ops::probe_provisional(&self.access(), &who, &provisional).await
                        }
                        None => {
                            // No provisional password at hand (the server is away): no logon made.
                            Event::ProbeResult(crate::rotation::ProbeOutcome::Inconclusive(
                                FailureReason::OwaUnreachable,
                            ))
                        }
                    }
                }
            };
            queue.extend(self.sync_key(id).await);
            queue.extend(self.feed(id, event).await);
        }
        driven
    }

    /// Applies one event to rotation `id`.
    async fn feed(&self, id: &str, event: Event) -> Vec<Effect> {
        let now = self.now();
        self.core.lock().await.apply(id, event, now)
    }

    /// Tells the machine where the key is now, if it does not know.
    async fn sync_key(&self, id: &str) -> Vec<Effect> {
        let present = match self.key_now() {
            KeyState::Present { .. } => true,
            KeyState::Absent => false,
            KeyState::Unknown { .. } => return Vec::new(),
        };
        let known = self.core.lock().await.rotation(id).map(|r| r.memory.key_present);
        match known {
            Some(known) if known != present => {
                self.feed(id, if present { Event::KeyInserted } else { Event::KeyRemoved }).await
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn access(&self) -> OwaAccess {
        OwaAccess { url: self.owa_url(), settings: self.http.clone(), clock: self.clock.clone() }
    }

    async fn logon(&self, id: &str) -> Option<OwaLogon> {
        let core = self.core.lock().await;
        let rotation = core.rotation(id)?;
        let logon_name = core.delivery(id).and_then(|d| d.logon_name.clone());
        Some(OwaLogon::new(rotation.mailbox.clone(), logon_name))
    }

    async fn change_inputs(
        &self,
        id: &str,
        slot: Option<&Slot>,
    ) -> Option<(OwaLogon, SecretString, SecretString)> {
        let slot = slot?;
        let who = self.logon(id).await?;
        Some((who, slot.old.clone()?, slot.new.clone()?))
    }

    async fn verify_inputs(
        &self,
        id: &str,
        slot: Option<&Slot>,
    ) -> Option<(OwaLogon, SecretString)> {
        let new = slot?.new.clone()?;
        Some((self.logon(id).await?, new))
    }

    async fn probe_inputs(
        &self,
        id: &str,
        slot: Option<&Slot>,
    ) -> Option<(OwaLogon, SecretString)> {
        let who = self.logon(id).await?;
        let typed = slot.and_then(|s| s.old.clone());
        let core = self.core.lock().await;
        let delivered = core.delivery(id).and_then(|d| d.provisional.clone());
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

/// Queues `event` for the person's session, if there is one; never waits.
fn say(person: &Option<Person<'_>>, event: &LocalEvent) {
    if let Some(person) = person
        && person.tell.send(event.clone()).is_err()
    {
        tracing::debug!("the person's command went away");
    }
}
