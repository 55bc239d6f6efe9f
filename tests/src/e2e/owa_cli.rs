//! `owa-check` and `owa-change` (the library behind `sesame-agent`'s commands) against the
//! Exchange simulator, with passwords given line by line as a script would, the simulator's CA
//! given with `--ca-file`, and its `localhost` name.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use sesame_agent::owa::cli::{
    LineInput, OwaExit, OwaServer, OwaTarget, owa_capture, owa_change, owa_check,
};
use sesame_base::clock::ManualClock;
use sesame_base::password_rule::PasswordRule;
use time::macros::datetime;

use super::owa::{PERSONAL, PROVISIONAL, USER};
use crate::owa_sim::{OwaSim, SimOptions};

struct Run {
    exit: OwaExit,
    output: String,
}

fn target(sim: &OwaSim, dir: &tempfile::TempDir, language: &str) -> OwaTarget {
    let ca_file = dir.path().join("owa-ca.pem");
    std::fs::write(&ca_file, sim.ca().pem()).unwrap();
    OwaTarget {
        server: OwaServer {
            url: format!("https://localhost:{}/owa", sim.address().port()),
            ca_file: Some(ca_file),
            accept_language: language.to_owned(),
            timeout: Duration::from_secs(5),
            proxy: None,
        },
        user: USER.to_owned(),
        logon_name: None,
    }
}

async fn change(target: &OwaTarget, lines: &str) -> Run {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let mut input = LineInput(Cursor::new(lines.as_bytes().to_vec()));
    let mut output = Vec::new();
    let exit = owa_change(target, &PasswordRule::default(), &mut input, &mut output, clock).await;
    Run { exit, output: String::from_utf8(output).unwrap() }
}

async fn check(target: &OwaTarget, lines: &str) -> Run {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let mut input = LineInput(Cursor::new(lines.as_bytes().to_vec()));
    let mut output = Vec::new();
    let exit = owa_check(target, &mut input, &mut output, clock).await;
    Run { exit, output: String::from_utf8(output).unwrap() }
}

#[tokio::test]
async fn owa_change_follows_the_letter_and_says_what_happened_in_french() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let dir = tempfile::tempdir().unwrap();
    let target = target(&sim, &dir, "fr-FR");

    let run = change(&target, &format!("{PROVISIONAL}\n{PERSONAL}\n{PERSONAL}\n")).await;
    assert_eq!(run.exit, OwaExit::Success, "{}", run.output);
    assert!(run.output.contains("clé REAL doit rester débranchée"), "{}", run.output);
    assert!(run.output.contains("changé et vérifié"), "{}", run.output);
    assert!(run.output.contains("rebranchez votre clé REAL"), "{}", run.output);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));
    for password in [PROVISIONAL, PERSONAL] {
        assert!(!run.output.contains(password), "no password is ever written out");
    }

    // The same again the same day: Exchange's minimum age refuses it, with its own exit code.
    let run = change(&target, &format!("{PERSONAL}\nAutre-Mot2passe!\nAutre-Mot2passe!\n")).await;
    assert_eq!(run.exit, OwaExit::RejectedByPolicy, "{}", run.output);
    assert!(run.output.contains("a refusé le nouveau mot de passe"), "{}", run.output);

    let run = change(&target, &format!("Pas-le-bon-1\n{PERSONAL}x\n{PERSONAL}x\n")).await;
    assert_eq!(run.exit, OwaExit::WrongCurrentPassword, "{}", run.output);
    assert_eq!(sim.changes().len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn owa_change_refuses_locally_before_contacting_the_server() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let dir = tempfile::tempdir().unwrap();
    let target = target(&sim, &dir, "fr-FR");
    let run = change(&target, &format!("{PROVISIONAL}\ncourt\ncourt\n")).await;
    assert_eq!(run.exit, OwaExit::RefusedLocally);
    assert!(run.output.contains("au moins 10 caractères"), "{}", run.output);
    let run = change(&target, &format!("{PROVISIONAL}\n{PERSONAL}\n{PERSONAL}?\n")).await;
    assert_eq!(run.exit, OwaExit::RefusedLocally);
    assert!(sim.requests().is_empty(), "nothing reached the server");
    sim.stop().await;
}

#[tokio::test]
async fn owa_check_reports_what_the_server_offers_and_changes_nothing() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let dir = tempfile::tempdir().unwrap();
    let run = check(&target(&sim, &dir, "fr-FR"), &format!("{PROVISIONAL}\n")).await;
    assert_eq!(run.exit, OwaExit::Success, "{}", run.output);
    for expected in [
        "Forms-based logon:      yes",
        "e-mail address (PrincipalName)",
        "Page language:          fr",
        "Exchange version hint:  15.1.2507",
        "Expired-password page:  yes",
        "the password must be changed",
    ] {
        assert!(run.output.contains(expected), "{expected} in\n{}", run.output);
    }
    assert!(sim.change_attempts().is_empty());
    assert_eq!(sim.password_of(USER).as_deref(), Some(PROVISIONAL));
    assert!(sim.must_change(USER));

    let run = check(&target(&sim, &dir, "en-US"), "wrong-password\n").await;
    assert_eq!(run.exit, OwaExit::WrongCurrentPassword, "{}", run.output);
    assert!(run.output.contains("ChangeExpiredPasswordEnabled"), "{}", run.output);
    sim.stop().await;
}

#[tokio::test]
async fn owa_check_on_a_password_that_works_reports_whether_the_page_answers_directly() {
    for direct in [true, false] {
        let sim =
            OwaSim::start(SimOptions { direct_change_enabled: direct, ..SimOptions::default() })
                .await;
        sim.add_account(USER, PROVISIONAL, false);
        let dir = tempfile::tempdir().unwrap();
        let run = check(&target(&sim, &dir, "en-US"), &format!("{PROVISIONAL}\n")).await;
        assert_eq!(run.exit, OwaExit::Success, "{}", run.output);
        assert!(run.output.contains("logged in"), "{}", run.output);
        assert!(run.output.contains("Page language:          en"), "{}", run.output);
        let page = if direct { "yes" } else { "no" };
        assert!(run.output.contains(&format!("Expired-password page:  {page}")), "{}", run.output);
        assert_eq!(sim.logoffs(), 1, "the session is closed");
        assert!(sim.change_attempts().is_empty());
        sim.stop().await;
    }
}

#[tokio::test]
async fn owa_capture_saves_both_pages_in_both_languages_without_a_credential() {
    let sim = OwaSim::start(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = target(&sim, &dir, "").server;
    let pages = dir.path().join("pages");
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let mut output = Vec::new();
    let exit = owa_capture(&server, &pages, &mut output, clock).await;
    let output = String::from_utf8(output).unwrap();
    assert_eq!(exit, OwaExit::Success, "{output}");
    for (file, marker) in [
        ("logon.fr-FR.html", "Adresse de courrier"),
        ("logon.en-US.html", "E-mail address"),
        ("expiredpassword.fr-FR.html", "Confirmer le nouveau mot de passe"),
        ("expiredpassword.en-US.html", "Confirm new password"),
    ] {
        let html = std::fs::read_to_string(pages.join(file)).unwrap();
        assert!(html.contains(marker), "{file}");
        assert!(output.contains(file), "{output}");
    }
    assert!(sim.requests().iter().all(|r| !r.carried_credentials && r.method == "GET"));
    assert!(sim.logins().is_empty());
    sim.stop().await;
}
