//! The real `sesame-agent change` and `status` binaries against a small service built on the
//! public local-channel API (`LocalServer`, `LocalHandler`) on a Unix socket in a temporary
//! directory: passwords read line by line from a pipe, the exit codes, the French words, and the
//! unreachable service.

// Reason: a test fails by panicking.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};

use sesame_base::password_rule::{PasswordRule, StrengthChecks};
use sesame_local::password_check::{PasswordContext, Typed, check_new_password};
use sesame_local::protocol::{
    Event, KeyStatus, PasswordKind, ProgressStep, Refusal, Request, ServiceError, StatusReport,
    WirePolicy,
};
use sesame_local::server::{LocalHandler, LocalServer, Session};
use sesame_local::transport::Peer;
use tokio::io::AsyncWriteExt;

const MAILBOX: &str = "Dupont.Helene@12345.mailnot.fr";

/// One periodic rotation, the key unplugged, under `checks`; records who connected, how many
/// passwords it received and how many changes it made.
#[derive(Default)]
struct Service {
    checks: StrengthChecks,
    peers: Mutex<Vec<Peer>>,
    received: Mutex<usize>,
    changes: Mutex<usize>,
}

impl LocalHandler for Service {
    async fn handle(&self, mut session: Session) {
        self.peers.lock().unwrap().push(session.peer());
        while let Ok(Some(request)) = session.next_request().await {
            let event = match request {
                Request::Status | Request::StatusPage { .. } => Event::Status(StatusReport {
                    agent_version: "test".to_owned(),
                    enrolled: true,
                    key: KeyStatus::Absent,
                    rotations: vec![],
                    last_report: None,
                    reports_waiting: 0,
                    next_page: None,
                }),
                Request::Begin { .. } => Event::NeedPasswords {
                    kind: PasswordKind::Current,
                    mailbox: MAILBOX.to_owned(),
                    display_name: "Hélène Dupont".to_owned(),
                    policy: WirePolicy::new(PasswordRule::default(), self.checks),
                    office_name: "SCP Lefèvre et Associés".to_owned(),
                    office_city: "Saint-Malo".to_owned(),
                },
                Request::Passwords { current_or_provisional, new, confirm } => {
                    *self.received.lock().unwrap() += 1;
                    let typed = Typed {
                        old: current_or_provisional.expose(),
                        new: new.expose(),
                        confirm: confirm.expose(),
                    };
                    let context = PasswordContext {
                        kind: PasswordKind::Current,
                        mailbox: MAILBOX,
                        display_name: "Hélène Dupont",
                        office_name: "SCP Lefèvre et Associés",
                        office_city: "Saint-Malo",
                    };
                    let problems =
                        check_new_password(&PasswordRule::default(), self.checks, &context, &typed);
                    if problems.is_empty() {
                        *self.changes.lock().unwrap() += 1;
                        let _ = session.send(&Event::Progress(ProgressStep::Verified)).await;
                        Event::Done { mailbox: MAILBOX.to_owned(), key_in: false }
                    } else {
                        Event::Refused(Refusal::Password(problems))
                    }
                }
                Request::NewPassword { .. } | Request::MoreChoices { .. } => {
                    Event::Error(ServiceError::UnexpectedRequest)
                }
                Request::ConfirmKeyUnplugged | Request::Cancel => return,
            };
            if session.send(&event).await.is_err() {
                return;
            }
        }
    }
}

async fn run(socket: &Path, args: &[&str], stdin: &str) -> (Output, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sesame-agent"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

#[tokio::test]
async fn change_and_status_through_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let service = Arc::new(Service::default());
    let server = LocalServer::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(service.clone(), async {
        let _ = stopped.await;
    }));

    let (out, stdout) = run(
        &socket,
        &["change"],
        "Ancien-Mot2passe\nTulipe-Ancre-Violon-72\nTulipe-Ancre-Violon-72\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Saisissez le mot de passe actuel de votre courrier"), "{stdout}");
    assert!(stdout.contains("Saisissez-le maintenant dans Outlook, puis rebranchez"), "{stdout}");
    let both = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!both.contains("Ancien-Mot2passe") && !both.contains("Tulipe-Ancre-Violon-72"));

    let (out, stdout) =
        run(&socket, &["change"], "Ancien-Mot2passe\nHelene-Mot2passe\nHelene-Mot2passe\n").await;
    assert_eq!(out.status.code(), Some(10), "{stdout}");
    assert!(stdout.contains("ni votre nom ni votre prénom"), "{stdout}");

    let (out, stdout) = run(&socket, &["status"], "").await;
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Clé REAL : débranchée"), "{stdout}");

    // The weak password was refused by the command itself: the service received one change.
    assert_eq!(*service.received.lock().unwrap(), 1);
    assert_eq!(*service.changes.lock().unwrap(), 1);
    let peers = service.peers.lock().unwrap().clone();
    assert_eq!(peers.len(), 3);
    assert!(peers.iter().all(|p| p.uid.is_some() && p.pid.is_some()), "{peers:?}");
    stop.send(()).unwrap();
    serving.await.unwrap();

    let (out, stdout) = run(&socket, &["change"], "").await;
    assert_eq!(out.status.code(), Some(12), "{stdout}");
    assert!(stdout.contains("Le service Sesame ne répond pas"), "{stdout}");
}

/// Serves `service` on a socket in `dir` until `stop` is sent.
fn serve(
    dir: &Path,
    service: &Arc<Service>,
) -> (std::path::PathBuf, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let socket = dir.join("agent.sock");
    let server = LocalServer::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(service.clone(), async {
        let _ = stopped.await;
    }));
    (socket, stop, serving)
}

#[tokio::test]
async fn weak_passwords_are_explained_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let service = Arc::new(Service::default());
    let (socket, stop, serving) = serve(dir.path(), &service);
    for (weak, why) in [
        ("Notaire2026!", "ni « mailnot » ni « notaire »"),
        ("Lefevre-Tulipe-72", "ni le nom ni la ville de l'office"),
        ("Azerty123!", "c'est un mot de passe courant"),
        ("Motdepasse1!", "c'est un mot de passe courant"),
    ] {
        let (out, stdout) =
            run(&socket, &["change"], &format!("Ancien-Mot2passe\n{weak}\n{weak}\n")).await;
        assert_eq!(out.status.code(), Some(10), "{weak}: {stdout}");
        assert!(stdout.contains("Ce nouveau mot de passe ne convient pas"), "{stdout}");
        assert!(stdout.contains(why), "{weak}: {stdout}");
        assert!(stdout.contains("Rien n'a été envoyé à la messagerie"), "{stdout}");
        assert!(!stdout.contains(weak), "{stdout}");
        if why.contains("courant") {
            assert!(stdout.contains("assemblez trois mots sans rapport"), "{stdout}");
        }
    }
    assert_eq!(*service.received.lock().unwrap(), 0, "nothing reached the service");
    stop.send(()).unwrap();
    serving.await.unwrap();
}

#[tokio::test]
async fn the_policy_switches_the_strength_checks_off() {
    let dir = tempfile::tempdir().unwrap();
    let off = StrengthChecks { personal_words: false, common_passwords: false, min_score: 0 };
    let service = Arc::new(Service { checks: off, ..Service::default() });
    let (socket, stop, serving) = serve(dir.path(), &service);
    let (out, stdout) =
        run(&socket, &["change"], "Ancien-Mot2passe\nNotaire2026!\nNotaire2026!\n").await;
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("mot de passe courant"), "{stdout}");
    assert_eq!(*service.changes.lock().unwrap(), 1);
    stop.send(()).unwrap();
    serving.await.unwrap();
}
