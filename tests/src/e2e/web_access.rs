//! Web sign-in through the real server: administrators set their web password and enrol a TOTP
//! second factor over gRPC (codes computed from the otpauth URI, as an authenticator app does),
//! sign in through the services the web dashboard calls, and list and revoke web sessions, within
//! their rights; the database keeps no password, secret or session token in clear.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::credentials::Credentials;
use sesame_proto::v1 as pb;
use sesame_server::domain::admin::AdminRole;
use sesame_server::domain::totp::{TotpSecret, base32_decode, step_at};
use sesame_server::services::Error;
use sesame_server::services::web_access::{NewWebSession, SignIn};
use sesamectl::{AdminClient, connect};
use time::Duration;
use tonic::Code;

use crate::TestServer;

const PASSWORD: &str = "a long web password";

on_both_backends!(administrators_sign_in_with_a_password_and_a_code_and_manage_their_sessions);

/// Enrols a TOTP factor for the client's administrator and returns its secret, read from the URI.
pub(super) async fn enrol(server: &TestServer, client: &mut AdminClient, name: &str) -> TotpSecret {
    let enrolment =
        client.begin_totp_enrolment(pb::BeginTotpEnrolmentRequest {}).await.unwrap().into_inner();
    let uri = &enrolment.otpauth_uri;
    assert!(uri.starts_with(&format!("otpauth://totp/Sesame:{name}?")), "{uri}");
    assert!(uri.ends_with("&issuer=Sesame&algorithm=SHA1&digits=6&period=30"), "{uri}");
    let query = uri.split_once('?').unwrap().1;
    let secret = query.split('&').find_map(|p| p.strip_prefix("secret=")).unwrap();
    assert_eq!(secret, enrolment.secret_base32);
    let totp = TotpSecret::from_bytes(&base32_decode(secret).unwrap()).unwrap();
    let wrong = client.confirm_totp(pb::ConfirmTotpRequest { code: "12345x".into() }).await;
    assert_eq!(wrong.unwrap_err().code(), Code::InvalidArgument);
    client.confirm_totp(pb::ConfirmTotpRequest { code: code(server, &totp) }).await.unwrap();
    // The confirming code is spent; the next sign-in uses the next step.
    server.clock.advance(Duration::seconds(30));
    totp
}

pub(super) fn code(server: &TestServer, totp: &TotpSecret) -> String {
    format!("{:06}", totp.code(step_at(server.clock_now())))
}

async fn sign_in(server: &TestServer, name: &str, code: &str) -> Result<NewWebSession, Error> {
    let password = SecretString::from(PASSWORD.to_owned());
    let remote: Option<IpAddr> = "203.0.113.9".parse().ok();
    let attempt = SignIn { name, password: &password, code, remote, user_agent: "Firefox/140" };
    server.services().web_sign_in(attempt).await
}

async fn office_admin(server: &TestServer, name: &str) -> AdminClient {
    let file = server.data_dir().join(format!("{name}.credentials"));
    sesame_server::provision_admin(
        &server.config(),
        name,
        AdminRole::Auditor,
        Vec::new(),
        &file,
        std::sync::Arc::new(server.clock.clone()),
    )
    .await
    .unwrap();
    connect(&Credentials::read(&file).unwrap()).await.unwrap()
}

async fn administrators_sign_in_with_a_password_and_a_code_and_manage_their_sessions(
    server: &TestServer,
) {
    let mut root = connect(&server.read_credentials()).await.unwrap();
    let short = root.set_web_password(pb::SetWebPasswordRequest { password: "short".into() }).await;
    assert_eq!(short.unwrap_err().code(), Code::InvalidArgument);
    root.set_web_password(pb::SetWebPasswordRequest { password: PASSWORD.into() }).await.unwrap();
    let early = root.confirm_totp(pb::ConfirmTotpRequest { code: "123456".into() }).await;
    assert_eq!(early.unwrap_err().code(), Code::FailedPrecondition, "nothing to confirm yet");
    let no_factor = sign_in(server, "bootstrap", "123456").await.unwrap_err();
    assert!(matches!(no_factor, Error::Unauthenticated(_)), "a password alone is not enough");
    let totp = enrol(server, &mut root, "bootstrap").await;

    let first_code = code(server, &totp);
    let first = sign_in(server, "bootstrap", &first_code).await.unwrap();
    let replayed = sign_in(server, "bootstrap", &first_code).await.unwrap_err();
    assert!(matches!(replayed, Error::Unauthenticated(_)), "a code is accepted once");
    server.clock.advance(Duration::seconds(30));
    let second = sign_in(server, "bootstrap", &code(server, &totp)).await.unwrap();
    server.services().web_session(&first.token).await.unwrap();

    // Another administrator enrols too, and is held to its own sessions.
    let mut auditor = office_admin(server, "paul.auditor").await;
    auditor
        .set_web_password(pb::SetWebPasswordRequest { password: PASSWORD.into() })
        .await
        .unwrap();
    let paul_totp = enrol(server, &mut auditor, "paul.auditor").await;
    let pauls = sign_in(server, "paul.auditor", &code(server, &paul_totp)).await.unwrap();
    let own = auditor.list_web_sessions(pb::ListWebSessionsRequest::default()).await.unwrap();
    let own = own.into_inner().sessions;
    assert_eq!(own.iter().map(|s| s.id).collect::<Vec<_>>(), [pauls.session.id as u64]);
    assert_eq!(
        (own[0].remote_address.as_str(), own[0].user_agent.as_str()),
        ("203.0.113.9", "Firefox/140")
    );
    let theirs = pb::ListWebSessionsRequest { admin: "bootstrap".into() };
    assert_eq!(auditor.list_web_sessions(theirs).await.unwrap_err().code(), Code::PermissionDenied);
    let revoke_theirs =
        pb::RevokeWebSessionsRequest { id: first.session.id as u64, ..Default::default() };
    let refused = auditor.revoke_web_sessions(revoke_theirs).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    server.services().web_session(&first.token).await.unwrap();

    // The global administrator sees everyone's sessions, and revokes one, then all of its own.
    let all = root.list_web_sessions(pb::ListWebSessionsRequest::default()).await.unwrap();
    assert_eq!(all.into_inner().sessions.len(), 3);
    let table = server.sesamectl(&["admin", "sessions", "--admin", "bootstrap"]).await.unwrap();
    assert!(table.contains("Firefox/140") && table.ends_with("2 web session(s)\n"), "{table}");
    let one = pb::RevokeWebSessionsRequest { id: first.session.id as u64, ..Default::default() };
    assert_eq!(root.revoke_web_sessions(one).await.unwrap().into_inner().revoked, 1);
    let ended = server.services().web_session(&first.token).await.unwrap_err();
    assert!(matches!(ended, Error::Unauthenticated(_)));
    server.services().web_session(&second.token).await.unwrap();
    let everywhere = server.sesamectl(&["admin", "sessions", "revoke", "--all"]).await.unwrap();
    assert_eq!(everywhere, "1 web session(s) revoked.\n");
    assert!(server.services().web_session(&second.token).await.is_err());
    server.services().web_session(&pauls.token).await.unwrap();
    let both = pb::RevokeWebSessionsRequest { id: 3, all: true, admin: String::new() };
    assert_eq!(root.revoke_web_sessions(both).await.unwrap_err().code(), Code::InvalidArgument);

    // Idle sessions end; the trail has every step and the database no secret in clear.
    server.clock.advance(Duration::minutes(31));
    assert!(server.services().web_session(&pauls.token).await.is_err());
    let records = root
        .list_audit_records(pb::ListAuditRecordsRequest { limit: 1_000, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    for action in [
        "admin.web_password.set",
        "admin.totp.enrol",
        "admin.totp.confirm",
        "web.sign_in",
        "web.sign_in.fail",
        "web.session.revoke",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let dump = server.database_dump().await;
    for secret in [PASSWORD, first.token.expose_secret(), pauls.token.expose_secret()] {
        assert!(!dump.contains(secret), "{secret} is in the database");
    }
    let base32 = totp.base32();
    assert!(!dump.contains(base32.expose_secret()), "the TOTP secret is sealed");
}
