//! When the reminder shows, with a fake notifier and an in-memory store.

use std::cell::RefCell;

use sesame_base::rotation::{FailureReason, Step};
use sesame_local::protocol::{KeyStatus, PasswordKind, RotationStatus};
use time::UtcOffset;
use time::macros::{date, datetime, offset};

use super::*;
use sesame_base::calendar::FixedCalendar;

const UTC: FixedCalendar = FixedCalendar(UtcOffset::UTC);

fn report(rotations: &[(Step, Option<OffsetDateTime>)]) -> StatusReport {
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
                in_hand: false,
            })
            .collect(),
        last_report: None,
        reports_waiting: 0,
        next_page: None,
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
    let pending = report(&[(Step::Pending, Some(datetime!(2026-12-04 00:00 UTC)))]);
    let mut store = Memory::default();
    let shown = Shown::default();
    let morning = datetime!(2026-12-01 09:00 UTC);
    assert!(check(&pending, morning, &UTC, &mut store, &shown, Box::new(|| {})));
    let evening = datetime!(2026-12-01 17:00 UTC);
    assert!(!check(&pending, evening, &UTC, &mut store, &shown, Box::new(|| {})));
    let next = datetime!(2026-12-02 09:00 UTC);
    assert!(check(&pending, next, &UTC, &mut store, &shown, Box::new(|| {})));
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
    let today = datetime!(2026-12-01 09:00 UTC);
    let busy = report(&[(Step::Pending, None), (Step::Changed, None)]);
    assert_eq!(decide(&busy, today, &UTC, None), Err(Quiet::InProgress));
    // Begun in a window or a terminal, nothing sent to the mail server yet (the key gate, the
    // passwords being typed): in progress too.
    let mut begun = report(&[(Step::Pending, None)]);
    begun.rotations[0].in_hand = true;
    assert_eq!(decide(&begun, today, &UTC, None), Err(Quiet::InProgress));
    let done = report(&[(Step::Completed, None), (Step::Verified, None)]);
    assert_eq!(decide(&done, today, &UTC, None), Err(Quiet::NothingWaiting));
    let late = report(&[
        (Step::Pending, Some(datetime!(2026-12-20 00:00 UTC))),
        (Step::Failed(FailureReason::OwaUnreachable), Some(datetime!(2026-11-29 00:00 UTC))),
    ]);
    let reminder = decide(&late, today, &UTC, Some(date!(2026 - 11 - 30))).unwrap();
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

#[test]
fn once_a_day_in_the_persons_calendar_not_utc() {
    // Paris in winter (UTC+1). Due 4 December at 10:00 in Paris.
    let paris = FixedCalendar(offset!(+1));
    let pending = report(&[(Step::Pending, Some(datetime!(2026-12-04 09:00 UTC)))]);
    let mut store = Memory::default();
    let shown = Shown::default();
    // 1 December, 20:00 in Paris: shown, three days left.
    assert!(check(&pending, datetime!(2026-12-01 19:00 UTC), &paris, &mut store, &shown, {
        Box::new(|| {})
    }));
    assert_eq!(store.0, Some(date!(2026 - 12 - 01)));
    // 23:30 UTC is 00:30 on 2 December in Paris: a new day there (still 1 December in UTC).
    let late_evening = datetime!(2026-12-01 23:30 UTC);
    assert_eq!(decide(&pending, late_evening, &UTC, store.0), Err(Quiet::ShownToday));
    assert!(check(&pending, late_evening, &paris, &mut store, &shown, Box::new(|| {})));
    assert_eq!(store.0, Some(date!(2026 - 12 - 02)));
    // Later that Paris day: nothing more.
    let morning = datetime!(2026-12-02 08:00 UTC);
    assert!(!check(&pending, morning, &paris, &mut store, &shown, Box::new(|| {})));
    let shown = shown.0.into_inner();
    assert_eq!(shown.len(), 2);
    assert!(shown[0].contains("dans 3 jours"), "{}", shown[0]);
    assert!(shown[1].contains("dans 2 jours"), "{}", shown[1]);
}

#[test]
fn the_days_left_count_the_due_date_in_the_persons_calendar() {
    // Due at 23:30 UTC on 4 December: already 5 December in Paris.
    let due = datetime!(2026-12-04 23:30 UTC);
    let pending = report(&[(Step::Pending, Some(due))]);
    let now = datetime!(2026-12-01 09:00 UTC);
    let paris = decide(&pending, now, &FixedCalendar(offset!(+1)), None).unwrap();
    assert_eq!(paris.days_left, Some(4));
    assert_eq!(decide(&pending, now, &UTC, None).unwrap().days_left, Some(3));
}
