//! The whole guided change in egui's headless harness (no display), against a fake service over
//! the real socket protocol: every screen, the refusals, the key plugged mid-way, the window
//! closed and reopened. Fields and buttons are found by their French names, as a screen reader
//! would (AccessKit).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)] // Reason: tests (the harness steps on this thread while the fake answers on its own).

#[path = "support/fake_service.rs"]
mod support;

use std::time::Duration;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sesame_base::calendar::FixedCalendar;
use sesame_base::password_rule::StrengthChecks;
use sesame_local::protocol::{KeyStatus, PasswordKind, Refusal};
use sesame_local::texts_fr;
use sesame_window::app::WindowApp;
use sesame_window::checklist;
use sesame_window::flow::Screen;
use sesame_window::texts;
use support::{FakeRotation, Running, start};

const MAILBOX: &str = "dupont.helene@12345.mailnot.fr";
const LETTER: &str = "Xq7!provisoire-16";
const NEW: &str = "Tr0ub4dor&3x";

fn open(fake: &Running) -> Harness<'static, WindowApp> {
    let app = WindowApp::new(
        fake.socket.clone(),
        Box::new(|| time::macros::datetime!(2026-12-01 09:00 UTC)),
        Box::new(FixedCalendar(time::UtcOffset::UTC)),
    )
    .unwrap();
    Harness::builder()
        .with_size([640.0, 900.0])
        .with_max_steps(8)
        .build_ui_state(|ui, app: &mut WindowApp| app.show(ui), app)
}

/// Steps the window until `reached` holds (the service answers on its own thread).
fn wait(
    h: &mut Harness<'static, WindowApp>,
    what: &str,
    reached: impl Fn(&Harness<'static, WindowApp>) -> bool,
) {
    for _ in 0..1000 {
        h.step();
        if reached(h) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the window never reached: {what} (screen: {:?})", h.state().flow().screen());
}

fn wait_text(h: &mut Harness<'static, WindowApp>, text: &str) {
    let text = text.to_owned();
    wait(h, &text.clone(), move |h| h.query_all_by_label_contains(&text).next().is_some());
}

fn click(h: &mut Harness<'static, WindowApp>, label: &str) {
    h.get_by_role_and_label(Role::Button, label).scroll_to_me();
    h.step();
    h.get_by_role_and_label(Role::Button, label).click();
    h.step();
}

fn is_enabled(h: &Harness<'static, WindowApp>, label: &str) -> bool {
    !h.get_by_role_and_label(Role::Button, label).accesskit_node().is_disabled()
}

fn type_in(h: &mut Harness<'static, WindowApp>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::PasswordInput, label).focus();
    h.step();
    h.get_by_role_and_label(Role::PasswordInput, label).type_text(text);
    h.step();
}

fn type_passwords(h: &mut Harness<'static, WindowApp>, kind: PasswordKind, old: &str, new: &str) {
    type_in(h, texts::old_password_label(kind), old);
    type_in(h, texts::new_password_label(), new);
    type_in(h, texts::confirm_password_label(), new);
}

/// Empties the three password fields (select all, delete).
fn clear_passwords(h: &mut Harness<'static, WindowApp>) {
    for label in [
        texts::old_password_label(PasswordKind::Provisional),
        texts::new_password_label(),
        texts::confirm_password_label(),
    ] {
        h.get_by_role_and_label(Role::PasswordInput, label).focus();
        h.step();
        h.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::A);
        h.key_press(eframe::egui::Key::Backspace);
        h.step();
    }
}

/// From the first screen to the passwords, the key already out.
fn to_passwords(h: &mut Harness<'static, WindowApp>) {
    wait_text(h, texts::START);
    click(h, texts::START);
    wait(h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    click(h, texts::NEXT);
    wait_text(h, texts::PASSWORDS_TITLE);
}

#[test]
fn a_letter_change_from_the_first_screen_to_the_last() {
    let fake = start(
        KeyStatus::Present { device: "clé".into() },
        vec![FakeRotation::provisional(MAILBOX, LETTER)],
    );
    let mut h = open(&fake);
    // Why, and the date it is due.
    wait_text(&mut h, "À faire avant le 15 décembre 2026 (dans 14 jours).");
    h.get_by_label_contains("mot de passe provisoire");
    click(&mut h, texts::START);
    // The key is in: "Suivant" is disabled until it is seen out.
    wait_text(&mut h, texts::UNPLUG_TITLE);
    wait_text(&mut h, "Votre clé REAL est encore branchée.");
    assert!(!is_enabled(&h, texts::NEXT));
    fake.unplug();
    wait(&mut h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    click(&mut h, texts::NEXT);
    wait_text(&mut h, texts::PASSWORDS_TITLE);
    // Every field has its French label; the passwords are hidden, then shown on demand.
    let new_field = h.get_by_role_and_label(Role::PasswordInput, texts::new_password_label());
    assert_eq!(new_field.accesskit_node().role(), Role::PasswordInput);
    // A weak password: the checklist says what is missing and "Valider" stays disabled.
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, "dupont");
    assert!(h.query_by_label("Non : au moins 10 caractères").is_some());
    assert!(h.query_by_label("Non : ni votre nom ni votre prénom").is_some());
    assert!(h.query_by_label("Oui : une minuscule").is_some());
    assert!(!is_enabled(&h, texts::SUBMIT));
    h.get_by_label(texts::SHOW_PASSWORDS).click();
    h.step();
    h.step();
    assert!(h.query_by_role_and_label(Role::TextInput, texts::new_password_label()).is_some());
    drop(h);
    // Closing the window loses nothing: reopened, it starts again from the service's state.
    let mut h = open(&fake);
    to_passwords(&mut h);
    // A typo in the letter's password: the service's words, on the same screen.
    type_passwords(&mut h, PasswordKind::Provisional, "Xq7!provisoire-17", NEW);
    assert!(is_enabled(&h, texts::SUBMIT));
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, &texts_fr::refusal(&Refusal::ProvisionalMismatch)[0]);
    // The fields were wiped when the screen was left.
    assert_eq!(
        h.get_by_role_and_label(Role::PasswordInput, texts::new_password_label()).value(),
        Some(String::new())
    );
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, NEW);
    click(&mut h, texts::SUBMIT);
    // Progress, then Outlook.
    wait_text(&mut h, texts::OUTLOOK_TITLE);
    assert!(
        h.query_by_label_contains(texts_fr::progress(
            sesame_local::protocol::ProgressStep::Verified
        ))
        .is_none()
    );
    assert_eq!(fake.state.lock().unwrap().changed, [MAILBOX]);
    drop(h);
    // Reopened after the change: the window goes straight to Outlook.
    let mut h = open(&fake);
    wait_text(&mut h, texts::OUTLOOK_TITLE);
    click(&mut h, texts::OUTLOOK_DONE);
    wait_text(&mut h, texts::REPLUG_TITLE);
    fake.plug();
    wait_text(&mut h, texts::FINISHED_TITLE);
}

#[test]
fn a_periodic_change_when_the_service_cannot_see_the_key() {
    let fake = start(
        KeyStatus::Unknown { reason: "pas d'USB".into() },
        vec![FakeRotation::periodic(MAILBOX)],
    );
    let mut h = open(&fake);
    wait_text(&mut h, "doit être changé régulièrement");
    click(&mut h, texts::START);
    wait_text(&mut h, texts::UNPLUG_TITLE);
    assert!(!is_enabled(&h, texts::NEXT));
    h.get_by_role_and_label(Role::CheckBox, texts::KEY_CONFIRM).click();
    h.step();
    h.step();
    assert!(is_enabled(&h, texts::NEXT));
    click(&mut h, texts::NEXT);
    wait_text(&mut h, texts::old_password_label(PasswordKind::Current));
    type_passwords(&mut h, PasswordKind::Current, "Ancien-Mot2passe", NEW);
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, texts::OUTLOOK_TITLE);
}

#[test]
fn every_refusal_of_the_mail_server_says_what_to_do() {
    for refusal in [
        Refusal::CurrentPasswordRefused,
        Refusal::AccountLocked,
        Refusal::OwaUnreachable,
        Refusal::OwaUntrusted,
        Refusal::OwaUnexpected,
        Refusal::LogonNameMissing,
        Refusal::NeedsHuman,
        Refusal::LocalStorage,
        Refusal::NewPasswordRefused,
    ] {
        let mut rotation = FakeRotation::provisional(MAILBOX, LETTER);
        rotation.owa = Some(refusal.clone());
        let fake = start(KeyStatus::Absent, vec![rotation]);
        let mut h = open(&fake);
        to_passwords(&mut h);
        type_passwords(&mut h, PasswordKind::Provisional, LETTER, NEW);
        click(&mut h, texts::SUBMIT);
        wait_text(&mut h, &texts_fr::refusal(&refusal)[0]);
        if refusal == Refusal::NewPasswordRefused {
            // Asked again on the same screen; the second try goes through.
            assert!(matches!(h.state().flow().screen(), Screen::Passwords { .. }));
            type_passwords(&mut h, PasswordKind::Provisional, LETTER, "Ancre-Tulipe-Violon-27");
            click(&mut h, texts::SUBMIT);
            wait_text(&mut h, texts::OUTLOOK_TITLE);
        } else {
            assert!(matches!(h.state().flow().screen(), Screen::Refused { .. }));
            click(&mut h, texts::AGAIN);
            wait_text(&mut h, texts::START);
        }
    }
}

#[test]
fn the_key_plugged_mid_way_sends_the_person_back_to_the_key() {
    let fake = start(KeyStatus::Absent, vec![FakeRotation::provisional(MAILBOX, LETTER)]);
    let mut h = open(&fake);
    to_passwords(&mut h);
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, NEW);
    fake.plug();
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, &texts_fr::refusal(&Refusal::KeyPluggedDuringChange)[0]);
    wait_text(&mut h, "Votre clé REAL est encore branchée.");
    assert!(!is_enabled(&h, texts::NEXT));
    fake.unplug();
    wait(&mut h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    click(&mut h, texts::NEXT);
    wait_text(&mut h, texts::PASSWORDS_TITLE);
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, NEW);
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, texts::OUTLOOK_TITLE);
}

#[test]
fn several_mailboxes_nothing_to_do_and_no_service() {
    let fake = start(
        KeyStatus::Absent,
        vec![
            FakeRotation::provisional(MAILBOX, LETTER),
            FakeRotation::periodic("martin.paul@12345.mailnot.fr"),
        ],
    );
    let mut h = open(&fake);
    wait_text(&mut h, texts::START);
    click(&mut h, texts::START);
    wait(&mut h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    click(&mut h, texts::NEXT);
    wait_text(&mut h, texts::CHOOSE_TITLE);
    h.get_by_label_contains("martin.paul@").click();
    h.step();
    wait_text(&mut h, texts::old_password_label(PasswordKind::Current));

    let idle = start(KeyStatus::Absent, vec![]);
    let mut h = open(&idle);
    wait_text(&mut h, &texts_fr::refusal(&Refusal::NothingPending)[0]);

    let gone = std::env::temp_dir().join("sesame-window-test-no-such.sock");
    let app = WindowApp::new(
        gone,
        Box::new(|| time::macros::datetime!(2026-12-01 09:00 UTC)),
        Box::new(FixedCalendar(time::UtcOffset::UTC)),
    )
    .unwrap();
    let mut h = Harness::builder()
        .with_max_steps(8)
        .build_ui_state(|ui, app: &mut WindowApp| app.show(ui), app);
    wait_text(&mut h, texts::UNREACHABLE_TITLE);
}

#[test]
fn every_input_has_a_french_label() {
    let fake = start(KeyStatus::Absent, vec![FakeRotation::provisional(MAILBOX, LETTER)]);
    let mut h = open(&fake);
    to_passwords(&mut h);
    for role in [Role::PasswordInput, Role::TextInput, Role::CheckBox, Role::Button] {
        for node in h.query_all_by_role(role) {
            let label = node.accesskit_node().label().unwrap_or_default();
            assert!(!label.trim().is_empty(), "an input without a label: {role:?}");
        }
    }
    for label in [
        texts::old_password_label(PasswordKind::Provisional),
        texts::new_password_label(),
        texts::confirm_password_label(),
    ] {
        h.get_by_role_and_label(Role::PasswordInput, label);
    }
    h.get_by_role_and_label(Role::CheckBox, texts::SHOW_PASSWORDS);
}

/// The labels of the checklist's lines not met.
fn unmet_lines(h: &Harness<'static, WindowApp>) -> Vec<String> {
    // A label's text is its node's value in AccessKit.
    h.query_all_by_label_contains("Non :")
        .filter_map(|node| {
            let node = node.accesskit_node();
            node.label().or_else(|| node.value())
        })
        .collect()
}

#[test]
fn weak_passwords_are_refused_in_the_checklist_and_never_sent() {
    let fake = start(KeyStatus::Absent, vec![FakeRotation::provisional(MAILBOX, LETTER)]);
    let mut h = open(&fake);
    to_passwords(&mut h);
    for (weak, line) in [
        ("Notaire2026!", checklist::OFFICE_LINE),
        ("Dupont.Helene1", "ni votre nom ni votre prénom"),
        ("Azerty123!", checklist::COMMON_LINE),
        ("Motdepasse1!", checklist::COMMON_LINE),
    ] {
        type_passwords(&mut h, PasswordKind::Provisional, LETTER, weak);
        let unmet = unmet_lines(&h);
        assert!(unmet.iter().any(|l| l.contains(line)), "{weak}: {unmet:?}");
        assert!(!is_enabled(&h, texts::SUBMIT), "{weak}");
        if line == checklist::COMMON_LINE {
            assert!(unmet.iter().any(|l| l.contains("Tulipe-Ancre-Violon-72")), "{unmet:?}");
        }
        clear_passwords(&mut h);
    }
    assert_eq!(fake.received(), 0);
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, NEW);
    assert!(is_enabled(&h, texts::SUBMIT), "{:?}", unmet_lines(&h));
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, texts::OUTLOOK_TITLE);
    assert_eq!(fake.received(), 1);
}

#[test]
fn the_policy_switches_the_strength_lines_off() {
    let fake = start(KeyStatus::Absent, vec![FakeRotation::provisional(MAILBOX, LETTER)]);
    fake.set_checks(StrengthChecks {
        personal_words: false,
        common_passwords: false,
        min_score: 0,
    });
    let mut h = open(&fake);
    to_passwords(&mut h);
    type_passwords(&mut h, PasswordKind::Provisional, LETTER, "Notaire2026!");
    assert!(h.query_all_by_label_contains(checklist::COMMON_LINE).next().is_none());
    assert!(is_enabled(&h, texts::SUBMIT), "{:?}", unmet_lines(&h));
    click(&mut h, texts::SUBMIT);
    wait_text(&mut h, texts::OUTLOOK_TITLE);
}
