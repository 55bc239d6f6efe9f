//! The local channel over a real Unix socket in a temporary directory, with the fake service:
//! the protocol both ways, peer credentials, refused lines, `change` driven through standard
//! input lines and through a scripted person at a terminal, and no password in any output.

#![cfg(unix)]

use std::io::{self, Cursor};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::calendar::{FixedCalendar, LocalCalendar};
use sesame_base::rotation::{FailureReason, Step};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

use crate::client::{self, ChangeOptions, Person, PersonExit};
use crate::fake::{FakeMailbox, FakeService};
use crate::protocol::{self, Event, KeyStatus, PasswordKind, Refusal, Request, ServiceError};
use crate::secret::LocalSecret;
use crate::server::LocalServer;
use crate::transport;

/// Dates in UTC, for the tests that do not look at them.
const UTC: FixedCalendar = FixedCalendar(time::UtcOffset::UTC);
const PROVISIONAL: &str = "Kp4#provisoire-XY";
const NEW: &str = "Tr0ub4dor&3x";

fn mailbox(address: &str, provisional: Option<&str>) -> FakeMailbox {
    FakeMailbox {
        address: address.to_owned(),
        display_name: "Hélène Dupont".to_owned(),
        provisional: provisional.map(SecretString::from),
    }
}

struct Running {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    service: Arc<FakeService>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap();
        assert!(!self.socket.exists(), "the socket file is removed on shutdown");
    }
}

fn start(service: FakeService) -> Running {
    start_with(service, crate::server::IDLE_LIMIT)
}

fn start_with(service: FakeService, idle_limit: std::time::Duration) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("agent.sock");
    let server = LocalServer::bind(&socket).unwrap().with_idle_limit(idle_limit);
    let service = Arc::new(service);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(service.clone(), async {
        let _ = stopped.await;
    }));
    Running { _dir: dir, socket, service, stop: Some(stop), task }
}

/// A script on standard input: one password per line, no terminal (as the agent's console
/// person reads a pipe).
struct Lines(Cursor<Vec<u8>>);

impl Person for Lines {
    fn is_interactive(&self) -> bool {
        false
    }
    fn secret(&mut self, _label: &str) -> io::Result<SecretString> {
        let mut line = String::new();
        match io::BufRead::read_line(&mut self.0, &mut line)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(SecretString::from(line.trim_end_matches(['\r', '\n']))),
        }
    }
    fn answer(&mut self, _label: &str) -> io::Result<String> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

fn lines(text: &str) -> Lines {
    Lines(Cursor::new(text.as_bytes().to_vec()))
}

async fn change(
    socket: &Path,
    options: ChangeOptions,
    person: &mut dyn Person,
) -> (PersonExit, String) {
    let mut out = Vec::new();
    let exit = client::change(socket, &options, person, &mut out).await;
    (exit, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn status_round_trip_with_the_callers_credentials() {
    let running = start(FakeService::new(
        vec![mailbox("Dupont.Helene@12345.mailnot.fr", Some(PROVISIONAL))],
        KeyStatus::Present { device: "1a44:0001 REAL".to_owned() },
    ));
    let meta = std::fs::metadata(&running.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);
    let dir_mode =
        std::fs::metadata(running.socket.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o755);

    let mut out = Vec::new();
    assert_eq!(client::status(&running.socket, &UTC, &mut out).await, PersonExit::Success);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("Clé REAL : branchée (1a44:0001 REAL)"), "{out}");
    assert!(out.contains("Dupont.Helene@12345.mailnot.fr (après courrier) : en attente"), "{out}");

    let peers = running.service.seen.lock().unwrap().peers.clone();
    let me = tempfile::tempfile().unwrap().metadata().unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].uid, Some(me.uid()));
    assert_eq!(peers[0].gid, Some(me.gid()));
    assert_eq!(peers[0].pid, Some(std::process::id() as i32));
    assert!(peers[0].to_string().starts_with("uid "));
    running.stop().await;
}

async fn raw_exchange(socket: &Path, line: &[u8]) -> Option<Event> {
    let mut stream = transport::connect(socket).await.unwrap();
    stream.write_all(line).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer).await.unwrap();
    // After an error the service ends the session (a reset when part of the line was unread).
    let mut rest = String::new();
    match reader.read_line(&mut rest).await {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("the session should have ended: {other:?}"),
    }
    protocol::decode(answer.trim_end().as_bytes()).ok()
}

#[tokio::test]
async fn bad_lines_are_refused_and_end_the_session() {
    let running = start(FakeService::new(vec![], KeyStatus::Absent));
    let long = vec![b'x'; protocol::MAX_LINE_BYTES + 100];
    let answer = raw_exchange(&running.socket, &long).await;
    assert!(matches!(answer, Some(Event::Error(ServiceError::LineTooLong))), "{answer:?}");

    let unknown_field = br#"{"v":1,"msg":{"begin":{"mailbox":null,"extra":1}}}"#.to_vec();
    let answer = raw_exchange(&running.socket, &[unknown_field, b"\n".to_vec()].concat()).await;
    assert!(matches!(answer, Some(Event::Error(ServiceError::BadMessage))), "{answer:?}");

    let answer = raw_exchange(&running.socket, b"{\"v\":2,\"msg\":\"status\"}\n").await;
    assert!(
        matches!(answer, Some(Event::Error(ServiceError::UnsupportedVersion { supported: 1 }))),
        "{answer:?}"
    );
    let answer = raw_exchange(&running.socket, b"not json\n").await;
    assert!(matches!(answer, Some(Event::Error(ServiceError::BadMessage))), "{answer:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_let_go_and_a_live_socket_is_not_taken_over() {
    let running = start_with(
        FakeService::new(vec![], KeyStatus::Absent),
        std::time::Duration::from_millis(20),
    );
    let answer = raw_exchange(&running.socket, b"").await;
    assert!(matches!(answer, Some(Event::Error(ServiceError::TimedOut))), "{answer:?}");
    let error = LocalServer::bind(&running.socket).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    running.stop().await;
}

#[tokio::test]
async fn a_change_through_standard_input_lines() {
    let running = start(FakeService::new(
        vec![mailbox("Dupont.Helene@12345.mailnot.fr", Some(PROVISIONAL))],
        KeyStatus::Absent,
    ));
    let mut person = lines(&format!("{PROVISIONAL}\n{NEW}\n{NEW}\n"));
    let (exit, out) = change(&running.socket, ChangeOptions::default(), &mut person).await;
    assert_eq!(exit, PersonExit::Success, "{out}");
    assert!(out.contains("Saisissez le mot de passe provisoire de votre courrier"), "{out}");
    assert!(
        out.contains(
            "a été changé et vérifié. Saisissez-le maintenant dans Outlook, puis rebranchez votre \
             clé REAL."
        ),
        "{out}"
    );
    assert!(!out.contains(PROVISIONAL) && !out.contains(NEW), "no password in the output");
    {
        let seen = running.service.seen.lock().unwrap();
        assert_eq!(seen.changes.len(), 1);
        assert_eq!(seen.changes[0].1.expose_secret(), NEW);
    }
    running.stop().await;
}

#[tokio::test]
async fn refusals_are_explained_and_nothing_is_changed() {
    let running = start(FakeService::new(
        vec![mailbox("Dupont.Helene@12345.mailnot.fr", Some(PROVISIONAL))],
        KeyStatus::Absent,
    ));
    let cases = [
        (format!("Kp4#provisoire-XZ\n{NEW}\n{NEW}\n"), "ne correspond pas à celui de la lettre"),
        (format!("{PROVISIONAL}\nDupont-2026!\nDupont-2026!\n"), "ni votre nom ni votre prénom"),
        (format!("{PROVISIONAL}\n{NEW}\n{NEW}x\n"), "les deux saisies"),
        (
            format!("{PROVISIONAL}\n{PROVISIONAL}\n{PROVISIONAL}\n"),
            "différent du mot de passe provisoire",
        ),
        (format!("{PROVISIONAL}\ncourt\ncourt\n"), "au moins 10 caractères"),
        (format!("{PROVISIONAL}\n{NEW}\n"), "La saisie s'est arrêtée"),
    ];
    for (input, expected) in cases {
        let (exit, out) =
            change(&running.socket, ChangeOptions::default(), &mut lines(&input)).await;
        assert_eq!(exit, PersonExit::Refused, "{out}");
        assert!(out.contains(expected), "{expected}: {out}");
        assert!(out.contains("Rien n'a été envoyé"), "{out}");
        assert!(!out.contains(PROVISIONAL) && !out.contains(NEW), "no password in the output");
    }
    assert!(running.service.seen.lock().unwrap().changes.is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_plugged_key_is_refused_and_an_unreachable_service_said_so() {
    let running = start(FakeService::new(
        vec![mailbox("Dupont.Helene@12345.mailnot.fr", None)],
        KeyStatus::Present { device: "REAL".to_owned() },
    ));
    let (exit, out) = change(&running.socket, ChangeOptions::default(), &mut lines("")).await;
    assert_eq!(exit, PersonExit::Refused);
    assert!(out.contains("Débranchez votre clé REAL"), "{out}");
    let socket = running.socket.clone();
    running.stop().await;
    let (exit, out) = change(&socket, ChangeOptions::default(), &mut lines("")).await;
    assert_eq!(exit, PersonExit::Unreachable);
    assert!(out.contains("Le service Sesame ne répond pas"), "{out}");
    let mut out = Vec::new();
    assert_eq!(client::status(&socket, &UTC, &mut out).await, PersonExit::Unreachable);
}

#[tokio::test]
async fn several_mailboxes_need_mailbox_without_a_terminal() {
    let running = start(FakeService::new(
        vec![
            mailbox("Dupont.Helene@12345.mailnot.fr", None),
            mailbox("Martin.Paul@12345.mailnot.fr", Some(PROVISIONAL)),
        ],
        KeyStatus::Unknown { reason: "no USB access".to_owned() },
    ));
    let (exit, out) = change(&running.socket, ChangeOptions::default(), &mut lines("")).await;
    assert_eq!(exit, PersonExit::Refused);
    assert!(out.contains("--mailbox") && out.contains("2. Martin.Paul@12345.mailnot.fr"), "{out}");

    // The key cannot be seen: without a terminal the confirmation is the flag.
    let options = ChangeOptions {
        mailbox: Some("martin.paul@12345.mailnot.fr".to_owned()),
        key_unplugged: false,
    };
    let (exit, out) = change(&running.socket, options.clone(), &mut lines("")).await;
    assert_eq!(exit, PersonExit::Refused);
    assert!(out.contains("--key-unplugged"), "{out}");

    let options = ChangeOptions { key_unplugged: true, ..options };
    let mut person = lines(&format!("{PROVISIONAL}\n{NEW}\n{NEW}\n"));
    let (exit, out) = change(&running.socket, options, &mut person).await;
    assert_eq!(exit, PersonExit::Success, "{out}");
    {
        let seen = running.service.seen.lock().unwrap();
        assert_eq!(seen.changes[0].0, "Martin.Paul@12345.mailnot.fr");
        assert_eq!(seen.key_confirmations, 1);
    }
    running.stop().await;
}

/// A person at a terminal, answering from a script.
struct Scripted {
    answers: Vec<&'static str>,
    secrets: Vec<&'static str>,
}

impl Person for Scripted {
    fn is_interactive(&self) -> bool {
        true
    }
    fn secret(&mut self, _label: &str) -> io::Result<SecretString> {
        match self.secrets.is_empty() {
            true => Err(io::ErrorKind::UnexpectedEof.into()),
            false => Ok(SecretString::from(self.secrets.remove(0))),
        }
    }
    fn answer(&mut self, _label: &str) -> io::Result<String> {
        match self.answers.is_empty() {
            true => Err(io::ErrorKind::UnexpectedEof.into()),
            false => Ok(self.answers.remove(0).to_owned()),
        }
    }
}

#[tokio::test]
async fn at_a_terminal_the_person_chooses_confirms_and_tries_again() {
    let running = start(FakeService::new(
        vec![
            mailbox("Dupont.Helene@12345.mailnot.fr", None),
            mailbox("Martin.Paul@12345.mailnot.fr", None),
        ],
        KeyStatus::Unknown { reason: "no USB access".to_owned() },
    ));
    let mut person = Scripted {
        answers: vec!["trois", "1", "peut-être", "oui"],
        secrets: vec![
            "Ancien-Mot2passe",
            "helene-2026!X",
            "helene-2026!X",
            "Ancien-Mot2passe",
            NEW,
            NEW,
        ],
    };
    let (exit, out) = change(&running.socket, ChangeOptions::default(), &mut person).await;
    assert_eq!(exit, PersonExit::Success, "{out}");
    assert!(out.contains("Répondez par un numéro entre 1 et 2"), "{out}");
    assert!(out.contains("Répondez « oui » ou « non »"), "{out}");
    assert!(out.contains("ni votre nom ni votre prénom"), "{out}");
    assert!(out.contains("Saisissez le mot de passe actuel de votre courrier"), "{out}");
    {
        let seen = running.service.seen.lock().unwrap();
        assert_eq!(seen.changes.len(), 1);
        assert_eq!(seen.changes[0].0, "Dupont.Helene@12345.mailnot.fr");
    }
    running.stop().await;
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    let request = Request::Passwords {
        current_or_provisional: LocalSecret::from(PROVISIONAL),
        new: LocalSecret::from(NEW),
        confirm: LocalSecret::from(NEW),
    };
    let debug = format!("{request:?}");
    assert!(!debug.contains(PROVISIONAL) && !debug.contains(NEW), "{debug}");
    let line = protocol::encode(&request);
    let back: Request = protocol::decode(&line[..line.len() - 1]).unwrap();
    match back {
        Request::Passwords { new, .. } => assert_eq!(new.expose(), NEW),
        other => panic!("{other:?}"),
    }
    // A wrong type for a secret field: the error does not repeat the line.
    let bad =
        format!(r#"{{"v":1,"msg":{{"passwords":{{"current_or_provisional":"{NEW}","new":1}}}}}}"#);
    let error = protocol::decode::<Request>(bad.as_bytes()).unwrap_err();
    assert!(!error.to_string().contains(NEW));
    let typed = crate::password_check::Typed { old: PROVISIONAL, new: NEW, confirm: NEW };
    assert!(!format!("{typed:?}").contains(NEW));
}

#[test]
fn every_event_round_trips() {
    let events = [
        Event::Refused(Refusal::Password(vec![crate::password_check::PasswordProblem::TooShort {
            min: 12,
        }])),
        Event::NeedKeyConfirmation { reason: "r".to_owned() },
        Event::Done { mailbox: "a@b".to_owned(), key_in: false },
        Event::Status(crate::protocol::StatusReport {
            agent_version: "1".to_owned(),
            enrolled: true,
            key: KeyStatus::Absent,
            rotations: vec![crate::protocol::RotationStatus {
                mailbox: "a@b".to_owned(),
                display_name: String::new(),
                kind: PasswordKind::Current,
                step: Step::Failed(FailureReason::OwaUnreachable),
                due: Some(time::macros::datetime!(2026-12-15 00:00 UTC)),
                in_hand: true,
            }],
            last_report: Some(crate::protocol::LastReport {
                at: time::macros::datetime!(2026-11-29 03:00 UTC),
                mailbox: "a@b".to_owned(),
                step: Step::Verified,
                delivered: false,
            }),
            reports_waiting: 1,
            next_page: Some(1),
        }),
        Event::Refused(Refusal::AccountNotBound),
        Event::Refused(Refusal::CurrentPasswordLimit),
        Event::Error(ServiceError::TooManySessions),
    ];
    for event in events {
        let line = protocol::encode(&event);
        let back: Event = protocol::decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(format!("{back:?}"), format!("{event:?}"));
        if let Event::Status(report) = &back {
            let text = crate::texts_fr::status(report, &UTC).join("\n");
            assert!(text.contains("le 29 novembre 2026 à 3 h 00"), "{text}");
            assert!(text.contains("1 compte(s) rendu(s) en attente"), "{text}");
        }
    }
}

#[test]
fn status_dates_are_in_the_persons_calendar_not_utc() {
    // Due and reported late in the evening, UTC: already the next day in Paris.
    let report = crate::protocol::StatusReport {
        agent_version: "1".to_owned(),
        enrolled: true,
        key: KeyStatus::Absent,
        rotations: vec![crate::protocol::RotationStatus {
            mailbox: "a@b".to_owned(),
            display_name: String::new(),
            kind: PasswordKind::Current,
            step: Step::Pending,
            due: Some(time::macros::datetime!(2026-12-14 23:30 UTC)),
            in_hand: false,
        }],
        last_report: Some(crate::protocol::LastReport {
            at: time::macros::datetime!(2026-12-07 23:45 UTC),
            mailbox: "a@b".to_owned(),
            step: Step::Completed,
            delivered: true,
        }),
        reports_waiting: 0,
        next_page: None,
    };
    let utc = crate::texts_fr::status(&report, &UTC).join("\n");
    assert!(utc.contains("à faire avant le 14 décembre 2026"), "{utc}");
    assert!(utc.contains("le 7 décembre 2026 à 23 h 45"), "{utc}");
    let Ok(paris) = LocalCalendar::named("Europe/Paris") else {
        assert!(std::env::var_os("CI").is_none(), "tzdata is required under CI");
        return;
    };
    let paris = crate::texts_fr::status(&report, &paris).join("\n");
    assert!(paris.contains("à faire avant le 15 décembre 2026"), "{paris}");
    assert!(paris.contains("le 8 décembre 2026 à 0 h 45"), "{paris}");
    assert!(!paris.contains("UTC"), "{paris}");
}

#[tokio::test]
async fn over_the_accounts_cap_a_connection_is_turned_away_at_once() {
    let service = FakeService::new(vec![mailbox("a@b.fr", Some(PROVISIONAL))], KeyStatus::Absent);
    let running = start(service);
    // Sessions that wait for their next request hold their seats.
    let mut held = Vec::new();
    for _ in 0..crate::server::MAX_SESSIONS_PER_ACCOUNT {
        held.push(transport::connect(&running.socket).await.unwrap());
    }
    // The next one of the same account is told why and closed, not left in the backlog.
    let stream = transport::connect(&running.socket).await.unwrap();
    let mut answer = String::new();
    let mut reader = BufReader::new(stream);
    let told = std::time::Duration::from_secs(30);
    tokio::time::timeout(told, reader.read_line(&mut answer)).await.unwrap().unwrap();
    let event: Event = protocol::decode(answer.trim_end().as_bytes()).unwrap();
    assert!(matches!(event, Event::Error(ServiceError::TooManySessions)), "{event:?}");
    // One session ends: a seat is free again.
    drop(held.pop());
    let mut answer = None;
    for _ in 0..100 {
        answer = raw_exchange(&running.socket, &protocol::encode(&Request::Status)).await;
        if matches!(answer, Some(Event::Status(_))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(matches!(answer, Some(Event::Status(_))), "{answer:?}");
    drop(held);
    running.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped() {
    let service = FakeService::new(vec![mailbox("a@b.fr", Some(PROVISIONAL))], KeyStatus::Absent);
    let running = start(service);
    let stream = transport::connect(&running.socket).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Requests keep coming, answers are never read: the service's writes stall, then it drops
    // the client instead of waiting on it.
    let writer = tokio::spawn(async move {
        let line = protocol::encode(&Request::Begin { mailbox: None });
        while write.write_all(&line).await.is_ok() {}
    });
    tokio::time::sleep(crate::server::WRITE_LIMIT + std::time::Duration::from_secs(1)).await;
    let mut sink = Vec::new();
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut read, &mut sink),
    )
    .await;
    assert!(ended.is_ok(), "the service closed the connection");
    writer.abort();
    running.stop().await;
}

#[test]
fn a_single_page_status_carries_no_new_field_for_older_clients() {
    let report = crate::protocol::StatusReport {
        agent_version: "1".to_owned(),
        enrolled: true,
        key: KeyStatus::Absent,
        rotations: vec![],
        last_report: None,
        reports_waiting: 0,
        next_page: None,
    };
    let line = protocol::encode(&Event::Status(report));
    assert!(!String::from_utf8_lossy(&line).contains("next_page"));
    let page: Request = protocol::decode(br#"{"v":1,"msg":{"status_page":{"page":2}}}"#).unwrap();
    assert!(matches!(page, Request::StatusPage { page: 2 }));
    for refusal in [Refusal::AccountNotBound, Refusal::CurrentPasswordLimit] {
        let text = crate::texts_fr::refusal(&refusal).join(" ");
        assert!(text.contains("administrateur"), "{text}");
        assert!(text.contains("Rien n'a été envoyé"), "{text}");
    }
}
