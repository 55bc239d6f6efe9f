//! When the reminder shows, with a fake notifier and an in-memory store.

use std::cell::RefCell;

use sesame_agent::local::protocol::{KeyStatus, PasswordKind, RotationStatus};
use time::macros::{date, datetime};

use super::*;

fn report(rotations: &[(StepStatus, Option<OffsetDateTime>)]) -> StatusReport {
    StatusReport {
        agent_version: "t".to_owned(),
        enrolled: true,
        key: KeyStatus::Absent,
        rotations: rotations
            .iter()
            .enumerate()
            .map(|(i, (step, due))| RotationStatus {
                mailbox: format!("m{i}@1.mailnot.fr"),
                display_name: String::new(),
                kind: PasswordKind::Current,
                step: *step,
                due: *due,
            })
            .collect(),
        last_report: None,
        reports_waiting: 0,
    }
}

#[derive(Default)]
struct Memory(Option<Date>);

impl ReminderStore for Memory {
    fn last_shown(&self) -> Option<Date> {
        self.0
    }
    fn shown(&mut self, day: Date) {
        self.0 = Some(day);
    }
}

#[derive(Default)]
struct Shown(RefCell<Vec<String>>);

impl Notifier for Shown {
    fn notify(&self, reminder: &Reminder, _open: Box<dyn FnOnce() + Send>) -> Result<(), String> {
        self.0.borrow_mut().push(reminder.body());
        Ok(())
    }
}

#[test]
fn at_most_once_a_day_naming_the_days_left() {
    let pending = report(&[(StepStatus::Pending, Some(datetime!(2026-12-04 00:00 UTC)))]);
    let mut store = Memory::default();
    let shown = Shown::default();
    let morning = datetime!(2026-12-01 09:00 UTC);
    assert!(check(&pending, morning, &mut store, &shown, Box::new(|| {})));
    assert!(!check(&pending, datetime!(2026-12-01 17:00 UTC), &mut store, &shown, Box::new(|| {})));
    assert!(check(&pending, datetime!(2026-12-02 09:00 UTC), &mut store, &shown, Box::new(|| {})));
    let shown = shown.0.into_inner();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].contains("m0@1.mailnot.fr") && shown[0].contains("dans 3 jours"),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("dans 2 jours"), "{}", shown[1]);
}

#[test]
fn none_while_a_change_is_in_progress_or_nothing_waits() {
    let today = date!(2026 - 12 - 01);
    let busy = report(&[(StepStatus::Pending, None), (StepStatus::Changed, None)]);
    assert_eq!(decide(&busy, today, None), None);
    let done = report(&[(StepStatus::Completed, None), (StepStatus::Verified, None)]);
    assert_eq!(decide(&done, today, None), None);
    let late = report(&[
        (StepStatus::Pending, Some(datetime!(2026-12-20 00:00 UTC))),
        (StepStatus::Failed(FailureStatus::OwaUnreachable), Some(datetime!(2026-11-29 00:00 UTC))),
    ]);
    let reminder = decide(&late, today, Some(date!(2026 - 11 - 30))).unwrap();
    assert_eq!(reminder, Reminder { mailbox: "m1@1.mailnot.fr".to_owned(), days_left: Some(-2) });
    assert!(reminder.body().contains("en retard depuis 2 jours"));
}

#[test]
fn the_day_is_kept_in_a_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store = FileStore::new(dir.path().join("sesame/last-reminder"));
    assert_eq!(store.last_shown(), None);
    store.shown(date!(2026 - 12 - 01));
    assert_eq!(
        FileStore::new(dir.path().join("sesame/last-reminder")).last_shown(),
        Some(date!(2026 - 12 - 01))
    );
}
