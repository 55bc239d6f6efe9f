//! [`Db`]: the connection pools of one database, on which the shared SQL of every aggregate runs
//! (each aggregate's trait is implemented on it, in the aggregate's file), and [`PoolStore`]: what
//! the store reports about them (an answer, their usage) and does with them (closing).

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::Pool;

use super::Error;

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
}

/// The store's connections: whether the database answers, how many are in use, closing them at
/// shutdown; a part of [`Store`](super::Store).
#[async_trait]
pub trait PoolStore: Send + Sync {
    /// Runs a trivial query: `Ok` when the database answers (a connection is taken from the pool,
    /// or made, and used).
    async fn ping(&self) -> Result<(), Error>;

    /// How many connections the store holds now, and may hold.
    fn pool_usage(&self) -> PoolUsage;

    /// Closes the connections (SQLite checkpoints its WAL). Called once, at shutdown.
    async fn close(&self);
}

/// The store's connections at one moment, summed over its pools (SQLite: the writer and the
/// readers), for the operations endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections lent to a query or transaction.
    pub in_use: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The most the pools may open.
    pub max: u32,
}

/// The sum of the aggregates' traits, each implemented in its aggregate's file.
#[sql_impl]
impl<D> super::Store for Db<D> {}

#[sql_impl]
impl<D> PoolStore for Db<D> {
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    /// The connections of both pools (counted once when they are the same pool).
    fn pool_usage(&self) -> PoolUsage {
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
    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
