//! Conformance scenarios of web sign-in: credentials set and confirmed, a TOTP step accepted once,
//! sessions found by token hash, touched, revoked, listed, and gone with their administrator.

use time::Duration;

use super::T0;
use crate::domain::admin::{Admin, AdminRole, NewAdmin};
use crate::domain::audit::Actor;
use crate::domain::identifier::AdminName;
use crate::domain::rotation::Sealed;
use crate::domain::token::{Token, TokenKind};
use crate::domain::web_session::{NewWebSessionRecord, SessionEnd};
use crate::store::{Error, Store};

async fn admin(store: &dyn Store, name: &str) -> Admin {
    let new = NewAdmin {
        name: name.into(),
        role: AdminRole::Global,
        offices: Vec::new(),
        token_hash: Token::generate(TokenKind::Admin).hash(),
    };
    store.create_admin(&new, &Actor::system(), T0).await.unwrap()
}

fn sealed(byte: u8) -> Sealed {
    Sealed { key_id: "k1".into(), nonce: vec![byte; 12], ciphertext: vec![byte; 36] }
}

fn name(value: &str) -> AdminName {
    AdminName::parse("name", value).unwrap()
}

fn session(token: &Token, user_agent: &str) -> NewWebSessionRecord {
    NewWebSessionRecord {
        token_hash: token.hash(),
        created_at: T0,
        expires_at: T0 + Duration::hours(12),
        remote_address: Some("192.0.2.7".into()),
        user_agent: user_agent.into(),
    }
}

pub(super) async fn web_credentials_accept_each_totp_step_once(store: &dyn Store) {
    let marie = admin(store, "marie").await;
    let actor = Actor::admin(&marie);
    let none = store.web_credentials(&name("marie")).await.unwrap();
    assert_eq!((none.password_hash, none.totp, none.last_step), (None, None, None));
    assert!(matches!(store.web_credentials(&name("paul")).await, Err(Error::NotFound)));

    store.set_web_password(&marie, "$argon2id$v=19$first", &actor, T0).await.unwrap();
    store.set_web_password(&marie, "$argon2id$v=19$second", &actor, T0).await.unwrap();
    store.set_pending_totp(&marie, &sealed(1), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Admin);
    assert!(
        matches!(
            store.create_web_session(&marie, &session(&token, "ua"), 5, T0).await,
            Err(Error::Conflict)
        ),
        "no confirmed secret, no session"
    );
    store.set_pending_totp(&marie, &sealed(2), &actor, T0).await.unwrap();
    assert!(
        matches!(
            store.confirm_totp(&marie, &sealed(1), 10, &actor, T0).await,
            Err(Error::Conflict)
        ),
        "a replaced enrolment cannot be confirmed"
    );
    store.confirm_totp(&marie, &sealed(2), 10, &actor, T0).await.unwrap();
    let creds = store.web_credentials(&name("marie")).await.unwrap();
    assert_eq!(creds.password_hash.as_deref(), Some("$argon2id$v=19$second"));
    assert_eq!((creds.totp, creds.pending_totp), (Some(sealed(2)), None));
    assert_eq!((creds.totp_confirmed_at, creds.last_step), (Some(T0), Some(10)));
    assert_eq!(creds.admin, marie);

    for spent in [9, 10] {
        let refused = store.create_web_session(&marie, &session(&token, "ua"), spent, T0).await;
        assert!(matches!(refused, Err(Error::Conflict)), "step {spent}");
    }
    let created = store.create_web_session(&marie, &session(&token, "ua"), 11, T0).await.unwrap();
    let fresh = session(&Token::generate(TokenKind::Admin), "ua");
    let again = store.create_web_session(&marie, &fresh, 11, T0).await;
    assert!(matches!(again, Err(Error::Conflict)), "step 11 is spent");
    assert_eq!(store.web_credentials(&name("marie")).await.unwrap().last_step, Some(11));

    // A new enrolment leaves the secret in use until confirmed.
    store.set_pending_totp(&marie, &sealed(3), &actor, T0).await.unwrap();
    let creds = store.web_credentials(&name("marie")).await.unwrap();
    assert_eq!((creds.totp, creds.pending_totp), (Some(sealed(2)), Some(sealed(3))));

    store.record_web_sign_in_failure("paul", "unknown_admin", None, T0).await.unwrap();
    let records = store.audit_records(None, 0, 1_000).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    for action in [
        "admin.web_password.set",
        "admin.totp.enrol",
        "admin.totp.confirm",
        "web.sign_in",
        "web.sign_in.fail",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(records.iter().all(|r| !r.details.contains("argon2")), "never a hash in the trail");
    assert_eq!(created.id, store.web_session(created.id).await.unwrap().id);
    assert_eq!(super::verify_chain(store).await, i64::try_from(records.len()).unwrap());
}

pub(super) async fn web_sessions_are_found_touched_revoked_and_listed(store: &dyn Store) {
    let marie = admin(store, "marie").await;
    let paul = admin(store, "paul").await;
    let actor = Actor::admin(&marie);
    for (who, step) in [(&marie, 1), (&paul, 1)] {
        store.set_pending_totp(who, &sealed(1), &actor, T0).await.unwrap();
        store.confirm_totp(who, &sealed(1), step, &actor, T0).await.unwrap();
    }
    let tokens: Vec<Token> = (0..3).map(|_| Token::generate(TokenKind::Admin)).collect();
    let long_agent = "é".repeat(256);
    let a =
        store.create_web_session(&marie, &session(&tokens[0], &long_agent), 2, T0).await.unwrap();
    let b = store.create_web_session(&marie, &session(&tokens[1], "ua"), 3, T0).await.unwrap();
    let c = store.create_web_session(&paul, &session(&tokens[2], "ua"), 2, T0).await.unwrap();

    let (found_admin, found) = store.web_session_by_token(&tokens[0].hash()).await.unwrap();
    assert_eq!((found_admin, found.clone()), (marie.clone(), a.clone()));
    assert_eq!(found.user_agent, long_agent);
    let other = Token::generate(TokenKind::Admin);
    assert!(matches!(store.web_session_by_token(&other.hash()).await, Err(Error::NotFound)));

    let later = T0 + Duration::minutes(5);
    store.touch_web_session(a.id, later).await.unwrap();
    store.touch_web_session(a.id, T0).await.unwrap();
    assert_eq!(store.web_session(a.id).await.unwrap().last_seen_at, later, "never backwards");

    let all = store.list_web_sessions(None, T0, T0 - Duration::minutes(30), 10).await.unwrap();
    assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), [c.id, b.id, a.id]);
    let marie_name = name("marie");
    let hers = store.list_web_sessions(Some(&marie_name), T0, T0 - Duration::minutes(30), 1);
    assert_eq!(hers.await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [b.id]);
    let seen_lately =
        store.list_web_sessions(None, T0, T0 + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(seen_lately.iter().map(|s| s.id).collect::<Vec<_>>(), [a.id]);
    let expired =
        store.list_web_sessions(None, T0 + Duration::hours(12), T0 - Duration::hours(1), 10);
    assert!(expired.await.unwrap().is_empty());

    assert!(store.revoke_web_session(a.id, SessionEnd::SignOut, &actor, later).await.unwrap());
    assert!(!store.revoke_web_session(a.id, SessionEnd::Revoke, &actor, later).await.unwrap());
    assert!(matches!(
        store.revoke_web_session(999, SessionEnd::Revoke, &actor, later).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(store.web_session_by_token(&tokens[0].hash()).await, Err(Error::NotFound)));
    assert_eq!(store.web_session(a.id).await.unwrap().revoked_at, Some(later));
    assert_eq!(store.revoke_web_sessions_of(&name("marie"), &actor, later).await.unwrap(), 1);
    assert_eq!(store.revoke_web_sessions_of(&name("marie"), &actor, later).await.unwrap(), 0);
    assert!(matches!(store.web_session_by_token(&tokens[1].hash()).await, Err(Error::NotFound)));

    // A revoked administrator's sessions and credentials are gone with it.
    store.web_session_by_token(&tokens[2].hash()).await.unwrap();
    store.revoke_admin(&name("paul"), &actor, later).await.unwrap();
    assert!(matches!(store.web_session_by_token(&tokens[2].hash()).await, Err(Error::NotFound)));
    assert!(matches!(store.web_credentials(&name("paul")).await, Err(Error::NotFound)));
    let records = store.audit_records(None, 0, 1_000).await.unwrap();
    assert_eq!(records.iter().filter(|r| r.action == "web.sign_out").count(), 1);
    assert_eq!(records.iter().filter(|r| r.action == "web.session.revoke").count(), 2);
}
