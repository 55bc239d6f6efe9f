//! The guided change as a pure model: which [`Screen`] the window shows, moved on by what the
//! service says ([`Update`]) and what the person does ([`Action`]), answering with the
//! [`Command`]s for the connection. No drawing and no socket here, so every transition is
//! unit-tested. The service holds the rotation's state: a window closed mid-way and opened again
//! starts from `status` and lands on the same step.

use secrecy::SecretString;
use sesame_base::rotation::{FailureReason, Step};
use sesame_local::protocol::{
    Event, KeyStatus, MailboxChoice, PasswordKind, ProgressStep, Refusal, RotationStatus,
    StatusReport, WirePolicy,
};
use sesame_local::texts_fr;

/// What the window asks of the connection.
#[derive(Debug)]
pub enum Command {
    /// Ask `status` (the key state and the rotations) on a connection of its own.
    Status,
    /// Open a change session and send `begin`.
    Begin {
        /// The mailbox chosen, when several are pending.
        mailbox: Option<String>,
    },
    /// The person confirmed the key is unplugged.
    ConfirmKey,
    /// The three typings.
    Passwords {
        /// The provisional or current password.
        old: SecretString,
        /// The new password.
        new: SecretString,
        /// The new password again.
        confirm: SecretString,
    },
    /// The new password typed again to verify an interrupted change (empty: not changed).
    NewPassword {
        /// The new password.
        new: SecretString,
    },
    /// Give up the change session.
    Cancel,
}

/// What the connection tells the window.
#[derive(Debug)]
pub enum Update {
    /// The answer to `status`.
    Status(StatusReport),
    /// The service could not be reached (technical detail).
    Unreachable(String),
    /// An event of the change session.
    Event(Event),
    /// The change session ended (the service closed it).
    Closed,
}

/// What the person did on a screen.
#[derive(Debug)]
pub enum Action {
    /// "Commencer" on the first screen.
    Start,
    /// A mailbox picked among several.
    Choose(String),
    /// The "key is unplugged" box ticked or unticked (when the service cannot see the key).
    KeyConfirmed(bool),
    /// "Suivant" on the key screen.
    KeyOut,
    /// The three typings submitted.
    Passwords {
        /// The provisional or current password.
        old: SecretString,
        /// The new password.
        new: SecretString,
        /// The new password again.
        confirm: SecretString,
    },
    /// The new password typed again (interrupted change).
    NewPassword(SecretString),
    /// "C'est fait" on the Outlook screen.
    OutlookDone,
    /// "Recommencer" after a refusal or a broken session.
    Again,
}

/// What the service asked the passwords for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordsAsked {
    /// Provisional (the letter) or current (periodic).
    pub kind: PasswordKind,
    /// The mailbox.
    pub mailbox: String,
    /// The person's name (may be empty).
    pub display_name: String,
    /// The rule of the new password, and the strength checks.
    pub policy: WirePolicy,
    /// The office's name (may be empty): the new password must not contain it.
    pub office_name: String,
    /// The office's city (may be empty).
    pub office_city: String,
}

/// One screen of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Asking the service.
    Loading,
    /// The service does not answer.
    Unreachable {
        /// Technical detail.
        detail: String,
    },
    /// Nothing to do: no rotation pending, or this workstation not enrolled.
    Idle {
        /// Why (the refusal the terminal would print).
        why: Refusal,
    },
    /// Why this is happening and when it is due.
    Why {
        /// The rotation.
        rotation: RotationStatus,
    },
    /// Several mailboxes are pending.
    Choose {
        /// The mailboxes.
        choices: Vec<MailboxChoice>,
    },
    /// "Retirez votre clé REAL", with the live key state.
    Unplug {
        /// Why the window came back here (the key plugged in during the change).
        notice: Option<Refusal>,
    },
    /// The three passwords, with the live checklist.
    Passwords {
        /// What was asked.
        asked: PasswordsAsked,
        /// Why the previous typing was refused.
        notice: Option<Refusal>,
    },
    /// An interrupted change: the new password again.
    NewPassword {
        /// The mailbox.
        mailbox: String,
        /// Whether "not changed" (empty) is an answer.
        may_be_unchanged: bool,
    },
    /// The service is working; the steps seen so far.
    Working {
        /// The steps, in order.
        steps: Vec<ProgressStep>,
    },
    /// The service refused and the session ended: what to do.
    Refused {
        /// The refusal.
        refusal: Refusal,
    },
    /// The session broke (service error or connection lost).
    Broken {
        /// What the person reads.
        message: String,
    },
    /// "Ouvrez Outlook et saisissez votre nouveau mot de passe".
    Outlook {
        /// The mailbox.
        mailbox: String,
        /// The key is already back in (nothing to plug afterwards).
        key_in: bool,
    },
    /// "Remettez votre clé REAL", detected live.
    Replug,
    /// Finished.
    Finished,
}

impl Screen {
    /// The screen's name, for the log (no password, no address).
    pub fn name(&self) -> &'static str {
        match self {
            Screen::Loading => "Loading",
            Screen::Unreachable { .. } => "Unreachable",
            Screen::Idle { .. } => "Idle",
            Screen::Why { .. } => "Why",
            Screen::Choose { .. } => "Choose",
            Screen::Unplug { .. } => "Unplug",
            Screen::Passwords { .. } => "Passwords",
            Screen::NewPassword { .. } => "NewPassword",
            Screen::Working { .. } => "Working",
            Screen::Refused { .. } => "Refused",
            Screen::Broken { .. } => "Broken",
            Screen::Outlook { .. } => "Outlook",
            Screen::Replug => "Replug",
            Screen::Finished => "Finished",
        }
    }
}

/// The guided change.
#[derive(Debug)]
pub struct Flow {
    screen: Screen,
    key: Option<KeyStatus>,
    key_confirmed: bool,
    session_open: bool,
    confirmation_asked: bool,
    mailbox: Option<String>,
    last_refusal: Option<Refusal>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

/// Whether a rotation in this step still needs the person.
fn open_step(step: Step) -> bool {
    !matches!(step, Step::Completed | Step::Failed(_))
        || matches!(
            step,
            Step::Failed(
                FailureReason::KeyPresent
                    | FailureReason::NewPasswordRefused
                    | FailureReason::OwaUnreachable
                    | FailureReason::Cancelled
            )
        )
}

impl Flow {
    /// A window just opened: it asks `status` first ([`Flow::start`]).
    pub fn new() -> Flow {
        Flow {
            screen: Screen::Loading,
            key: None,
            key_confirmed: false,
            session_open: false,
            confirmation_asked: false,
            mailbox: None,
            last_refusal: None,
        }
    }

    /// The commands to send when the window opens.
    pub fn start(&self) -> Vec<Command> {
        vec![Command::Status]
    }

    /// The screen shown.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The key state last reported by the service.
    pub fn key(&self) -> Option<&KeyStatus> {
        self.key.as_ref()
    }

    /// Whether the person ticked "key unplugged" (when the service cannot see it).
    pub fn key_confirmed(&self) -> bool {
        self.key_confirmed
    }

    /// Whether the screen follows the key live (the window polls `status` meanwhile).
    pub fn wants_live_key(&self) -> bool {
        matches!(self.screen, Screen::Loading | Screen::Unplug { .. } | Screen::Replug)
    }

    /// Whether "Suivant" on the key screen may be pressed.
    pub fn can_go_on_without_key(&self) -> bool {
        match &self.key {
            Some(KeyStatus::Absent) => true,
            Some(KeyStatus::Unknown { .. }) | None => self.key_confirmed,
            Some(KeyStatus::Present { .. }) => false,
        }
    }

    /// Whether a change is in progress on this workstation (for the reminders).
    pub fn rotation_to_resume(report: &StatusReport) -> Option<&RotationStatus> {
        report.rotations.iter().find(|r| open_step(r.step))
    }

    /// The service said something.
    pub fn on_update(&mut self, update: Update) -> Vec<Command> {
        match update {
            Update::Status(report) => self.on_status(report),
            Update::Unreachable(detail) => {
                match self.screen {
                    Screen::Loading => self.screen = Screen::Unreachable { detail },
                    Screen::Working { .. } => {
                        self.screen = Screen::Broken { message: texts_fr::unreachable(&detail) };
                    }
                    _ => {}
                }
                Vec::new()
            }
            Update::Event(event) => self.on_event(event),
            Update::Closed => {
                self.session_open = false;
                self.confirmation_asked = false;
                match (&self.screen, self.last_refusal.take()) {
                    (
                        Screen::Working { .. }
                        | Screen::Passwords { .. }
                        | Screen::NewPassword { .. },
                        Some(refusal),
                    ) => self.screen = Screen::Refused { refusal },
                    (Screen::Working { .. }, None) => {
                        self.screen =
                            Screen::Broken { message: texts_fr::SERVICE_BROKE_OFF.to_owned() };
                    }
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn on_status(&mut self, report: StatusReport) -> Vec<Command> {
        self.key = Some(report.key.clone());
        match &self.screen {
            Screen::Loading | Screen::Unreachable { .. } => {
                self.screen = if !report.enrolled {
                    Screen::Idle { why: Refusal::NotEnrolled }
                } else if let Some(verified) =
                    report.rotations.iter().find(|r| r.step == Step::Verified)
                {
                    let key_in = matches!(report.key, KeyStatus::Present { .. });
                    Screen::Outlook { mailbox: verified.mailbox.clone(), key_in }
                } else {
                    match Flow::rotation_to_resume(&report) {
                        Some(rotation) => Screen::Why { rotation: rotation.clone() },
                        None => Screen::Idle { why: Refusal::NothingPending },
                    }
                };
            }
            Screen::Replug if matches!(report.key, KeyStatus::Present { .. }) => {
                self.screen = Screen::Finished;
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_event(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Status(report) => return self.on_status(report),
            Event::Progress(ProgressStep::WaitingForUnplug) => {
                self.screen = Screen::Unplug { notice: None };
            }
            Event::Progress(ProgressStep::KeyAbsent | ProgressStep::KeyConfirmed) => {}
            Event::Progress(step) => match &mut self.screen {
                Screen::Working { steps } => steps.push(step),
                _ => self.screen = Screen::Working { steps: vec![step] },
            },
            Event::ChooseMailbox(choices)
            | Event::ChooseMailboxPage { choices, .. }
            | Event::Refused(Refusal::MailboxRequired(choices)) => {
                // The link gathers the pages of a long list first (`link`).
                self.screen = Screen::Choose { choices };
            }
            Event::NeedKeyConfirmation { .. } => {
                if self.key_confirmed {
                    return vec![Command::ConfirmKey];
                }
                self.confirmation_asked = true;
                self.key = Some(KeyStatus::Unknown { reason: String::new() });
                self.screen = Screen::Unplug { notice: None };
            }
            Event::NeedPasswords {
                kind,
                mailbox,
                display_name,
                policy,
                office_name,
                office_city,
            } => {
                let asked = PasswordsAsked {
                    kind,
                    mailbox,
                    display_name,
                    policy,
                    office_name,
                    office_city,
                };
                self.screen = Screen::Passwords { asked, notice: self.last_refusal.take() };
            }
            Event::NeedNewPassword { mailbox, may_be_unchanged } => {
                self.last_refusal = None;
                self.screen = Screen::NewPassword { mailbox, may_be_unchanged };
            }
            Event::Refused(refusal) => match refusal {
                Refusal::NothingPending | Refusal::NotEnrolled => {
                    self.screen = Screen::Idle { why: refusal };
                }
                Refusal::KeyPresent { .. } | Refusal::KeyPluggedDuringChange => {
                    self.key_confirmed = false;
                    self.screen = Screen::Unplug { notice: Some(refusal) };
                }
                // Either the service asks again (`need_passwords` follows) or the session ends.
                other => self.last_refusal = Some(other),
            },
            Event::Done { mailbox, key_in } => {
                self.screen = Screen::Outlook { mailbox, key_in };
            }
            Event::Error(error) => {
                self.screen = Screen::Broken { message: texts_fr::service_error(error) };
            }
        }
        Vec::new()
    }

    /// The person did something.
    pub fn on_action(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Start => {
                self.screen = Screen::Unplug { notice: None };
                Vec::new()
            }
            Action::Choose(mailbox) => {
                self.mailbox = Some(mailbox.clone());
                self.screen = Screen::Unplug { notice: None };
                if self.session_open {
                    self.screen = Screen::Working { steps: Vec::new() };
                    return vec![Command::Begin { mailbox: Some(mailbox) }];
                }
                Vec::new()
            }
            Action::KeyConfirmed(confirmed) => {
                self.key_confirmed = confirmed;
                Vec::new()
            }
            Action::KeyOut => {
                if !self.can_go_on_without_key() {
                    return Vec::new();
                }
                self.screen = Screen::Working { steps: Vec::new() };
                if self.session_open && self.confirmation_asked {
                    self.confirmation_asked = false;
                    return vec![Command::ConfirmKey];
                }
                self.begin()
            }
            Action::Passwords { old, new, confirm } => {
                self.screen = Screen::Working { steps: Vec::new() };
                vec![Command::Passwords { old, new, confirm }]
            }
            Action::NewPassword(new) => {
                self.screen = Screen::Working { steps: Vec::new() };
                vec![Command::NewPassword { new }]
            }
            Action::OutlookDone => {
                self.screen = match self.screen {
                    Screen::Outlook { key_in: true, .. } => Screen::Finished,
                    _ => Screen::Replug,
                };
                vec![Command::Status]
            }
            Action::Again => {
                let mut commands = Vec::new();
                if self.session_open {
                    commands.push(Command::Cancel);
                    self.session_open = false;
                }
                *self = Flow { key: self.key.take(), ..Flow::new() };
                commands.push(Command::Status);
                commands
            }
        }
    }

    fn begin(&mut self) -> Vec<Command> {
        let mut commands = Vec::new();
        if self.session_open {
            commands.push(Command::Cancel);
        }
        self.session_open = true;
        self.last_refusal = None;
        commands.push(Command::Begin { mailbox: self.mailbox.clone() });
        commands
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
