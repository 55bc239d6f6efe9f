//! Conformance scenarios of workstations: enrollment, the serial rule, recovery challenges.

use time::Duration;

use super::{T0, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::check_in::CheckInRecord;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Text};
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::{
    IssuedCertificate, MachineInfo, NewEnrollmentToken, NewWorkstation, WorkstationStatus,
};
use crate::store::{Error, Store, TokenRefusal};

/// A workstation id.
pub(super) fn wsid(id: &str) -> WorkstationId {
    WorkstationId::parse("id", id).unwrap()
}

pub(super) fn new_workstation(id: &str, serial: &str) -> NewWorkstation {
    NewWorkstation {
        id: wsid(id),
        machine: MachineInfo {
            hostname: Text::parse("hostname", "poste-1").unwrap(),
            os: Text::parse("os", "windows x86_64").unwrap(),
            agent_version: Text::parse("agent_version", "0.1.0").unwrap(),
        },
        public_key: vec![4; 65],
        certificate: IssuedCertificate { serial: serial.into(), not_after: T0 + Duration::days(7) },
    }
}

/// Office 01234 (created by the caller) gets workstation `ws-1` with certificate `s1`.
pub(super) async fn enroll_one(store: &dyn Store) {
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 1,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &Actor::system(), T0).await.unwrap();
    store.enroll_workstation(&token.hash(), &new_workstation("ws-1", "s1"), T0).await.unwrap();
}

pub(super) async fn enrollment_spends_tokens_and_records_the_workstation(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 2,
        expires_at: T0 + Duration::hours(1),
    };
    let created = store.create_enrollment_token(&new, &actor, T0).await.unwrap();
    assert_eq!((created.uses_left, created.last_used_at), (2, None));
    assert_eq!(store.enrollment_office(&token.hash()).await.unwrap().as_str(), "01234");

    let ws =
        store.enroll_workstation(&token.hash(), &new_workstation("ws-1", "s1"), T0).await.unwrap();
    assert_eq!((ws.office.as_str(), ws.generation, ws.current_confirmed), ("01234", 1, false));
    assert_eq!(ws.status, WorkstationStatus::Active);
    store.enroll_workstation(&token.hash(), &new_workstation("ws-2", "s2"), T0).await.unwrap();
    let used_up = store.enroll_workstation(&token.hash(), &new_workstation("ws-3", "s3"), T0).await;
    assert!(matches!(used_up, Err(Error::TokenRefused(TokenRefusal::UsedUp))), "{used_up:?}");
    assert!(
        matches!(store.get_workstation(&wsid("ws-3")).await, Err(Error::NotFound)),
        "a refused enrollment writes nothing"
    );
    let token_after = store.get_enrollment_token(created.id).await.unwrap();
    assert_eq!((token_after.uses_left, token_after.last_used_at), (0, Some(T0)));

    let other = Token::generate(TokenKind::Enroll);
    let expiring = NewEnrollmentToken {
        token_hash: other.hash(),
        expires_at: T0 + Duration::minutes(1),
        ..new
    };
    let second = store.create_enrollment_token(&expiring, &actor, T0).await.unwrap();
    let late = store
        .enroll_workstation(
            &other.hash(),
            &new_workstation("ws-4", "s4"),
            T0 + Duration::minutes(2),
        )
        .await;
    assert!(matches!(late, Err(Error::TokenRefused(TokenRefusal::Expired))), "{late:?}");
    store.revoke_enrollment_token(second.id, &actor, T0).await.unwrap();
    let revoked = store.enroll_workstation(&other.hash(), &new_workstation("ws-4", "s4"), T0).await;
    assert!(matches!(revoked, Err(Error::TokenRefused(TokenRefusal::Revoked))), "{revoked:?}");
    let unknown = Token::generate(TokenKind::Enroll);
    let unknown =
        store.enroll_workstation(&unknown.hash(), &new_workstation("ws-5", "s5"), T0).await;
    assert!(matches!(unknown, Err(Error::TokenRefused(TokenRefusal::Unknown))), "{unknown:?}");
    assert_eq!(
        store.list_workstations(Some(&Crpcen::parse("01234").unwrap())).await.unwrap().len(),
        2
    );
    assert_eq!(store.list_enrollment_tokens(None).await.unwrap().len(), 2);
    verify_chain(store).await;
}

pub(super) async fn certificates_follow_the_serial_rule(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    enroll_one(store).await;
    let cert = |serial: &str| IssuedCertificate {
        serial: serial.into(),
        not_after: T0 + Duration::days(14),
    };

    // Renewal from the current certificate: s1 becomes the previous one.
    let ws = store
        .replace_certificate(&wsid("ws-1"), Some("s1"), &cert("s2"), "workstation.renew", T0)
        .await
        .unwrap();
    assert_eq!(
        (ws.current_serial.as_str(), ws.previous_serial.as_deref(), ws.generation),
        ("s2", Some("s1"), 2)
    );
    // s2 unused: a renewal from s1 replaces s2 and keeps s1 as the previous one.
    let ws = store
        .replace_certificate(&wsid("ws-1"), Some("s1"), &cert("s3"), "workstation.renew", T0)
        .await
        .unwrap();
    assert_eq!((ws.current_serial.as_str(), ws.previous_serial.as_deref()), ("s3", Some("s1")));
    // Once s3 is used, s1 may no longer renew.
    let seen = CheckInRecord::new("ws-1", "s3", Some("0.2.0"), T0 + Duration::hours(1));
    super::check_in(store, seen).await;
    let ws = store.get_workstation(&wsid("ws-1")).await.unwrap();
    assert!(ws.current_confirmed);
    assert_eq!((ws.agent_version.as_str(), ws.last_seen_at), ("0.2.0", T0 + Duration::hours(1)));
    let stale = store
        .replace_certificate(&wsid("ws-1"), Some("s1"), &cert("s4"), "workstation.renew", T0)
        .await;
    assert!(matches!(stale, Err(Error::Conflict)), "{stale:?}");
    // A recovery presents nothing.
    let ws = store
        .replace_certificate(&wsid("ws-1"), None, &cert("s5"), "workstation.recover", T0)
        .await
        .unwrap();
    assert_eq!(
        (ws.current_serial.as_str(), ws.previous_serial.as_deref(), ws.generation),
        ("s5", Some("s3"), 4)
    );

    let locked = store
        .set_workstation_status(&wsid("ws-1"), WorkstationStatus::Locked, Some("fork"), &actor, T0)
        .await
        .unwrap();
    assert_eq!(
        (locked.status, locked.lock_reason.as_deref()),
        (WorkstationStatus::Locked, Some("fork"))
    );
    let refused = store
        .replace_certificate(&wsid("ws-1"), Some("s5"), &cert("s6"), "workstation.renew", T0)
        .await;
    assert!(matches!(refused, Err(Error::Conflict)), "a locked workstation gets no certificate");
    let unlocked = store
        .set_workstation_status(&wsid("ws-1"), WorkstationStatus::Active, None, &actor, T0)
        .await
        .unwrap();
    assert_eq!((unlocked.status, unlocked.previous_serial), (WorkstationStatus::Active, None));
    store
        .set_workstation_status(&wsid("ws-1"), WorkstationStatus::Revoked, None, &actor, T0)
        .await
        .unwrap();
    let revived = store
        .set_workstation_status(&wsid("ws-1"), WorkstationStatus::Active, None, &actor, T0)
        .await;
    assert!(matches!(revived, Err(Error::NotFound)), "revocation is final");
    verify_chain(store).await;
}

pub(super) async fn recovery_challenges_are_single_use_and_expire(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    enroll_one(store).await;
    let expires = T0 + Duration::minutes(5);
    store.add_recovery_challenge(&wsid("ws-1"), b"one", expires, T0).await.unwrap();
    assert!(store.take_recovery_challenge(&wsid("ws-1"), b"one", T0).await.unwrap());
    assert!(!store.take_recovery_challenge(&wsid("ws-1"), b"one", T0).await.unwrap(), "single use");
    store.add_recovery_challenge(&wsid("ws-1"), b"two", expires, T0).await.unwrap();
    assert!(
        !store.take_recovery_challenge(&wsid("ws-1"), b"two", expires).await.unwrap(),
        "expired"
    );
    for i in 0..5u8 {
        store.add_recovery_challenge(&wsid("ws-1"), &[i], expires, T0).await.unwrap();
    }
    assert!(matches!(
        store.add_recovery_challenge(&wsid("ws-1"), b"six", expires, T0).await,
        Err(Error::Conflict)
    ));
    assert!(matches!(
        store.add_recovery_challenge(&wsid("ws-9"), b"x", expires, T0).await,
        Err(Error::NotFound)
    ));
}
