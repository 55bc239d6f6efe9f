//! The person's session (`sesame-agent change` and `status` over the local socket): which
//! mailbox, the key gate (seen absent, or confirmed by the person when the service cannot see),
//! the passwords (checked locally before anything leaves: the office's rule, the two typings,
//! not the old one, no name, and the provisional password against its verifier), then the
//! change, driven by the machine. A verified change ends the session with `done`; the key's
//! re-insertion completes the rotation in the background.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::Service;
use crate::key::KeyState;
use crate::local::password_check::{Typed, check_new_password};
use crate::local::protocol::{
    Event as LocalEvent, FailureStatus, KeyStatus, LastReport, MailboxChoice, PasswordKind,
    ProgressStep, Refusal, Request, RotationStatus, StatusReport, StepStatus, WirePolicy,
};
use crate::local::server::{LocalHandler, Session};
use crate::rotation::{Event, FailureReason, KeyEvidence, KeyGate, Phase, RotationKind, Step};

/// How long the service waits for the key to be unplugged.
const UNPLUG_WAIT: Duration = Duration::from_secs(5 * 60);
/// How many times the passwords are asked in one session.
const PASSWORD_ATTEMPTS: usize = 3;

impl LocalHandler for Service {
    async fn handle(&self, mut session: Session) {
        tracing::info!(peer = %session.peer(), "local session");
        loop {
            let request = match session.next_request().await {
                Ok(Some(request)) => request,
                Ok(None) | Err(_) => return,
            };
            match request {
                Request::Status => {
                    let report = self.status_report().await;
                    let _ = session.send(&LocalEvent::Status(report)).await;
                }
                Request::Begin { mailbox } => {
                    if !self.begin(&mut session, mailbox).await {
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

/// What the person may still do about a rotation in this phase.
fn actionable(phase: Phase) -> bool {
    match phase {
        Phase::Ready
        | Phase::Unsettled { .. }
        | Phase::Changed
        | Phase::AwaitingAnswer
        | Phase::AwaitingKey => true,
        Phase::Failed(reason) => reason.retryable(),
        _ => false,
    }
}

impl Service {
    /// A `begin`: returns whether the session goes on (to another `begin`, after a choice).
    async fn begin(&self, session: &mut Session, mailbox: Option<String>) -> bool {
        if !self.state.is_enrolled() {
            let _ = session.send(&LocalEvent::Refused(Refusal::NotEnrolled)).await;
            return false;
        }
        let candidates: Vec<(String, MailboxChoice)> = {
            let core = self.core.lock().await;
            core.rotations()
                .filter(|r| actionable(r.phase))
                .map(|r| {
                    let display_name =
                        core.delivery(&r.id).map(|d| d.display_name.clone()).unwrap_or_default();
                    (r.id.clone(), MailboxChoice { mailbox: r.mailbox.clone(), display_name })
                })
                .collect()
        };
        let chosen = match (&mailbox, candidates.len()) {
            (_, 0) => {
                let _ = session.send(&LocalEvent::Refused(Refusal::NothingPending)).await;
                return false;
            }
            (Some(wanted), _) => {
                match candidates.iter().find(|(_, c)| c.mailbox.eq_ignore_ascii_case(wanted)) {
                    Some((id, _)) => id.clone(),
                    None => {
                        let refusal = Refusal::UnknownMailbox { mailbox: wanted.clone() };
                        let _ = session.send(&LocalEvent::Refused(refusal)).await;
                        return false;
                    }
                }
            }
            (None, 1) => candidates[0].0.clone(),
            (None, _) => {
                let choices = candidates.into_iter().map(|(_, c)| c).collect();
                let _ = session.send(&LocalEvent::ChooseMailbox(choices)).await;
                return true;
            }
        };
        self.change(session, &chosen).await;
        false
    }

    /// The change of rotation `id`, from the key gate to the end. The rotation is "in hand" for
    /// as long as this runs.
    async fn change(&self, session: &mut Session, id: &str) {
        let _in_hand = InHand::take(self, id);
        let Some((phase, mailbox)) =
            self.core.lock().await.rotation(id).map(|r| (r.phase, r.mailbox.clone()))
        else {
            return;
        };
        if phase == Phase::AwaitingKey {
            let _ = session.send(&LocalEvent::Done { mailbox, key_in: false }).await;
            return;
        }
        let Some(evidence) = self.key_gate(session).await else { return };
        match phase {
            Phase::Changed => self.verify_again(session, id, &mailbox, evidence, false).await,
            Phase::AwaitingAnswer => self.verify_again(session, id, &mailbox, evidence, true).await,
            _ => self.change_with_passwords(session, id, &mailbox, evidence).await,
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
                        let detail = format!("{reason}; confirmed by {}", session.peer());
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
        id: &str,
        mailbox: &str,
        evidence: KeyEvidence,
    ) {
        let (kind, display_name, rule, verifier) = {
            let core = self.core.lock().await;
            let Some(rotation) = core.rotation(id) else { return };
            let delivery = core.delivery(id);
            (
                rotation.kind,
                delivery.map(|d| d.display_name.clone()).unwrap_or_default(),
                delivery.map(|d| d.rule).unwrap_or_default(),
                rotation.provisional.clone(),
            )
        };
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
            let event = {
                let mut core = self.core.lock().await;
                let new_password = core.hold(id, Some(old), new);
                Event::ChangeRequested {
                    key: KeyGate::Absent(evidence.clone()),
                    typed_matches,
                    new_password,
                }
            };
            let driven = self.apply_and_drive(session, id, event).await;
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
        id: &str,
        mailbox: &str,
        evidence: KeyEvidence,
        may_be_unchanged: bool,
    ) {
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
            let mut core = self.core.lock().await;
            let new_password = core.hold(id, None, SecretString::from(new.expose_secret()));
            Event::VerifyRequested { key: KeyGate::Absent(evidence), new_password }
        };
        let driven = self.apply_and_drive(session, id, event).await;
        self.finish(session, id, mailbox, driven).await;
    }

    async fn apply_and_drive(
        &self,
        session: &mut Session,
        id: &str,
        event: Event,
    ) -> super::drive::Driven {
        let _guard = self.drive_lock.lock().await;
        let now = self.now();
        let effects = self.core.lock().await.apply(id, event, now);
        let driven = self.drive_locked(id, effects, Some(session)).await;
        self.wake.notify_one();
        driven
    }

    /// Ends the session as the rotation now stands; returns false when the person may type the
    /// passwords again in this session.
    async fn finish(
        &self,
        session: &mut Session,
        id: &str,
        mailbox: &str,
        driven: super::drive::Driven,
    ) -> bool {
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

    /// The answer to `status`.
    async fn status_report(&self) -> StatusReport {
        let in_hand: Vec<String> =
            self.in_hand.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        let core = self.core.lock().await;
        let rotations = core
            .rotations()
            .map(|r| RotationStatus {
                mailbox: r.mailbox.clone(),
                display_name: core
                    .delivery(&r.id)
                    .map(|d| d.display_name.clone())
                    .unwrap_or_default(),
                kind: match r.kind {
                    RotationKind::Provisional => PasswordKind::Provisional,
                    RotationKind::Periodic => PasswordKind::Current,
                },
                step: step_status(r.step()),
                due: core.delivery(&r.id).and_then(|d| d.due_at.or(d.expires_at)),
                in_hand: in_hand.contains(&r.id),
            })
            .collect();
        let last_report = core.last_report().map(|(report, delivered)| LastReport {
            at: report.occurred_at,
            mailbox: core
                .rotation(&report.rotation_id)
                .map(|r| r.mailbox.clone())
                .unwrap_or_default(),
            step: step_status(report.step),
            delivered: *delivered,
        });
        StatusReport {
            agent_version: crate::VERSION.to_owned(),
            enrolled: self.state.is_enrolled(),
            key: match self.key_now() {
                KeyState::Present { device } => KeyStatus::Present { device },
                KeyState::Absent => KeyStatus::Absent,
                KeyState::Unknown { reason } => KeyStatus::Unknown { reason },
            },
            rotations,
            last_report,
            reports_waiting: u32::try_from(core.reports_waiting()).unwrap_or(u32::MAX),
        }
    }
}

/// A rotation marked as being changed by a person's session, unmarked when dropped.
struct InHand<'s> {
    service: &'s Service,
    id: String,
}

impl<'s> InHand<'s> {
    fn take(service: &'s Service, id: &str) -> InHand<'s> {
        *service
            .in_hand
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_owned())
            .or_default() += 1;
        InHand { service, id: id.to_owned() }
    }
}

impl Drop for InHand<'_> {
    fn drop(&mut self) {
        let mut in_hand = self.service.in_hand.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = in_hand.get_mut(&self.id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_hand.remove(&self.id);
            }
        }
    }
}

fn step_status(step: Step) -> StepStatus {
    match step {
        Step::Pending => StepStatus::Pending,
        Step::Started => StepStatus::Started,
        Step::Changed => StepStatus::Changed,
        Step::Verified => StepStatus::Verified,
        Step::Completed => StepStatus::Completed,
        Step::Failed(reason) => StepStatus::Failed(match reason {
            FailureReason::KeyPresent => FailureStatus::KeyPresent,
            FailureReason::NewPasswordRefused => FailureStatus::NewPasswordRefused,
            FailureReason::CurrentPasswordRefused => FailureStatus::CurrentPasswordRefused,
            FailureReason::OwaUnreachable => FailureStatus::OwaUnreachable,
            FailureReason::OwaUntrusted => FailureStatus::OwaUntrusted,
            FailureReason::OwaUnexpected => FailureStatus::OwaUnexpected,
            FailureReason::LogonNameMissing => FailureStatus::LogonNameMissing,
            FailureReason::NeedsHuman => FailureStatus::NeedsHuman,
            FailureReason::LocalStorage => FailureStatus::LocalStorage,
            FailureReason::Cancelled => FailureStatus::Cancelled,
        }),
    }
}
