//! A fake [`LocalHandler`] for the tests: a few pending mailboxes, a key state, the provisional
//! passwords, and the same checks and events as the service, with no OWA behind it.

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::password_rule::{PasswordRule, StrengthChecks};
use sesame_base::rotation::Step;

use crate::password_check::{PasswordContext, Typed, check_new_password};
use crate::protocol::{
    Event, KeyStatus, MailboxChoice, PasswordKind, ProgressStep, Refusal, Request, RotationStatus,
    StatusReport,
};
use crate::server::{LocalHandler, Session};
use crate::transport::Peer;

/// A mailbox waiting for a change.
pub(super) struct FakeMailbox {
    pub(super) address: String,
    pub(super) display_name: String,
    /// The letter's password for a provisional rotation; `None` for a periodic one.
    pub(super) provisional: Option<SecretString>,
}

/// What the fake saw.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) peers: Vec<Peer>,
    /// Mailbox and new password of each change made.
    pub(super) changes: Vec<(String, SecretString)>,
    pub(super) key_confirmations: usize,
}

pub(super) struct FakeService {
    pub(super) mailboxes: Vec<FakeMailbox>,
    pub(super) key: KeyStatus,
    pub(super) seen: Mutex<Seen>,
}

impl FakeService {
    pub(super) fn new(mailboxes: Vec<FakeMailbox>, key: KeyStatus) -> Self {
        FakeService { mailboxes, key, seen: Mutex::new(Seen::default()) }
    }

    fn kind(mailbox: &FakeMailbox) -> PasswordKind {
        if mailbox.provisional.is_some() {
            PasswordKind::Provisional
        } else {
            PasswordKind::Current
        }
    }

    fn status(&self) -> StatusReport {
        StatusReport {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            enrolled: true,
            key: self.key.clone(),
            rotations: self
                .mailboxes
                .iter()
                .map(|m| RotationStatus {
                    mailbox: m.address.clone(),
                    display_name: m.display_name.clone(),
                    kind: Self::kind(m),
                    step: Step::Pending,
                    due: None,
                    in_hand: false,
                })
                .collect(),
            last_report: None,
            reports_waiting: 0,
            next_page: None,
        }
    }

    fn need_passwords(mailbox: &FakeMailbox) -> Event {
        Event::NeedPasswords {
            kind: Self::kind(mailbox),
            mailbox: mailbox.address.clone(),
            display_name: mailbox.display_name.clone(),
            policy: PasswordRule::default().into(),
            office_name: String::new(),
            office_city: String::new(),
        }
    }

    /// What to answer to `begin`, and the mailbox chosen.
    fn begin(&self, wanted: Option<String>) -> (Event, Option<usize>) {
        let chosen = match (wanted, self.mailboxes.len()) {
            (_, 0) => return (Event::Refused(Refusal::NothingPending), None),
            (None, 1) => 0,
            (None, _) => {
                let choices = self
                    .mailboxes
                    .iter()
                    .map(|m| MailboxChoice {
                        mailbox: m.address.clone(),
                        display_name: m.display_name.clone(),
                    })
                    .collect();
                return (Event::ChooseMailbox(choices), None);
            }
            (Some(wanted), _) => {
                match self.mailboxes.iter().position(|m| m.address.eq_ignore_ascii_case(&wanted)) {
                    Some(i) => i,
                    None => {
                        return (Event::Refused(Refusal::UnknownMailbox { mailbox: wanted }), None);
                    }
                }
            }
        };
        let event = match &self.key {
            KeyStatus::Present { device } => {
                return (Event::Refused(Refusal::KeyPresent { device: device.clone() }), None);
            }
            KeyStatus::Unknown { reason } => Event::NeedKeyConfirmation { reason: reason.clone() },
            KeyStatus::Absent => Self::need_passwords(&self.mailboxes[chosen]),
        };
        (event, Some(chosen))
    }

    /// The answer to the three typings (and whether the session goes on).
    fn passwords(
        &self,
        mailbox: &FakeMailbox,
        old: &str,
        new: &SecretString,
        confirm: &str,
    ) -> Vec<Event> {
        if let Some(provisional) = &mailbox.provisional
            && provisional.expose_secret() != old
        {
            return vec![
                Event::Refused(Refusal::ProvisionalMismatch),
                Self::need_passwords(mailbox),
            ];
        }
        let typed = Typed { old, new: new.expose_secret(), confirm };
        let problems = check_new_password(
            &PasswordRule::default(),
            StrengthChecks::default(),
            &PasswordContext::of_mailbox(Self::kind(mailbox), &mailbox.address),
            &typed,
        );
        if !problems.is_empty() {
            return vec![
                Event::Refused(Refusal::Password(problems)),
                Self::need_passwords(mailbox),
            ];
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.changes.push((mailbox.address.clone(), new.clone()));
        }
        let mut events: Vec<Event> = [
            ProgressStep::PasswordsAccepted,
            ProgressStep::Connecting,
            ProgressStep::Changing,
            ProgressStep::Changed,
            ProgressStep::Verifying,
            ProgressStep::Verified,
        ]
        .into_iter()
        .map(Event::Progress)
        .collect();
        events.push(Event::Done { mailbox: mailbox.address.clone(), key_in: false });
        events
    }
}

impl LocalHandler for FakeService {
    async fn handle(&self, mut session: Session) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.peers.push(session.peer());
        }
        let mut chosen = None;
        while let Ok(Some(request)) = session.next_request().await {
            let events = match request {
                Request::Status | Request::StatusPage { .. } => {
                    vec![Event::Status(self.status())]
                }
                Request::Begin { mailbox } => {
                    let (event, index) = self.begin(mailbox);
                    chosen = index;
                    vec![event]
                }
                Request::NewPassword { .. } | Request::MoreChoices { .. } => {
                    vec![Event::Error(crate::protocol::ServiceError::UnexpectedRequest)]
                }
                Request::ConfirmKeyUnplugged => match chosen {
                    Some(i) => {
                        if let Ok(mut seen) = self.seen.lock() {
                            seen.key_confirmations += 1;
                        }
                        vec![
                            Event::Progress(ProgressStep::KeyConfirmed),
                            Self::need_passwords(&self.mailboxes[i]),
                        ]
                    }
                    None => {
                        vec![Event::Error(crate::protocol::ServiceError::UnexpectedRequest)]
                    }
                },
                Request::Passwords { current_or_provisional, new, confirm } => match chosen {
                    Some(i) => self.passwords(
                        &self.mailboxes[i],
                        current_or_provisional.expose(),
                        &new.into_secret(),
                        confirm.expose(),
                    ),
                    None => {
                        vec![Event::Error(crate::protocol::ServiceError::UnexpectedRequest)]
                    }
                },
                Request::Cancel => return,
            };
            let ends = events.iter().any(|e| {
                matches!(e, Event::Done { .. } | Event::Error(_) | Event::Status(_))
                    || matches!(e, Event::Refused(r) if !matches!(r, Refusal::ProvisionalMismatch | Refusal::Password(_)))
            });
            for event in &events {
                if session.send(event).await.is_err() {
                    return;
                }
            }
            if ends {
                return;
            }
        }
    }
}
