//! A fake agent service for the window's tests: a real [`LocalServer`] on a temporary socket
//! (the same protocol as the service), with a key state and rotations the test changes at will,
//! the agent's own local checks of the passwords, and a scripted answer of the mail server. Its
//! sessions follow the service's order: key gate, passwords, progress, `done`.
#![allow(dead_code, unreachable_pub)] // Reason: shared by several test files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // Reason: test support.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret;
use sesame_base::password_rule::{PasswordRule, StrengthChecks};
use sesame_base::rotation::Step;
use sesame_local::password_check::{PasswordContext, Typed, check_new_password};
use sesame_local::protocol::{
    Event, KeyStatus, MailboxChoice, PasswordKind, ProgressStep, Refusal, Request, RotationStatus,
    StatusReport, WirePolicy,
};
use sesame_local::server::{LocalHandler, LocalServer, Session};
use time::OffsetDateTime;

/// The office's name the fake sends.
pub const OFFICE_NAME: &str = "SCP Lefèvre et Associés";
/// The office's city the fake sends.
pub const OFFICE_CITY: &str = "Saint-Malo";

/// A rotation the fake holds.
#[derive(Debug, Clone)]
pub struct FakeRotation {
    pub mailbox: String,
    pub display_name: String,
    /// The letter's password; `None` for a periodic change.
    pub provisional: Option<String>,
    pub step: Step,
    pub due: Option<OffsetDateTime>,
    /// What the mail server answers to the next change (`None`: it accepts).
    pub owa: Option<Refusal>,
}

impl FakeRotation {
    pub fn provisional(mailbox: &str, letter: &str) -> Self {
        FakeRotation {
            mailbox: mailbox.to_owned(),
            display_name: "Hélène Dupont".to_owned(),
            provisional: Some(letter.to_owned()),
            step: Step::Pending,
            due: Some(time::macros::datetime!(2026-12-15 00:00 UTC)),
            owa: None,
        }
    }

    pub fn periodic(mailbox: &str) -> Self {
        FakeRotation { provisional: None, ..FakeRotation::provisional(mailbox, "") }
    }

    fn kind(&self) -> PasswordKind {
        if self.provisional.is_some() { PasswordKind::Provisional } else { PasswordKind::Current }
    }
}

/// What the fake holds and saw.
#[derive(Debug)]
pub struct FakeState {
    pub key: KeyStatus,
    pub rotations: Vec<FakeRotation>,
    /// The mailboxes changed.
    pub changed: Vec<String>,
    /// While true, a change waits after "connecting" (to look at the progress screen).
    pub hold: bool,
    /// The strength checks of the office's policy.
    pub checks: StrengthChecks,
    /// How many times the passwords were received.
    pub received: usize,
}

/// A running fake service.
#[derive(Debug)]
pub struct Running {
    pub socket: PathBuf,
    pub state: Arc<Mutex<FakeState>>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn set_key(&self, key: KeyStatus) {
        self.state.lock().unwrap().key = key;
    }

    pub fn plug(&self) {
        self.set_key(KeyStatus::Present { device: "clé REAL (test)".to_owned() });
    }

    pub fn unplug(&self) {
        self.set_key(KeyStatus::Absent);
    }

    /// Holds the next change after "connecting" (`true`) or lets it go on (`false`).
    pub fn hold(&self, hold: bool) {
        self.state.lock().unwrap().hold = hold;
    }

    pub fn set_checks(&self, checks: StrengthChecks) {
        self.state.lock().unwrap().checks = checks;
    }

    pub fn received(&self) -> usize {
        self.state.lock().unwrap().received
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a fake service.
pub fn start(key: KeyStatus, rotations: Vec<FakeRotation>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let state = Arc::new(Mutex::new(FakeState {
        key,
        rotations,
        changed: Vec::new(),
        hold: false,
        checks: StrengthChecks::default(),
        received: 0,
    }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let handler = Arc::new(FakeService { state: state.clone() });
    let path = socket.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let server = LocalServer::bind(&path).unwrap();
            ready_tx.send(()).unwrap();
            server
                .serve(handler, async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    ready.recv().unwrap();
    Running { socket, state, _dir: dir, stop: Some(stop) }
}

struct FakeService {
    state: Arc<Mutex<FakeState>>,
}

impl FakeService {
    fn key(&self) -> KeyStatus {
        self.state.lock().unwrap().key.clone()
    }

    fn checks(&self) -> StrengthChecks {
        self.state.lock().unwrap().checks
    }

    fn rotation(&self, i: usize) -> FakeRotation {
        self.state.lock().unwrap().rotations[i].clone()
    }

    fn status(&self) -> StatusReport {
        let mut state = self.state.lock().unwrap();
        let key_in = matches!(state.key, KeyStatus::Present { .. });
        // The service completes a verified rotation when the key comes back.
        for rotation in &mut state.rotations {
            if key_in && rotation.step == Step::Verified {
                rotation.step = Step::Completed;
            }
        }
        StatusReport {
            agent_version: "fake".to_owned(),
            enrolled: true,
            key: state.key.clone(),
            rotations: state
                .rotations
                .iter()
                .map(|r| RotationStatus {
                    mailbox: r.mailbox.clone(),
                    display_name: r.display_name.clone(),
                    kind: r.kind(),
                    step: r.step,
                    due: r.due,
                    in_hand: false,
                })
                .collect(),
            last_report: None,
            reports_waiting: 0,
            next_page: None,
        }
    }

    /// The rotation `begin` is about, or the event that answers it.
    fn choose(&self, wanted: Option<String>) -> Result<usize, Event> {
        let state = self.state.lock().unwrap();
        let open: Vec<usize> = (0..state.rotations.len())
            .filter(|i| state.rotations[*i].step != Step::Completed)
            .collect();
        match (wanted, open.len()) {
            (_, 0) => Err(Event::Refused(Refusal::NothingPending)),
            (Some(wanted), _) => open
                .into_iter()
                .find(|i| state.rotations[*i].mailbox == wanted)
                .ok_or(Event::Refused(Refusal::UnknownMailbox { mailbox: wanted })),
            (None, 1) => Ok(open[0]),
            (None, _) => Err(Event::ChooseMailbox(
                open.iter()
                    .map(|i| MailboxChoice {
                        mailbox: state.rotations[*i].mailbox.clone(),
                        display_name: state.rotations[*i].display_name.clone(),
                    })
                    .collect(),
            )),
        }
    }

    fn set_step(&self, i: usize, step: Step) {
        self.state.lock().unwrap().rotations[i].step = step;
    }

    /// The key gate; false when the session ends.
    async fn key_gate(&self, session: &mut Session) -> bool {
        let mut said_waiting = false;
        for _ in 0..3000 {
            match self.key() {
                KeyStatus::Present { .. } => {
                    if !said_waiting {
                        said_waiting = true;
                        if send(session, Event::Progress(ProgressStep::WaitingForUnplug)).await {
                            return false;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                KeyStatus::Absent => {
                    return !send(session, Event::Progress(ProgressStep::KeyAbsent)).await;
                }
                KeyStatus::Unknown { reason } => {
                    if send(session, Event::NeedKeyConfirmation { reason }).await {
                        return false;
                    }
                    return matches!(
                        session.next_request().await,
                        Ok(Some(Request::ConfirmKeyUnplugged))
                    ) && !send(session, Event::Progress(ProgressStep::KeyConfirmed)).await;
                }
            }
        }
        let _ = send(session, Event::Refused(Refusal::KeyPresent { device: String::new() })).await;
        false
    }

    async fn change(&self, session: &mut Session, i: usize) {
        let rotation = self.rotation(i);
        if rotation.step == Step::Verified {
            let done = Event::Done { mailbox: rotation.mailbox.clone(), key_in: false };
            let _ = send(session, done).await;
            return;
        }
        if !self.key_gate(session).await {
            return;
        }
        if rotation.step == Step::Changed {
            let ask = Event::NeedNewPassword {
                mailbox: rotation.mailbox.clone(),
                may_be_unchanged: false,
            };
            if send(session, ask).await {
                return;
            }
            if !matches!(session.next_request().await, Ok(Some(Request::NewPassword { .. }))) {
                return;
            }
            self.succeed(session, i, &[ProgressStep::Verifying]).await;
            return;
        }
        for _ in 0..3 {
            let ask = Event::NeedPasswords {
                kind: rotation.kind(),
                mailbox: rotation.mailbox.clone(),
                display_name: rotation.display_name.clone(),
                policy: WirePolicy::new(PasswordRule::default(), self.checks()),
                office_name: OFFICE_NAME.to_owned(),
                office_city: OFFICE_CITY.to_owned(),
            };
            if send(session, ask).await {
                return;
            }
            let Ok(Some(Request::Passwords { current_or_provisional, new, confirm })) =
                session.next_request().await
            else {
                return;
            };
            if let Some(letter) = &rotation.provisional
                && letter != current_or_provisional.expose()
            {
                if send(session, Event::Refused(Refusal::ProvisionalMismatch)).await {
                    return;
                }
                continue;
            }
            let new = new.into_secret();
            let typed = Typed {
                old: current_or_provisional.expose(),
                new: new.expose_secret(),
                confirm: confirm.expose(),
            };
            self.state.lock().unwrap().received += 1;
            let context = PasswordContext {
                kind: rotation.kind(),
                mailbox: &rotation.mailbox,
                display_name: &rotation.display_name,
                office_name: OFFICE_NAME,
                office_city: OFFICE_CITY,
            };
            let problems =
                check_new_password(&PasswordRule::default(), self.checks(), &context, &typed);
            if !problems.is_empty() {
                if send(session, Event::Refused(Refusal::Password(problems))).await {
                    return;
                }
                continue;
            }
            if matches!(self.key(), KeyStatus::Present { .. }) {
                let _ = send(session, Event::Refused(Refusal::KeyPluggedDuringChange)).await;
                return;
            }
            for step in [ProgressStep::PasswordsAccepted, ProgressStep::Connecting] {
                if send(session, Event::Progress(step)).await {
                    return;
                }
            }
            for _ in 0..3000 {
                if !self.state.lock().unwrap().hold {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let owa = self.state.lock().unwrap().rotations[i].owa.take();
            match owa {
                Some(Refusal::NewPasswordRefused) => {
                    if send(session, Event::Refused(Refusal::NewPasswordRefused)).await {
                        return;
                    }
                    continue;
                }
                Some(refusal) => {
                    let _ = send(session, Event::Refused(refusal)).await;
                    return;
                }
                None => {}
            }
            self.succeed(
                session,
                i,
                &[ProgressStep::Changing, ProgressStep::Changed, ProgressStep::Verifying],
            )
            .await;
            return;
        }
    }

    async fn succeed(&self, session: &mut Session, i: usize, steps: &[ProgressStep]) {
        for step in steps.iter().copied().chain([ProgressStep::Verified]) {
            if send(session, Event::Progress(step)).await {
                return;
            }
        }
        self.set_step(i, Step::Verified);
        let mailbox = self.rotation(i).mailbox;
        self.state.lock().unwrap().changed.push(mailbox.clone());
        let key_in = matches!(self.key(), KeyStatus::Present { .. });
        let _ = send(session, Event::Done { mailbox, key_in }).await;
    }
}

/// Sends `event`; true when the session is gone.
async fn send(session: &mut Session, event: Event) -> bool {
    session.send(&event).await.is_err()
}

impl LocalHandler for FakeService {
    async fn handle(&self, mut session: Session) {
        loop {
            let Ok(Some(request)) = session.next_request().await else { return };
            match request {
                Request::Status | Request::StatusPage { .. } => {
                    let _ = send(&mut session, Event::Status(self.status())).await;
                }
                Request::Begin { mailbox } => match self.choose(mailbox) {
                    Ok(i) => {
                        self.change(&mut session, i).await;
                        return;
                    }
                    Err(event) => {
                        let goes_on = matches!(event, Event::ChooseMailbox(_));
                        if send(&mut session, event).await || !goes_on {
                            return;
                        }
                    }
                },
                _ => return,
            }
        }
    }
}
