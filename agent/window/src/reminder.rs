//! The reminders: `sesame-window --watch`, started at logon, asks the service's `status` now and
//! then and shows a desktop notification when a change is pending or due soon, naming the days
//! left, at most once a day, and never while a change is in progress on the workstation.
//! Clicking it opens the window. Days are the person's (a [`Calendar`]: the workstation's time
//! zone), not UTC's. The decision ([`decide`]) is pure; the notification goes through
//! a [`Notifier`] (the desktop's, over D-Bus, in [`DesktopNotifier`]); the day of the last
//! reminder is kept by a [`ReminderStore`] (a small file in the person's state directory).

use std::path::PathBuf;

use sesame_base::rotation::{FailureReason, Step};
use sesame_local::protocol::{RotationStatus, StatusReport};
use time::{Date, OffsetDateTime};

use crate::texts;
use sesame_base::calendar::Calendar;

/// A reminder to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// The mailbox.
    pub mailbox: String,
    /// Days left until it is due (negative when late); `None` when the server gave no date.
    pub days_left: Option<i64>,
}

impl Reminder {
    /// The notification's text.
    pub fn body(&self) -> String {
        match self.days_left {
            Some(days) => texts::reminder(&self.mailbox, days),
            None => format!(
                "Le mot de passe de la messagerie {} doit être changé. Cliquez ici pour ouvrir la \
                 fenêtre Sesame.",
                self.mailbox
            ),
        }
    }
}

/// Whether a rotation is being changed right now (by a window or a terminal): a person's session
/// holds it, or its change is on the mail server.
fn in_progress(rotation: &RotationStatus) -> bool {
    rotation.in_hand || matches!(rotation.step, Step::Started | Step::Changed)
}

/// Whether a rotation waits for the person.
fn waiting(step: Step) -> bool {
    matches!(
        step,
        Step::Pending
            | Step::Failed(
                FailureReason::KeyPresent
                    | FailureReason::NewPasswordRefused
                    | FailureReason::OwaUnreachable
                    | FailureReason::Cancelled
            )
    )
}

/// Why no reminder is shown (logged, and read by the end-to-end test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiet {
    /// One was shown today already (the person's calendar day).
    ShownToday,
    /// A change is being made on the workstation (a window or a terminal).
    InProgress,
    /// No rotation waits for the person.
    NothingWaiting,
}

/// The reminder to show at `now`, or why none: none when one was shown today already (in the
/// person's `calendar`) or a change is in progress; otherwise the waiting rotation due first.
pub fn decide(
    report: &StatusReport,
    now: OffsetDateTime,
    calendar: &dyn Calendar,
    last_shown: Option<Date>,
) -> Result<Reminder, Quiet> {
    if report.rotations.iter().any(in_progress) {
        return Err(Quiet::InProgress);
    }
    if last_shown == Some(calendar.day_of(now)) {
        return Err(Quiet::ShownToday);
    }
    report
        .rotations
        .iter()
        .filter(|r| waiting(r.step))
        .map(|r| Reminder {
            mailbox: r.mailbox.clone(),
            days_left: r.due.map(|due| texts::days_left(due, now, calendar)),
        })
        .min_by_key(|r| r.days_left.unwrap_or(i64::MAX))
        .ok_or(Quiet::NothingWaiting)
}

/// Shows a reminder.
pub trait Notifier {
    /// Shows `reminder`; `open` runs when the person clicks it.
    fn notify(&self, reminder: &Reminder, open: Box<dyn FnOnce() + Send>) -> Result<(), String>;
}

/// Keeps the day of the last reminder.
pub trait ReminderStore {
    /// The day of the last reminder.
    fn last_shown(&self) -> Option<Date>;
    /// Records that a reminder was shown on `day`.
    fn shown(&mut self, day: Date);
}

/// One check: asks nothing itself, decides, notifies, records the person's calendar day. Returns
/// whether it notified.
pub fn check(
    report: &StatusReport,
    now: OffsetDateTime,
    calendar: &dyn Calendar,
    store: &mut dyn ReminderStore,
    notifier: &dyn Notifier,
    open: Box<dyn FnOnce() + Send>,
) -> bool {
    let reminder = match decide(report, now, calendar, store.last_shown()) {
        Ok(reminder) => reminder,
        Err(quiet) => {
            tracing::info!(?quiet, "reminder: none");
            return false;
        }
    };
    match notifier.notify(&reminder, open) {
        Ok(()) => {
            tracing::info!(days_left = ?reminder.days_left, "reminder: shown");
            store.shown(calendar.day_of(now));
            true
        }
        Err(error) => {
            tracing::warn!(%error, "the reminder could not be shown");
            false
        }
    }
}

/// The day of the last reminder in a file (`$XDG_STATE_HOME/sesame/last-reminder`).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> FileStore {
        FileStore { path }
    }

    /// The default place: `$XDG_STATE_HOME`, or `~/.local/state`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
        Some(base.join("sesame").join("last-reminder"))
    }
}

const DAY: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl ReminderStore for FileStore {
    fn last_shown(&self) -> Option<Date> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        Date::parse(text.trim(), DAY).ok()
    }

    fn shown(&mut self, day: Date) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(text) = day.format(DAY)
            && let Err(error) = std::fs::write(&self.path, text)
        {
            tracing::warn!(%error, "the day of the reminder could not be recorded");
        }
    }
}

/// The desktop's notifications (freedesktop, over the session D-Bus).
#[derive(Debug, Default)]
pub struct DesktopNotifier;

impl Notifier for DesktopNotifier {
    fn notify(&self, reminder: &Reminder, open: Box<dyn FnOnce() + Send>) -> Result<(), String> {
        let handle = notify_rust::Notification::new()
            .appname("Sesame")
            .summary(texts::REMINDER_TITLE)
            .body(&reminder.body())
            .action("default", "Ouvrir la fenêtre Sesame")
            .timeout(notify_rust::Timeout::Never)
            .show()
            .map_err(|error| error.to_string())?;
        std::thread::spawn(move || {
            handle.wait_for_action(|action| {
                if action == "default" {
                    open();
                }
            });
        });
        Ok(())
    }
}

#[cfg(test)]
#[path = "reminder_tests.rs"]
mod tests;
