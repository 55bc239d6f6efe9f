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

use sesame_base::password_rule::PasswordRule;
use sesame_local::password_check::{Typed, check_new_password};
use sesame_local::protocol::{
    Event, KeyStatus, PasswordKind, ProgressStep, Refusal, Request, ServiceError, StatusReport,
};
use sesame_local::server::{LocalHandler, LocalServer, Session};
use sesame_local::transport::Peer;
use tokio::io::AsyncWriteExt;

const MAILBOX: &str = "Dupont.Helene@12345.mailnot.fr";

/// One periodic rotation, the key unplugged; records who connected and how many changes.
#[derive(Default)]
struct Service {
    peers: Mutex<Vec<Peer>>,
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
                    policy: PasswordRule::default().into(),
                },
                Request::Passwords { current_or_provisional, new, confirm } => {
                    let typed = Typed {
                        old: current_or_provisional.expose(),
                        new: new.expose(),
                        confirm: confirm.expose(),
                    };
                    let problems = check_new_password(
                        &PasswordRule::default(),
                        PasswordKind::Current,
                        MAILBOX,
                        &typed,
                    );
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

    let (out, stdout) =
        run(&socket, &["change"], "Ancien-Mot2passe\nNouveau-Mot2passe\nNouveau-Mot2passe\n").await;
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Saisissez le mot de passe actuel de votre courrier"), "{stdout}");
    assert!(stdout.contains("Saisissez-le maintenant dans Outlook, puis rebranchez"), "{stdout}");
    let both = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!both.contains("Ancien-Mot2passe") && !both.contains("Nouveau-Mot2passe"));

    let (out, stdout) =
        run(&socket, &["change"], "Ancien-Mot2passe\nHelene-Mot2passe\nHelene-Mot2passe\n").await;
    assert_eq!(out.status.code(), Some(10), "{stdout}");
    assert!(stdout.contains("ni votre nom ni votre prénom"), "{stdout}");

    let (out, stdout) = run(&socket, &["status"], "").await;
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Clé REAL : débranchée"), "{stdout}");

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
