//! Upgrades (reliability H1, H3, H5), on both databases: a database filled at every earlier schema
//! version (`tests/fixtures/schema/vNNNN.sql`) opens on this server, migrated, with everything
//! readable through the store; a database a newer Sesame migrated, one another build migrated and
//! one left by a half-failed migration are refused with what to do; an existing SQLite database is
//! copied, at its old version, before it is migrated; servers starting together on one PostgreSQL
//! database migrate it once.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use sesame_server::domain::audit::{GENESIS_HASH, RecordFields, record_hash, verify};
use sesame_server::domain::identifier::AdminName;
use sesame_server::domain::office::{Crpcen, MailDomain, MailboxAddress};
use sesame_server::domain::password::StrengthChecks;
use sesame_server::domain::rotation::{RotationKind, RotationStatus};
use sesame_server::domain::workstation::WorkstationStatus;
use sesame_server::store::test_support::TestDatabase;
use sesame_server::store::{self, Store};

/// The landed migrations' versions (`tests/src/landed_migrations.txt`), in order.
fn landed_versions() -> Vec<i64> {
    let list = include_str!("../landed_migrations.txt");
    let versions: BTreeSet<i64> = list
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit('/').next()?.split_once('_')?.0.parse().ok())
        .collect();
    versions.into_iter().collect()
}

/// The schema version this server migrates to.
fn current_version() -> i64 {
    *landed_versions().last().expect("landed migrations")
}

/// The fixture of `version`, written for `db`: SQLite takes it as is; PostgreSQL takes its blob
/// literals `X'0a1b'` as `'\x0a1b'::bytea`.
fn fixture(version: i64, db: &TestDatabase) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema")
        .join(format!("v{version:04}.sql"));
    let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e} (each landed migration has a fixture)", path.display())
    });
    if !db.is_postgres() {
        return sql;
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql.as_str();
    while let Some(at) = rest.find("X'") {
        let (before, blob) = rest.split_at(at);
        let hex_len = blob[2..].find('\'').expect("a closed blob literal");
        out.push_str(before);
        out.push_str(&format!("'\\x{}'::bytea", &blob[2..2 + hex_len]));
        rest = &blob[2 + hex_len + 1..];
    }
    out.push_str(rest);
    out
}

/// A database at schema `version`, filled as the server of that version left it.
async fn fill(db: &TestDatabase, version: i64) {
    db.migrate_to(version).await;
    db.execute_script(&fixture(version, db)).await;
}

fn crpcen(value: &str) -> Crpcen {
    Crpcen::parse(value).expect("a CRPCEN")
}

fn address(value: &str) -> MailboxAddress {
    MailboxAddress::parse(value, &MailDomain::default()).expect("an address")
}

/// Everything the fixture of `version` wrote, read back through the store after the upgrade.
async fn check_upgraded(store: &dyn Store, version: i64) {
    let at = format!("fixture v{version:04}");
    let offices = store.list_offices().await.expect("offices");
    let names: Vec<(&str, u64)> =
        offices.iter().map(|o| (o.crpcen.as_str(), o.mailbox_count)).collect();
    assert_eq!(names, [("13003", 1), ("69002", 2), ("75001", 2)], "{at}");
    assert_eq!(offices[2].name, "Étude Alpha", "{at}");
    let mailboxes = store.list_mailboxes(None, None, 100).await.expect("mailboxes");
    assert_eq!(mailboxes.len(), 5, "{at}");
    let dupont = store.get_mailbox(&address("dupont.jean@75001.mailnot.fr")).await.expect("one");
    assert_eq!(dupont.display_name, "Jean Dupont", "{at}");
    assert_eq!(dupont.logon_name.is_some(), version >= 4, "{at}");
    let admins = store.list_admins().await.expect("admins");
    assert_eq!(admins.len(), 4, "{at}");

    let records = store.audit_records(None, 0, 1000).await.expect("audit records");
    let expected_records = if version >= 2 { 13 } else { 10 };
    assert_eq!(records.len(), expected_records, "{at}");
    if let Err(broken) = verify(0, GENESIS_HASH, &records) {
        let hashes: Vec<String> = records
            .iter()
            .scan(GENESIS_HASH, |prev, r| {
                let fields = RecordFields {
                    seq: r.seq,
                    at: r.at,
                    actor: &r.actor,
                    action: &r.action,
                    office: r.office.as_deref(),
                    target: &r.target,
                    details: &r.details,
                };
                *prev = record_hash(prev, &fields);
                Some(format!("{}: {}", r.seq, hex(prev)))
            })
            .collect();
        panic!("{at}: the audit chain breaks ({broken}); the right hashes: {hashes:#?}");
    }

    if version >= 2 {
        let workstations = store.list_workstations(None).await.expect("workstations");
        let statuses: Vec<WorkstationStatus> = workstations.iter().map(|w| w.status).collect();
        use WorkstationStatus::{Active, Locked, Revoked};
        assert_eq!(statuses, [Revoked, Active, Locked, Active], "{at}");
        let tokens = store.list_enrollment_tokens(None).await.expect("tokens");
        assert_eq!(tokens.len(), 2, "{at}");
    }
    if version >= 3 {
        let mut counts = store.rotation_counts().await.expect("rotation counts");
        counts.sort_by_key(|(status, _)| status.as_str());
        let issued = if version >= 5 { 2 } else { 1 };
        use RotationStatus::{Cancelled, Completed, Delivered, Expired, Failed, Issued};
        assert_eq!(
            counts,
            [
                (Cancelled, 1),
                (Completed, 1),
                (Delivered, 1),
                (Expired, 1),
                (Failed, 1),
                (Issued, issued)
            ],
            "{at}"
        );
        let open = store.list_rotations(None, true, None, 100).await.expect("open rotations");
        assert_eq!(open.len(), usize::try_from(issued + 1).expect("small"), "{at}");
        let provisional = store.current_rotation(dupont.id).await.expect("a rotation");
        assert_eq!(
            provisional.map(|r| (r.status, r.kind)),
            Some((Issued, RotationKind::Provisional))
        );
        let policy = store.password_policy(Some(&crpcen("75001"))).await.expect("a policy");
        assert_eq!(policy.rule.min_length, 14, "{at}");
        // Before 0013 a policy had no strength checks: the migration gives it all, score 3.
        let strength = if version >= 13 {
            StrengthChecks { personal_words: false, common_passwords: true, min_score: 2 }
        } else {
            StrengthChecks::default()
        };
        assert_eq!(policy.strength, strength, "{at}");
        let global = store.password_policy(None).await.expect("the global policy");
        assert_eq!(global.strength, StrengthChecks::default(), "{at}");
        let open =
            store.list_rotations(Some(&crpcen("69002")), true, None, 10).await.expect("open");
        assert!(
            open.iter()
                .all(|r| r.office_name == "Étude Beta" && r.office_city.as_deref() == Some("Lyon")),
            "{at}: each rotation is read with its office's name and city"
        );
    }
    if version >= 4 {
        let urls = store.owa_urls(Some(&crpcen("69002"))).await.expect("OWA addresses");
        assert!(urls.0.is_some(), "{at}: the global address");
        assert!(format!("{:?}", urls.1).contains("mail.etude-beta.fr"), "{at}: {urls:?}");
        let check_ins = store.check_ins(None).await.expect("check-ins");
        assert_eq!(check_ins.len(), 2, "{at}");
    }
    if version >= 5 {
        let durand =
            store.get_mailbox(&address("durand.paul@69002.mailnot.fr")).await.expect("one");
        assert!(durand.last_verified_change_at.is_some(), "{at}");
    }
    if version >= 6 {
        let heads = store.signed_heads(0, 10).await.expect("signed heads");
        assert_eq!(heads.iter().map(|h| h.seq).collect::<Vec<_>>(), [13], "{at}");
    }
    if version >= 7 {
        let policies = store.compliance_policies().await.expect("compliance policies");
        assert!(policies.offices.contains_key("75001"), "{at}");
    }
    if version >= 12 {
        let name = AdminName::parse("name", "root").expect("a name");
        let credentials = store.web_credentials(&name).await.expect("web credentials");
        assert!(credentials.password_hash.is_some() && credentials.totp.is_some(), "{at}");
    }

    // The upgraded database takes writes: identities and the audit chain go on from the fixture's.
    let office = sesame_server::domain::office::NewOffice {
        crpcen: crpcen("33004"),
        name: sesame_server::domain::office::Text::parse("name", "Étude Delta").expect("a name"),
        city: None,
    };
    let actor = sesame_server::domain::audit::Actor::system();
    // 2026-01-11 09:00 UTC, after the fixture's last record.
    let written_at = time::OffsetDateTime::from_unix_timestamp(1_768_122_000).expect("a time");
    store.create_office(&office, &actor, written_at).await.expect("write");
    let records = store.audit_records(None, 0, 1000).await.expect("audit records");
    assert_eq!(records.len(), expected_records + 1, "{at}");
    verify(0, GENESIS_HASH, &records).expect("the chain goes on");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fills, upgrades and checks a database at every landed version; prints how long each took.
async fn every_earlier_version_upgrades(new_database: impl AsyncFn(&Path) -> Option<TestDatabase>) {
    for version in landed_versions() {
        let dir = tempfile::tempdir().expect("a directory");
        let Some(db) = new_database(dir.path()).await else { return };
        fill(&db, version).await;
        let started = Instant::now();
        let store = db.open().await;
        let took = started.elapsed();
        check_upgraded(&*store, version).await;
        let applied = db.applied_migrations().await;
        assert_eq!(
            applied.iter().map(|(v, ok)| (*v, *ok)).collect::<Vec<_>>(),
            landed_versions().into_iter().map(|v| (v, true)).collect::<Vec<_>>()
        );
        println!("upgraded schema v{version} to v{}: {took:?}", current_version());
        store.close().await;
        drop(store);
        db.destroy().await;
    }
}

#[tokio::test]
async fn sqlite_every_earlier_schema_version_upgrades() {
    every_earlier_version_upgrades(async |dir: &Path| Some(TestDatabase::sqlite(dir))).await;
}

#[tokio::test]
async fn postgres_every_earlier_schema_version_upgrades() {
    every_earlier_version_upgrades(async |_: &Path| TestDatabase::postgres().await).await;
}

/// The copies next to the SQLite file.
fn copies(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bak"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn sqlite_is_copied_at_its_old_version_before_it_is_migrated() {
    let dir = tempfile::tempdir().expect("a directory");
    let db = TestDatabase::sqlite(dir.path());
    fill(&db, 8).await;
    let store = db.open().await;
    store.close().await;
    let current = current_version();
    let name = format!("sesame.db.schema-8.before-{current}.bak");
    assert_eq!(copies(dir.path()), std::slice::from_ref(&name));
    let copy = dir.path().join(&name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("the copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the server's user reads the copy");
    }
    // Restoring the copy (the runbook for going back) gives the old version, which upgrades again.
    let restored = tempfile::tempdir().expect("a directory");
    std::fs::copy(&copy, restored.path().join("sesame.db")).expect("restore the copy");
    let old = TestDatabase::sqlite(restored.path());
    let applied = old.applied_migrations().await;
    assert_eq!(applied.len(), 8, "the copy is at the old version: {applied:?}");
    assert_eq!(applied.last(), Some(&(8, true)));
    let store = old.open().await;
    check_upgraded(&*store, 8).await;
    store.close().await;

    // Up to date: nothing to copy. A new database: nothing to copy either.
    let store = db.open().await;
    store.close().await;
    assert_eq!(copies(dir.path()), [name]);
    let fresh = tempfile::tempdir().expect("a directory");
    let store = TestDatabase::sqlite(fresh.path()).open().await;
    store.close().await;
    assert!(copies(fresh.path()).is_empty());
}

/// The database changed behind the server's back by `statements`; the server's start on it fails
/// with the error returned, and runs nothing.
async fn refused_after(db: &TestDatabase, statements: &[&str]) -> store::Error {
    db.execute(statements).await;
    let before = db.applied_migrations().await;
    let refused = store::connect(&db.options()).await.expect_err("the start is refused");
    assert_eq!(db.applied_migrations().await, before, "nothing ran");
    refused
}

/// A one-byte blob literal in the database's dialect.
fn byte_literal(db: &TestDatabase) -> &'static str {
    if db.is_postgres() { "'\\x00'::bytea" } else { "X'00'" }
}

/// A database at the current version refuses to start once a newer migration, another build's
/// migration, a modified one or a half-failed one is recorded; each is put right before the next.
async fn foreign_databases_are_refused(db: &TestDatabase) {
    let current = current_version();
    db.open().await.close().await;
    let blob = byte_literal(db);
    let newer = format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, {blob}, 0)"
    );
    let refused = refused_after(db, &[&newer]).await;
    assert!(
        matches!(refused, store::Error::SchemaTooNew { database: 9999, server } if server == current),
        "{refused:?}"
    );
    // Through the server's start, as an administrator reads it.
    let data = tempfile::tempdir().expect("a directory");
    let config = sesame_server::Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        data_dir: data.path().join("data"),
        database_url: Some(db.url()),
        ..sesame_server::Config::default()
    };
    let clock = std::sync::Arc::new(sesame_base::clock::SystemClock);
    let started = sesame_server::Server::prepare(&config, config.listen, clock).await;
    let shown = sesame_base::error_chain::chain(&started.expect_err("the server refuses to start"));
    println!("{shown}");
    for needed in ["version 9999", &format!("schema version {current}"), "newer", "backup"] {
        assert!(shown.contains(needed), "{needed:?} in {shown}");
    }

    let foreign = format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (10, 'another build', TRUE, {blob}, 0)"
    );
    let refused =
        refused_after(db, &["DELETE FROM _sqlx_migrations WHERE version = 9999", &foreign]).await;
    assert!(matches!(refused, store::Error::SchemaUnknown { version: 10, .. }), "{refused:?}");

    let modified = format!("UPDATE _sqlx_migrations SET checksum = {blob} WHERE version = 1");
    let refused =
        refused_after(db, &["DELETE FROM _sqlx_migrations WHERE version = 10", &modified]).await;
    assert!(matches!(refused, store::Error::SchemaModified { version: 1, .. }), "{refused:?}");
    assert!(refused.to_string().contains("migration 1 "), "{refused}");

    // A half-failed migration (sqlx marks one unsuccessful only outside a transaction, which no
    // migration of ours runs in; an older sqlx or a hand-run script could leave one).
    let dirty = format!("UPDATE _sqlx_migrations SET success = FALSE WHERE version = {current}");
    let refused = refused_after(db, &[&dirty]).await;
    assert!(matches!(refused, store::Error::SchemaDirty { version, .. } if version == current));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_newer_foreign_and_half_failed_databases_are_refused() {
    let dir = tempfile::tempdir().expect("a directory");
    foreign_databases_are_refused(&TestDatabase::sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_newer_foreign_and_half_failed_databases_are_refused() {
    let Some(db) = TestDatabase::postgres().await else { return };
    foreign_databases_are_refused(&db).await;
    db.destroy().await;
}

/// H3: servers starting together on a new PostgreSQL schema all start, and the migrations run once
/// (under the advisory lock, the others wait and find nothing to do).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_servers_starting_together_migrate_once() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let started = Instant::now();
    let starts = (0..4).map(|_| {
        let options = db.options();
        tokio::spawn(async move { store::connect(&options).await })
    });
    let stores: Vec<_> = futures_util::future::join_all(starts).await;
    let took = started.elapsed();
    let mut opened = Vec::new();
    for store in stores {
        opened.push(store.expect("no panic").expect("every server starts"));
    }
    let applied = db.applied_migrations().await;
    assert_eq!(
        applied,
        landed_versions().into_iter().map(|v| (v, true)).collect::<Vec<_>>(),
        "each migration ran once"
    );
    println!("4 servers started together on a new schema in {took:?}");
    for store in opened {
        store.close().await;
    }
    db.destroy().await;
}
