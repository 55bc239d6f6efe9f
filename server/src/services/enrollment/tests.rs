//! Tests of enrollment tokens and enrollment through the services, on SQLite.

use super::*;
use crate::domain::admin::AdminRole;
use crate::services::testing::{Agent, Fixture, der, machine};
use sesame_base::clock::Clock;

async fn actions(fx: &Fixture) -> Vec<(String, String)> {
    let records = fx.services.store.audit_records(None, 0, 1000).await.unwrap();
    records.into_iter().map(|r| (r.actor, r.action)).collect()
}

#[tokio::test]
async fn tokens_are_authorized_before_anything_is_read() {
    let fx = Fixture::new().await;
    let ours = fx.office("01234").await;
    let missing = Crpcen::parse("99999").unwrap();
    let office_admin = fx.admin("marie", AdminRole::Office, &[&ours]).await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;
    let s = &fx.services;

    let outside = s.create_enrollment_token(&office_admin, &missing, Some(5000), None).await;
    assert!(
        matches!(&outside, Err(Error::PermissionDenied(m)) if m == "office 99999 is not in your offices"),
        "refused before the office or the fields are looked at: {outside:?}"
    );
    let auditor_refused = s.create_enrollment_token(&auditor, &ours, None, None).await;
    assert!(matches!(auditor_refused, Err(Error::PermissionDenied(_))), "{auditor_refused:?}");
    let absent = s.create_enrollment_token(&global, &missing, None, None).await;
    assert!(
        matches!(&absent, Err(Error::NotFound(m)) if m == "office 99999 does not exist"),
        "{absent:?}"
    );
    for (uses, ttl, field) in [
        (Some(0), None, "uses: 1 to 1000"),
        (Some(1001), None, "uses: 1 to 1000"),
        (None, Some(59), "ttl_seconds: 60 seconds to 30 days"),
        (None, Some(2_592_001), "ttl_seconds: 60 seconds to 30 days"),
    ] {
        let refused = s.create_enrollment_token(&office_admin, &ours, uses, ttl).await;
        assert!(matches!(&refused, Err(Error::InvalidArgument(m)) if m == field), "{refused:?}");
    }

    let created = s.create_enrollment_token(&office_admin, &ours, None, None).await.unwrap();
    assert!(created.token.expose().starts_with("sesame_enroll_"));
    assert_eq!((created.info.uses_left, created.info.office.as_str()), (1, "01234"));
    assert_eq!(created.info.expires_at, fx.clock.now() + time::Duration::hours(24), "defaults");
    let custom = s.create_enrollment_token(&global, &ours, Some(3), Some(60)).await.unwrap();
    assert_eq!(custom.info.uses_left, 3);
    assert_eq!(custom.info.expires_at, fx.clock.now() + time::Duration::seconds(60));
    assert_eq!(
        actions(&fx).await.iter().filter(|(_, a)| a == "enrollment_token.create").count(),
        2,
        "only the created tokens are audited"
    );
}

#[tokio::test]
async fn tokens_are_listed_and_revoked_within_the_administrators_offices() {
    let fx = Fixture::new().await;
    let ours = fx.office("01234").await;
    let theirs = fx.office("75001").await;
    let office_admin = fx.admin("marie", AdminRole::Office, &[&ours]).await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let s = &fx.services;
    let mine = s.create_enrollment_token(&global, &ours, None, None).await.unwrap().info;
    let other = s.create_enrollment_token(&global, &theirs, None, None).await.unwrap().info;

    let listed = s.list_enrollment_tokens(&office_admin, None).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [mine.id]);
    let all = s.list_enrollment_tokens(&global, None).await.unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), [mine.id, other.id]);
    let filtered = s.list_enrollment_tokens(&office_admin, Some(&theirs)).await;
    assert!(matches!(filtered, Err(Error::PermissionDenied(_))), "{filtered:?}");

    let other_id = u64::try_from(other.id).unwrap();
    for id in [other_id, 999] {
        let refused = s.revoke_enrollment_token(&office_admin, id).await;
        assert!(
            matches!(&refused, Err(Error::PermissionDenied(m)) if *m == format!("token {id} is not in your offices")),
            "existing or not, the same refusal: {refused:?}"
        );
    }
    let absent = s.revoke_enrollment_token(&global, 999).await;
    assert!(matches!(&absent, Err(Error::NotFound(m)) if m == "token 999 does not exist"));
    s.revoke_enrollment_token(&office_admin, u64::try_from(mine.id).unwrap()).await.unwrap();
    let listed = s.list_enrollment_tokens(&office_admin, Some(&ours)).await.unwrap();
    assert!(listed[0].revoked_at.is_some());
}

#[tokio::test]
async fn enrollment_signs_a_certificate_and_spends_the_token() {
    let fx = Fixture::new().await;
    let office = fx.office("01234").await;
    let admin = fx.admin("root", AdminRole::Global, &[]).await;
    let s = &fx.services;
    let created = s.create_enrollment_token(&admin, &office, None, None).await.unwrap();
    let token = enrollment_token(created.token.expose().to_owned().into(), None).unwrap();

    let agent = Agent::new();
    let enrolled = s.enroll(&token, machine(), agent.public_key(), None).await.unwrap();
    let ws = &enrolled.workstation;
    assert_eq!(
        (ws.office.as_str(), ws.hostname.as_str(), ws.generation),
        ("01234", "PC-ACCUEIL", 1)
    );
    assert_eq!(ws.public_key, agent.public_key());
    let presented = crate::keys::pki::read_agent_certificate(&der(&enrolled.certificate)).unwrap();
    assert_eq!(presented.workstation_id, ws.id, "the certificate names the workstation");
    assert_eq!(presented.serial, ws.current_serial);
    assert_eq!(enrolled.certificate.not_after, fx.clock.now() + s.agents.certificate_lifetime);

    let again = s.enroll(&token, machine(), Agent::new().public_key(), None).await;
    assert!(
        matches!(&again, Err(Error::Unauthenticated(m)) if m == REFUSED_TOKEN),
        "a one-use token is spent: {again:?}"
    );
    let unknown = Token::generate(TokenKind::Enroll);
    let refused = s.enroll(&unknown, machine(), agent.public_key(), None).await;
    assert!(matches!(&refused, Err(Error::Unauthenticated(m)) if m == REFUSED_TOKEN));
    assert_eq!(s.store.list_workstations(None).await.unwrap().len(), 1, "refusals write nothing");
    let enroll = format!("enrollment_token:{}", created.info.id);
    assert!(actions(&fx).await.contains(&(enroll, "workstation.enroll".to_owned())));
}

#[tokio::test]
async fn a_revoked_or_expired_token_enrolls_nothing() {
    let fx = Fixture::new().await;
    let office = fx.office("01234").await;
    let admin = fx.admin("root", AdminRole::Global, &[]).await;
    let s = &fx.services;
    let revoked = s.create_enrollment_token(&admin, &office, Some(5), None).await.unwrap();
    s.revoke_enrollment_token(&admin, u64::try_from(revoked.info.id).unwrap()).await.unwrap();
    let expiring = s.create_enrollment_token(&admin, &office, Some(5), Some(60)).await.unwrap();
    fx.clock.advance(time::Duration::seconds(61));
    for created in [revoked, expiring] {
        let refused = s.enroll(&created.token, machine(), Agent::new().public_key(), None).await;
        assert!(matches!(&refused, Err(Error::Unauthenticated(m)) if m == REFUSED_TOKEN));
    }
}

#[test]
fn only_enrollment_tokens_are_read() {
    let admin = Token::generate(TokenKind::Admin).expose().to_owned();
    let refused = enrollment_token(admin.into(), None);
    assert!(matches!(&refused, Err(Error::Unauthenticated(m)) if m == REFUSED_TOKEN));
    let enroll = Token::generate(TokenKind::Enroll);
    let read = enrollment_token(enroll.expose().to_owned().into(), None).unwrap();
    assert_eq!(read.hash(), enroll.hash());
}
