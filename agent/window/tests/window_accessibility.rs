//! What a screen reader gets from the window, read from the AccessKit tree in egui's headless
//! harness against the fake service: the window's name, each screen's title as a heading, the
//! spinners' names, the announcer (a live region) saying each step and each refusal, and the
//! keyboard focus on the main field or button of every screen entered. The same is checked on
//! the real window over AT-SPI by `tests/src/e2e/window_screen_reader.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)] // Reason: tests (the harness steps on this thread while the fake answers on its own).

#[path = "support/fake_service.rs"]
mod support;

use std::time::Duration;

use eframe::egui::accesskit::{Live, Role};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use sesame_base::calendar::FixedCalendar;
use sesame_local::protocol::{Event, KeyStatus, PasswordKind, ProgressStep, Refusal};
use sesame_local::texts_fr;
use sesame_window::app::WindowApp;
use sesame_window::flow::{Flow, Update};
use sesame_window::{accessibility, texts, view};
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

fn wait<S>(
    h: &mut Harness<'static, S>,
    what: &str,
    reached: impl Fn(&Harness<'static, S>) -> bool,
) {
    for _ in 0..1000 {
        h.step();
        if reached(h) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the window never reached: {what}");
}

/// Waits for the screen whose title (a heading) is `title`, and one more frame (the focus
/// settles on the screen's first frame and shows in the tree of the next).
fn wait_heading<S>(h: &mut Harness<'static, S>, title: &str) {
    let title = title.to_owned();
    wait(h, &title.clone(), move |h| h.query_by_role_and_label(Role::Heading, &title).is_some());
    h.step();
}

/// The announcer's words and urgency.
fn announced<S>(h: &Harness<'static, S>) -> (String, Live) {
    let node = h.get_by_role(Role::Status);
    let node = node.accesskit_node();
    (node.label().unwrap_or_default(), node.live())
}

/// The focused widget's role and name.
fn focused<S>(h: &Harness<'static, S>) -> (Role, String) {
    let node = h.get_by(|node| node.is_focused());
    let node = node.accesskit_node();
    (node.role(), node.label().unwrap_or_default())
}

fn press<S>(h: &mut Harness<'static, S>, key: eframe::egui::Key) {
    h.key_press(key);
    h.step();
    h.step();
}

fn type_text<S>(h: &mut Harness<'static, S>, text: &str) {
    h.event(eframe::egui::Event::Text(text.to_owned()));
    h.step();
}

fn is_enabled<S>(h: &Harness<'static, S>, label: &str) -> bool {
    !h.get_by_role_and_label(Role::Button, label).accesskit_node().is_disabled()
}

#[test]
fn the_letters_change_from_the_keyboard_alone_as_a_screen_reader_hears_it() {
    let fake = start(
        KeyStatus::Present { device: "clé".into() },
        vec![FakeRotation::provisional(MAILBOX, LETTER)],
    );
    let mut h = open(&fake);
    wait_heading(&mut h, texts::WINDOW_TITLE);
    // The window is named after its title; the title is a heading of level 1.
    assert_eq!(h.root().accesskit_node().label().as_deref(), Some(texts::WINDOW_TITLE));
    let heading = h.get_by_role_and_label(Role::Heading, texts::WINDOW_TITLE);
    assert_eq!(heading.accesskit_node().level(), Some(1));
    assert_eq!(focused(&h), (Role::Button, texts::START.to_owned()));
    assert_eq!(announced(&h), (texts::WINDOW_TITLE.to_owned() + ".", Live::Polite));
    press(&mut h, eframe::egui::Key::Enter);

    // The key is in: nothing to press yet, the focus is on the screen's title.
    wait_heading(&mut h, texts::UNPLUG_TITLE);
    assert_eq!(focused(&h), (Role::Heading, texts::UNPLUG_TITLE.to_owned()));
    // It stays there while the key is awaited (the window asks the service now and then).
    for _ in 0..100 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(focused(&h), (Role::Heading, texts::UNPLUG_TITLE.to_owned()));
    assert!(announced(&h).0.contains("Votre clé REAL est encore branchée."), "{:?}", announced(&h));
    fake.unplug();
    wait(&mut h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    h.step();
    // Seen out: the news is said, and "Suivant" takes the focus.
    assert!(announced(&h).0.contains("Votre clé REAL est retirée."), "{:?}", announced(&h));
    assert_eq!(focused(&h), (Role::Button, texts::NEXT.to_owned()));
    press(&mut h, eframe::egui::Key::Enter);

    // The passwords: the focus is in the first field; Tab goes from field to field.
    wait_heading(&mut h, texts::PASSWORDS_TITLE);
    let old_label = texts::old_password_label(PasswordKind::Provisional);
    assert_eq!(focused(&h), (Role::PasswordInput, old_label.to_owned()));
    let title = h.get_by_role_and_label(Role::Heading, texts::PASSWORDS_TITLE);
    assert_eq!(title.accesskit_node().level(), Some(1));
    let checklist = h.get_by_role_and_label(Role::Heading, texts::CHECKLIST_TITLE);
    assert_eq!(checklist.accesskit_node().level(), Some(2));
    type_text(&mut h, "Xq7!provisoire-17");
    press(&mut h, eframe::egui::Key::Tab);
    assert_eq!(focused(&h).1, texts::new_password_label());
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Tab);
    assert_eq!(focused(&h).1, texts::confirm_password_label());
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Enter);

    // A typo in the letter's password: the refusal is announced at once, the focus is back in
    // the first field.
    let refusal = texts_fr::refusal(&Refusal::ProvisionalMismatch)[0].clone();
    let wanted = refusal.clone();
    wait(&mut h, "the refusal announced", move |h| announced(h).0.starts_with(&wanted));
    h.step();
    assert_eq!(announced(&h).1, Live::Assertive);
    assert_eq!(focused(&h), (Role::PasswordInput, old_label.to_owned()));
    type_text(&mut h, LETTER);
    press(&mut h, eframe::egui::Key::Tab);
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Tab);
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Enter);

    // Outlook: its button has the focus; Enter, then the key back in.
    wait_heading(&mut h, texts::OUTLOOK_TITLE);
    assert_eq!(focused(&h), (Role::Button, texts::OUTLOOK_DONE.to_owned()));
    assert!(announced(&h).0.contains("a été changé et vérifié"), "{:?}", announced(&h));
    press(&mut h, eframe::egui::Key::Enter);
    wait_heading(&mut h, texts::REPLUG_TITLE);
    assert_eq!(focused(&h), (Role::Heading, texts::REPLUG_TITLE.to_owned()));
    h.get_by_role_and_label(Role::ProgressIndicator, texts::WAITING_FOR_KEY);
    fake.plug();
    wait_heading(&mut h, texts::FINISHED_TITLE);
    assert_eq!(focused(&h), (Role::Button, texts::CLOSE.to_owned()));
    assert!(announced(&h).0.starts_with(texts::FINISHED_TITLE), "{:?}", announced(&h));
}

#[test]
fn a_refusal_that_ends_the_change_is_announced_and_focuses_recommencer() {
    let mut rotation = FakeRotation::provisional(MAILBOX, LETTER);
    rotation.owa = Some(Refusal::AccountLocked);
    let fake = start(KeyStatus::Absent, vec![rotation]);
    let mut h = open(&fake);
    wait_heading(&mut h, texts::WINDOW_TITLE);
    press(&mut h, eframe::egui::Key::Enter);
    wait(&mut h, "the key seen out", |h| is_enabled(h, texts::NEXT));
    h.step();
    press(&mut h, eframe::egui::Key::Enter);
    wait_heading(&mut h, texts::PASSWORDS_TITLE);
    type_text(&mut h, LETTER);
    press(&mut h, eframe::egui::Key::Tab);
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Tab);
    type_text(&mut h, NEW);
    press(&mut h, eframe::egui::Key::Enter);
    wait_heading(&mut h, texts::REFUSED_TITLE);
    let (text, live) = announced(&h);
    assert_eq!(live, Live::Assertive);
    assert!(text.contains(&texts_fr::refusal(&Refusal::AccountLocked)[0]), "{text}");
    assert_eq!(focused(&h), (Role::Button, texts::AGAIN.to_owned()));
}

/// The service's steps, each said by the announcer, under a named spinner; the focus on the
/// title while the service works.
#[test]
fn each_step_of_the_change_is_announced() {
    let mut flow = Flow::new();
    flow.on_update(Update::Event(Event::Progress(ProgressStep::Connecting)));
    let mut fields = view::Fields::default();
    let mut entered = true;
    let mut h = Harness::builder().with_size([640.0, 600.0]).build_ui_state(
        move |ui, flow: &mut Flow| {
            accessibility::begin_frame(ui.ctx(), flow, entered);
            let now = time::macros::datetime!(2026-12-01 09:00 UTC);
            let calendar = FixedCalendar(time::UtcOffset::UTC);
            view::screen(ui, flow, &mut fields, now, &calendar, entered);
            accessibility::settle_focus(ui.ctx(), entered);
            entered = false;
        },
        flow,
    );
    h.step();
    h.step();
    h.get_by_role_and_label(Role::ProgressIndicator, texts::WORKING_SPINNER);
    assert_eq!(focused(&h), (Role::Heading, texts::WORKING_TITLE.to_owned()));
    let first = announced(&h);
    assert!(first.0.contains(texts_fr::progress(ProgressStep::Connecting)), "{first:?}");
    assert_eq!(first.1, Live::Polite);
    h.state_mut().on_update(Update::Event(Event::Progress(ProgressStep::Changing)));
    h.step();
    let second = announced(&h);
    assert!(second.0.contains(texts_fr::progress(ProgressStep::Changing)), "{second:?}");
}

#[test]
fn every_screen_of_the_flow_has_news() {
    let fake = start(KeyStatus::Absent, vec![]);
    let mut h = open(&fake);
    let nothing = texts_fr::refusal(&Refusal::NothingPending)[0].clone();
    let wanted = nothing.clone();
    wait(&mut h, "nothing to do", move |h| announced(h).0.contains(&wanted));
    h.step();
    assert_eq!(
        h.get_by_role(Role::Heading).accesskit_node().label().as_deref(),
        Some(texts::NOTHING_TITLE)
    );
    assert_eq!(focused(&h), (Role::Heading, texts::NOTHING_TITLE.to_owned()));
}
