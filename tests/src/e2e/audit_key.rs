//! The audit signing key cannot be lost quietly: a server whose database holds signed heads
//! refuses to start without their key (or with another one) and says what to do; a new key comes
//! only from the explicit, audited `audit rotate-key`, after which old and new heads all verify;
//! and `audit verify` names every problem of a damaged trail, not only the first.

use std::sync::Arc;

use sesame_server::StartError;
use sesame_server::keys::audit_signing::AuditSigningKey;

use crate::TestServer;

/// Runs each scenario `async fn NAME(server: &mut TestServer)` on both backends.
macro_rules! on_both_backends_mut {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = crate::TestServer::start(crate::Backend::Sqlite).await.expect("SQLite always runs");
                    super::$scenario(&mut server).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(mut server) = crate::TestServer::start(crate::Backend::Postgres).await else { return };
                    super::$scenario(&mut server).await;
                    server.stop().await;
                }
            )*
        }
    };
}

/// Signs the chain's head now, as the interval signer and the compliance report do.
async fn sign(server: &TestServer) -> sesame_server::domain::audit::SignedHead {
    server.services().sign_audit_head(server.clock_now()).await.unwrap()
}

/// An audited change.
async fn office(server: &TestServer, crpcen: &str) {
    server.sesamectl(&["office", "add", crpcen, "--name", "Étude Dupont"]).await.unwrap();
}

fn key_file(server: &TestServer) -> std::path::PathBuf {
    server.data_dir().join("data/audit-signing.key")
}

/// `sesame-server audit rotate-key` with the server's configuration.
async fn rotate(server: &TestServer) -> sesame_server::services::audit::key_rotation::RotatedKey {
    sesame_server::rotate_audit_key(&server.config(), Arc::new(server.clock.clone()))
        .await
        .expect("the rotation succeeds")
}

async fn a_missing_or_other_key_file_stops_the_start_with_what_to_do(server: &mut TestServer) {
    office(server, "01234").await;
    let head = sign(server).await;
    server.halt().await;
    let path = key_file(server);
    let saved = std::fs::read(&path).unwrap();

    std::fs::remove_file(&path).unwrap();
    let error = server.resume().await.unwrap_err();
    assert!(matches!(error, StartError::AuditKeyMissing { .. }), "{error:?}");
    let message = error.to_string();
    for expected in [
        path.display().to_string(),
        format!("audit heads signed by key {}", head.key_id),
        format!("backup of the data directory {}", server.data_dir().join("data").display()),
        "sesame-server audit rotate-key".to_owned(),
        "auditors will see".to_owned(),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message}");
    }
    assert!(!path.exists(), "no key is created in place of the lost one");

    let other = AuditSigningKey::create(&path).unwrap();
    let error = server.resume().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StartError::AuditKeyMismatch { .. }), "{error:?}");
    assert!(
        message.contains(&format!(
            "holds key {}, but the audit trail's key is {}",
            other.id(),
            head.key_id
        )),
        "{message}"
    );

    // The file restored from the backup: the server starts and the trail is intact.
    std::fs::write(&path, &saved).unwrap();
    server.resume().await.expect("the restored key is the chain's");
    let out = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
}

async fn a_rotation_is_audited_and_every_head_still_verifies(server: &mut TestServer) {
    office(server, "01234").await;
    let first = sign(server).await;
    server.halt().await;
    let path = key_file(server);
    let old = AuditSigningKey::load(&path).unwrap();

    let rotated = rotate(server).await;
    let new_id = rotated.rotation.new_key_id.clone();
    assert!(rotated.rotation.old_key_available());
    assert_eq!(rotated.rotation.old.as_ref().unwrap().id, old.id());
    assert_eq!(rotated.head.key_id, old.id(), "the old key vouches for the hand-over");
    assert_eq!(rotated.head.seq, rotated.seq);
    let kept = rotated.old_file.clone().unwrap();
    assert_eq!(kept, path.with_file_name(format!("audit-signing.key.{}.retired", old.id())));
    assert_eq!(AuditSigningKey::load(&kept).unwrap().id(), old.id(), "the old file is kept");
    assert_eq!(AuditSigningKey::load(&path).unwrap().id(), new_id);

    server.resume().await.expect("the new key is the chain's");
    assert_eq!(server.services().audit.key.id(), new_id);
    let listed = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    assert!(listed.contains("audit.key.rotate"), "{listed}");
    let new_public: String =
        rotated.rotation.new_public_key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(listed.contains(&new_public), "the new public key is in the chain: {listed}");

    office(server, "01235").await;
    let after = sign(server).await;
    assert_eq!(after.key_id, new_id, "new heads are signed by the new key");
    assert!(after.seq > rotated.seq && rotated.seq > first.seq);
    let out = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
    assert!(out.contains("Signed heads: 3 verified"), "old, hand-over and new heads: {out}");
    assert!(out.contains("Key rotations recorded in the trail: 1"), "{out}");

    // A head signed afterwards with the retired key (a stolen backup, or a server not given the
    // new key) is named.
    let forged_at = {
        office(server, "01236").await;
        server.services().store.audit_head().await.unwrap().unwrap()
    };
    let forged = sesame_server::domain::audit::SignedHead {
        seq: forged_at.0,
        hash: forged_at.1,
        signed_at: server.clock_now(),
        key_id: old.id().to_owned(),
        signature: old.sign(&sesame_server::domain::audit::head_message(
            forged_at.0,
            &forged_at.1,
            server.clock_now(),
        )),
    };
    server.services().store.insert_signed_head(&forged).await.unwrap();
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "signed head {}: signed by key {}, but the chain's key at that record is {new_id}",
            forged_at.0,
            old.id()
        )),
        "{error}"
    );
}

async fn a_lost_key_is_rotated_in_the_open(server: &mut TestServer) {
    office(server, "01234").await;
    let lost = sign(server).await;
    server.halt().await;
    std::fs::remove_file(key_file(server)).unwrap();
    assert!(server.resume().await.is_err());

    let rotated = rotate(server).await;
    assert!(!rotated.rotation.old_key_available());
    assert_eq!(rotated.rotation.old.as_ref().unwrap().id, lost.key_id);
    assert_eq!(rotated.head.key_id, rotated.rotation.new_key_id, "signed by the new key");
    assert!(rotated.old_file.is_none());
    server.resume().await.expect("the new key is the chain's");
    let out = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
    assert!(
        out.contains(
            "Signed heads whose key was recorded lost at a rotation (signatures not checkable): 1."
        ),
        "{out}"
    );
    let listed = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    assert!(listed.contains("\\\"old_key_available\\\":false"), "{listed}");
}

/// Drops the guards of both audit tables, as someone who can write the database does.
async fn drop_guards(server: &TestServer) {
    let statements: &[&str] = if server.database().is_postgres() {
        &[
            "DROP TRIGGER audit_log_no_update_delete ON audit_log",
            "DROP TRIGGER audit_heads_no_update_delete ON audit_heads",
        ]
    } else {
        &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_heads_no_update",
            "DROP TRIGGER audit_heads_no_delete",
        ]
    };
    server.database().execute(statements).await;
}

async fn verify_names_every_problem(server: &mut TestServer) {
    office(server, "01234").await;
    office(server, "01235").await;
    let forged = sign(server).await;
    office(server, "01236").await;
    let deleted = sign(server).await;
    assert!(forged.seq >= 3 && deleted.seq > forged.seq);
    drop_guards(server).await;
    let zeros = if server.database().is_postgres() {
        "decode(repeat('00', 64), 'hex')"
    } else {
        "zeroblob(64)"
    };
    let unknown_at = forged.seq - 1;
    let statements = [
        // A record rewritten in place.
        "UPDATE audit_log SET details = '{\"name\":\"Étude Forgée\"}' WHERE seq = 1".to_owned(),
        // A head forged: its signature replaced.
        format!("UPDATE audit_heads SET signature = {zeros} WHERE seq = {}", forged.seq),
        // The newest head deleted.
        format!("DELETE FROM audit_heads WHERE seq = {}", deleted.seq),
        // A head by a key nobody knows.
        format!(
            "INSERT INTO audit_heads (seq, hash, signed_at, key_id, signature) \
             SELECT {unknown_at}, hash, signed_at, '0123456789abcdef', signature \
             FROM audit_heads WHERE seq = {}",
            forged.seq
        ),
    ];
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    server.database().execute(&statements).await;
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(error.starts_with("the audit trail is BROKEN at record 1: "), "{error}");
    assert!(error.contains("4 problem(s) found in the audit trail"), "{error}");
    for expected in [
        "record 1: content does not match its hash".to_owned(),
        format!("signed head {unknown_at}: signed by key 0123456789abcdef, which is neither"),
        format!("signed head {}: bad signature", forged.seq),
        format!(
            "this server signed head {}, but the newest signed head in the database is {}",
            deleted.seq, forged.seq
        ),
    ] {
        assert!(error.contains(&expected), "{expected:?} in {error}");
    }
}

on_both_backends_mut!(
    a_missing_or_other_key_file_stops_the_start_with_what_to_do,
    a_rotation_is_audited_and_every_head_still_verifies,
    a_lost_key_is_rotated_in_the_open,
    verify_names_every_problem,
);
