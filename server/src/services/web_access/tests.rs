//! The web sign-in's rules, on a real database with a clock the tests move.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::clock::Clock;
use time::Duration;

use super::*;
use crate::domain::admin::AdminRole;
use crate::domain::totp::{TotpSecret, base32_decode, step_at};
use crate::services::testing::Fixture;

const PASSWORD: &str = "correct horse battery";

fn secret(password: &str) -> SecretString {
    SecretString::from(password.to_owned())
}

/// An administrator with a web password and a confirmed TOTP secret, returned with it.
async fn enrolled(fx: &Fixture, name: &str, role: AdminRole) -> (Admin, TotpSecret) {
    let admin = fx.admin(name, role, &[]).await;
    fx.services.set_web_password(&admin, secret(PASSWORD)).await.unwrap();
    let enrolment = fx.services.begin_totp_enrolment(&admin).await.unwrap();
    assert!(enrolment.uri.expose_secret().starts_with(&format!("otpauth://totp/Sesame:{name}?")));
    let totp =
        TotpSecret::from_bytes(&base32_decode(enrolment.secret_base32.expose_secret()).unwrap())
            .unwrap();
    fx.services.confirm_totp(&admin, &code(&totp, fx)).await.unwrap();
    // The confirming code is spent: sign-ins use the next step.
    fx.clock.advance(Duration::seconds(30));
    (admin, totp)
}

fn code(totp: &TotpSecret, fx: &Fixture) -> String {
    format!("{:06}", totp.code(step_at(fx.clock.now())))
}

fn attempt<'a>(name: &'a str, password: &'a SecretString, code: &'a str) -> SignIn<'a> {
    SignIn { name, password, code, remote: "192.0.2.7".parse().ok(), user_agent: "Firefox\n" }
}

async fn sign_in(fx: &Fixture, name: &str, totp: &TotpSecret) -> Result<NewWebSession, Error> {
    let (password, code) = (secret(PASSWORD), code(totp, fx));
    fx.services.web_sign_in(attempt(name, &password, &code)).await
}

async fn audited(fx: &Fixture, action: &str) -> Vec<String> {
    let records = fx.services.store.audit_records(None, 0, 10_000).await.unwrap();
    records.into_iter().filter(|r| r.action == action).map(|r| r.details).collect()
}

#[tokio::test]
async fn a_sign_in_needs_the_name_the_password_and_a_fresh_code() {
    let fx = Fixture::new().await;
    let (admin, totp) = enrolled(&fx, "marie", AdminRole::Office).await;
    let good = code(&totp, &fx);
    let wrong_code = format!("{:06}", (totp.code(step_at(fx.clock.now())) + 1) % 1_000_000);
    let (right, wrong) = (secret(PASSWORD), secret("not the password"));
    for (name, password, code) in [
        ("paul", &right, good.as_str()),
        ("marie", &wrong, good.as_str()),
        ("marie", &right, wrong_code.as_str()),
        ("marie", &right, ""),
        ("ma\u{0}rie", &right, good.as_str()),
    ] {
        let refused = fx.services.web_sign_in(attempt(name, password, code)).await.unwrap_err();
        assert!(
            matches!(&refused, Error::Unauthenticated(m) if m == "the name, password or code is wrong"),
            "{name} {code}: {refused:?}"
        );
    }
    let failures = audited(&fx, "web.sign_in.fail").await;
    assert_eq!(failures.len(), 5);
    assert!(failures.iter().all(|d| !d.contains(PASSWORD) && !d.contains(&good)), "{failures:?}");
    assert!(failures[0].contains("unknown_admin") && failures[1].contains("\"password\""));

    let signed_in = fx.services.web_sign_in(attempt("marie", &right, &good)).await.unwrap();
    assert_eq!(signed_in.session.admin, admin);
    assert_eq!(signed_in.session.expires_at, fx.clock.now() + Duration::hours(12));
    assert_eq!(URL_SAFE_NO_PAD.decode(signed_in.token.expose_secret()).unwrap().len(), 32);
    let session = fx.services.web_session(&signed_in.token).await.unwrap();
    assert_eq!(session, signed_in.session);
    assert_eq!(audited(&fx, "web.sign_in").await.len(), 1);
    assert_eq!(csrf_token(&signed_in.token).len(), 64);
    assert_ne!(csrf_token(&signed_in.token), csrf_token(&secret("another")));

    // The same code again (within its window) is refused: a code is accepted once.
    let replayed = fx.services.web_sign_in(attempt("marie", &right, &good)).await.unwrap_err();
    assert!(matches!(replayed, Error::Unauthenticated(_)));
    assert!(audited(&fx, "web.sign_in.fail").await.last().unwrap().contains("replayed_code"));
}

#[tokio::test]
async fn an_administrator_without_a_confirmed_second_factor_cannot_sign_in() {
    let fx = Fixture::new().await;
    let admin = fx.admin("marie", AdminRole::Global, &[]).await;
    let right = secret(PASSWORD);
    let refused = fx.services.web_sign_in(attempt("marie", &right, "123456")).await.unwrap_err();
    assert!(matches!(refused, Error::Unauthenticated(_)));
    fx.services.set_web_password(&admin, right.clone()).await.unwrap();
    let enrolment = fx.services.begin_totp_enrolment(&admin).await.unwrap();
    let totp =
        TotpSecret::from_bytes(&base32_decode(enrolment.secret_base32.expose_secret()).unwrap())
            .unwrap();
    let pending_only = sign_in(&fx, "marie", &totp).await.unwrap_err();
    assert!(matches!(pending_only, Error::Unauthenticated(_)), "a pending secret is not in use");
    assert!(audited(&fx, "web.sign_in.fail").await.last().unwrap().contains("no_totp"));
    assert!(matches!(
        fx.services.confirm_totp(&admin, "000000x").await,
        Err(Error::InvalidArgument(_))
    ));
    let too_short = fx.services.set_web_password(&admin, secret("elevenchars")).await;
    assert!(matches!(too_short, Err(Error::InvalidArgument(_))), "{too_short:?}");
    assert_eq!(audited(&fx, "admin.web_password.set").await.len(), 1);
    assert_eq!(audited(&fx, "admin.totp.enrol").await.len(), 1);
}

#[tokio::test]
async fn failures_are_limited_per_account_and_per_address() {
    let fx = Fixture::new().await;
    let (_, totp) = enrolled(&fx, "marie", AdminRole::Global).await;
    let wrong = secret("not the password at all");
    for _ in 0..5 {
        let refused = fx.services.web_sign_in(attempt("marie", &wrong, "000000")).await;
        assert!(matches!(refused, Err(Error::Unauthenticated(_))));
    }
    let limited = sign_in(&fx, "marie", &totp).await.unwrap_err();
    assert!(matches!(limited, Error::ResourceExhausted(_)), "even with the right credentials");
    assert_eq!(audited(&fx, "web.sign_in.fail").await.len(), 5, "a limited attempt writes nothing");
    fx.clock.advance(Duration::minutes(3));
    sign_in(&fx, "marie", &totp).await.unwrap();

    // From one address, twenty failures over several names shut the address out.
    let fx = Fixture::new().await;
    let (_, totp) = enrolled(&fx, "marie", AdminRole::Global).await;
    for i in 0..20 {
        let name = format!("guess{i}");
        let refused = fx.services.web_sign_in(attempt(&name, &wrong, "000000")).await;
        assert!(matches!(refused, Err(Error::Unauthenticated(_))));
    }
    assert!(matches!(sign_in(&fx, "marie", &totp).await, Err(Error::ResourceExhausted(_))));
    let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
    let (password, code) = (secret(PASSWORD), code(&totp, &fx));
    let other = SignIn { remote: Some(elsewhere), ..attempt("marie", &password, &code) };
    fx.services.web_sign_in(other).await.unwrap();
}

#[tokio::test]
async fn sessions_end_when_idle_or_expired() {
    let fx = Fixture::new().await;
    let (_, totp) = enrolled(&fx, "marie", AdminRole::Global).await;
    let signed_in = sign_in(&fx, "marie", &totp).await.unwrap();
    let started = fx.clock.now();
    fx.clock.advance(Duration::seconds(30));
    let session = fx.services.web_session(&signed_in.token).await.unwrap();
    assert_eq!(session.last_seen_at, started, "not written again within a minute");
    // Used every 29 minutes, the session lives until its absolute expiry.
    loop {
        fx.clock.advance(Duration::minutes(29));
        if fx.clock.now() >= started + Duration::hours(12) {
            break;
        }
        let session = fx.services.web_session(&signed_in.token).await.unwrap();
        assert_eq!(session.last_seen_at, fx.clock.now());
    }
    assert!(matches!(
        fx.services.web_session(&signed_in.token).await,
        Err(Error::Unauthenticated(_))
    ));

    let idle = sign_in(&fx, "marie", &totp).await.unwrap();
    fx.clock.advance(Duration::minutes(30));
    assert!(matches!(fx.services.web_session(&idle.token).await, Err(Error::Unauthenticated(_))));
    assert!(matches!(
        fx.services.web_session(&secret("made up")).await,
        Err(Error::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn sessions_are_signed_out_and_revoked_by_their_owner_or_a_global_administrator() {
    let fx = Fixture::new().await;
    let (global, global_totp) = enrolled(&fx, "root", AdminRole::Global).await;
    let (office, totp) = enrolled(&fx, "marie", AdminRole::Auditor).await;
    let first = sign_in(&fx, "marie", &totp).await.unwrap();
    fx.clock.advance(Duration::seconds(30));
    let second = sign_in(&fx, "marie", &totp).await.unwrap();
    let mine = sign_in(&fx, "root", &global_totp).await.unwrap();

    let listed = fx.services.list_web_sessions(&office, None).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        [second.session.id, first.session.id]
    );
    assert_eq!(listed[0].user_agent, "Firefox?");
    assert_eq!(listed[0].remote_address.as_deref(), Some("192.0.2.7"));
    assert_eq!(fx.services.list_web_sessions(&global, None).await.unwrap().len(), 3);
    let root = AdminName::parse("name", "root").unwrap();
    assert!(matches!(
        fx.services.list_web_sessions(&office, Some(&root)).await,
        Err(Error::PermissionDenied(_))
    ));
    for which in [
        SessionRevocation::One(mine.session.id),
        SessionRevocation::One(999),
        SessionRevocation::AllOf(Some(root)),
    ] {
        let refused = fx.services.revoke_web_sessions(&office, which).await;
        assert!(matches!(refused, Err(Error::PermissionDenied(_))), "{refused:?}");
    }
    fx.services.web_session(&mine.token).await.unwrap();

    let one = fx.services.revoke_web_sessions(&office, SessionRevocation::One(first.session.id));
    assert_eq!(one.await.unwrap(), 1);
    assert!(matches!(fx.services.web_session(&first.token).await, Err(Error::Unauthenticated(_))));
    fx.services.web_session(&second.token).await.unwrap();
    let marie = AdminName::parse("name", "marie").unwrap();
    let all = fx.services.revoke_web_sessions(&global, SessionRevocation::AllOf(Some(marie)));
    assert_eq!(all.await.unwrap(), 1);
    assert!(matches!(fx.services.web_session(&second.token).await, Err(Error::Unauthenticated(_))));

    fx.services.web_sign_out(&mine.token).await.unwrap();
    assert!(matches!(fx.services.web_session(&mine.token).await, Err(Error::Unauthenticated(_))));
    fx.services.web_sign_out(&mine.token).await.unwrap();
    assert_eq!(audited(&fx, "web.sign_out").await.len(), 1);
    assert_eq!(audited(&fx, "web.session.revoke").await.len(), 2);

    // A revoked administrator's sessions end with it.
    fx.clock.advance(Duration::seconds(30));
    let again = sign_in(&fx, "marie", &totp).await.unwrap();
    fx.services.revoke_admin(&global, &AdminName::parse("name", "marie").unwrap()).await.unwrap();
    assert!(matches!(fx.services.web_session(&again.token).await, Err(Error::Unauthenticated(_))));
}
