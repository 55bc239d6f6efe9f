//! Conformance scenarios of the audit chain: paged reads, one chain under concurrent writers, signed
//! heads.

use time::Duration;

use super::{T0, office, verify_chain};
use crate::domain::audit::{self, Actor, GENESIS_HASH, SignedHead};
use crate::store::Store;

pub(super) async fn audit_records_page_and_chain(store: &dyn Store) {
    let actor = Actor::system();
    for i in 0..25 {
        store
            .create_office(
                &office(&format!("{:05}", i), "Office"),
                &actor,
                T0 + Duration::seconds(i),
            )
            .await
            .unwrap();
    }
    let mut seq = 0;
    let mut hash = GENESIS_HASH;
    loop {
        let page = store.audit_records(None, seq, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        (seq, hash) = audit::verify(seq, hash, &page).unwrap();
    }
    assert_eq!(seq, 25);
    assert_ne!(hash, GENESIS_HASH);
}

pub(super) async fn concurrent_writers_keep_one_chain(store: &dyn Store) {
    let store: std::sync::Arc<&dyn Store> = std::sync::Arc::new(store);
    let tasks = (0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .create_office(
                    &office(&format!("{:05}", 20_000 + i), "Office"),
                    &Actor::system(),
                    T0,
                )
                .await
        }
    });
    for result in futures_util::future::join_all(tasks).await {
        result.unwrap();
    }
    assert_eq!(verify_chain(*store).await, 8);
}

pub(super) async fn signed_heads_are_kept_once_per_record(store: &dyn Store) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    assert_eq!(store.latest_signed_head().await.unwrap(), None);
    for i in 0..3 {
        store
            .create_office(&office(&format!("{:05}", 300 + i), "Office"), &Actor::system(), T0)
            .await
            .unwrap();
    }
    let records = store.audit_records(None, 0, 10).await.unwrap();
    let (seq, hash) = store.audit_head().await.unwrap().unwrap();
    assert_eq!((seq, hash), (3, records[2].hash));
    let head = |seq: i64, at: i64, fill: u8| SignedHead {
        seq,
        hash: records[usize::try_from(seq).unwrap() - 1].hash,
        signed_at: T0 + Duration::seconds(at),
        key_id: "0123456789abcdef".to_owned(),
        signature: vec![fill; 64],
    };
    assert_eq!(store.insert_signed_head(&head(1, 1, 1)).await.unwrap(), head(1, 1, 1));
    assert_eq!(store.insert_signed_head(&head(3, 2, 3)).await.unwrap(), head(3, 2, 3));
    // Another server signing the same record later: the head stored first stays.
    assert_eq!(store.insert_signed_head(&head(3, 9, 9)).await.unwrap(), head(3, 2, 3));
    assert_eq!(store.latest_signed_head().await.unwrap(), Some(head(3, 2, 3)));
    assert_eq!(store.signed_heads(0, 10).await.unwrap(), vec![head(1, 1, 1), head(3, 2, 3)]);
    assert_eq!(store.signed_heads(1, 10).await.unwrap(), vec![head(3, 2, 3)]);
    assert_eq!(store.signed_heads(0, 1).await.unwrap(), vec![head(1, 1, 1)]);
    // Signing is not audited: the chain did not move.
    assert_eq!(store.audit_head().await.unwrap().unwrap().0, 3);
}

pub(super) async fn a_record_alone_extends_the_chain_and_is_found_last(store: &dyn Store) {
    let event = |target: &str| audit::AuditEvent {
        actor: Actor::system(),
        action: "audit.key.rotate",
        office: None,
        target: target.to_owned(),
        details: serde_json::json!({"n": target}),
    };
    assert_eq!(store.latest_audit_record("audit.key.rotate").await.unwrap(), None);
    store.create_office(&office("00400", "Office"), &Actor::system(), T0).await.unwrap();
    let (seq, hash) = store.append_audit_event(&event("first"), T0).await.unwrap();
    assert_eq!(store.audit_head().await.unwrap(), Some((seq, hash)));
    assert_eq!(seq, 2);
    store.append_audit_event(&event("second"), T0).await.unwrap();
    store.create_office(&office("00401", "Office"), &Actor::system(), T0).await.unwrap();
    let last = store.latest_audit_record("audit.key.rotate").await.unwrap().unwrap();
    assert_eq!((last.seq, last.target.as_str()), (3, "second"));
    assert_eq!(store.latest_audit_record("office.delete").await.unwrap(), None);
    assert_eq!(verify_chain(store).await, 4);
}
