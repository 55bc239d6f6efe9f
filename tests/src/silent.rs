//! Silent connections, as an unfriendly client opens them to stall a server: TCP connections from
//! several source addresses that never send a byte.

// Reason: a test helper fails by panicking, like the tests that use it.
#![allow(clippy::expect_used)]

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};

use tokio::net::TcpSocket;

/// `count` loopback source addresses, 127.0.0.2 onwards (on Linux the whole of 127.0.0.0/8 is
/// local, so a client socket can be bound to any of them before it connects).
pub fn loopback_sources(count: u8) -> Vec<Ipv4Addr> {
    (0..count).map(|i| Ipv4Addr::new(127, 0, 0, 2 + i)).collect()
}

/// Opens `per_source` TCP connections from each of `sources` to `target` and returns them open,
/// silent, and non-blocking.
pub async fn open(target: SocketAddr, sources: &[Ipv4Addr], per_source: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(sources.len() * per_source);
    for &source in sources {
        for _ in 0..per_source {
            let socket = TcpSocket::new_v4().expect("a TCP socket");
            socket.bind(SocketAddr::from((source, 0))).expect("bind a loopback source address");
            let stream = socket.connect(target).await.expect("the kernel completes the connection");
            streams.push(stream.into_std().expect("a standard stream"));
        }
    }
    streams
}

/// How many of `streams` the server has closed (end of file or reset), checked without waiting.
pub fn closed_by_server(streams: &[TcpStream]) -> usize {
    let mut byte = [0u8; 1];
    streams
        .iter()
        .filter(|stream| match stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => error.kind() != ErrorKind::WouldBlock,
        })
        .count()
}
