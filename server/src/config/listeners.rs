//! The listeners' settings: each listener's cap on connections (`[server] max_connections` for
//! gRPC, `[operations] max_connections`), the gRPC listener's caps on TLS handshakes in progress
//! (`[server] handshakes_per_address`, `handshakes_total`) and how often the metrics' numbers are read
//! (`[operations] metrics_refresh_seconds`), checked here.

use std::time::Duration;

use super::{Error, value_err};

/// The gRPC listener's cap: 0 sizes it from the descriptor limit.
pub(super) fn grpc_connections(key: &str, n: u32) -> Result<Option<u32>, Error> {
    match n {
        0 => Ok(None),
        n if n <= 1_048_576 => Ok(Some(n)),
        _ => Err(value_err(key, "expected 0 (sized from the descriptor limit) to 1048576")),
    }
}

/// The operations listener's cap.
pub(super) fn operations_connections(key: &str, n: u32) -> Result<u32, Error> {
    if (1..=4096).contains(&n) { Ok(n) } else { Err(value_err(key, "expected 1 to 4096")) }
}

/// How often the metrics' snapshot is read from the database: from 1 s to an hour.
pub(super) fn refresh_seconds(key: &str, secs: u32) -> Result<Duration, Error> {
    if (1..=3600).contains(&secs) {
        Ok(Duration::from_secs(u64::from(secs)))
    } else {
        Err(value_err(key, "expected 1 to 3600 seconds"))
    }
}

/// A cap on TLS handshakes in progress (`[server] handshakes_per_address`, `handshakes_total`).
pub(super) fn handshakes(key: &str, n: u32) -> Result<usize, Error> {
    if (1..=65_536).contains(&n) {
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    } else {
        Err(value_err(key, "expected 1 to 65536"))
    }
}
