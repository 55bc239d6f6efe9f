//! The PostgreSQL backup as the README tells it: `sesame-server backup` (the keys, the noted head)
//! first, then `pg_dump -Fc`; restored with `sesame-server restore` and `pg_restore` into a fresh
//! database (created here and dropped after), on which a server starts with every office,
//! escrowed password and an intact audit trail.

use std::process::Command;
use std::sync::Arc;

use rand::RngCore;
use secrecy::ExposeSecret;
use sesame_base::clock::{Clock as _, SystemClock};
use sesame_server::backup::{self, archive::DatabaseKind, verify::verify};
use sesame_server::config::Config;

use super::{Restored, office_with_provisional_passwords};
use crate::{Backend, TestServer};

/// Runs a PostgreSQL client tool and insists that it succeeds.
fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (Debian package postgresql-client): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A database made for the restore, dropped when the test ends, however it ends.
struct FreshDatabase {
    maintenance: String,
    name: String,
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = Command::new("psql").args([self.maintenance.as_str(), "-qc", &sql]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_and_a_pg_dump_give_back_a_working_server() {
    let Some(server) = TestServer::start(Backend::Postgres).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let before = office_with_provisional_passwords(&server, dir.path()).await;
    server.services().sign_audit_head(server.clock_now()).await.unwrap();

    // The archive first: the head it notes is then in the dump taken after it.
    let archive = dir.path().join("sesame.backup");
    let manifest = backup::backup(&server.config(), &archive, SystemClock.now()).await.unwrap();
    assert_eq!(manifest.database, DatabaseKind::Postgresql);
    assert!(manifest.member(backup::DATABASE).is_none(), "the database is pg_dump's");
    let verified = verify(&archive, None, Arc::new(SystemClock)).await.unwrap();
    assert!(verified.sound() && verified.database.is_none(), "{verified}");
    assert!(verified.to_string().contains("not in the archive (PostgreSQL)"), "{verified}");

    // The test database is a schema of the shared one: dump that schema.
    let url = server.database().url().expose_secret().to_owned();
    let (base, schema) = url.rsplit_once("options[search_path]=").unwrap();
    let base = base.trim_end_matches(['?', '&']);
    let dump = dir.path().join("sesame.dump");
    let dump_path = dump.to_str().unwrap();
    run("pg_dump", &["-Fc", "--no-owner", "--schema", schema, "-f", dump_path, base]);

    let fresh = FreshDatabase {
        maintenance: base.to_owned(),
        name: format!("sesame_restored_{:x}", rand::rng().next_u64()),
    };
    run("psql", &[base, "-qc", &format!("CREATE DATABASE {}", fresh.name)]);
    let (server_url, _) = base.rsplit_once('/').unwrap();
    let restored_base = format!("{server_url}/{}", fresh.name);
    run("pg_restore", &["--no-owner", "--exit-on-error", "-d", &restored_base, dump_path]);

    let data = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().join("data"),
        database_url: Some(format!("{restored_base}?options[search_path]={schema}").into()),
        ..Config::default()
    };
    let restored = backup::restore::restore(&archive, &config).unwrap();
    assert!(restored.files.iter().all(|f| f.starts_with(&config.data_dir)));
    let restarted = Restored::start(&config).await;
    restarted.assert_whole(&[], &before, dir.path()).await;
    restarted.stop().await;
    drop(fresh);
    server.stop().await;
}
