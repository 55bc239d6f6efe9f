//! Version skew: an agent built from an earlier released contract against the current server (the
//! policy in the README's "Versions that work together"). The agent is the generated client of
//! each earlier release in `proto/released/` (`released`): it enrolls with a token, checks in,
//! receives the provisional rotation an administrator issued, reports its steps through to
//! VERIFIED and COMPLETED, and the server shows the rotation confirmed and the mailbox compliant.

mod released;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::identity::token;
use crate::{TestServer, write_file};

const MAILBOX: &str = "dupont.jean@01234.mailnot.fr";
/// What every agent of the 0.1 line reports as its version: the workspace was 0.1.0 throughout.
const OLD_AGENT_VERSION: &str = "0.1.0";

/// The office, its mailbox and an enrollment token, as an administrator sets them up.
async fn set_up(server: &TestServer) -> String {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Dupont"]).await.unwrap();
    let people = format!("address,display_name\n{MAILBOX},Jean Dupont\n");
    let file = write_file(server.data_dir(), "people.csv", &people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    token(server, "01234", &[]).await
}

/// A new key pair and its certificate signing request, as every agent makes them.
fn key_and_csr() -> (KeyPair, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = CertificateParams::default().serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

/// A mutual-TLS channel presenting the certificate the server signed.
async fn enrolled_channel(server: &TestServer, key: &KeyPair, certificate_pem: &str) -> Channel {
    let ca = server.read_credentials().ca_certificate;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(certificate_pem, key.serialize_pem()));
    Endpoint::from_shared(server.url()).unwrap().tls_config(tls).unwrap().connect().await.unwrap()
}

/// The provisional password as the administrator's export gives it.
async fn exported_provisional(server: &TestServer) -> String {
    let export = server.data_dir().join("export.csv");
    let path = export.to_str().unwrap();
    let args = ["provisional", "export", "--office", "01234", "--format", "csv", "--out", path];
    server.sesamectl(&args).await.unwrap();
    let mut reader = csv::Reader::from_path(&export).unwrap();
    let provisional = reader.records().next().unwrap().unwrap()[2].to_owned();
    std::fs::remove_file(&export).unwrap();
    provisional
}

/// The mailbox's compliance state in the office's report.
async fn compliance_state(server: &TestServer) -> String {
    let json = server.sesamectl(&["report", "--office", "01234", "-o", "json"]).await.unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    report["mailbox_states"][0]["state"].as_str().unwrap().to_owned()
}

/// What the server shows once the rotation is over: completed, its change verified, the mailbox
/// compliant, the workstation with the old agent's version, the audit trail whole.
async fn the_server_shows_it_done(server: &TestServer, rotation: &str) {
    let json = server.sesamectl(&["mailbox", "show", MAILBOX, "-o", "json"]).await.unwrap();
    let detail: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(detail["rotations"][0]["status"], "completed", "{json}");
    assert_eq!(detail["last_verified_change"]["rotation_id"], rotation, "{json}");
    assert_eq!(detail["last_verified_change"]["key_evidence"]["kind"], "observed_absent");
    assert_eq!(compliance_state(server).await, "compliant");
    let listed = server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap();
    let workstations: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(workstations[0]["agent_version"], OLD_AGENT_VERSION, "{listed}");
    server.sesamectl(&["audit", "verify"]).await.unwrap();
}

/// The story of an agent built from release module `$release` of `released`; `$account` fills
/// what that release's step reports carry beyond the oldest one's.
macro_rules! an_old_agent_completes_a_rotation {
    ($scenario:ident, $release:ident, $account:expr) => {
        async fn $scenario(server: &TestServer) {
            use pb::agent_service_client::AgentServiceClient;
            use released::$release as pb;
            let enrollment = set_up(server).await;

            // Enrollment over TLS without a client certificate.
            let mut anonymous = AgentServiceClient::new(server.anonymous_channel().await);
            let info = pb::GetServerInfoRequest { agent_version: OLD_AGENT_VERSION.into() };
            let info = anonymous.get_server_info(info).await.unwrap().into_inner();
            assert!(info.agent_version_supported, "{info:?}");
            let (key, csr_pem) = key_and_csr();
            let enrolled = anonymous
                .enroll(pb::EnrollRequest {
                    token: enrollment,
                    csr_pem,
                    hostname: "poste-accueil".into(),
                    os: "linux x86_64".into(),
                    agent_version: OLD_AGENT_VERSION.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(enrolled.office, "01234");
            let certificate = enrolled.certificate.unwrap().certificate_pem;
            let channel = enrolled_channel(server, &key, &certificate).await;
            let mut agent = AgentServiceClient::new(channel);

            // The first check-in, with the key plugged in.
            let present = pb::KeyState {
                presence: pb::key_state::Presence::Present.into(),
                device: "1234:5678 bus 1 port 2".into(),
                ..Default::default()
            };
            let beat = pb::HeartbeatRequest {
                agent_version: OLD_AGENT_VERSION.into(),
                key: Some(present),
                ..Default::default()
            };
            let answer = agent.heartbeat(beat).await.unwrap().into_inner();
            assert_eq!(answer.workstation_id, enrolled.workstation_id);
            assert!(answer.check_in_interval_seconds > 0);

            // The administrator assigns the mailbox and issues a provisional password.
            let assign = ["workstation", "assign", &enrolled.workstation_id, MAILBOX];
            server.sesamectl(&assign).await.unwrap();
            server.sesamectl(&["provisional", "issue", "--mailbox", MAILBOX]).await.unwrap();
            let provisional = exported_provisional(server).await;
            assert_eq!(compliance_state(server).await, "provisional pending");
            let pending = pb::GetPendingRotationsRequest {};
            let pending = agent.get_pending_rotations(pending).await.unwrap().into_inner();
            assert_eq!(pending.rotations.len(), 1, "{pending:?}");
            let rotation = &pending.rotations[0];
            assert_eq!(rotation.kind(), pb::pending_rotation::Kind::Provisional);
            assert_eq!(rotation.mailbox, MAILBOX);
            assert!(rotation.provisional_password == provisional, "the letter's password");
            assert!(rotation.policy.as_ref().is_some_and(|p| p.min_length > 0));
            let rotation = rotation.rotation_id.clone();

            // The person changes the password: the steps, then a check-in saying where it stands.
            let report = |n: u32, step: pb::RotationStep| {
                let key_evidence = (step == pb::RotationStep::Started).then(|| pb::KeyEvidence {
                    kind: pb::key_evidence::Kind::ObservedAbsent.into(),
                    observed_at: "2026-11-25T09:29:00Z".into(),
                    detail: String::new(),
                });
                let mut report = pb::StepReport {
                    report_id: format!("00000000-0000-4000-8000-00000000000{n}"),
                    rotation_id: rotation.clone(),
                    step: step.into(),
                    occurred_at: "2026-11-25T09:30:00Z".into(),
                    key_evidence,
                    detail: "changement sur OWA".into(),
                    ..Default::default()
                };
                let fill: fn(&mut pb::StepReport) = $account;
                fill(&mut report);
                report
            };
            let steps = [
                report(1, pb::RotationStep::Started),
                report(2, pb::RotationStep::Changed),
                report(3, pb::RotationStep::Verified),
            ];
            let request = pb::ReportStepsRequest { reports: steps.to_vec() };
            let results = agent.report_steps(request).await.unwrap().into_inner().results;
            let recorded = pb::report_result::Outcome::Recorded;
            assert!(results.iter().all(|r| r.outcome() == recorded), "{results:?}");
            let progress = pb::RotationProgress {
                rotation_id: rotation.clone(),
                step: pb::RotationStep::Verified.into(),
                ..Default::default()
            };
            let beat = pb::HeartbeatRequest {
                agent_version: OLD_AGENT_VERSION.into(),
                rotations: vec![progress],
                ..Default::default()
            };
            agent.heartbeat(beat).await.unwrap();
            let pending = pb::GetPendingRotationsRequest {};
            let left = agent.get_pending_rotations(pending).await.unwrap().into_inner();
            assert!(left.rotations.is_empty(), "{left:?}");

            // The key back in: COMPLETED.
            let request =
                pb::ReportStepsRequest { reports: vec![report(4, pb::RotationStep::Completed)] };
            let results = agent.report_steps(request).await.unwrap().into_inner().results;
            assert_eq!(results[0].outcome(), recorded, "{results:?}");
            the_server_shows_it_done(server, &rotation).await;
        }
    };
}

an_old_agent_completes_a_rotation!(
    an_agent_of_0_1_0_pre_1_completes_a_rotation,
    v0_1_0_pre_1,
    |_| {}
);
an_old_agent_completes_a_rotation!(
    an_agent_of_0_1_0_pre_2_completes_a_rotation,
    v0_1_0_pre_2,
    |report| {
        let account = released::v0_1_0_pre_2::LocalAccount {
            id: "jdupont".into(),
            detail: "uid 1001".into(),
        };
        report.local_account = Some(account);
    }
);

on_both_backends!(
    an_agent_of_0_1_0_pre_1_completes_a_rotation,
    an_agent_of_0_1_0_pre_2_completes_a_rotation
);
