//! The service's side of the local channel: [`LocalServer`] accepts connections and hands each,
//! as a typed [`Session`] that knows its [`Peer`] and its local account, to the service's
//! [`LocalHandler`].
//!
//! Sessions are capped: [`MAX_SESSIONS_PER_ACCOUNT`] per uid and [`MAX_SESSIONS`] in all. A
//! connection over a cap gets an `error` event (`too_many_sessions`, written without waiting)
//! and is closed at once: nothing waits in the kernel's backlog, and one account cannot take
//! every session. Every read waits at most the idle limit ([`IDLE_LIMIT`]) and every write at
//! most [`WRITE_LIMIT`]: a client that does not read is dropped, and the session ends.
//!
//! A session refuses a malformed line, another protocol version or an oversized line by sending
//! an `error` event and ending. No line's content is ever logged.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::account::LocalAccount;
use crate::protocol::{DecodeError, Event, PROTOCOL_VERSION, Request, ServiceError, encode};
use crate::transport::{Listener, Peer, Stream};
use crate::wire::{Connection, WireError};

/// Sessions served at once, in all.
pub const MAX_SESSIONS: usize = 16;

/// Sessions served at once for one local account (uid).
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 4;

/// How long a session waits for the person's next request.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15 * 60);

/// How long one write to a client may take before the client is dropped.
pub const WRITE_LIMIT: Duration = Duration::from_secs(5);

/// What the service does with each session. Implemented by the agent's service (and by fakes in
/// tests).
pub trait LocalHandler: Send + Sync + 'static {
    /// Serves one session until it ends (the client closed, `cancel`, `done`, an error).
    fn handle(&self, session: Session) -> impl Future<Output = ()> + Send;
}

/// Why a session cannot go on. The client has been told (an `error` event) when it could be.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or a line could not be read.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The person was silent too long.
    #[error("the person was silent for {} minutes", IDLE_LIMIT.as_secs() / 60)]
    TimedOut,
    /// The client did not read what was sent to it in time, or an earlier write failed: it is
    /// dropped.
    #[error("the client does not read; dropped")]
    NotReading,
}

/// One connection from `sesame-agent change` or `status`.
#[derive(Debug)]
pub struct Session {
    peer: Peer,
    account: Option<LocalAccount>,
    connection: Connection<Stream>,
    idle_limit: Duration,
    broken: bool,
}

impl Session {
    /// Who connected (evidence for the rotation's report).
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The local account that connected; `None` when its uid has no name (it may act on
    /// nothing).
    pub fn account(&self) -> Option<&LocalAccount> {
        self.account.as_ref()
    }

    /// The next request, or `None` when the client closed the connection. A bad line is answered
    /// with an `error` event before the error is returned; the session should then end.
    pub async fn next_request(&mut self) -> Result<Option<Request>, SessionError> {
        if self.broken {
            return Err(SessionError::NotReading);
        }
        let received = tokio::time::timeout(self.idle_limit, self.connection.recv()).await;
        let error = match received {
            Ok(Ok(request)) => return Ok(request),
            Ok(Err(error)) => error,
            Err(_) => {
                let _ = self.send(&Event::Error(ServiceError::TimedOut)).await;
                return Err(SessionError::TimedOut);
            }
        };
        let answer = match &error {
            WireError::LineTooLong => Some(ServiceError::LineTooLong),
            WireError::Decode(DecodeError::BadMessage) => Some(ServiceError::BadMessage),
            WireError::Decode(DecodeError::UnsupportedVersion(_)) => {
                Some(ServiceError::UnsupportedVersion { supported: PROTOCOL_VERSION })
            }
            WireError::Io(_) | WireError::Truncated => None,
        };
        if let Some(answer) = answer {
            let _ = self.send(&Event::Error(answer)).await;
        }
        Err(error.into())
    }

    /// Sends one event, waiting at most [`WRITE_LIMIT`]; after a failed or late write the
    /// session is broken and every later call fails at once.
    pub async fn send(&mut self, event: &Event) -> Result<(), SessionError> {
        if self.broken {
            return Err(SessionError::NotReading);
        }
        match tokio::time::timeout(WRITE_LIMIT, self.connection.send(event)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                self.broken = true;
                Err(error.into())
            }
            Err(_) => {
                self.broken = true;
                tracing::info!(peer = %self.peer, "a client stopped reading; dropped");
                Err(SessionError::NotReading)
            }
        }
    }
}

/// Open sessions, per uid and in all.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_uid: HashMap<Option<u32>, usize>,
}

/// One open session's place in [`Counts`], given back when dropped.
struct Seat {
    counts: Arc<Mutex<Counts>>,
    uid: Option<u32>,
}

impl Seat {
    /// A seat for `uid`, or `None` over a cap.
    fn take(counts: &Arc<Mutex<Counts>>, uid: Option<u32>) -> Option<Seat> {
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mine = c.per_uid.get(&uid).copied().unwrap_or(0);
        if c.total >= MAX_SESSIONS || mine >= MAX_SESSIONS_PER_ACCOUNT {
            return None;
        }
        c.total += 1;
        *c.per_uid.entry(uid).or_default() += 1;
        Some(Seat { counts: Arc::clone(counts), uid })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(mine) = c.per_uid.get_mut(&self.uid) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                c.per_uid.remove(&self.uid);
            }
        }
    }
}

/// Tells a connection over a cap why it is closed, without waiting (a fresh socket's buffer
/// takes one short line), and closes it.
#[cfg(unix)]
fn turn_away(stream: Stream) {
    let line = encode(&Event::Error(ServiceError::TooManySessions));
    let _ = stream.try_write(&line);
}

#[cfg(not(unix))]
fn turn_away(stream: Stream) {
    let _ = encode(&Event::Error(ServiceError::TooManySessions));
    drop(stream);
}

/// The listening side of the local channel.
#[derive(Debug)]
pub struct LocalServer {
    listener: Listener,
    idle_limit: Duration,
}

impl LocalServer {
    /// Listens on `path` (a Unix socket; see `transport`).
    pub fn bind(path: &Path) -> std::io::Result<LocalServer> {
        Ok(LocalServer { listener: Listener::bind(path)?, idle_limit: IDLE_LIMIT })
    }

    /// The same, with another idle limit (tests).
    pub fn with_idle_limit(mut self, idle_limit: Duration) -> LocalServer {
        self.idle_limit = idle_limit;
        self
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        self.listener.path()
    }

    /// Serves sessions with `handler` until `shutdown` resolves; sessions still running then are
    /// dropped (the service's journal, not this channel, makes a change safe to interrupt).
    pub async fn serve<H: LocalHandler>(self, handler: Arc<H>, shutdown: impl Future<Output = ()>) {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let mut sessions = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            // Reap finished sessions so the set does not grow.
            while sessions.try_join_next().is_some() {}
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "local socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(seat) = Seat::take(&counts, peer.uid) else {
                tracing::debug!(%peer, "local socket: too many sessions; connection turned away");
                turn_away(stream);
                continue;
            };
            tracing::debug!(%peer, "local session opened");
            let handler = handler.clone();
            let idle_limit = self.idle_limit;
            sessions.spawn(async move {
                let account = match peer.uid {
                    Some(uid) => LocalAccount::of_uid(uid).await,
                    None => None,
                };
                let connection = Connection::new(stream);
                let session = Session { peer, account, connection, idle_limit, broken: false };
                handler.handle(session).await;
                drop(seat);
            });
        }
    }
}
