//! Every step fits the window: for each screen of the flow (the fake service driven to it), at
//! the default size (640×600 points) and at 150 % scaling, every widget (the title, each field,
//! each checklist line, the main button…) lies inside the window and nothing needs scrolling.
//! And the window follows the desktop's light or dark preference, light when it says nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)] // Reason: tests (the harness steps on this thread while the fake answers on its own).

#[path = "support/fake_service.rs"]
mod support;

use std::time::Duration;

use eframe::egui::accesskit::Role;
use eframe::egui::{self, Theme};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use sesame_base::calendar::FixedCalendar;
use sesame_base::rotation::Step;
use sesame_local::protocol::{KeyStatus, PasswordKind, Refusal};
use sesame_local::texts_fr;
use sesame_window::app::WindowApp;
use sesame_window::{texts, view};
use support::{FakeRotation, Running, start};

const MAILBOX: &str = "dupont.helene@12345.mailnot.fr";
const LETTER: &str = "Xq7!provisoire-16";
const NEW: &str = "Tr0ub4dor&3x";
/// The window's default size, in points (`main`).
const SIZE: [f32; 2] = [640.0, 600.0];

type H = Harness<'static, WindowApp>;

fn open(fake: &Running, pixels_per_point: f32) -> H {
    let app = WindowApp::new(
        fake.socket.clone(),
        Box::new(|| time::macros::datetime!(2026-12-01 09:00 UTC)),
        Box::new(FixedCalendar(time::UtcOffset::UTC)),
    )
    .unwrap();
    Harness::builder()
        .with_size(SIZE)
        .with_pixels_per_point(pixels_per_point)
        .with_max_steps(8)
        .build_ui_state(|ui, app: &mut WindowApp| app.show(ui), app)
}

fn wait(h: &mut H, what: &str, reached: impl Fn(&H) -> bool) {
    for _ in 0..1000 {
        h.step();
        if reached(h) {
            // One more frame, laid out with everything the screen now holds.
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the window never reached: {what} (screen: {:?})", h.state().flow().screen());
}

fn wait_text(h: &mut H, text: &str) {
    let text = text.to_owned();
    wait(h, &text.clone(), move |h| h.query_all_by_label_contains(&text).next().is_some());
}

fn click(h: &mut H, label: &str) {
    h.get_by_role_and_label(Role::Button, label).click();
    h.step();
}

fn enabled(h: &H, label: &str) -> bool {
    h.query_by_role_and_label(Role::Button, label)
        .is_some_and(|node| !node.accesskit_node().is_disabled())
}

fn type_in(h: &mut H, label: &str, text: &str) {
    h.get_by_role_and_label(Role::PasswordInput, label).focus();
    h.step();
    h.get_by_role_and_label(Role::PasswordInput, label).type_text(text);
    h.step();
}

fn type_passwords(h: &mut H, old: &str, new: &str) {
    type_in(h, texts::old_password_label(PasswordKind::Provisional), old);
    type_in(h, texts::new_password_label(), new);
    type_in(h, texts::confirm_password_label(), new);
}

fn start_change(h: &mut H) {
    wait_text(h, texts::START);
    click(h, texts::START);
    wait_text(h, texts::UNPLUG_TITLE);
}

fn to_passwords(h: &mut H) {
    start_change(h);
    wait(h, "the key seen out", |h| enabled(h, texts::NEXT));
    click(h, texts::NEXT);
    wait_text(h, texts::PASSWORDS_TITLE);
}

fn to_outlook(h: &mut H) {
    to_passwords(h);
    type_passwords(h, LETTER, NEW);
    click(h, texts::SUBMIT);
    wait_text(h, texts::OUTLOOK_TITLE);
}

/// One screen of the flow: how the fake starts, how the window is driven there, what it must show.
struct Case {
    name: &'static str,
    key: KeyStatus,
    rotations: fn() -> Vec<FakeRotation>,
    reach: fn(&mut H, &Running),
    /// The screen's `Screen::name`.
    screen: &'static str,
    /// Labels that must be on screen (besides every widget being inside the window).
    shows: &'static [&'static str],
}

fn letter() -> Vec<FakeRotation> {
    vec![FakeRotation::provisional(MAILBOX, LETTER)]
}

fn refused_by_owa() -> Vec<FakeRotation> {
    let mut rotation = FakeRotation::provisional(MAILBOX, LETTER);
    rotation.owa = Some(Refusal::CurrentPasswordRefused);
    vec![rotation]
}

fn new_password_refused() -> Vec<FakeRotation> {
    let mut rotation = FakeRotation::provisional(MAILBOX, LETTER);
    rotation.owa = Some(Refusal::NewPasswordRefused);
    vec![rotation]
}

fn interrupted() -> Vec<FakeRotation> {
    let mut rotation = FakeRotation::provisional(MAILBOX, LETTER);
    rotation.step = Step::Changed;
    vec![rotation]
}

fn two_mailboxes() -> Vec<FakeRotation> {
    vec![
        FakeRotation::provisional(MAILBOX, LETTER),
        FakeRotation::periodic("martin.paul@12345.mailnot.fr"),
    ]
}

const PASSWORD_FIELDS: &[&str] = &[
    "Mot de passe provisoire (indiqué sur le courrier)",
    "Nouveau mot de passe personnel",
    "Confirmez le nouveau mot de passe personnel",
    texts::SHOW_PASSWORDS,
    texts::CHECKLIST_TITLE,
    texts::SUBMIT,
];

fn present() -> KeyStatus {
    KeyStatus::Present { device: "clé REAL (test)".into() }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "why",
            key: present(),
            rotations: letter,
            reach: |h, _| wait_text(h, texts::START),
            screen: "Why",
            shows: &[texts::WINDOW_TITLE, texts::START, "Étape 1 sur 6"],
        },
        Case {
            name: "choose",
            key: KeyStatus::Absent,
            rotations: two_mailboxes,
            reach: |h, _| {
                start_change(h);
                wait(h, "the key seen out", |h| enabled(h, texts::NEXT));
                click(h, texts::NEXT);
                wait_text(h, texts::CHOOSE_TITLE);
            },
            screen: "Choose",
            shows: &[texts::CHOOSE_TITLE, "martin.paul@", "dupont.helene@"],
        },
        Case {
            name: "unplug, key in",
            key: present(),
            rotations: letter,
            reach: |h, _| {
                start_change(h);
                wait_text(h, "Votre clé REAL est encore branchée.");
            },
            screen: "Unplug",
            shows: &[texts::UNPLUG_TITLE, texts::NEXT, "Étape 2 sur 6"],
        },
        Case {
            name: "unplug, key out",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, _| {
                start_change(h);
                wait(h, "the key seen out", |h| enabled(h, texts::NEXT));
            },
            screen: "Unplug",
            shows: &[texts::UNPLUG_TITLE, texts::NEXT, "Votre clé REAL est retirée"],
        },
        Case {
            name: "unplug, key not seen",
            key: KeyStatus::Unknown { reason: "pas d'USB".into() },
            rotations: letter,
            reach: |h, _| {
                start_change(h);
                wait_text(h, texts::KEY_CONFIRM);
            },
            screen: "Unplug",
            shows: &[texts::UNPLUG_TITLE, texts::KEY_CONFIRM, texts::NEXT],
        },
        Case {
            name: "unplug, key plugged during the change",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, fake| {
                to_passwords(h);
                type_passwords(h, LETTER, NEW);
                fake.plug();
                click(h, texts::SUBMIT);
                wait_text(h, "La clé REAL a été branchée pendant le changement");
                wait_text(h, "Votre clé REAL est encore branchée.");
            },
            screen: "Unplug",
            shows: &[texts::UNPLUG_TITLE, texts::NEXT, "La clé REAL a été branchée"],
        },
        Case {
            name: "passwords",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, _| to_passwords(h),
            screen: "Passwords",
            shows: PASSWORD_FIELDS,
        },
        Case {
            name: "passwords, a typo in the letter's password",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, _| {
                to_passwords(h);
                type_passwords(h, "Xq7!provisoire-17", NEW);
                click(h, texts::SUBMIT);
                wait_text(h, "ne correspond pas à celui de la lettre");
            },
            screen: "Passwords",
            shows: PASSWORD_FIELDS,
        },
        Case {
            name: "passwords, the new one refused by the mail server",
            key: KeyStatus::Absent,
            rotations: new_password_refused,
            reach: |h, _| {
                to_passwords(h);
                type_passwords(h, LETTER, NEW);
                click(h, texts::SUBMIT);
                wait_text(h, "La messagerie a refusé le nouveau mot de passe");
            },
            screen: "Passwords",
            shows: PASSWORD_FIELDS,
        },
        Case {
            name: "new password again",
            key: KeyStatus::Absent,
            rotations: interrupted,
            reach: |h, _| {
                start_change(h);
                wait(h, "the key seen out", |h| enabled(h, texts::NEXT));
                click(h, texts::NEXT);
                wait_text(h, texts::NEW_PASSWORD_TITLE);
            },
            screen: "NewPassword",
            shows: &[texts::NEW_PASSWORD_TITLE, "Nouveau mot de passe personnel", texts::SUBMIT],
        },
        Case {
            name: "working",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, fake| {
                to_passwords(h);
                type_passwords(h, LETTER, NEW);
                fake.hold(true);
                click(h, texts::SUBMIT);
                wait_text(h, texts_fr::progress(sesame_local::protocol::ProgressStep::Connecting));
            },
            screen: "Working",
            shows: &[texts::WORKING_TITLE, "Étape 4 sur 6"],
        },
        Case {
            name: "refused",
            key: KeyStatus::Absent,
            rotations: refused_by_owa,
            reach: |h, _| {
                to_passwords(h);
                type_passwords(h, LETTER, NEW);
                click(h, texts::SUBMIT);
                wait_text(h, texts::REFUSED_TITLE);
            },
            screen: "Refused",
            shows: &[texts::REFUSED_TITLE, texts::AGAIN, texts::CLOSE],
        },
        Case {
            name: "outlook",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, _| to_outlook(h),
            screen: "Outlook",
            shows: &[texts::OUTLOOK_TITLE, texts::OUTLOOK_DONE, "Étape 5 sur 6"],
        },
        Case {
            name: "replug",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, _| {
                to_outlook(h);
                click(h, texts::OUTLOOK_DONE);
                wait_text(h, texts::REPLUG_TITLE);
            },
            screen: "Replug",
            shows: &[texts::REPLUG_TITLE, "Étape 6 sur 6"],
        },
        Case {
            name: "finished",
            key: KeyStatus::Absent,
            rotations: letter,
            reach: |h, fake| {
                to_outlook(h);
                click(h, texts::OUTLOOK_DONE);
                wait_text(h, texts::REPLUG_TITLE);
                fake.plug();
                wait_text(h, texts::FINISHED_TITLE);
            },
            screen: "Finished",
            shows: &[texts::FINISHED_TITLE, texts::CLOSE],
        },
    ]
}

/// Every widget of the screen inside the window, nothing to scroll; returns the points to spare.
fn assert_fits(h: &H, case: &str, pixels_per_point: f32) -> f32 {
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::Vec2::from(SIZE));
    let mut widgets = 0;
    for node in h.query_all(by()) {
        // Bounds in physical pixels; nodes without bounds (the tree's root) are skipped.
        let Some(bounds) = node.accesskit_node().bounding_box() else { continue };
        let rect = egui::Rect::from_min_max(
            egui::pos2(bounds.x0 as f32, bounds.y0 as f32),
            egui::pos2(bounds.x1 as f32, bounds.y1 as f32),
        ) / pixels_per_point;
        if rect.area() <= 0.0 {
            continue;
        }
        widgets += 1;
        assert!(
            window.expand(0.5).contains_rect(rect),
            "{case}: {:?} {:?} lies at {rect:?}, outside the {window:?} window",
            node.accesskit_node().role(),
            node.accesskit_node().label(),
        );
    }
    assert!(widgets > 3, "{case}: only {widgets} widgets");
    let overflow = view::overflow(&h.ctx);
    assert!(overflow <= 0.0, "{case}: the step needs {overflow} more points (scrolling)");
    -overflow
}

#[test]
fn every_step_fits_the_window_at_100_and_150_percent() {
    let mut report = Vec::new();
    for pixels_per_point in [1.0, 1.5] {
        for case in cases() {
            let fake = start(case.key.clone(), (case.rotations)());
            let mut h = open(&fake, pixels_per_point);
            (case.reach)(&mut h, &fake);
            let what = format!("{} at {}×", case.name, pixels_per_point);
            assert_eq!(h.state().flow().screen().name(), case.screen, "{what}");
            for label in case.shows {
                assert!(
                    h.query_all_by_label_contains(label).next().is_some(),
                    "{what}: {label:?} is not shown"
                );
            }
            if case.screen == "Passwords" {
                let lines = h.query_all_by_label_contains("Non : ").count()
                    + h.query_all_by_label_contains("Oui : ").count();
                assert_eq!(
                    lines, 12,
                    "{what}: the checklist's lines (the rule's and the strength's)"
                );
            }
            let spare = assert_fits(&h, &what, pixels_per_point);
            report.push(format!("{what}: {spare:.0} points to spare"));
            fake.hold(false);
        }
    }
    eprintln!("{}", report.join("\n"));
}

fn themed(desktop: Option<Theme>, system: Option<Theme>) -> Theme {
    let gone = std::env::temp_dir().join("sesame-window-test-layout-no-such.sock");
    let app = WindowApp::new(
        gone,
        Box::new(|| time::macros::datetime!(2026-12-01 09:00 UTC)),
        Box::new(FixedCalendar(time::UtcOffset::UTC)),
    )
    .unwrap()
    .with_desktop_theme(desktop);
    let mut h = Harness::builder()
        .with_size(SIZE)
        .with_max_steps(8)
        .build_ui_state(|ui, app: &mut WindowApp| app.show(ui), app);
    h.input_mut().system_theme = system;
    h.step();
    h.step();
    let theme = h.ctx.theme();
    assert_eq!(h.ctx.global_style().visuals.dark_mode, theme == Theme::Dark);
    theme
}

#[test]
fn the_theme_follows_the_desktop_and_is_light_when_it_says_nothing() {
    assert_eq!(themed(None, None), Theme::Light);
    assert_eq!(themed(None, Some(Theme::Dark)), Theme::Dark);
    assert_eq!(themed(Some(Theme::Dark), None), Theme::Dark);
    assert_eq!(themed(Some(Theme::Dark), Some(Theme::Light)), Theme::Light);
}
