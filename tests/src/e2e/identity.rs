//! Workstation identities end to end, with the real agent library: enrollment with a pinned CA,
//! token rules, mutual TLS checked on every request, renewal, recovery after a long absence,
//! identity forks and the crash-after-renewal rule.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_agent::identity::StateDir;
use sesame_agent::uplink::{Enrollment, IdentityOutcome, Uplink, UplinkError, enroll};
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use time::Duration;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use crate::TestServer;

/// Creates an office and an enrollment token for it; returns the token.
pub(super) async fn token(server: &TestServer, office: &str, extra: &[&str]) -> String {
    let _ = server.sesamectl(&["office", "add", office, "--name", "Office"]).await;
    let mut args = vec!["token", "create", "--office", office];
    args.extend_from_slice(extra);
    let out = server.sesamectl(&args).await.unwrap();
    let token = out.lines().next().unwrap().to_owned();
    assert!(token.starts_with("sesame_enroll_"), "{out}");
    token
}

pub(super) async fn try_enroll(
    server: &TestServer,
    state: &StateDir,
    token: &str,
) -> Result<(), UplinkError> {
    let enrollment = Enrollment {
        server: &server.url(),
        ca_fingerprint: &server.ca_fingerprint,
        token: SecretString::from(token.to_owned()),
    };
    enroll(state, enrollment).await.map(|_| ())
}

fn agent(server: &TestServer, state: &StateDir) -> Uplink {
    Uplink::new(state.clone(), Arc::new(server.clock.clone()))
}

fn code(error: UplinkError) -> Code {
    match error {
        UplinkError::Refused(status) => status.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn workstations(server: &TestServer) -> Vec<serde_json::Value> {
    serde_json::from_str(&server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap())
        .unwrap()
}

/// A raw client presenting the identity saved in `state` (or none).
async fn raw_client(
    server: &TestServer,
    state: Option<&StateDir>,
) -> Result<AgentServiceClient<Channel>, tonic::transport::Error> {
    let ca = server.read_credentials().ca_certificate;
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some(state) = state {
        let identity = state.load().unwrap();
        tls = tls.identity(TlsIdentity::from_pem(
            &identity.cert_pem,
            secrecy::ExposeSecret::expose_secret(&identity.key_pem),
        ));
    }
    let channel =
        Endpoint::from_shared(server.url()).unwrap().tls_config(tls).unwrap().connect().await?;
    Ok(AgentServiceClient::new(channel))
}

async fn an_agent_enrolls_renews_and_recovers_after_a_long_absence(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(server, &state, &token).await.unwrap();
    let identity = state.load().unwrap();
    assert_eq!(identity.office, "01234", "the office comes from the token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir.path().join("agent/agent.key")).unwrap().permissions().mode()
                & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by the service account only");
    }
    let agent = agent(server, &state);
    let beat = agent.heartbeat().await.unwrap();
    assert_eq!(
        (beat.workstation_id.as_str(), beat.office.as_str()),
        (identity.workstation_id.as_str(), "01234")
    );
    assert!(matches!(agent.maintain_identity().await.unwrap(), IdentityOutcome::Fresh(_)));
    let listed = workstations(server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(listed[0]["generation"], 1);

    // Two thirds into the 7-day certificate: renewal.
    server.clock.advance(Duration::days(5));
    assert_eq!(agent.maintain_identity().await.unwrap(), IdentityOutcome::Renewed);
    agent.heartbeat().await.unwrap();
    assert_eq!(workstations(server).await[0]["generation"], 2);

    // Thirty days switched off: the certificate expired; the registered key recovers it.
    server.clock.advance(Duration::days(30));
    let expired = agent.heartbeat().await.unwrap_err();
    assert!(!matches!(expired, UplinkError::Identity(_)), "{expired:?}");
    assert_eq!(agent.maintain_identity().await.unwrap(), IdentityOutcome::Recovered);
    agent.heartbeat().await.unwrap();
    let listed = workstations(server).await;
    assert_eq!(
        (listed[0]["generation"].as_u64(), listed[0]["status"].as_str()),
        (Some(3), Some("active"))
    );

    // Beyond the 90-day recovery window a new enrollment is needed.
    server.clock.advance(Duration::days(120));
    assert_eq!(code(agent.maintain_identity().await.unwrap_err()), Code::Unauthenticated);
}

async fn enrollment_tokens_are_single_use_expire_and_can_be_revoked(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let state = |name: &str| StateDir::new(&dir.path().join(name));

    let once = token(server, "01234", &[]).await;
    try_enroll(server, &state("a"), &once).await.unwrap();
    assert_eq!(
        code(try_enroll(server, &state("b"), &once).await.unwrap_err()),
        Code::Unauthenticated,
        "reuse"
    );
    assert!(!state("b").is_enrolled(), "a refused enrollment leaves no identity behind");

    let short = token(server, "01234", &["--ttl", "2m"]).await;
    server.clock.advance(Duration::minutes(3));
    assert_eq!(
        code(try_enroll(server, &state("c"), &short).await.unwrap_err()),
        Code::Unauthenticated,
        "expired"
    );

    let revoked = token(server, "01234", &["--uses", "5"]).await;
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&server.sesamectl(&["token", "list", "-o", "json"]).await.unwrap())
            .unwrap();
    let id = list.last().unwrap()["id"].as_u64().unwrap().to_string();
    assert_eq!(list.last().unwrap()["uses_left"], 5);
    server.sesamectl(&["token", "revoke", &id]).await.unwrap();
    assert_eq!(
        code(try_enroll(server, &state("d"), &revoked).await.unwrap_err()),
        Code::Unauthenticated,
        "revoked"
    );

    let listed = server.sesamectl(&["token", "list"]).await.unwrap();
    assert!(listed.contains("used up") && listed.contains("revoked"), "{listed}");
    assert!(
        !listed.contains(&once) && !listed.contains("sesame_enroll_"),
        "tokens are never shown again"
    );
    assert_eq!(workstations(server).await.len(), 1);
}

async fn enrollment_attempts_are_rate_limited_per_address(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("x"));
    let mut codes = Vec::new();
    for i in 0..8 {
        let guess = format!("sesame_enroll_{:064x}", i);
        codes.push(code(try_enroll(server, &state, &guess).await.unwrap_err()));
    }
    assert_eq!(&codes[..5], &[Code::Unauthenticated; 5]);
    assert_eq!(&codes[5..], &[Code::ResourceExhausted; 3], "{codes:?}");
    // The next minute allows more.
    server.clock.advance(Duration::minutes(1));
    let guess = format!("sesame_enroll_{:064x}", 99);
    assert_eq!(code(try_enroll(server, &state, &guess).await.unwrap_err()), Code::Unauthenticated);
}

async fn the_pinned_fingerprint_must_match(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    let wrong = "00:".repeat(31) + "00";
    let enrollment = Enrollment {
        server: &server.url(),
        ca_fingerprint: &wrong,
        token: SecretString::from(token.clone()),
    };
    let error = enroll(&state, enrollment).await.unwrap_err();
    assert!(error.to_string().contains("does not match the CA fingerprint"), "{error}");
    // The token was not sent: it still enrolls.
    try_enroll(server, &state, &token).await.unwrap();
}

async fn certificates_are_checked_on_every_request(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(server, &state, &token).await.unwrap();

    let mut anonymous = raw_client(server, None).await.unwrap();
    let status = anonymous.heartbeat(pb::HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "no client certificate");

    // A certificate for the same workstation id signed by another CA fails the handshake.
    let other = tempfile::tempdir().unwrap();
    let foreign = sesame_server::keys::pki::load_or_create(
        &sesame_server::data_dir::DataDir::create(other.path()).unwrap(),
        &[],
        server.clock_now(),
    )
    .unwrap();
    let identity = state.load().unwrap();
    let key = secrecy::ExposeSecret::expose_secret(&identity.key_pem).to_owned();
    let point = x509_point(&identity.cert_pem);
    let forged = foreign
        .issue_agent_certificate(
            &identity.workstation_id,
            "01234",
            &point,
            server.clock_now(),
            Duration::days(7),
        )
        .unwrap();
    let forged_state = StateDir::new(&dir.path().join("forged"));
    forged_state
        .save(&sesame_agent::identity::Identity {
            cert_pem: forged.pem,
            key_pem: SecretString::from(key),
            ..identity.clone()
        })
        .unwrap();
    let refused = match raw_client(server, Some(&forged_state)).await {
        Err(_) => true,
        Ok(mut client) => client.heartbeat(pb::HeartbeatRequest::default()).await.is_err(),
    };
    assert!(refused, "a certificate from another CA is refused");

    // Revocation reaches a connection that is already open.
    let mut open = raw_client(server, Some(&state)).await.unwrap();
    open.heartbeat(pb::HeartbeatRequest::default()).await.unwrap();
    server.sesamectl(&["workstation", "revoke", &identity.workstation_id]).await.unwrap();
    let status = open.heartbeat(pb::HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{status:?}");
    assert_eq!(workstations(server).await[0]["status"], "revoked");
    assert!(server.sesamectl(&["workstation", "unlock", &identity.workstation_id]).await.is_err());

    // An expired certificate is refused at the server's time, even on an open connection.
    let token = self::token(server, "01234", &[]).await;
    let second = StateDir::new(&dir.path().join("second"));
    try_enroll(server, &second, &token).await.unwrap();
    let mut open = raw_client(server, Some(&second)).await.unwrap();
    open.heartbeat(pb::HeartbeatRequest::default()).await.unwrap();
    server.clock.advance(Duration::days(8));
    assert_eq!(
        open.heartbeat(pb::HeartbeatRequest::default()).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let refused = match raw_client(server, Some(&second)).await {
        Err(_) => true,
        Ok(mut client) => client.heartbeat(pb::HeartbeatRequest::default()).await.is_err(),
    };
    assert!(refused, "a new connection with an expired certificate is refused");
}

/// The public key (uncompressed point) of a PEM certificate.
fn x509_point(cert_pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    cert.public_key().subject_public_key.data.to_vec()
}

async fn an_identity_copied_to_a_second_machine_is_locked(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let original = StateDir::new(&dir.path().join("original"));
    try_enroll(server, &original, &token).await.unwrap();
    // The whole state directory is copied to another machine.
    let copy_dir = dir.path().join("copy");
    std::fs::create_dir(&copy_dir).unwrap();
    for entry in std::fs::read_dir(dir.path().join("original")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy_dir.join(entry.file_name())).unwrap();
    }
    let copy = StateDir::new(&copy_dir);
    let a = agent(server, &original);
    let b = agent(server, &copy);
    a.heartbeat().await.unwrap();
    b.heartbeat().await.unwrap();

    server.clock.advance(Duration::days(5));
    assert_eq!(a.maintain_identity().await.unwrap(), IdentityOutcome::Renewed);
    a.heartbeat().await.unwrap();
    // The copy still presents the replaced certificate: the workstation is locked for both.
    assert_eq!(code(b.heartbeat().await.unwrap_err()), Code::Unauthenticated);
    let status = match a.heartbeat().await.unwrap_err() {
        UplinkError::Refused(status) => status,
        other => panic!("{other:?}"),
    };
    assert!(status.message().contains("locked"), "{status:?}");
    let listed = workstations(server).await;
    assert_eq!(listed[0]["status"], "locked");
    assert!(listed[0]["lock_reason"].as_str().unwrap().contains("replaced"));

    let id = original.load().unwrap().workstation_id;
    assert_eq!(
        server.sesamectl(&["workstation", "unlock", &id]).await.unwrap(),
        format!("Workstation {id} unlocked.\n")
    );
    a.heartbeat().await.unwrap();
    assert_eq!(
        code(b.heartbeat().await.unwrap_err()),
        Code::Unauthenticated,
        "the copy is locked out again"
    );
}

async fn a_crash_between_renewal_and_saving_does_not_lock_the_agent(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(server, &state, &token).await.unwrap();
    let agent = agent(server, &state);
    agent.heartbeat().await.unwrap();
    server.clock.advance(Duration::days(5));

    // The server issues the renewal, but the agent dies before saving it.
    let mut client = raw_client(server, Some(&state)).await.unwrap();
    let lost = client.renew(pb::RenewRequest {}).await.unwrap().into_inner();
    assert_eq!(lost.generation, 2);
    drop(client);

    // After restart it still holds the old certificate: accepted, and it renews again.
    agent.heartbeat().await.unwrap();
    assert_eq!(agent.maintain_identity().await.unwrap(), IdentityOutcome::Renewed);
    agent.heartbeat().await.unwrap();
    let listed = workstations(server).await;
    assert_eq!(
        (listed[0]["status"].as_str(), listed[0]["generation"].as_u64()),
        (Some("active"), Some(3))
    );
}

on_both_backends!(
    an_agent_enrolls_renews_and_recovers_after_a_long_absence,
    enrollment_tokens_are_single_use_expire_and_can_be_revoked,
    enrollment_attempts_are_rate_limited_per_address,
    the_pinned_fingerprint_must_match,
    certificates_are_checked_on_every_request,
    an_identity_copied_to_a_second_machine_is_locked,
    a_crash_between_renewal_and_saving_does_not_lock_the_agent,
);
