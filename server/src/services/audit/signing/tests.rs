//! Tests of head signing and of the verification of signed heads, on SQLite (the end-to-end tests
//! run both databases).

use sesame_base::clock::Clock as _;
use time::Duration;

use crate::domain::admin::AdminRole;
use crate::domain::audit::HeadProblem;
use crate::services::Error;
use crate::services::testing::{Fixture, T0};

#[tokio::test]
async fn heads_are_signed_once_per_record_and_noted_in_the_data_directory() {
    let f = Fixture::new().await;
    assert!(matches!(f.services.sign_audit_head(T0).await, Err(Error::FailedPrecondition(_))));
    let office = f.office("01234").await;
    let auditor = f.admin("audrey", AdminRole::Auditor, &[]).await;
    let first = f.services.sign_audit_head(T0).await.unwrap();
    assert_eq!(first.seq, 2);
    assert!(f.services.audit.key.verify(&first.message(), &first.signature));
    assert_eq!(first.key_id, f.services.audit.key.id());
    assert_eq!(first.hash_hex().len(), 64);
    assert_eq!(first.signature_base64().len(), 88);
    // Nothing new to sign: the head stored first comes back.
    let again = f.services.sign_audit_head(T0 + Duration::minutes(5)).await.unwrap();
    assert_eq!(again, first);
    let noted = super::read_head_file(&f.services.audit.head_file).unwrap();
    assert_eq!(noted, Some((2, first.hash)));
    f.admin("other", AdminRole::Office, &[&office]).await;
    let second = f.services.sign_audit_head(T0 + Duration::minutes(10)).await.unwrap();
    assert_eq!(second.seq, 3);

    let report = f.services.verify_audit(&auditor).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.records, report.heads), (3, 2));
    assert_eq!(report.newest_head, Some(second));
    assert_eq!(report.key_id, f.services.audit.key.id());
}

#[tokio::test]
async fn a_head_file_ahead_of_the_database_is_flagged() {
    let f = Fixture::new().await;
    f.office("01234").await;
    let auditor = f.admin("audrey", AdminRole::Auditor, &[]).await;
    let head = f.services.sign_audit_head(T0).await.unwrap();
    // As if this server had signed a later head that the database no longer holds.
    super::write_head_file(&f.services.audit.head_file, head.seq + 5, &head.hash).unwrap();
    let report = f.services.verify_audit(&auditor).await.unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.head_problem, Some(HeadProblem::HeadsDeleted { seq: 7, newest: 2 }));
    // The right sequence number with another hash.
    super::write_head_file(&f.services.audit.head_file, head.seq, &[1; 32]).unwrap();
    let report = f.services.verify_audit(&auditor).await.unwrap();
    assert_eq!(report.head_problem, Some(HeadProblem::HeadRewritten { seq: 2 }));
    // A garbled file is an internal error, not a verdict.
    std::fs::write(&f.services.audit.head_file, "garbage").unwrap();
    assert!(matches!(f.services.verify_audit(&auditor).await, Err(Error::Internal(_))));
}

#[tokio::test]
async fn the_signer_signs_when_the_chain_advanced_and_at_shutdown() {
    let f = Fixture::new().await;
    let services = std::sync::Arc::new(f.services);
    f_office(&services).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signer = tokio::spawn(services.clone().run_head_signer(stopped));
    // The first tick is one interval away: the stop signs what is there.
    stop.send(true).unwrap();
    signer.await.unwrap();
    let head = services.store.latest_signed_head().await.unwrap().unwrap();
    assert_eq!(head.seq, 1);
    assert_eq!(head.signed_at, f.clock.now());
}

async fn f_office(services: &crate::services::Services) {
    let office = crate::services::testing::new_office("01234", "Office");
    services
        .store
        .create_office(&office, &crate::domain::audit::Actor::system(), T0)
        .await
        .unwrap();
}
