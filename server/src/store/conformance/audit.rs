//! Conformance scenarios of the audit chain: paged reads, one chain under concurrent writers.

use time::Duration;

use super::{T0, office, verify_chain};
use crate::domain::audit::{self, Actor, GENESIS_HASH};
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
