//! Step reports end to end: an enrolled agent (real tonic client, its own certificate) reports
//! STARTED, CHANGED and VERIFIED; the rotation closes with its escrow destroyed and the mailbox's
//! last verified change recorded; a replay changes nothing; another workstation is refused;
//! `sesamectl mailbox show` shows it all and the audit trail verifies.

use secrecy::ExposeSecret;
use sesame_agent::identity::StateDir;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::identity::{token, try_enroll};
use crate::{TestServer, write_file};

pub(super) async fn agent(
    server: &TestServer,
    dir: &std::path::Path,
    name: &str,
) -> (AgentServiceClient<Channel>, String) {
    let enrollment = token(server, "01234", &[]).await;
    let state = StateDir::new(&dir.join(name));
    try_enroll(server, &state, &enrollment).await.unwrap();
    let identity = state.load().unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&identity.ca_pem))
        .identity(Identity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    let channel = Endpoint::from_shared(server.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    (AgentServiceClient::new(channel), identity.workstation_id)
}

pub(super) fn step(id: &str, rotation: &str, step: pb::RotationStep) -> pb::StepReport {
    let key_evidence = (step == pb::RotationStep::Started).then(|| pb::KeyEvidence {
        kind: pb::key_evidence::Kind::ObservedAbsent.into(),
        observed_at: "2026-11-25T09:29:00Z".into(),
        detail: String::new(),
    });
    pb::StepReport {
        report_id: id.into(),
        rotation_id: rotation.into(),
        step: step.into(),
        occurred_at: "2026-11-25T09:30:00Z".into(),
        failure: 0,
        key_evidence,
        detail: "changement sur OWA".into(),
        local_account: None,
    }
}

fn outcomes(response: pb::ReportStepsResponse) -> Vec<pb::report_result::Outcome> {
    response.results.iter().map(|r| r.outcome()).collect()
}

async fn a_verified_change_closes_the_rotation_once(server: &TestServer) {
    use pb::report_result::Outcome;
    server.sesamectl(&["office", "add", "01234", "--name", "Office Dupont"]).await.unwrap();
    let people = "address,display_name\ndupont.jean@01234.mailnot.fr,Jean Dupont\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut assigned, assigned_id) = agent(server, dir.path(), "assigned").await;
    let (mut other, _) = agent(server, dir.path(), "other").await;
    let address = "dupont.jean@01234.mailnot.fr";
    server.sesamectl(&["workstation", "assign", &assigned_id, address]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", address]).await.unwrap();
    let pending = assigned
        .get_pending_rotations(pb::GetPendingRotationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rotations;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind(), pb::pending_rotation::Kind::Provisional);
    let rotation = pending[0].rotation_id.clone();

    // A malformed request records nothing.
    let mut bad = step("r-0", &rotation, pb::RotationStep::Changed);
    bad.detail = "a\u{7}b".into();
    let refused = assigned.report_steps(pb::ReportStepsRequest { reports: vec![bad] }).await;
    let status = refused.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("reports[0].detail"), "{}", status.message());

    // Another workstation of the office may not report on it.
    let theirs = other
        .report_steps(pb::ReportStepsRequest {
            reports: vec![step("x-1", &rotation, pb::RotationStep::Started)],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes(theirs), [Outcome::Rejected]);

    let request = pb::ReportStepsRequest {
        reports: vec![
            step("r-1", &rotation, pb::RotationStep::Started),
            step("r-2", &rotation, pb::RotationStep::Changed),
            step("r-3", &rotation, pb::RotationStep::Verified),
        ],
    };
    let first = assigned.report_steps(request.clone()).await.unwrap().into_inner();
    assert_eq!(outcomes(first), [Outcome::Recorded; 3]);
    for _ in 0..100 {
        let again = assigned.report_steps(request.clone()).await.unwrap().into_inner();
        assert_eq!(outcomes(again), [Outcome::Duplicate; 3]);
    }

    // One effect: one audit record per step, the escrow gone, nothing left to deliver.
    let audit = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    for action in ["rotation.report.started", "rotation.report.changed", "rotation.report.verified"]
    {
        assert_eq!(records.iter().filter(|r| r["action"] == action).count(), 1, "{action}");
    }
    server.sesamectl(&["audit", "verify"]).await.unwrap();
    let after = assigned.get_pending_rotations(pb::GetPendingRotationsRequest {}).await.unwrap();
    assert!(after.into_inner().rotations.is_empty());
    let exported = dir.path().join("export.csv");
    let out = server
        .sesamectl(&[
            "provisional",
            "export",
            "--office",
            "01234",
            "--format",
            "csv",
            "--out",
            exported.to_str().unwrap(),
        ])
        .await
        .unwrap();
    assert!(out.starts_with("0 provisional password(s)"), "{out}");

    // COMPLETED after VERIFIED is recorded; nothing else follows.
    let late = assigned
        .report_steps(pb::ReportStepsRequest {
            reports: vec![
                step("r-4", &rotation, pb::RotationStep::Completed),
                step("r-5", &rotation, pb::RotationStep::Changed),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes(late), [Outcome::Recorded, Outcome::Rejected]);

    let text = server.sesamectl(&["mailbox", "show", address]).await.unwrap();
    for expected in [
        "Open rotation:  none",
        "Last verified change:",
        "key observed absent at 2026-11-25T09:29:00Z",
        "completed",
        &assigned_id,
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    let json = server.sesamectl(&["mailbox", "show", address, "-o", "json"]).await.unwrap();
    let detail: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(detail["rotations"][0]["status"], "completed");
    assert_eq!(detail["rotations"][0]["last_step"], "completed");
    assert_eq!(detail["last_verified_change"]["rotation_id"], rotation.as_str());
    assert_eq!(detail["last_verified_change"]["key_evidence"]["kind"], "observed_absent");
    let steps: Vec<&str> =
        detail["events"].as_array().unwrap().iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["started", "changed", "verified", "completed"]);
    assert!(!detail["mailbox"]["last_verified_change_at"].as_str().unwrap().is_empty());
    let (code, _) =
        super::code_of(server.sesamectl(&["mailbox", "show", "nobody.x@01234.mailnot.fr"]).await);
    assert_eq!(code, Code::NotFound);
}

on_both_backends!(a_verified_change_closes_the_rotation_once);
