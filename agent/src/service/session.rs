//! The person's session (`sesame-agent change` and `status` over the local socket): which
//! mailbox, the key gate (seen absent, or confirmed by the person when the service cannot see),
//! the passwords (checked locally before anything leaves: the office's rule, the two typings,
//! not the old one, no name, and the provisional password against its verifier), then the
//! change, driven by the machine. A verified change ends the session with `done`; the key's
//! re-insertion completes the rotation in the background.
//!
//! Every session acts for its local account only (`rotation::access`): `status`, `begin`, the
//! mailbox choice and everything after see only the rotations that account may see; another
//! account's are refused as unknown before anything is sent to Exchange. One session at a time
//! drives a rotation (another gets `busy`), and each session keeps its passwords in its own
//! [`Slot`], wiped when the session ends. The session's task alone writes to its client: a drive
//! queues its events, and this task writes them out with the session's write timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;

use super::Service;
use super::drive::{Driven, Person};
use super::listing::{CHOICES, actionable, short};
use super::slot::Slot;
use crate::key::KeyState;
use crate::local::account::LocalAccount;
use crate::local::password_check::{Typed, check_new_password};
use crate::local::protocol::{
    Event as LocalEvent, MailboxChoice, PasswordKind, ProgressStep, Refusal, Request, WirePolicy,
};
use crate::local::server::{LocalHandler, Session};
use crate::rotation::access::{self, Access};
use crate::rotation::{Event, KeyEvidence, KeyGate, Phase, Rotation, RotationKind, limit};

/// How long the service waits for the key to be unplugged.
const UNPLUG_WAIT: Duration = Duration::from_secs(5 * 60);
/// How many times the passwords are asked in one session.
const PASSWORD_ATTEMPTS: usize = 3;

/// The rotations sessions are driving: rotation id → (session number, its account; `status`
/// shows it "in hand" to that account only).
pub(super) type Driving = HashMap<String, (u64, LocalAccount)>;

/// Numbers sessions, for [`Driving`].
static SESSION_NUMBER: AtomicU64 = AtomicU64::new(1);

/// What a session is: who, and its number.
struct Caller {
    account: Option<LocalAccount>,
    number: u64,
}

impl LocalHandler for Service {
    async fn handle(&self, mut session: Session) {
        let caller = Caller {
            account: session.account().cloned(),
            number: SESSION_NUMBER.fetch_add(1, Ordering::Relaxed),
        };
        tracing::info!(
            peer = %session.peer(),
            account = caller.account.as_ref().map_or("none", |a| a.id.as_str()),
            "local session"
        );
        let mut slot = Slot::default();
        loop {
            let request = match session.next_request().await {
                Ok(Some(request)) => request,
                Ok(None) | Err(_) => return,
            };
            match request {
                Request::Status => {
                    let report = self.status_report(caller.account.as_ref(), 0).await;
                    let _ = session.send(&LocalEvent::Status(report)).await;
                }
                Request::StatusPage { page } => {
                    let report = self.status_report(caller.account.as_ref(), page).await;
                    let _ = session.send(&LocalEvent::Status(report)).await;
                }
                Request::Begin { mailbox } => {
                    if !self.begin(&mut session, &caller, &mut slot, mailbox).await {
                        return;
                    }
                }
                Request::MoreChoices { page } => {
                    let event = self.choices(caller.account.as_ref(), page).await;
                    if session.send(&event).await.is_err() {
                        return;
                    }
                }
                Request::Cancel => return,
                _ => {
                    let _ = session
                        .send(&LocalEvent::Error(
                            crate::local::protocol::ServiceError::UnexpectedRequest,
                        ))
                        .await;
                    return;
                }
            }
        }
    }
}

impl Service {
    /// A `begin`: returns whether the session goes on (to another `begin`, after a choice).
    async fn begin(
        &self,
        session: &mut Session,
        caller: &Caller,
        slot: &mut Slot,
        mailbox: Option<String>,
    ) -> bool {
        if !self.state.is_enrolled() {
            let _ = session.send(&LocalEvent::Refused(Refusal::NotEnrolled)).await;
            return false;
        }
        let account = caller.account.as_ref();
        let wanted =
            |r: &Rotation| mailbox.as_ref().is_none_or(|w| r.mailbox.eq_ignore_ascii_case(w));
        let (candidates, not_bound): (Vec<(String, MailboxChoice)>, bool) = {
            let core = self.core.lock().await;
            let open = core
                .rotations()
                .filter(|r| actionable(r.phase) && access::access(r, account) == Access::Open)
                .map(|r| {
                    let display_name =
                        core.delivery(&r.id).map(|d| d.display_name.clone()).unwrap_or_default();
                    (r.id.clone(), MailboxChoice { mailbox: r.mailbox.clone(), display_name })
                })
                .collect();
            let not_bound = core.rotations().any(|r| {
                actionable(r.phase) && wanted(r) && access::access(r, account) == Access::NotBound
            });
            (open, not_bound)
        };
        let chosen = match (&mailbox, candidates.len()) {
            (Some(wanted), _) => {
                match candidates.iter().find(|(_, c)| c.mailbox.eq_ignore_ascii_case(wanted)) {
                    Some((id, _)) => id.clone(),
                    None => {
                        // Someone else's rotation is refused exactly like one that does not exist.
                        let refusal = if not_bound {
                            Refusal::AccountNotBound
                        } else {
                            Refusal::UnknownMailbox { mailbox: wanted.clone() }
                        };
                        let _ = session.send(&LocalEvent::Refused(refusal)).await;
                        return false;
                    }
                }
            }
            (None, 0) => {
                let refusal =
                    if not_bound { Refusal::AccountNotBound } else { Refusal::NothingPending };
                let _ = session.send(&LocalEvent::Refused(refusal)).await;
                return false;
            }
            (None, 1) => candidates[0].0.clone(),
            (None, n) if n <= CHOICES => {
                let choices = candidates.into_iter().map(|(_, c)| short(c)).collect();
                let _ = session.send(&LocalEvent::ChooseMailbox(choices)).await;
                return true;
            }
            (None, _) => {
                // A long list goes a page at a time, each line far below the 16 KiB limit.
                drop(candidates);
                let event = self.choices(account, 0).await;
                let _ = session.send(&event).await;
                return true;
            }
        };
        self.change(session, caller, slot, &chosen).await;
        false
    }

    /// The change of rotation `id`, from the key gate to the end, by this session alone (another
    /// session already driving it gets `busy`). The rotation is "in hand" for as long as this runs,
    /// in this account's `status` only.
    async fn change(&self, session: &mut Session, caller: &Caller, slot: &mut Slot, id: &str) {
        let Some(account) = caller.account.clone() else { return };
        let Some(_driving) = Driver::take(self, id, caller.number, &account) else {
            let _ = session.send(&LocalEvent::Refused(Refusal::Busy)).await;
            return;
        };
        // Checked again now that this session holds it: nothing can have changed hands since.
        let found = self.core.lock().await.rotation(id).map(|r| {
            let open = access::access(r, Some(&account)) == Access::Open;
            (open, r.phase, r.mailbox.clone())
        });
        let Some((true, phase, mailbox)) = found else {
            let _ = session.send(&LocalEvent::Refused(Refusal::NothingPending)).await;
            return;
        };
        if phase == Phase::AwaitingKey {
            let _ = session.send(&LocalEvent::Done { mailbox, key_in: false }).await;
            return;
        }
        let Some(evidence) = self.key_gate(session).await else { return };
        let ctx = Ctx { id, mailbox: &mailbox, account: &account };
        match phase {
            Phase::Changed => self.verify_again(session, slot, &ctx, evidence, false).await,
            Phase::AwaitingAnswer => self.verify_again(session, slot, &ctx, evidence, true).await,
            _ => self.change_with_passwords(session, slot, &ctx, evidence).await,
        }
    }

    /// The key out: seen absent, or confirmed by the person when the service cannot see.
    async fn key_gate(&self, session: &mut Session) -> Option<KeyEvidence> {
        let mut state = self.key_watcher.probe_now().await;
        if let KeyState::Present { .. } = state {
            tracing::info!(peer = %session.peer(), "waiting for the key to be unplugged");
            let _ = session.send(&LocalEvent::Progress(ProgressStep::WaitingForUnplug)).await;
            let mut key = self.key.clone();
            let unplugged = tokio::time::timeout(
                UNPLUG_WAIT,
                key.wait_for(|s| !matches!(s, KeyState::Present { .. })),
            )
            .await;
            let unplugged = unplugged.ok().and_then(Result::ok).map(|state| state.clone());
            state = match unplugged {
                Some(state) => state,
                None => {
                    let device = match self.key_now() {
                        KeyState::Present { device } => device,
                        _ => String::new(),
                    };
                    let _ =
                        session.send(&LocalEvent::Refused(Refusal::KeyPresent { device })).await;
                    return None;
                }
            };
        }
        let now = self.now();
        match state {
            KeyState::Absent => {
                let _ = session.send(&LocalEvent::Progress(ProgressStep::KeyAbsent)).await;
                Some(KeyEvidence::ObservedAbsent { at: now })
            }
            KeyState::Unknown { reason } => {
                let ask = LocalEvent::NeedKeyConfirmation { reason: reason.clone() };
                if session.send(&ask).await.is_err() {
                    return None;
                }
                match session.next_request().await {
                    Ok(Some(Request::ConfirmKeyUnplugged)) => {
                        tracing::info!(peer = %session.peer(), "the person confirmed the key is out");
                        let _ =
                            session.send(&LocalEvent::Progress(ProgressStep::KeyConfirmed)).await;
                        let who = session.account().map_or_else(
                            || session.peer().to_string(),
                            |account| account.to_string(),
                        );
                        let detail = format!("{reason}; confirmed by {who}");
                        Some(KeyEvidence::PersonConfirmed { at: self.now(), detail })
                    }
                    _ => None,
                }
            }
            KeyState::Present { .. } => None,
        }
    }

    /// Asks the passwords, checks them, and runs the change.
    async fn change_with_passwords(
        &self,
        session: &mut Session,
        slot: &mut Slot,
        ctx: &Ctx<'_>,
        evidence: KeyEvidence,
    ) {
        let (id, mailbox) = (ctx.id, ctx.mailbox);
        let (kind, display_name, rule, verifier, refused) = {
            let core = self.core.lock().await;
            let Some(rotation) = core.rotation(id) else { return };
            let delivery = core.delivery(id);
            (
                rotation.kind,
                delivery.map(|d| d.display_name.clone()).unwrap_or_default(),
                delivery.map(|d| d.rule).unwrap_or_default(),
                rotation.provisional.clone(),
                rotation.refused_current,
            )
        };
        if !limit::may_send(refused, self.lockout_threshold, self.now()) {
            let _ = session.send(&LocalEvent::Refused(Refusal::CurrentPasswordLimit)).await;
            return;
        }
        let password_kind = match kind {
            RotationKind::Provisional => PasswordKind::Provisional,
            RotationKind::Periodic => PasswordKind::Current,
        };
        for _ in 0..PASSWORD_ATTEMPTS {
            let ask = LocalEvent::NeedPasswords {
                kind: password_kind,
                mailbox: mailbox.to_owned(),
                display_name: display_name.clone(),
                policy: WirePolicy::from(rule),
            };
            if session.send(&ask).await.is_err() {
                return;
            }
            let (old, new, confirm) = match session.next_request().await {
                Ok(Some(Request::Passwords { current_or_provisional, new, confirm })) => {
                    (current_or_provisional.into_secret(), new.into_secret(), confirm.into_secret())
                }
                _ => return,
            };
            let typed = Typed {
                old: old.expose_secret(),
                new: new.expose_secret(),
                confirm: confirm.expose_secret(),
            };
            let problems = check_new_password(&rule, password_kind, mailbox, &typed);
            if !problems.is_empty() {
                let _ = session.send(&LocalEvent::Refused(Refusal::Password(problems))).await;
                continue;
            }
            let typed_matches = match (&verifier, kind) {
                (Some(verifier), RotationKind::Provisional) => verifier.matches(&old),
                (None, RotationKind::Provisional) => false,
                (_, RotationKind::Periodic) => true,
            };
            let _ = session.send(&LocalEvent::Progress(ProgressStep::PasswordsAccepted)).await;
            let new_password = self.core.lock().await.fingerprint(&new);
            slot.old = Some(old);
            slot.new = Some(new);
            let event = Event::ChangeRequested {
                key: KeyGate::Absent(evidence.clone()),
                typed_matches,
                new_password,
                by: ctx.account.clone(),
                lockout_threshold: self.lockout_threshold,
            };
            let driven = self.apply_and_drive(session, slot, id, event).await;
            if self.finish(session, id, mailbox, driven).await {
                return;
            }
        }
    }

    /// Verifies an interrupted change with the new password typed again (or, periodic, the
    /// person says nothing changed).
    async fn verify_again(
        &self,
        session: &mut Session,
        slot: &mut Slot,
        ctx: &Ctx<'_>,
        evidence: KeyEvidence,
        may_be_unchanged: bool,
    ) {
        let (id, mailbox) = (ctx.id, ctx.mailbox);
        let ask = LocalEvent::NeedNewPassword { mailbox: mailbox.to_owned(), may_be_unchanged };
        if session.send(&ask).await.is_err() {
            return;
        }
        let new = match session.next_request().await {
            Ok(Some(Request::NewPassword { new })) => new.into_secret(),
            _ => return,
        };
        let event = if may_be_unchanged && new.expose_secret().is_empty() {
            Event::PersonSaysUnchanged
        } else {
            let new = SecretString::from(new.expose_secret());
            let new_password = self.core.lock().await.fingerprint(&new);
            slot.old = None;
            slot.new = Some(new);
            Event::VerifyRequested { key: KeyGate::Absent(evidence), new_password }
        };
        let driven = self.apply_and_drive(session, slot, id, event).await;
        self.finish(session, id, mailbox, driven).await;
    }

    /// Applies the person's `event` and drives its effects, while this task writes the drive's
    /// events to the client: the drive never waits on the client, and a client that stops
    /// reading is dropped at the session's write timeout while the drive goes on.
    async fn apply_and_drive(
        &self,
        session: &mut Session,
        slot: &mut Slot,
        id: &str,
        event: Event,
    ) -> Driven {
        let (tell, mut told) = mpsc::unbounded_channel();
        let drive = async move {
            let _guard = self.drive_lock.lock().await;
            let now = self.now();
            let effects = self.core.lock().await.apply(id, event, now);
            let driven = self.drive_locked(id, effects, Some(Person { slot, tell: &tell })).await;
            drop(tell);
            self.wake.notify_one();
            driven
        };
        let forward = async {
            while let Some(event) = told.recv().await {
                if session.send(&event).await.is_err() {
                    // The client went away or stopped reading; the drive goes on without it.
                    told.close();
                }
            }
        };
        let (driven, ()) = tokio::join!(drive, forward);
        driven
    }

    /// Ends the session as the rotation now stands; returns false when the person may type the
    /// passwords again in this session.
    async fn finish(&self, session: &mut Session, id: &str, mailbox: &str, driven: Driven) -> bool {
        let phase = self.core.lock().await.rotation(id).map(|r| r.phase);
        match phase {
            Some(phase @ (Phase::AwaitingKey | Phase::Completed)) => {
                let key_in = phase == Phase::Completed;
                let _ = session.send(&LocalEvent::Progress(ProgressStep::Verified)).await;
                let done = LocalEvent::Done { mailbox: mailbox.to_owned(), key_in };
                let _ = session.send(&done).await;
                true
            }
            Some(Phase::Changed | Phase::AwaitingAnswer)
                if driven.ask_new_password || driven.ask_did_you_change =>
            {
                let _ = session
                    .send(&LocalEvent::NeedNewPassword {
                        mailbox: mailbox.to_owned(),
                        may_be_unchanged: driven.ask_did_you_change,
                    })
                    .await;
                // The next `change` verifies it; this session ends here.
                true
            }
            // Refused locally (a typo, a password already refused, the key), or reconciled to
            // "nothing changed": the person types the passwords again.
            Some(Phase::Ready) => false,
            _ => {
                if !driven.refused {
                    let _ = session.send(&LocalEvent::Refused(Refusal::NeedsHuman)).await;
                }
                true
            }
        }
    }
}

/// The rotation a session is changing, with its account.
struct Ctx<'a> {
    id: &'a str,
    mailbox: &'a str,
    account: &'a LocalAccount,
}

/// A rotation driven by one session, released when dropped.
struct Driver<'s> {
    service: &'s Service,
    id: String,
}

impl<'s> Driver<'s> {
    /// Takes rotation `id` for session `number`; `None` when another session drives it.
    fn take(
        service: &'s Service,
        id: &str,
        number: u64,
        account: &LocalAccount,
    ) -> Option<Driver<'s>> {
        let mut driving = service.driving.lock().unwrap_or_else(|e| e.into_inner());
        if driving.get(id).is_some_and(|(other, _)| *other != number) {
            return None;
        }
        driving.insert(id.to_owned(), (number, account.clone()));
        Some(Driver { service, id: id.to_owned() })
    }
}

impl Drop for Driver<'_> {
    fn drop(&mut self) {
        self.service.driving.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}
