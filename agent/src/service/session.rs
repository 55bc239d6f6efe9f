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
//! drives a rotation (another gets `busy`), and each session hands its own passwords ([`Slot`]) to
//! the drive of its request, which drops (wipes) them when it ends. The session is a client of
//! the service's actor (`service::actor`): it sends inputs and awaits their replies, and its task
//! alone writes to its client: the drive queues the person's events, and this task writes them
//! out with the session's write timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::ExposeSecret;
use sesame_local::account::LocalAccount;
use sesame_local::password_check::{PasswordContext, Typed, check_new_password};
use sesame_local::protocol::{
    Event as LocalEvent, PasswordKind, ProgressStep, Refusal, Request, StatusReport, WirePolicy,
};
use sesame_local::server::{LocalHandler, Session};
use tokio::sync::{mpsc, oneshot};

use super::Service;
use super::actor::{
    CHOICES, Candidates, Chose, Chosen, Input, Outcome, Reply, Tell, short_choice as short,
};
use super::slot::Slot;
use crate::key::KeyState;
use crate::rotation::{KeyEvidence, Phase, RotationKind, limit};

/// How long the service waits for the key to be unplugged.
const UNPLUG_WAIT: Duration = Duration::from_secs(5 * 60);
/// How many times the passwords are asked in one session.
const PASSWORD_ATTEMPTS: usize = 3;

/// Numbers sessions (the actor knows which rotation each drives).
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
        // Whatever it drove is released when the session ends, however it ends.
        let _ended = Ended { service: self, number: caller.number };
        loop {
            let request = match session.next_request().await {
                Ok(Some(request)) => request,
                Ok(None) | Err(_) => return,
            };
            match request {
                Request::Status => {
                    let Some(report) = self.status_report(&caller, 0).await else { return };
                    let _ = session.send(&LocalEvent::Status(report)).await;
                }
                Request::StatusPage { page } => {
                    let Some(report) = self.status_report(&caller, page).await else { return };
                    let _ = session.send(&LocalEvent::Status(report)).await;
                }
                Request::Begin { mailbox } => {
                    if !self.begin(&mut session, &caller, mailbox).await {
                        return;
                    }
                }
                Request::MoreChoices { page } => {
                    let Some(event) = self.choices(&caller, page).await else { return };
                    if session.send(&event).await.is_err() {
                        return;
                    }
                }
                Request::Cancel => return,
                _ => {
                    let _ = session
                        .send(&LocalEvent::Error(
                            sesame_local::protocol::ServiceError::UnexpectedRequest,
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
    async fn begin(&self, session: &mut Session, caller: &Caller, mailbox: Option<String>) -> bool {
        if !self.state.is_enrolled() {
            let _ = session.send(&LocalEvent::Refused(Refusal::NotEnrolled)).await;
            return false;
        }
        let account = caller.account.clone();
        let wanted = mailbox.clone();
        let Some(Candidates { open: candidates, not_bound }) =
            self.ask(|reply| Input::Begin { account, mailbox: wanted, reply }).await
        else {
            return false;
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
                let Some(event) = self.choices(caller, 0).await else { return false };
                let _ = session.send(&event).await;
                return true;
            }
        };
        self.change(session, caller, chosen.as_str()).await;
        // Released at once, not only when the session ends.
        self.tell_actor(Input::SessionEnded { session: caller.number });
        false
    }

    /// The change of rotation `id`, from the key gate to the end, by this session alone (another
    /// session already driving it gets `busy`). The rotation is "in hand" for as long as this runs,
    /// in this account's `status` only.
    async fn change(&self, session: &mut Session, caller: &Caller, id: &str) {
        let Some(account) = caller.account.clone() else { return };
        let rotation = id.to_owned();
        let chosen = self
            .ask(|reply| Input::Choose { session: caller.number, account, rotation, reply })
            .await;
        let chose = match chosen {
            Some(Chosen::Taken(chose)) => chose,
            Some(Chosen::Busy) => {
                let _ = session.send(&LocalEvent::Refused(Refusal::Busy)).await;
                return;
            }
            Some(Chosen::Gone) => {
                let _ = session.send(&LocalEvent::Refused(Refusal::NothingPending)).await;
                return;
            }
            None => return,
        };
        let Some(account) = caller.account.as_ref() else { return };
        let (phase, mailbox) = (chose.phase, chose.mailbox.clone());
        if phase == Phase::AwaitingKey {
            let _ = session.send(&LocalEvent::Done { mailbox, key_in: false }).await;
            return;
        }
        let Some(evidence) = self.key_gate(session).await else { return };
        let ctx = Ctx { id, mailbox: &mailbox, account };
        match phase {
            Phase::Changed => self.verify_again(session, &ctx, evidence, false).await,
            Phase::AwaitingAnswer => self.verify_again(session, &ctx, evidence, true).await,
            _ => self.change_with_passwords(session, &ctx, chose, evidence).await,
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
        ctx: &Ctx<'_>,
        chose: Chose,
        evidence: KeyEvidence,
    ) {
        let (id, mailbox) = (ctx.id, ctx.mailbox);
        let Chose {
            kind,
            display_name,
            rule,
            strength,
            office_name,
            office_city,
            verifier,
            refused,
            ..
        } = chose;
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
                policy: WirePolicy::new(rule, strength),
                office_name: office_name.clone(),
                office_city: office_city.clone(),
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
            // The check that decides, whatever the window or the terminal checked: nothing
            // reaches OWA before it.
            let context = PasswordContext {
                kind: password_kind,
                mailbox,
                display_name: &display_name,
                office_name: &office_name,
                office_city: &office_city,
            };
            let problems = check_new_password(&rule, strength, &context, &typed);
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
            let by = ctx.account.clone();
            let slot = Slot { old: Some(old), new: Some(new) };
            let lockout_threshold = self.lockout_threshold;
            let rotation = id.to_owned();
            let request = |tell, reply| Input::ChangeRequested {
                rotation,
                evidence: evidence.clone(),
                typed_matches,
                by,
                lockout_threshold,
                slot,
                tell,
                reply,
            };
            let outcome = self.drive_for(session, request).await;
            if self.finish(session, mailbox, outcome).await {
                return;
            }
        }
    }
    /// Verifies an interrupted change with the new password typed again (or, periodic, the
    /// person says nothing changed).
    async fn verify_again(
        &self,
        session: &mut Session,
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
        let rotation = id.to_owned();
        let outcome = if may_be_unchanged && new.expose_secret().is_empty() {
            self.drive_for(session, |tell, reply| Input::PersonSaysUnchanged {
                rotation,
                tell,
                reply,
            })
            .await
        } else {
            self.drive_for(session, |tell, reply| Input::VerifyRequested {
                rotation,
                evidence,
                new,
                tell,
                reply,
            })
            .await
        };
        self.finish(session, mailbox, outcome).await;
    }

    /// Hands the person's request to the actor and, while its drive runs, writes the drive's
    /// events to the client: the actor never waits on the client, and a client that stops
    /// reading is dropped at the session's write timeout while the drive goes on.
    async fn drive_for(
        &self,
        session: &mut Session,
        request: impl FnOnce(Tell, Reply<Outcome>) -> Input,
    ) -> Option<Outcome> {
        let (tell, mut told) = mpsc::unbounded_channel();
        let (reply, outcome) = oneshot::channel();
        self.tell_actor(request(tell, reply));
        while let Some(event) = told.recv().await {
            if session.send(&event).await.is_err() {
                // The client went away or stopped reading; the drive goes on without it.
                told.close();
            }
        }
        outcome.await.ok()
    }

    /// Ends the session as the rotation now stands; returns false when the person may type the
    /// passwords again in this session.
    async fn finish(&self, session: &mut Session, mailbox: &str, outcome: Option<Outcome>) -> bool {
        let Some(Outcome { driven, phase }) = outcome else { return true };
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

/// Tells the actor the session ended when dropped: the rotations it drove are released.
struct Ended<'s> {
    service: &'s Service,
    number: u64,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.service.tell_actor(Input::SessionEnded { session: self.number });
    }
}

impl Service {
    /// Sends `input` to the actor (never waits).
    pub(super) fn tell_actor(&self, input: Input) {
        if self.inbox.send(input).is_err() {
            tracing::debug!("the service's actor has stopped");
        }
    }

    /// Sends the input `make` builds and awaits its reply; `None` when the actor has stopped.
    pub(super) async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Input) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.tell_actor(make(reply));
        answer.await.ok()
    }

    async fn status_report(&self, caller: &Caller, page: u32) -> Option<StatusReport> {
        let account = caller.account.clone();
        let enrolled = self.state.is_enrolled();
        self.ask(|reply| Input::Status { account, page, enrolled, reply }).await
    }

    async fn choices(&self, caller: &Caller, page: u32) -> Option<LocalEvent> {
        let account = caller.account.clone();
        self.ask(|reply| Input::Choices { account, page, reply }).await
    }
}
