//! PostgreSQL, for installations that outgrow one machine. Its connections, and its side of the
//! [`Dialect`]: the audit-table lock, and arrays (`ANY`, `UNNEST`) for the import's bulk
//! statements.
//!
//! Several stateless servers may share one database: migrations take sqlx's advisory lock (on
//! one connection of their own, checks included: `migrations.rs`), and
//! audit appends lock the audit table so the hash chain has exactly one successor per record. The
//! URL may choose a schema with `?options[search_path]=NAME` (the tests use one schema each).

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, Pool, Postgres};
use time::OffsetDateTime;

use super::changes::{CHANNEL, ChangeFeed, PgFeed};
use super::db::Db;
use super::dialect::Dialect;
use super::migrations;
use super::{Error, StoreOptions};
use crate::domain::office::NewMailbox;

/// The migrations this server carries, embedded at build time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Connects to the database named by `options.url` and migrates it.
pub(super) async fn connect(options: &StoreOptions) -> Result<Db<Postgres>, Error> {
    let connect =
        PgConnectOptions::from_str(options.url.expose_secret())?.application_name("sesame-server");
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    // A connection taken out of the pool: the advisory lock is the session's, and closing the
    // connection (or dropping it on an error) releases it.
    let mut conn = pool.acquire().await?.detach();
    let plan = migrations::lock_and_plan(&mut conn, &MIGRATOR).await?;
    migrations::apply_and_unlock(&mut conn, &MIGRATOR, &plan).await?;
    // The lock is released; a failure to say goodbye to the server changes nothing.
    let _ = conn.close().await;
    Ok(Db::shared(pool))
}

/// One column of the rows, as a text array.
fn column<'a>(rows: &[&'a NewMailbox], field: fn(&'a NewMailbox) -> &'a str) -> Vec<&'a str> {
    rows.iter().map(|row| field(row)).collect()
}

/// The rows' logon names, NULL where a row has none.
fn logon_names<'a>(rows: &[&'a NewMailbox]) -> Vec<Option<&'a str>> {
    rows.iter().map(|row| row.logon_name.as_ref().map(|n| n.as_str())).collect()
}

impl Dialect for Postgres {
    /// Rows read for update are locked until the transaction ends.
    const ROW_LOCK: &'static str = " FOR UPDATE OF c";

    /// Several servers may share the database.
    const SHARED: bool = true;

    /// `pg_notify` rather than `NOTIFY`, so that the payload is a bound parameter.
    async fn notify_changed(pool: &Pool<Postgres>, payload: &str) -> Result<(), Error> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await?;
        Ok(())
    }

    /// A connection of its own (not one of the pool's), listening from now on.
    async fn listen_changes(pool: &Pool<Postgres>) -> Result<Option<Box<dyn ChangeFeed>>, Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgFeed(listener))))
    }

    /// Other servers' appenders wait until this transaction ends.
    async fn lock_audit_log(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE").execute(conn).await?;
        Ok(())
    }

    async fn registered_offices(
        conn: &mut PgConnection,
        crpcens: &[String],
    ) -> Result<Vec<String>, Error> {
        let found = sqlx::query_scalar("SELECT crpcen FROM offices WHERE crpcen = ANY($1)")
            .bind(crpcens)
            .fetch_all(conn)
            .await?;
        Ok(found)
    }

    async fn registered_mailboxes(
        conn: &mut PgConnection,
        addresses: &[&str],
    ) -> Result<Vec<(String, String, Option<String>)>, Error> {
        let found = sqlx::query_as(
            "SELECT address, display_name, logon_name FROM mailboxes WHERE address = ANY($1)",
        )
        .bind(addresses)
        .fetch_all(conn)
        .await?;
        Ok(found)
    }

    async fn insert_mailboxes(
        conn: &mut PgConnection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO mailboxes \
             (address, office, last_name, first_name, display_name, logon_name, \
              created_at, updated_at) \
             SELECT a, o, l, f, d, n, $6, $6 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                         $7::text[]) \
             AS t(a, o, l, f, d, n)",
        )
        .bind(column(rows, |r| r.address.as_str()))
        .bind(column(rows, |r| r.address.office().as_str()))
        .bind(column(rows, |r| r.address.last_name()))
        .bind(column(rows, |r| r.address.first_name()))
        .bind(column(rows, |r| r.display_name.as_str()))
        .bind(at)
        .bind(logon_names(rows))
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn rename_mailboxes(
        conn: &mut PgConnection,
        rows: &[&NewMailbox],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE mailboxes AS m SET display_name = u.d, \
             logon_name = COALESCE(u.n, m.logon_name), updated_at = $3 \
             FROM UNNEST($1::text[], $2::text[], $4::text[]) AS u(a, d, n) WHERE m.address = u.a",
        )
        .bind(column(rows, |r| r.address.as_str()))
        .bind(column(rows, |r| r.display_name.as_str()))
        .bind(at)
        .bind(logon_names(rows))
        .execute(conn)
        .await?;
        Ok(())
    }
}
