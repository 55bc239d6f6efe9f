//! The service's side of the local channel: [`LocalServer`] accepts connections (at most
//! [`MAX_SESSIONS`] at once; more wait in the kernel's backlog) and hands each, as a typed
//! [`Session`] that knows its [`Peer`], to the service's [`LocalHandler`].
//!
//! A session refuses a malformed line, another protocol version or an oversized line by sending
//! an `error` event and ending; it ends too when the person has been silent for
//! [`IDLE_LIMIT`]. No line's content is ever logged.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::local::protocol::{DecodeError, Event, PROTOCOL_VERSION, Request, ServiceError};
use crate::local::transport::{Listener, Peer, Stream};
use crate::local::wire::{Connection, WireError};

/// Sessions served at once.
pub const MAX_SESSIONS: usize = 8;

/// How long a session waits for the person's next request.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15 * 60);

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
}

/// One connection from `sesame-agent change` or `status`.
#[derive(Debug)]
pub struct Session {
    peer: Peer,
    connection: Connection<Stream>,
    idle_limit: Duration,
}

impl Session {
    /// Who connected (evidence for the rotation's report).
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The next request, or `None` when the client closed the connection. A bad line is answered
    /// with an `error` event before the error is returned; the session should then end.
    pub async fn next_request(&mut self) -> Result<Option<Request>, SessionError> {
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

    /// Sends one event.
    pub async fn send(&mut self, event: &Event) -> Result<(), SessionError> {
        Ok(self.connection.send(event).await?)
    }
}

/// The listening side of the local channel.
#[derive(Debug)]
pub struct LocalServer {
    listener: Listener,
    idle_limit: Duration,
}

impl LocalServer {
    /// Listens on `path` (a Unix socket; see `local::transport`).
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
        let permits = Arc::new(Semaphore::new(MAX_SESSIONS));
        let mut sessions = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
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
            tracing::debug!(%peer, "local session opened");
            let session =
                Session { peer, connection: Connection::new(stream), idle_limit: self.idle_limit };
            let handler = handler.clone();
            sessions.spawn(async move {
                handler.handle(session).await;
                drop(permit);
            });
        }
    }
}
