//! Throw-away databases for tests of this crate and of `sesame-tests`; the server never uses it.
//! Compiled only into test builds: this crate's own tests, and crates that enable the
//! `test-support` feature (`sesame-tests` does). It lives in `store`, the one module that knows
//! sqlx (`sesame_server::store::test_support`, with the `test-support` feature).
//!
//! SQLite databases live in a directory the caller owns. PostgreSQL databases are schemas of the
//! database named by `SESAME_TEST_POSTGRES_URL`, one per test, so tests run in parallel. When that
//! variable is missing the PostgreSQL tests are skipped, except under CI (`CI` set), where they
//! fail: a CI run must never pass without having exercised PostgreSQL.

// Reason: test support fails by panicking, like the tests that call it, and says why it skips.
#![allow(clippy::expect_used, clippy::panic, clippy::print_stderr)]

use std::path::Path;
use std::time::Duration;

use rand::RngCore;
use secrecy::SecretString;
use sqlx::Connection;

use crate::store::{self, SharedStore, StoreOptions};

/// The variable naming the PostgreSQL server tests use.
pub const POSTGRES_URL_VAR: &str = "SESAME_TEST_POSTGRES_URL";

/// A database made for one test.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    cleanup: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh SQLite database file in `dir`.
    pub fn sqlite(dir: &Path) -> TestDatabase {
        TestDatabase { url: format!("sqlite:{}", dir.join("sesame.db").display()), cleanup: None }
    }

    /// A fresh PostgreSQL schema, or `None` (test skipped) when PostgreSQL is not configured and
    /// this is not CI.
    ///
    /// # Panics
    /// Under CI without `SESAME_TEST_POSTGRES_URL`, or when the server cannot be reached.
    pub async fn postgres() -> Option<TestDatabase> {
        let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL tests"
            );
            eprintln!("skipping a PostgreSQL test: {POSTGRES_URL_VAR} is not set");
            return None;
        };
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let schema = format!("sesame_test_{}", hex::encode(bytes));
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create a test schema");
        let _ = conn.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options[search_path]={schema}");
        Some(TestDatabase { url, cleanup: Some((base, schema)) })
    }

    /// The database's URL, as the server's configuration takes it.
    pub fn url(&self) -> SecretString {
        SecretString::from(self.url.clone())
    }

    /// Options to open it with.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            url: self.url(),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    /// Opens (and migrates) a store on it.
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub async fn open(&self) -> SharedStore {
        store::connect(&self.options()).await.expect("open the test database")
    }

    /// Drops the PostgreSQL schema; nothing to do for SQLite, whose directory the caller removes.
    pub async fn destroy(self) {
        if let Some((base, schema)) = &self.cleanup
            && let Ok(mut conn) = sqlx::PgConnection::connect(base).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }

    /// The PostgreSQL schema as `pg_dump` writes it (schema and data); empty for SQLite.
    ///
    /// # Panics
    /// When `pg_dump` is missing or fails.
    pub async fn dump_text(&self) -> String {
        let Some((base, schema)) = &self.cleanup else { return String::new() };
        let base = base.split('?').next().unwrap_or(base).to_owned();
        let output = tokio::process::Command::new("pg_dump")
            .args(["--schema", schema.as_str(), "--no-owner", base.as_str()])
            .output()
            .await
            .expect("pg_dump runs (Debian package postgresql-client)");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs SQL statements directly on the database, behind the server's back (to simulate
    /// tampering or corruption).
    ///
    /// # Panics
    /// When a statement fails.
    pub async fn execute(&self, statements: &[&str]) {
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("reach PostgreSQL");
            for sql in statements {
                sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut conn)
                    .await
                    .expect("run a statement");
            }
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("open SQLite");
            for sql in statements {
                sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut conn)
                    .await
                    .expect("run a statement");
            }
        }
    }

    /// Runs the migrations this server carries up to `version` and no further, as the server of
    /// that version did (to fill a database at an earlier schema version).
    ///
    /// # Panics
    /// When the database cannot be reached or a migration fails.
    pub async fn migrate_to(&self, version: i64) {
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("reach PostgreSQL");
            store::postgres::MIGRATOR.run_to(version, &mut conn).await.expect("migrate");
            let _ = conn.close().await;
        } else {
            let options = std::str::FromStr::from_str(&self.url)
                .map(|o: sqlx::sqlite::SqliteConnectOptions| o.create_if_missing(true));
            let mut conn = sqlx::SqliteConnection::connect_with(&options.expect("a SQLite URL"))
                .await
                .expect("open SQLite");
            store::sqlite::MIGRATOR.run_to(version, &mut conn).await.expect("migrate");
            let _ = conn.close().await;
        }
    }

    /// Runs a script of several statements (a fixture) directly on the database.
    ///
    /// # Panics
    /// When a statement fails.
    pub async fn execute_script(&self, script: &str) {
        let script = sqlx::AssertSqlSafe(script.to_owned());
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("reach PostgreSQL");
            sqlx::raw_sql(script).execute(&mut conn).await.expect("run the script");
            let _ = conn.close().await;
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("open SQLite");
            sqlx::raw_sql(script).execute(&mut conn).await.expect("run the script");
            let _ = conn.close().await;
        }
    }

    /// The rows of `_sqlx_migrations`: each migration the database ran, and whether it succeeded.
    ///
    /// # Panics
    /// When the table cannot be read.
    pub async fn applied_migrations(&self) -> Vec<(i64, bool)> {
        let sql = "SELECT version, success FROM _sqlx_migrations ORDER BY version";
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("reach PostgreSQL");
            sqlx::query_as(sql).fetch_all(&mut conn).await.expect("read _sqlx_migrations")
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("open SQLite");
            sqlx::query_as(sql).fetch_all(&mut conn).await.expect("read _sqlx_migrations")
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.cleanup.is_some()
    }
}
