//! What a simulator shares between its connections: its options, the directory, the sessions and
//! the ground truth, behind one mutex that is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, PoisonError};

use super::directory::Directory;
use super::{ChangeAttempt, ChangeFault, ChangeRecord, LoginRecord, RequestRecord, SimOptions};

/// The options, the state and the byte counter of one simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: SimOptions,
    pub(crate) bytes_received: AtomicUsize,
    state: Mutex<State>,
}

/// Everything that changes while the simulator runs.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) directory: Directory,
    /// Session cookie (`cadata` value) → the account it belongs to, as added.
    pub(crate) sessions: HashMap<String, String>,
    /// Accounts (lower-case) whose login was redirected to `expiredpassword.aspx` and that have
    /// not changed their password since.
    pub(crate) redirected: HashSet<String>,
    pub(crate) changes: Vec<ChangeRecord>,
    pub(crate) attempts: Vec<ChangeAttempt>,
    pub(crate) logins: Vec<LoginRecord>,
    pub(crate) logoffs: usize,
    /// The fault armed for the next well-formed change post.
    pub(crate) change_fault: Option<ChangeFault>,
    pub(crate) requests: Vec<RequestRecord>,
}

impl Shared {
    pub(crate) fn new(options: SimOptions) -> Shared {
        Shared { options, bytes_received: AtomicUsize::new(0), state: Mutex::new(State::default()) }
    }

    /// Runs `f` on the state under the lock. A panic elsewhere does not poison it for the tests.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}
