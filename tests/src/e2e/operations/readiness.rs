//! Readiness and health follow the database, on PostgreSQL: the server runs as a role of its own
//! on a database of its own; when the role loses its right to connect and its sessions are ended,
//! `/readyz` answers 503 (a short reason, nothing of the database's message) and the health
//! service NOT_SERVING; when the right comes back, so do they. Under CI this test fails, rather
//! than skips, without PostgreSQL.

use std::time::Duration;

use rand::RngCore;
use secrecy::SecretString;
use sesame_server::store::test_support::POSTGRES_URL_VAR;
use sqlx::{Connection, PgConnection};
use tonic_health::pb::health_check_response::ServingStatus;

use super::{ADMIN, AGENT, Exposition, eventually, get, health};
use crate::{Backend, TestServer};

/// How long a change may take to show: a few health checks (every 2 s, each up to 2 s).
const WITHIN: Duration = Duration::from_secs(30);

/// A role and a database made for this test, on the PostgreSQL server of `SESAME_TEST_POSTGRES_URL`.
struct OwnDatabase {
    /// The superuser URL the tests are given.
    base: String,
    role: String,
    database: String,
    /// The URL the server connects with, as the role.
    url: String,
}

impl OwnDatabase {
    async fn create(base: &str) -> OwnDatabase {
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let (role, database) = (format!("sesame_ops_{suffix}"), format!("sesame_ops_{suffix}"));
        rand::rng().fill_bytes(&mut bytes);
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let own = OwnDatabase {
            base: base.to_owned(),
            url: with(base, Some((&role, &password)), &database),
            role,
            database,
        };
        own.run(&[
            &format!("CREATE ROLE {} LOGIN PASSWORD '{password}'", own.role),
            &format!("CREATE DATABASE {}", own.database),
            &format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", own.database),
            &format!("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}", own.database, own.role),
        ])
        .await;
        let mut inside = PgConnection::connect(&with(base, None, &own.database)).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("GRANT ALL ON SCHEMA public TO {}", own.role)))
            .execute(&mut inside)
            .await
            .unwrap();
        let _ = inside.close().await;
        own
    }

    /// Runs statements as the superuser, on the tests' database.
    async fn run(&self, statements: &[&str]) {
        let mut conn = PgConnection::connect(&self.base).await.unwrap();
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&mut conn).await.unwrap();
        }
        let _ = conn.close().await;
    }

    /// Takes the role's right to connect away and ends its sessions.
    async fn cut(&self) {
        self.run(&[
            &format!("REVOKE CONNECT ON DATABASE {} FROM {}", self.database, self.role),
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
                self.role
            ),
        ])
        .await;
    }

    /// Gives the right back.
    async fn restore(&self) {
        self.run(&[&format!("GRANT CONNECT ON DATABASE {} TO {}", self.database, self.role)]).await;
    }

    async fn drop_all(self) {
        self.run(&[
            &format!("DROP DATABASE {} WITH (FORCE)", self.database),
            &format!("DROP ROLE {}", self.role),
        ])
        .await;
    }
}

/// `base` with another database and, when given, another user and password.
fn with(base: &str, user: Option<(&str, &str)>, database: &str) -> String {
    let mut url = url::Url::parse(base).unwrap();
    if let Some((user, password)) = user {
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
    }
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// What health says of the server as a whole and of each service.
async fn statuses(server: &TestServer) -> Vec<ServingStatus> {
    let channel = server.anonymous_channel().await;
    let mut found = Vec::new();
    for service in ["", ADMIN, AGENT] {
        found.push(health(channel.clone(), service).await.unwrap());
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_health_turn_with_the_database_and_come_back() {
    let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(std::env::var_os("CI").is_none(), "{POSTGRES_URL_VAR} is not set: CI must run it");
        return;
    };
    let own = OwnDatabase::create(&base).await;
    let url = own.url.clone();
    let server = TestServer::start_with(Backend::Postgres, move |config| {
        config.database_url = Some(SecretString::from(url));
        // The metrics' numbers read every second, so that the reading without the database shows.
        config.metrics_refresh = Duration::from_secs(1);
    })
    .await
    .expect("PostgreSQL is configured");
    let ops = server.ops_address;
    assert_eq!(get(ops, "/readyz").await.0, 200);
    assert_eq!(statuses(&server).await, [ServingStatus::Serving; 3]);

    own.cut().await;
    eventually(
        WITHIN,
        "/readyz turns 503",
        move || async move { get(ops, "/readyz").await.0 == 503 },
    )
    .await;
    let (_, _, reason) = get(ops, "/readyz").await;
    assert!(reason.starts_with("not ready: database "), "{reason}");
    assert!(!reason.contains(&own.role) && !reason.contains("permission"), "{reason}");
    let running = &server;
    eventually(WITHIN, "health turns NOT_SERVING", move || async move {
        statuses(running).await == [ServingStatus::NotServing; 3]
    })
    .await;
    // The process still answers, and its next reading of the metrics' numbers says the database
    // is down.
    assert_eq!(get(ops, "/livez").await.0, 200);
    eventually(WITHIN, "/metrics says the database is down", move || async move {
        let (status, _, text) = get(ops, "/metrics").await;
        status == 200 && Exposition::parse(&text).value("sesame_database_up", &[]) == Some(0.0)
    })
    .await;

    own.restore().await;
    eventually(
        WITHIN,
        "/readyz comes back",
        move || async move { get(ops, "/readyz").await.0 == 200 },
    )
    .await;
    eventually(WITHIN, "health comes back", move || async move {
        statuses(running).await == [ServingStatus::Serving; 3]
    })
    .await;

    server.stop().await;
    own.drop_all().await;
}
