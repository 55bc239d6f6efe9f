//! The audit trail outlives a database compromise: a chain rewritten in the database with every
//! hash recomputed (so the plain chain check passes) is caught by the signed heads; signed heads
//! deleted are caught through the last head the server noted in its data directory.

use sesame_server::domain::audit::{GENESIS_HASH, RecordFields, record_hash};

use crate::TestServer;

/// Signs the chain's head now, as the interval signer and the compliance report do.
async fn sign(server: &TestServer) -> i64 {
    server.services().sign_audit_head(server.clock_now()).await.unwrap().seq
}

/// A few audited changes.
async fn activity(server: &TestServer) {
    for (crpcen, name) in [("01234", "Étude Dupont"), ("01235", "Étude Martin")] {
        server.sesamectl(&["office", "add", crpcen, "--name", name]).await.unwrap();
    }
}

/// A hash as an SQL literal of the database's binary type.
fn blob(server: &TestServer, bytes: &[u8; 32]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if server.database().is_postgres() {
        format!("decode('{hex}', 'hex')")
    } else {
        format!("X'{hex}'")
    }
}

/// What someone who can write the database does: drops the guards, edits record `seq`'s details
/// and recomputes every hash and link after it with the server's own `record_hash`.
async fn rewrite_chain(server: &TestServer, seq: i64, details: &str) {
    let drop_guards: &[&str] = if server.database().is_postgres() {
        &["DROP TRIGGER audit_log_no_update_delete ON audit_log"]
    } else {
        &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
    };
    server.database().execute(drop_guards).await;
    let store = server.database().open().await;
    let records = store.audit_records(None, 0, 100_000).await.unwrap();
    store.close().await;
    let mut prev = GENESIS_HASH;
    let mut statements = Vec::new();
    for record in &records {
        let details = if record.seq == seq { details } else { record.details.as_str() };
        let fields = RecordFields {
            seq: record.seq,
            at: record.at,
            actor: &record.actor,
            action: &record.action,
            office: record.office.as_deref(),
            target: &record.target,
            details,
        };
        let hash = record_hash(&prev, &fields);
        statements.push(format!(
            "UPDATE audit_log SET details = '{}', prev_hash = {}, hash = {} WHERE seq = {}",
            details.replace('\'', "''"),
            blob(server, &prev),
            blob(server, &hash),
            record.seq
        ));
        prev = hash;
    }
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    server.database().execute(&statements).await;
}

async fn a_rewritten_chain_is_caught_by_its_signed_heads(server: &TestServer) {
    activity(server).await;
    let head = sign(server).await;
    let out = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
    let key_id = server.services().audit.key.id();
    assert!(out.contains(&format!("verified with key {key_id}; newest: record {head},")), "{out}");
    activity_after(server).await;

    rewrite_chain(server, 2, "{\"city\":null,\"name\":\"Étude Forgée\"}").await;
    let listed = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    assert!(listed.contains("Étude Forgée"), "the rewrite took: {listed}");
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(!error.contains("BROKEN at record"), "the plain chain check passes: {error}");
    // The first head signing a rewritten record: ours, or one the interval signer made while
    // the offices were added.
    assert!(error.contains("do NOT match, at head ") && error.contains("rewritten"), "{error}");
}

/// One more change after the head was signed: records after the newest head are not covered.
async fn activity_after(server: &TestServer) {
    server.sesamectl(&["office", "add", "01236", "--name", "Étude Bernard"]).await.unwrap();
}

async fn deleted_heads_are_caught_through_the_data_directory(server: &TestServer) {
    activity(server).await;
    let head = sign(server).await;
    server.sesamectl(&["audit", "verify"]).await.unwrap();
    let drop_guards: &[&str] = if server.database().is_postgres() {
        &["DROP TRIGGER audit_heads_no_update_delete ON audit_heads"]
    } else {
        &["DROP TRIGGER audit_heads_no_delete"]
    };
    server.database().execute(drop_guards).await;
    server.database().execute(&["DELETE FROM audit_heads"]).await;
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "this server signed head {head}, but the newest signed head in the database is 0"
        )),
        "{error}"
    );
}

async fn a_forged_head_is_caught_by_its_signature(server: &TestServer) {
    activity(server).await;
    sign(server).await;
    let drop_guards: &[&str] = if server.database().is_postgres() {
        &["DROP TRIGGER audit_heads_no_update_delete ON audit_heads"]
    } else {
        &["DROP TRIGGER audit_heads_no_update"]
    };
    server.database().execute(drop_guards).await;
    // The rewritten chain's hashes copied into the heads, keeping the old signatures.
    rewrite_chain(server, 2, "{\"city\":null,\"name\":\"Étude Forgée\"}").await;
    server
        .database()
        .execute(&["UPDATE audit_heads SET hash = (SELECT hash FROM audit_log \
                    WHERE audit_log.seq = audit_heads.seq)"])
        .await;
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(error.contains("do NOT match") && error.contains("bad signature"), "{error}");
    assert!(!error.contains("BROKEN at record"), "the plain chain check passes: {error}");
}

on_both_backends!(
    a_rewritten_chain_is_caught_by_its_signed_heads,
    deleted_heads_are_caught_through_the_data_directory,
    a_forged_head_is_caught_by_its_signature,
);

/// Two servers on one database sign one chain with one key, each noting its own last head: the
/// one whose note is older than the database's newest head raises no false alarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sign_one_chain_without_false_alarms() {
    let Some(first) = TestServer::start(crate::Backend::Postgres).await else { return };
    let second = first.start_sibling().await;
    let credentials = first.credentials.to_str().unwrap().to_owned();
    let via_second = |args: &[&str]| {
        let mut argv = vec![
            "sesamectl",
            "--credentials",
            credentials.as_str(),
            "--server",
            second.url.as_str(),
        ];
        argv.extend_from_slice(args);
        argv.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |argv: Vec<String>| async move {
        crate::run_sesamectl(&argv.iter().map(String::as_str).collect::<Vec<_>>()).await
    };
    activity(&first).await;
    let noted_by_first = sign(&first).await;
    run(via_second(&["office", "add", "01236", "--name", "Étude Bernard"])).await.unwrap();
    let out = run(via_second(&["audit", "verify"])).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
    // The second server signs the newer head as it stops.
    second.stop().await;
    let out = first.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("The audit trail is intact"), "{out}");
    let newest = format!("newest: record {},", noted_by_first + 1);
    assert!(out.contains("Signed heads: 2 verified") && out.contains(&newest), "{out}");
    first.stop().await;
}
