//! The network between a workstation and its server, for tests: a TCP relay on `127.0.0.1:0` that
//! forwards every connection to the server, and that a test can cut (the workstation is offline:
//! open connections are closed, new ones are accepted and closed at once, as a dead link or a
//! restarting firewall does) and restore. The bytes are relayed untouched, so TLS runs end to end
//! between the agent and the server.

// Reason: a test fake fails by panicking, like the tests that use it.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// The shared state of a link.
#[derive(Debug, Default)]
struct State {
    up: AtomicBool,
    /// Connections closed at once because the link was cut.
    refused: AtomicUsize,
    /// The relays of open connections, aborted when the link is cut.
    relays: Mutex<Vec<AbortHandle>>,
}

/// A running relay.
#[derive(Debug)]
pub struct Link {
    address: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Link {
    /// A link, up, to `target`.
    pub async fn start(target: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the link");
        let address = listener.local_addr().expect("the link's address");
        let state = Arc::new(State { up: AtomicBool::new(true), ..State::default() });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !shared.up.load(Ordering::SeqCst) {
                    shared.refused.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                let relay = tokio::spawn(relay(client, target));
                let mut relays = shared.relays.lock().unwrap_or_else(PoisonError::into_inner);
                relays.retain(|r| !r.is_finished());
                relays.push(relay.abort_handle());
            }
        });
        Link { address, state, task }
    }

    /// The URL a client uses to reach the server through the link.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// Takes the workstation offline: open connections are closed, new ones refused.
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        let relays =
            std::mem::take(&mut *self.state.relays.lock().unwrap_or_else(PoisonError::into_inner));
        for relay in relays {
            relay.abort();
        }
    }

    /// Brings it back online.
    pub fn restore(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// How many connections were closed at once while the link was cut.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// Relays one connection both ways until either side closes.
async fn relay(mut client: TcpStream, target: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}
