//! The backup module's own checks: an archive of a database at an older schema version verifies
//! (the temporary copy is migrated), a backup never replaces a file, and a restore into a
//! data directory that holds keys is refused before anything is written.

use std::sync::Arc;

use sesame_base::clock::ManualClock;
use time::macros::datetime;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::keys::audit_signing::AuditSigningKey;
use crate::keys::escrow::EscrowKey;
use crate::store::snapshot;

const NOW: time::OffsetDateTime = datetime!(2026-12-07 23:00 UTC);

/// A data directory with its keys and a database at schema `version`, as an older server left it.
async fn older_data_dir(root: &std::path::Path, version: i64) -> Config {
    let data = DataDir::create(&root.join("data")).unwrap();
    EscrowKey::load_or_create(&data.escrow_key(), true).unwrap();
    AuditSigningKey::load_or_create(&data.audit_signing_key(), true).unwrap();
    crate::keys::pki::load_or_create(&data, &[], NOW).unwrap();
    snapshot::create_sqlite_at_version(&data.database(), version).await.unwrap();
    Config { data_dir: data.root().to_path_buf(), ..Config::default() }
}

#[tokio::test]
async fn an_archive_of_an_older_schema_verifies_on_a_migrated_copy() {
    let dir = tempfile::tempdir().unwrap();
    let latest = snapshot::latest_schema_version();
    let older = 9;
    assert!(older < latest);
    let config = older_data_dir(dir.path(), older).await;
    let out = dir.path().join("old.backup");
    let manifest = super::backup(&config, &out, NOW).await.unwrap();
    assert_eq!(manifest.schema_version, Some(older));

    let again = super::backup(&config, &out, NOW).await.unwrap_err().to_string();
    assert!(
        again.ends_with("exists already: choose another name (a backup never replaces a file)")
    );

    let clock = Arc::new(ManualClock::new(NOW));
    let verified = super::verify::verify(&out, Some(dir.path()), clock).await.unwrap();
    assert!(verified.sound(), "{verified}");
    let checks = verified.database.as_ref().unwrap();
    assert_eq!((checks.schema_version, checks.checked_at_version), (older, latest));
    assert!(
        verified
            .to_string()
            .contains(&format!("schema version {older} (checked at version {latest})")),
        "{verified}"
    );
    // The database in the data directory was not migrated by the backup or the check.
    let untouched = snapshot::check_sqlite(&config.data_dir.join("sesame.db")).await.unwrap();
    assert_eq!(untouched.schema_version, older);
}

#[tokio::test]
async fn a_restore_over_keys_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = older_data_dir(dir.path(), snapshot::latest_schema_version()).await;
    let out = dir.path().join("sesame.backup");
    super::backup(&config, &out, NOW).await.unwrap();
    let other = Config { data_dir: dir.path().join("other"), ..Config::default() };
    std::fs::create_dir_all(&other.data_dir).unwrap();
    std::fs::write(other.data_dir.join("escrow.key"), "another key\n").unwrap();
    let refused = super::restore::restore(&out, &other).unwrap_err().to_string();
    assert!(refused.contains("escrow.key"), "{refused}");
    assert!(!other.data_dir.join("sesame.db").exists());
    assert!(!other.data_dir.join("ca.key").exists());
}
