//! `sesame-agent change` and `status`: the person's side of the local channel (the window uses
//! [`status_pages`]). `change` asks a [`Person`] (the agent's binary gives the console: passwords
//! without echo on a terminal, a numbered choice of mailbox, a yes/no confirmation that the key is
//! unplugged; lines on standard input otherwise, the provisional or current password, the new one,
//! the new one again), where `--mailbox` and `--key-unplugged` replace the questions. Every step
//! is printed in French ([`texts_fr`]); the exit code says how it ended ([`PersonExit`]).
//!
//! Neither command waits forever: `status` gives the service [`STATUS_WAIT`] for each answer
//! (it follows the pages of a long list), `change` [`EVENT_WAIT`] for each event (longer than the
//! service's own longest silence: waiting for the key to be unplugged, OWA's requests); then
//! the person is told in French that the service does not answer.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::calendar::Calendar;
use sesame_base::password_rule::PasswordRule;

use crate::password_check::{PasswordContext, Typed, check_new_password};
use crate::protocol::{Event, MailboxChoice, Refusal, Request, StatusReport, WirePolicy};
use crate::secret::LocalSecret;
use crate::texts_fr;
use crate::transport::{self, Stream};
use crate::wire::Connection;

/// How `change` or `status` ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonExit {
    /// Changed and verified (`change`), or the status printed.
    Success = 0,
    /// The session broke (protocol error, the service failed or stopped).
    Error = 1,
    /// Refused before anything was sent to the mail server (key plugged in, password rules,
    /// typo, mailbox choice).
    Refused = 10,
    /// The mail server refused or could not be reached; the password did not change (or a
    /// person must check, as the message says).
    Failed = 11,
    /// The service is not running or not reachable.
    Unreachable = 12,
    /// The person gave up.
    Cancelled = 13,
}

impl PersonExit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What the command asks of the person.
pub trait Person {
    /// Whether a person is at a terminal (questions may be asked).
    fn is_interactive(&self) -> bool;
    /// Shows `label` and reads a password.
    fn secret(&mut self, label: &str) -> io::Result<SecretString>;
    /// Shows `label` and reads an ordinary answer (only asked when interactive).
    fn answer(&mut self, label: &str) -> io::Result<String>;
}

/// What `change` was given on its command line.
#[derive(Debug, Clone, Default)]
pub struct ChangeOptions {
    /// `--mailbox`: which mailbox, when several are pending.
    pub mailbox: Option<String>,
    /// `--key-unplugged`: the person confirms in advance that the key is unplugged (for when the
    /// service cannot see it and no one is at a terminal).
    pub key_unplugged: bool,
}

/// How many times a terminal question is asked again after an answer that is not understood.
const ASK_ATTEMPTS: usize = 3;

/// How long `status` waits for each answer.
pub const STATUS_WAIT: Duration = Duration::from_secs(30);
/// How long `change` waits for the service's next event.
pub const EVENT_WAIT: Duration = Duration::from_secs(10 * 60);
/// The most mailboxes `change` gathers from the pages of a long list.
const MAX_CHOICES: usize = 10_000;
/// The most pages of rotations `status` follows.
const MAX_PAGES: u32 = 1000;

/// Why no event came.
#[derive(Debug)]
enum Silence {
    /// The service closed the connection.
    Closed,
    /// It broke off or sent nonsense.
    Broken,
    /// It did not answer in time.
    TimedOut,
}

/// The next event within `wait`.
async fn next_event<S>(connection: &mut Connection<S>, wait: Duration) -> Result<Event, Silence>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(wait, connection.recv::<Event>()).await {
        Ok(Ok(Some(event))) => Ok(event),
        Ok(Ok(None)) => Err(Silence::Closed),
        Ok(Err(_)) => Err(Silence::Broken),
        Err(_) => Err(Silence::TimedOut),
    }
}

/// Sends `request` within `wait`.
async fn send_request<S>(connection: &mut Connection<S>, request: &Request, wait: Duration) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    matches!(tokio::time::timeout(wait, connection.send(request)).await, Ok(Ok(())))
}

/// The whole status, every page of rotations gathered (at most [`MAX_PAGES`]).
pub async fn status_pages<S>(
    connection: &mut Connection<S>,
    wait: Duration,
) -> Result<StatusReport, Option<crate::protocol::ServiceError>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut request = Request::Status;
    let mut whole: Option<StatusReport> = None;
    for _ in 0..MAX_PAGES {
        if !send_request(connection, &request, wait).await {
            return Err(None);
        }
        let mut report = match next_event(connection, wait).await {
            Ok(Event::Status(report)) => report,
            Ok(Event::Error(error)) => return Err(Some(error)),
            Ok(_) | Err(_) => return Err(None),
        };
        let next = report.next_page.take();
        match &mut whole {
            Some(whole) => whole.rotations.append(&mut report.rotations),
            None => whole = Some(report),
        }
        match next {
            Some(page) => request = Request::StatusPage { page },
            None => break,
        }
    }
    whole.ok_or(None)
}

fn say(out: &mut dyn Write, text: &str) {
    // A closed standard output must not hide the exit code.
    let _ = writeln!(out, "{text}");
}

async fn open(socket: &Path, out: &mut dyn Write) -> Result<Connection<Stream>, PersonExit> {
    match transport::connect(socket).await {
        Ok(stream) => Ok(Connection::new(stream)),
        Err(error) => {
            say(out, &texts_fr::unreachable(&error.to_string()));
            Err(PersonExit::Unreachable)
        }
    }
}

/// `sesame-agent status`: asks the service and prints its answer, dates in the person's
/// `calendar`.
pub async fn status(socket: &Path, calendar: &dyn Calendar, out: &mut dyn Write) -> PersonExit {
    let mut connection = match open(socket, out).await {
        Ok(connection) => connection,
        Err(exit) => return exit,
    };
    match status_pages(&mut connection, STATUS_WAIT).await {
        Ok(report) => {
            for line in texts_fr::status(&report, calendar) {
                say(out, &line);
            }
            PersonExit::Success
        }
        Err(Some(error)) => {
            say(out, &texts_fr::service_error(error));
            PersonExit::Error
        }
        Err(None) => {
            say(out, texts_fr::SERVICE_SILENT);
            PersonExit::Error
        }
    }
}

/// `sesame-agent change`: one change, driven by the service's events.
pub async fn change(
    socket: &Path,
    options: &ChangeOptions,
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> PersonExit {
    match open(socket, out).await {
        Ok(connection) => change_over(connection, options, person, out).await,
        Err(exit) => exit,
    }
}

/// [`change`] over an open connection.
pub async fn change_over<S>(
    mut connection: Connection<S>,
    options: &ChangeOptions,
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> PersonExit
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut refused = None;
    let mut gathered: Vec<MailboxChoice> = Vec::new();
    let mut first = Some(Request::Begin { mailbox: options.mailbox.clone() });
    loop {
        if let Some(request) = first.take()
            && !send_request(&mut connection, &request, STATUS_WAIT).await
        {
            say(out, texts_fr::SERVICE_BROKE_OFF);
            return PersonExit::Error;
        }
        let event = match next_event(&mut connection, EVENT_WAIT).await {
            Ok(event) => event,
            Err(Silence::Closed) => {
                return match refused {
                    Some(exit) => exit,
                    None => {
                        say(out, texts_fr::SERVICE_BROKE_OFF);
                        PersonExit::Error
                    }
                };
            }
            Err(Silence::Broken) => {
                say(out, texts_fr::SERVICE_BROKE_OFF);
                return PersonExit::Error;
            }
            Err(Silence::TimedOut) => {
                say(out, texts_fr::SERVICE_SILENT);
                return PersonExit::Error;
            }
        };
        let next = match event {
            Event::Progress(step) => {
                say(out, texts_fr::progress(step));
                continue;
            }
            Event::Done { mailbox, key_in } => {
                say(out, &texts_fr::done(&mailbox, key_in));
                return PersonExit::Success;
            }
            Event::Error(error) => {
                say(out, &texts_fr::service_error(error));
                return PersonExit::Error;
            }
            Event::Status(_) => {
                say(out, texts_fr::SERVICE_BROKE_OFF);
                return PersonExit::Error;
            }
            Event::Refused(refusal) => {
                for line in texts_fr::refusal(&refusal) {
                    say(out, &line);
                }
                let exit =
                    if refusal.is_failure() { PersonExit::Failed } else { PersonExit::Refused };
                if !person.is_interactive() {
                    // Standard input is not read twice: a script starts again from the top.
                    let _ = connection.send(&Request::Cancel).await;
                    return exit;
                }
                refused = Some(exit);
                continue;
            }
            Event::ChooseMailbox(choices) => choose_mailbox(&choices, person, out),
            Event::ChooseMailboxPage { mut choices, next_page } => {
                gathered.append(&mut choices);
                match next_page {
                    Some(page) if gathered.len() < MAX_CHOICES => {
                        first = Some(Request::MoreChoices { page });
                        continue;
                    }
                    _ => choose_mailbox(&std::mem::take(&mut gathered), person, out),
                }
            }
            Event::NeedKeyConfirmation { reason } => {
                confirm_key_unplugged(&reason, options, person, out)
            }
            Event::NeedNewPassword { mailbox, may_be_unchanged } => {
                read_new_password(&mailbox, may_be_unchanged, person, out)
            }
            Event::NeedPasswords {
                kind,
                mailbox,
                display_name,
                policy,
                office_name,
                office_city,
            } => {
                let context = PasswordContext {
                    kind,
                    mailbox: &mailbox,
                    display_name: &display_name,
                    office_name: &office_name,
                    office_city: &office_city,
                };
                read_passwords(&Asked { context, policy }, person, out)
            }
        };
        match next {
            Ok(request) => first = Some(request),
            Err(exit) => {
                let _ = connection.send(&Request::Cancel).await;
                return exit;
            }
        }
    }
}

fn choose_mailbox(
    choices: &[MailboxChoice],
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> Result<Request, PersonExit> {
    if !person.is_interactive() {
        for line in texts_fr::mailbox_required(choices) {
            say(out, &line);
        }
        return Err(PersonExit::Refused);
    }
    for line in texts_fr::choose_mailbox(choices) {
        say(out, &line);
    }
    for _ in 0..ASK_ATTEMPTS {
        let answer =
            person.answer(texts_fr::CHOOSE_MAILBOX_PROMPT).map_err(|_| PersonExit::Cancelled)?;
        if let Some(choice) =
            answer.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| choices.get(i))
        {
            return Ok(Request::Begin { mailbox: Some(choice.mailbox.clone()) });
        }
        say(out, &texts_fr::not_a_choice(choices.len()));
    }
    say(out, texts_fr::CANCELLED);
    Err(PersonExit::Cancelled)
}

fn confirm_key_unplugged(
    reason: &str,
    options: &ChangeOptions,
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> Result<Request, PersonExit> {
    for line in texts_fr::key_unknown(reason) {
        say(out, &line);
    }
    if options.key_unplugged {
        say(out, texts_fr::KEY_CONFIRMED_BY_FLAG);
        return Ok(Request::ConfirmKeyUnplugged);
    }
    if !person.is_interactive() {
        say(out, texts_fr::KEY_CONFIRMATION_NEEDS_FLAG);
        return Err(PersonExit::Refused);
    }
    for _ in 0..ASK_ATTEMPTS {
        let answer =
            person.answer(texts_fr::KEY_CONFIRM_PROMPT).map_err(|_| PersonExit::Cancelled)?;
        match texts_fr::yes_or_no(&answer) {
            Some(true) => return Ok(Request::ConfirmKeyUnplugged),
            Some(false) => break,
            None => say(out, texts_fr::ANSWER_YES_OR_NO),
        }
    }
    say(out, texts_fr::CANCELLED);
    Err(PersonExit::Cancelled)
}

/// What `need_passwords` asked.
struct Asked<'a> {
    context: PasswordContext<'a>,
    policy: WirePolicy,
}

/// How many times a person at a terminal may type passwords the local check refuses.
const LOCAL_ATTEMPTS: usize = 3;

/// Reads the three passwords and checks them as the service will (the same check, the same
/// policy), so that a refused password is explained without being sent; the service checks again.
fn read_passwords(
    asked: &Asked<'_>,
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> Result<Request, PersonExit> {
    let context = &asked.context;
    for line in
        texts_fr::need_passwords(context.kind, context.mailbox, context.display_name, asked.policy)
    {
        say(out, &line);
    }
    for _ in 0..LOCAL_ATTEMPTS {
        let typed = person.secret(texts_fr::old_password_prompt(context.kind)).and_then(|old| {
            let new = person.secret(texts_fr::NEW_PASSWORD_PROMPT)?;
            let confirm = person.secret(texts_fr::CONFIRM_PASSWORD_PROMPT)?;
            Ok((old, new, confirm))
        });
        let (old, new, confirm) = match typed {
            Ok(typed) => typed,
            Err(error) => {
                say(out, &texts_fr::input_ended(&error.to_string()));
                return Err(if person.is_interactive() {
                    PersonExit::Cancelled
                } else {
                    PersonExit::Refused
                });
            }
        };
        let problems = check_new_password(
            &PasswordRule::from(asked.policy),
            asked.policy.strength(),
            context,
            &Typed {
                old: old.expose_secret(),
                new: new.expose_secret(),
                confirm: confirm.expose_secret(),
            },
        );
        if problems.is_empty() {
            return Ok(Request::Passwords {
                current_or_provisional: LocalSecret::new(old),
                new: LocalSecret::new(new),
                confirm: LocalSecret::new(confirm),
            });
        }
        for line in texts_fr::refusal(&Refusal::Password(problems)) {
            say(out, &line);
        }
        if !person.is_interactive() {
            return Err(PersonExit::Refused);
        }
    }
    Err(PersonExit::Refused)
}

fn read_new_password(
    mailbox: &str,
    may_be_unchanged: bool,
    person: &mut dyn Person,
    out: &mut dyn Write,
) -> Result<Request, PersonExit> {
    for line in texts_fr::need_new_password(mailbox, may_be_unchanged) {
        say(out, &line);
    }
    match person.secret(texts_fr::NEW_PASSWORD_AGAIN_PROMPT) {
        Ok(new) => Ok(Request::NewPassword { new: LocalSecret::new(new) }),
        Err(error) => {
            say(out, &texts_fr::input_ended(&error.to_string()));
            Err(if person.is_interactive() { PersonExit::Cancelled } else { PersonExit::Refused })
        }
    }
}
