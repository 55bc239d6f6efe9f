//! The flow's transitions, without a window or a socket.

use sesame_base::password_rule::PasswordRule;
use sesame_base::rotation::Step;
use sesame_local::protocol::{
    Event, KeyStatus, PasswordKind, ProgressStep, Refusal, RotationStatus, ServiceError,
    StatusReport,
};

use super::*;

fn report(key: KeyStatus, steps: &[Step]) -> StatusReport {
    StatusReport {
        agent_version: "test".to_owned(),
        enrolled: true,
        key,
        rotations: steps
            .iter()
            .enumerate()
            .map(|(i, step)| RotationStatus {
                mailbox: format!("dupont{i}@1.mailnot.fr"),
                display_name: "Hélène Dupont".to_owned(),
                kind: PasswordKind::Provisional,
                step: *step,
                due: None,
                in_hand: false,
            })
            .collect(),
        last_report: None,
        reports_waiting: 0,
        next_page: None,
    }
}

fn need_passwords() -> Event {
    Event::NeedPasswords {
        kind: PasswordKind::Provisional,
        mailbox: "dupont0@1.mailnot.fr".to_owned(),
        display_name: String::new(),
        policy: PasswordRule::default().into(),
        office_name: String::new(),
        office_city: String::new(),
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

fn is_begin(commands: &[Command]) -> bool {
    matches!(commands, [Command::Begin { .. }])
}

#[test]
fn a_whole_change_moves_screen_by_screen() {
    let mut flow = Flow::new();
    assert!(matches!(flow.start()[..], [Command::Status]));
    flow.on_update(Update::Status(report(
        KeyStatus::Present { device: "k".into() },
        &[Step::Pending],
    )));
    assert!(matches!(flow.screen(), Screen::Why { .. }));
    flow.on_action(Action::Start);
    assert!(matches!(flow.screen(), Screen::Unplug { notice: None }));
    assert!(flow.wants_live_key());
    // The key is in: "Suivant" does nothing.
    assert!(!flow.can_go_on_without_key());
    assert!(flow.on_action(Action::KeyOut).is_empty());
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Pending])));
    assert!(flow.can_go_on_without_key());
    assert!(is_begin(&flow.on_action(Action::KeyOut)));
    flow.on_update(Update::Event(Event::Progress(ProgressStep::KeyAbsent)));
    flow.on_update(Update::Event(need_passwords()));
    assert!(matches!(flow.screen(), Screen::Passwords { notice: None, .. }));
    let sent = flow.on_action(Action::Passwords {
        old: secret("a"),
        new: secret("b"),
        confirm: secret("b"),
    });
    assert!(matches!(sent[..], [Command::Passwords { .. }]));
    flow.on_update(Update::Event(Event::Refused(Refusal::ProvisionalMismatch)));
    flow.on_update(Update::Event(need_passwords()));
    assert!(matches!(
        flow.screen(),
        Screen::Passwords { notice: Some(Refusal::ProvisionalMismatch), .. }
    ));
    flow.on_action(Action::Passwords { old: secret("a"), new: secret("b"), confirm: secret("b") });
    for step in [ProgressStep::PasswordsAccepted, ProgressStep::Changed, ProgressStep::Verified] {
        flow.on_update(Update::Event(Event::Progress(step)));
    }
    assert!(matches!(flow.screen(), Screen::Working { steps } if steps.len() == 3));
    flow.on_update(Update::Event(Event::Done { mailbox: "m".into(), key_in: false }));
    flow.on_update(Update::Closed);
    assert!(matches!(flow.screen(), Screen::Outlook { key_in: false, .. }));
    flow.on_action(Action::OutlookDone);
    assert_eq!(flow.screen(), &Screen::Replug);
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Verified])));
    assert_eq!(flow.screen(), &Screen::Replug);
    flow.on_update(Update::Status(report(KeyStatus::Present { device: "k".into() }, &[])));
    assert_eq!(flow.screen(), &Screen::Finished);
}

#[test]
fn an_unknown_key_needs_the_persons_word() {
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(
        KeyStatus::Unknown { reason: "r".into() },
        &[Step::Pending],
    )));
    flow.on_action(Action::Start);
    assert!(!flow.can_go_on_without_key());
    flow.on_action(Action::KeyConfirmed(true));
    assert!(is_begin(&flow.on_action(Action::KeyOut)));
    // The service asks: the window already has the answer.
    let sent = flow.on_update(Update::Event(Event::NeedKeyConfirmation { reason: "r".into() }));
    assert!(matches!(sent[..], [Command::ConfirmKey]));
}

#[test]
fn a_refusal_that_ends_the_session_says_what_to_do() {
    for refusal in [
        Refusal::CurrentPasswordRefused,
        Refusal::AccountLocked,
        Refusal::OwaUnreachable,
        Refusal::OwaUntrusted,
        Refusal::OwaUnexpected,
        Refusal::LogonNameMissing,
        Refusal::NeedsHuman,
        Refusal::LocalStorage,
        Refusal::Busy,
    ] {
        let mut flow = Flow::new();
        flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Pending])));
        flow.on_action(Action::Start);
        flow.on_action(Action::KeyOut);
        flow.on_update(Update::Event(need_passwords()));
        flow.on_action(Action::Passwords {
            old: secret("a"),
            new: secret("b"),
            confirm: secret("b"),
        });
        flow.on_update(Update::Event(Event::Refused(refusal.clone())));
        flow.on_update(Update::Closed);
        assert_eq!(flow.screen(), &Screen::Refused { refusal });
        let again = flow.on_action(Action::Again);
        assert!(matches!(again[..], [Command::Status]));
        assert_eq!(flow.screen(), &Screen::Loading);
    }
}

#[test]
fn the_key_plugged_mid_way_goes_back_to_the_key_screen() {
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Pending])));
    flow.on_action(Action::Start);
    flow.on_action(Action::KeyOut);
    flow.on_update(Update::Event(need_passwords()));
    flow.on_action(Action::Passwords { old: secret("a"), new: secret("b"), confirm: secret("b") });
    flow.on_update(Update::Event(Event::Refused(Refusal::KeyPluggedDuringChange)));
    flow.on_update(Update::Closed);
    assert_eq!(flow.screen(), &Screen::Unplug { notice: Some(Refusal::KeyPluggedDuringChange) });
    flow.on_update(Update::Status(report(KeyStatus::Present { device: "k".into() }, &[])));
    assert!(!flow.can_go_on_without_key());
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[])));
    assert!(is_begin(&flow.on_action(Action::KeyOut)));
}

#[test]
fn reopening_resumes_where_the_service_stands() {
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Completed, Step::Verified])));
    assert!(matches!(flow.screen(), Screen::Outlook { key_in: false, .. }));
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Changed])));
    assert!(matches!(flow.screen(), Screen::Why { rotation } if rotation.step == Step::Changed));
    flow.on_action(Action::Start);
    flow.on_action(Action::KeyOut);
    flow.on_update(Update::Event(Event::NeedNewPassword {
        mailbox: "m".into(),
        may_be_unchanged: false,
    }));
    assert!(matches!(flow.screen(), Screen::NewPassword { .. }));
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Completed])));
    assert_eq!(flow.screen(), &Screen::Idle { why: Refusal::NothingPending });
    let mut flow = Flow::new();
    flow.on_update(Update::Unreachable("no socket".into()));
    assert!(matches!(flow.screen(), Screen::Unreachable { .. }));
}

#[test]
fn several_mailboxes_are_chosen_on_the_same_session() {
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Pending, Step::Pending])));
    flow.on_action(Action::Start);
    flow.on_action(Action::KeyOut);
    flow.on_update(Update::Event(Event::ChooseMailbox(vec![])));
    assert!(matches!(flow.screen(), Screen::Choose { .. }));
    let sent = flow.on_action(Action::Choose("dupont1@1.mailnot.fr".into()));
    assert!(
        matches!(&sent[..], [Command::Begin { mailbox: Some(m) }] if m == "dupont1@1.mailnot.fr")
    );
}

#[test]
fn a_broken_session_is_said() {
    let mut flow = Flow::new();
    flow.on_update(Update::Status(report(KeyStatus::Absent, &[Step::Pending])));
    flow.on_action(Action::Start);
    flow.on_action(Action::KeyOut);
    flow.on_update(Update::Closed);
    assert!(matches!(flow.screen(), Screen::Broken { .. }));
    let mut flow = Flow::new();
    flow.on_update(Update::Event(Event::Error(ServiceError::TimedOut)));
    assert!(matches!(flow.screen(), Screen::Broken { .. }));
}
