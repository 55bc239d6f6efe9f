//! The agent service (`sesame-agent run`): one actor around the pure rotation machine.
//!
//! - **The actor** (`service::actor`): a single task owns the rotation state (`service::core`:
//!   journal, outbox, memory) and handles a closed set of inputs, one at a time, from one
//!   channel: the sessions' requests, key changes, the check-in's snapshots, deliveries and
//!   acknowledgements, and OWA results. Only the actor touches the state; no lock is held across
//!   I/O with a client or OWA. Every other task below is its client.
//! - **Check-ins** (`service::check_in`): at the interval the server sets (60 s by default, with
//!   jitter; full-jitter back-off while the server is away), the identity is kept fresh, the key
//!   state, each rotation's step and the last look at OWA go up, the pending rotations come down,
//!   and the outbox is delivered in order.
//! - **The key** ([`crate::key::KeyWatcher`]): each change goes to the actor, which feeds it to
//!   every rotation (a re-insertion after a verified change completes it).
//! - **The person** (`service::session`): `sesame-agent change|status` over the local socket,
//!   each session for its own local account only (`rotation::access`), with its own passwords.
//! - **Driving** (`service::actor::drive`): the machine's OWA commands run in their own tasks
//!   (`service::owa_ops`), whose outcomes come back to the actor and go to the machine; at most
//!   one drive per rotation, never waiting on a client.
//!
//! Nothing secret is written: the
//! provisional password stays in memory from the server's delivery (the journal holds a salted
//! verifier), the new password only in memory while its change runs.

mod actor;
mod check_in;
mod core;
mod owa_ops;
mod session;
mod slot;

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sesame_base::clock::SharedClock;
use sesame_local::server::LocalServer;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};

use self::actor::{Actor, Inbox, Input};
use self::core::Core;
pub use self::core::CoreError;
use self::owa_ops::LiveOwa;
use crate::identity::StateDir;
use crate::key::{KeyProbe, KeyState, KeyWatcher};
use crate::owa::{HttpSettings, Readiness};
use crate::uplink::Uplink;

/// The OWA address used until the server gives one (the letter's).
pub const DEFAULT_OWA_URL: &str = "https://mail.authentic-connect.fr/owa";
/// The file in the state directory remembering the last OWA address the server gave.
const OWA_URL_FILE: &str = "owa-url";

/// What the service runs with.
pub struct ServiceOptions {
    /// The identity's directory, also where the journal and outbox live.
    pub state: StateDir,
    /// That directory's path.
    pub state_dir: PathBuf,
    /// The local socket's path.
    pub socket: PathBuf,
    /// The key probe.
    pub key_probe: Arc<dyn KeyProbe>,
    /// How often to probe the key while a rotation is held, and otherwise.
    pub key_intervals: (Duration, Duration),
    /// How OWA is reached.
    pub http: HttpSettings,
    /// The clock.
    pub clock: SharedClock,
    /// The directory's lockout threshold (`[owa] lockout_threshold`; see `rotation::limit`).
    pub lockout_threshold: u32,
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("state_dir", &self.state_dir)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The journal or outbox.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The local socket.
    #[error("cannot listen on {path}: {source}")]
    Socket {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The running service's clients of the actor (sessions, key watcher, check-ins), shared by
/// their tasks. It holds no rotation state: that is the actor's.
pub(crate) struct Service {
    /// The actor's inbox.
    inbox: Inbox,
    key: watch::Receiver<KeyState>,
    key_watcher: KeyWatcher,
    key_since: StdMutex<Option<OffsetDateTime>>,
    key_intervals: (Duration, Duration),
    uplink: Uplink,
    state: StateDir,
    state_dir: PathBuf,
    clock: SharedClock,
    http: HttpSettings,
    /// The OWA address, shared with the actor's OWA work.
    owa_url: Arc<StdMutex<String>>,
    readiness: StdMutex<Option<Readiness>>,
    /// Wakes the check-in loop early: reports were queued (a change, a re-inserted key).
    wake: Arc<Notify>,
    /// The directory's lockout threshold.
    lockout_threshold: u32,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("state_dir", &self.state_dir).finish_non_exhaustive()
    }
}

/// Runs the service until `shutdown` resolves.
pub async fn run(
    options: ServiceOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    crate::failpoint::arm_from_env();
    let core = Core::open(&options.state_dir)?;
    let local = LocalServer::bind(&options.socket)
        .map_err(|source| ServiceError::Socket { path: options.socket.clone(), source })?;
    let key_watcher = KeyWatcher::start(options.key_probe, options.key_intervals.1).await;
    let key = key_watcher.subscribe();
    let owa_url = std::fs::read_to_string(options.state_dir.join(OWA_URL_FILE))
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_OWA_URL.to_owned());
    let owa_url = Arc::new(StdMutex::new(owa_url));
    let wake = Arc::new(Notify::new());
    let (inbox, inputs) = mpsc::unbounded_channel();
    let owa = Arc::new(LiveOwa {
        url: Arc::clone(&owa_url),
        settings: options.http.clone(),
        clock: options.clock.clone(),
    });
    let actor =
        Actor::new(core, key.clone(), owa, options.clock.clone(), Arc::clone(&wake), inbox.clone());
    let actor = tokio::spawn(actor.run(inputs));
    let service = Arc::new(Service {
        inbox,
        key,
        key_watcher,
        key_since: StdMutex::new(None),
        key_intervals: options.key_intervals,
        uplink: Uplink::new(options.state.clone(), options.clock.clone()),
        state: options.state,
        state_dir: options.state_dir,
        clock: options.clock,
        http: options.http,
        owa_url,
        readiness: StdMutex::new(None),
        wake,
        lockout_threshold: options.lockout_threshold,
    });
    tracing::info!(socket = %local.path().display(), "agent service started");
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }
    };
    let tasks = [
        tokio::spawn(Arc::clone(&service).watch_key(stop_rx.clone())),
        tokio::spawn(Arc::clone(&service).check_in_loop(stop_rx.clone())),
        tokio::spawn({
            let service = Arc::clone(&service);
            async move { local.serve(service, stopped).await }
        }),
    ];
    shutdown.await;
    tracing::info!("agent service stopping");
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    service.tell_actor(Input::Shutdown);
    let _ = actor.await;
    Ok(())
}

impl Service {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn key_now(&self) -> KeyState {
        self.key.borrow().clone()
    }

    /// Hands each key change to the actor.
    async fn watch_key(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut key = self.key.clone();
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                changed = key.changed() => if changed.is_err() { return },
            }
            let state = key.borrow_and_update().clone();
            *self.key_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.now());
            if matches!(state, KeyState::Unknown { .. }) {
                continue;
            }
            tracing::info!(key = %state.french(), "key state changed");
            self.tell_actor(Input::KeyChanged(state));
        }
    }

    /// The OWA address to use now.
    pub(super) fn owa_url(&self) -> String {
        self.owa_url.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
