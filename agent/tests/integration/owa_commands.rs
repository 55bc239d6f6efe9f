//! The real `sesame-agent` binary's OWA commands: passwords read line by line from a pipe, refusals
//! before any network access, and the exit codes the README lists. The conversations with an
//! Exchange simulator are in sesame-tests (`e2e::owa_cli`).

// Reason: a test fails by panicking.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame-agent"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn differing_entries_are_refused_before_anything_is_sent() {
    // Port 9 on loopback: nothing listens; the refusal must come first anyway.
    let out = run(
        &[
            "owa-change",
            "--url",
            "https://127.0.0.1:9/owa",
            "--user",
            "Jean.Dupont@12345.mailnot.fr",
        ],
        "Provisoire-1\nNouveau-Mot2passe\nNouveau-Mot2passf\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("Les deux saisies du nouveau mot de passe sont différentes"),
        "{stdout}"
    );
    assert!(!stdout.contains("Nouveau-Mot2passe"), "no password is echoed");
}

#[test]
fn a_new_password_breaking_the_letters_rule_is_explained_in_french() {
    let out = run(
        &[
            "owa-change",
            "--url",
            "https://127.0.0.1:9/owa",
            "--user",
            "Jean.Dupont@12345.mailnot.fr",
        ],
        "Provisoire-1\nmotdepasse\nmotdepasse\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    for reason in ["au moins une majuscule", "au moins un chiffre", "au moins un caractère spécial"]
    {
        assert!(stdout.contains(reason), "{stdout}");
    }
}

#[test]
fn plain_http_is_refused_and_a_closed_input_is_an_error() {
    let out = run(
        &["owa-check", "--url", "http://mail.example.fr/owa", "--user", "a@b.fr"],
        "secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not HTTPS"));
    let out = run(&["owa-change", "--url", "https://127.0.0.1:9/owa", "--user", "a@b.fr"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("standard input ended"));
}

#[test]
fn an_unreachable_server_is_an_error_and_nothing_changes() {
    let out = run(
        &["owa-change", "--url", "https://127.0.0.1:9/owa", "--user", "a@b.fr", "--timeout", "5"],
        "Provisoire-1\nNouveau-Mot2passe\nNouveau-Mot2passe\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("n'a pas été changé"), "{stdout}");
}
