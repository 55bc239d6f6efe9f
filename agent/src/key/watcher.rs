//! [`KeyWatcher`]: asks a [`KeyProbe`] at an interval and publishes each change of the key state
//! on a `tokio::sync::watch` channel.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{KeyProbe, KeyState};

/// Watches the key: the probe runs once at start, then every interval (on a blocking thread,
/// since enumerating USB devices blocks); receivers see every change. The interval can change
/// while watching (quick during a rotation, slow when idle: a probe costs about a millisecond of
/// CPU). The task stops when the watcher is dropped.
pub struct KeyWatcher {
    probe: Arc<dyn KeyProbe>,
    sender: Arc<watch::Sender<KeyState>>,
    interval: watch::Sender<Duration>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for KeyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyWatcher").field("state", &*self.sender.borrow()).finish_non_exhaustive()
    }
}

impl KeyWatcher {
    /// Probes once (so the first value received is the true state, not a placeholder), then
    /// starts watching. Needs a Tokio runtime.
    pub async fn start(probe: Arc<dyn KeyProbe>, interval: Duration) -> KeyWatcher {
        let first = probe_once(&probe).await;
        let sender = Arc::new(watch::Sender::new(first));
        let interval = watch::Sender::new(interval);
        let task =
            tokio::spawn(watch_loop(Arc::clone(&probe), Arc::clone(&sender), interval.subscribe()));
        KeyWatcher { probe, sender, interval, task }
    }

    /// Probes every `interval` from now on (the current wait starts over).
    pub fn set_interval(&self, interval: Duration) {
        self.interval.send_replace(interval);
    }

    /// A receiver of the key state: `borrow()` is the latest state, `changed()` waits for the
    /// next change.
    pub fn subscribe(&self) -> watch::Receiver<KeyState> {
        self.sender.subscribe()
    }

    /// Probes now, without waiting for the interval (e.g. just before a step that needs the key
    /// out), publishes the result if it changed and returns it.
    pub async fn probe_now(&self) -> KeyState {
        let state = probe_once(&self.probe).await;
        publish(&self.sender, state.clone());
        state
    }
}

impl Drop for KeyWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn watch_loop(
    probe: Arc<dyn KeyProbe>,
    sender: Arc<watch::Sender<KeyState>>,
    mut interval: watch::Receiver<Duration>,
) {
    loop {
        let period = *interval.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep(period) => publish(&sender, probe_once(&probe).await),
            changed = interval.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

fn publish(sender: &watch::Sender<KeyState>, state: KeyState) {
    sender.send_if_modified(|current| {
        if *current == state {
            false
        } else {
            *current = state;
            true
        }
    });
}

/// One probe on a blocking thread; a panic in the USB layer is an unknown state, not a dead
/// watcher.
async fn probe_once(probe: &Arc<dyn KeyProbe>) -> KeyState {
    let probe = Arc::clone(probe);
    tokio::task::spawn_blocking(move || probe.state())
        .await
        .unwrap_or_else(|e| KeyState::Unknown { reason: format!("the USB probe failed: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::FakeKeyProbe;

    fn present() -> KeyState {
        KeyState::Present { device: "08e6:3437 bus 1 port 1-1".into() }
    }

    #[tokio::test]
    async fn the_watcher_publishes_each_change_once() {
        let fake = Arc::new(FakeKeyProbe::new(present()));
        let watcher = KeyWatcher::start(fake.clone(), Duration::from_millis(10)).await;
        let mut states = watcher.subscribe();
        assert_eq!(*states.borrow_and_update(), present(), "the first value is a real probe");

        fake.set(KeyState::Absent);
        states.changed().await.unwrap();
        assert_eq!(*states.borrow_and_update(), KeyState::Absent);

        fake.set(present());
        states.changed().await.unwrap();
        assert_eq!(*states.borrow_and_update(), present());

        // Probing again with nothing changed wakes no one.
        assert_eq!(watcher.probe_now().await, present());
        assert!(!states.has_changed().unwrap());
        fake.set(KeyState::Unknown { reason: "no USB access: test".into() });
        assert!(matches!(watcher.probe_now().await, KeyState::Unknown { .. }));
        assert!(states.has_changed().unwrap(), "probe_now publishes what it saw");
    }

    #[tokio::test]
    async fn the_interval_can_change_while_watching() {
        let fake = Arc::new(FakeKeyProbe::default());
        // A day: without the change below, the test would never see the key.
        let watcher = KeyWatcher::start(fake.clone(), Duration::from_secs(86_400)).await;
        let mut states = watcher.subscribe();
        fake.set(present());
        watcher.set_interval(Duration::from_millis(10));
        states.changed().await.unwrap();
        assert_eq!(*states.borrow(), present());
    }

    #[tokio::test]
    async fn a_panicking_probe_is_an_unknown_state() {
        struct Panics;
        impl KeyProbe for Panics {
            fn state(&self) -> KeyState {
                panic!("libusb global context")
            }
        }
        let watcher = KeyWatcher::start(Arc::new(Panics), Duration::from_millis(10)).await;
        let state = watcher.subscribe().borrow().clone();
        assert!(
            matches!(&state, KeyState::Unknown { reason } if reason.contains("probe failed")),
            "{state:?}"
        );
    }

    #[tokio::test]
    async fn dropping_the_watcher_stops_it() {
        let fake = Arc::new(FakeKeyProbe::default());
        let watcher = KeyWatcher::start(fake, Duration::from_millis(10)).await;
        let mut states = watcher.subscribe();
        drop(watcher);
        assert!(states.changed().await.is_err(), "the sender is gone with the task");
    }
}
