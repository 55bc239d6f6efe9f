//! A forward HTTP proxy for tests, as offices have: it accepts `CONNECT host:port`, tunnels the
//! bytes, and keeps what it saw (the targets asked for, and the first bytes the client sent through
//! each tunnel) so that tests can show it never saw a password in clear. Any other request is
//! answered 405 and recorded. Host names are looked up in the map it is given, not in DNS.

// Reason: a test fake fails by panicking, like the tests that use it.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request head read, and most tunnelled bytes kept per connection.
const MAX_HEAD: usize = 8 * 1024;
const KEPT_BYTES: usize = 1024 * 1024;

/// What the proxy saw.
#[derive(Debug, Default)]
struct Seen {
    /// The request line of every request (`CONNECT owa.sesame.test:443 HTTP/1.1`).
    requests: Vec<String>,
    /// The first bytes the client sent through each tunnel.
    tunnelled: Vec<u8>,
}

/// A running proxy.
#[derive(Debug)]
pub struct ConnectProxy {
    address: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl ConnectProxy {
    /// Starts a proxy on `127.0.0.1:0` that reaches `hosts` (name → address).
    pub async fn start(hosts: HashMap<String, SocketAddr>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback is available");
        let address = listener.local_addr().expect("a bound listener has an address");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let hosts = Arc::new(hosts);
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(serve(client, hosts.clone(), seen.clone()));
                }
            }
        });
        ConnectProxy { address, seen, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The request line of every request received.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).requests.clone()
    }

    /// Whether the client sent these bytes through a tunnel, in clear.
    pub fn saw_in_clear(&self, needle: &[u8]) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        !needle.is_empty() && seen.tunnelled.windows(needle.len()).any(|w| w == needle)
    }

    /// How many bytes the client sent through tunnels (up to the kept maximum).
    pub fn tunnelled_bytes(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).tunnelled.len()
    }

    /// Stops accepting (tunnels already open end with their connections).
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn serve(
    mut client: TcpStream,
    hosts: Arc<HashMap<String, SocketAddr>>,
    seen: Arc<Mutex<Seen>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            return;
        }
    }
    let line = String::from_utf8_lossy(head.split(|b| *b == b'\r').next().unwrap_or_default())
        .into_owned();
    seen.lock().unwrap_or_else(PoisonError::into_inner).requests.push(line.clone());
    let mut words = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        let _ =
            client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
    let port = target.rsplit_once(':').and_then(|(_, port)| port.parse::<u16>().ok());
    let Some(address) = hosts.get(host).map(|a| SocketAddr::new(a.ip(), port.unwrap_or(a.port())))
    else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(address).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
        return;
    }
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let up = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                let room = KEPT_BYTES.saturating_sub(seen.tunnelled.len()).min(n);
                seen.tunnelled.extend_from_slice(&buf[..room]);
            }
            if upstream_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = upstream_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
