//! A bad network between a workstation and its server, for the fault suite: a TCP relay on
//! `127.0.0.1:0` that forwards every connection to a target and applies the [`Faults`] a test sets
//! (and may change at any time, open connections included): a delay on every chunk relayed, a
//! throughput cap, connections dropped after a number of bytes or at random chunks, and a blackhole (connections accepted,
//! nothing relayed, as a link that silently loses everything). The bytes themselves are never
//! changed, so TLS runs end to end; [`ProxyStats`] counts what happened.

// Reason: a test fake fails by panicking, like the tests that use it.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the network does to the connections, read for every chunk relayed.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// A delay before each chunk is passed on, each way.
    pub latency: Duration,
    /// The most bytes per second each way on one connection; `None`: unbounded.
    pub bytes_per_second: Option<u64>,
    /// Every connection is closed once this many bytes (both ways) went through it (`Some(0)`:
    /// each is closed at its next chunk, open ones included).
    pub drop_after_bytes: Option<u64>,
    /// The chance that a connection is closed at each chunk, instead of passing it on.
    pub drop_probability: f64,
    /// Nothing is relayed: connections are accepted and held, their bytes lost.
    pub blackhole: bool,
}

/// What the proxy saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections the proxy closed on purpose (after N bytes, or at random).
    pub dropped: u64,
    /// Connections that met the blackhole.
    pub blackholed: u64,
    /// Bytes relayed, both ways.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    dropped: AtomicU64,
    blackholed: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Debug, Default)]
struct Shared {
    faults: Mutex<Faults>,
    counters: Counters,
    /// When each connection was accepted, since the proxy started.
    accepted_at: Mutex<Vec<Duration>>,
}

impl Shared {
    fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `target`, with no fault yet.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                state.counters.connections.fetch_add(1, Ordering::SeqCst);
                state
                    .accepted_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(started.elapsed());
                relays.spawn(relay(client, target, state.clone()));
                while relays.try_join_next().is_some() {}
            }
        });
        FaultProxy { address, shared, task }
    }

    /// The URL a client uses to reach the target through the proxy.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// Sets the faults for every chunk relayed from now on.
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// What happened so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            connections: c.connections.load(Ordering::SeqCst),
            dropped: c.dropped.load(Ordering::SeqCst),
            blackholed: c.blackholed.load(Ordering::SeqCst),
            bytes: c.bytes.load(Ordering::SeqCst),
        }
    }

    /// When each connection was accepted, since the proxy started, in order.
    pub fn accepted_at(&self) -> Vec<Duration> {
        self.shared.accepted_at.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every relay.
        self.task.abort();
    }
}

/// Relays one connection both ways under the faults, until either side closes or a fault ends it.
async fn relay(client: TcpStream, target: SocketAddr, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(target).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let through = Arc::new(AtomicU64::new(0));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, shared.clone(), through.clone());
    let down = pump(server_read, client_write, shared.clone(), through);
    // Either way ending (a close, or a fault) ends the connection: both halves are dropped.
    let ended = tokio::select! {
        ended = up => ended,
        ended = down => ended,
    };
    if ended == Ended::Dropped {
        shared.counters.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Closed,
    Dropped,
}

/// Copies one way, chunk by chunk, applying the faults to each chunk.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Arc<Shared>,
    through: Arc<AtomicU64>,
) -> Ended {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut blackholed = false;
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return Ended::Closed,
            Ok(n) => n,
        };
        let faults = shared.faults();
        if faults.blackhole {
            if !blackholed {
                blackholed = true;
                shared.counters.blackholed.fetch_add(1, Ordering::SeqCst);
            }
            // Lost: the connection stays open and silent.
            continue;
        }
        if faults.drop_probability > 0.0
            && rand::rng().random_bool(faults.drop_probability.clamp(0.0, 1.0))
        {
            return Ended::Dropped;
        }
        let mut chunk = &buffer[..n];
        if let Some(budget) = faults.drop_after_bytes {
            let before = through.fetch_add(n as u64, Ordering::SeqCst);
            if before >= budget {
                return Ended::Dropped;
            }
            let left = usize::try_from(budget - before).unwrap_or(usize::MAX);
            if left < chunk.len() {
                chunk = &chunk[..left];
            }
        }
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if let Some(rate) = faults.bytes_per_second.filter(|r| *r > 0) {
            tokio::time::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64)).await;
        }
        if to.write_all(chunk).await.is_err() {
            return Ended::Closed;
        }
        shared.counters.bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        if chunk.len() < n {
            return Ended::Dropped;
        }
    }
}
