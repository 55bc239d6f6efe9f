//! [`Db`]: the connection pools of one database, on which the shared SQL of every aggregate runs,
//! and what the store reports about them (their usage) and does with them (closing).

use sqlx::Pool;

use super::PoolUsage;

/// The connections to one database, on which the shared SQL runs: writes go to `writer`, reads
/// to `reader`. SQLite has one writing connection and a pool of read-only ones; PostgreSQL uses
/// one pool for both.
#[derive(Debug)]
pub(super) struct Db<D: sqlx::Database> {
    writer: Pool<D>,
    reader: Pool<D>,
    /// Whether `reader` is a pool of its own (SQLite) rather than `writer` again (PostgreSQL).
    split: bool,
}

impl<D: sqlx::Database> Db<D> {
    /// Connections for writing, and a separate pool for reading.
    pub(super) fn new(writer: Pool<D>, reader: Pool<D>) -> Db<D> {
        Db { writer, reader, split: true }
    }

    /// One pool for both writing and reading.
    pub(super) fn shared(pool: Pool<D>) -> Db<D> {
        Db { writer: pool.clone(), reader: pool, split: false }
    }

    /// Where transactions begin.
    pub(super) fn writer(&self) -> &Pool<D> {
        &self.writer
    }

    /// Where reads outside a transaction go.
    pub(super) fn reader(&self) -> &Pool<D> {
        &self.reader
    }

    /// The connections of both pools (counted once when they are the same pool).
    pub(super) fn pool_usage(&self) -> PoolUsage {
        let mut pools = vec![&self.writer];
        if self.split {
            pools.push(&self.reader);
        }
        pools.into_iter().fold(PoolUsage::default(), |usage, pool| {
            let size = pool.size();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
            PoolUsage {
                in_use: usage.in_use + (size - idle),
                idle: usage.idle + idle,
                max: usage.max + pool.options().get_max_connections(),
            }
        })
    }

    /// Closes the readers, then the writer (closing a pool twice is harmless).
    pub(super) async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
