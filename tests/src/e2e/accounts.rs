//! Local accounts bound to mailboxes, end to end with enrolled agents (real tonic clients, their
//! own certificates) and sesamectl: a verified report naming an account binds it on its
//! workstation only, `GetPendingRotations` then carries it, a later report never rebinds, an
//! administrator sets and resets bindings (audited, shown by `mailbox show`), and an import sets
//! default accounts, all or nothing with the bad line named.

use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use super::reports::{agent, step as report};
use crate::{TestServer, write_file};

const DUPONT: &str = "dupont.jean@01234.mailnot.fr";
const MARTIN: &str = "martin.paul@01234.mailnot.fr";

fn account(id: &str, detail: &str) -> pb::LocalAccount {
    pb::LocalAccount { id: id.into(), detail: detail.into() }
}

/// A step report (as `e2e::reports` writes them) naming `acting`.
fn step(id: &str, rotation: &str, step: pb::RotationStep, acting: &str) -> pb::StepReport {
    pb::StepReport {
        local_account: Some(account(acting, "uid 1001")),
        ..report(id, rotation, step)
    }
}

/// The pending rotation of `mailbox` on this agent's workstation.
async fn pending(agent: &mut AgentServiceClient<Channel>, mailbox: &str) -> pb::PendingRotation {
    let all = agent
        .get_pending_rotations(pb::GetPendingRotationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rotations;
    all.into_iter().find(|r| r.mailbox == mailbox).unwrap_or_else(|| panic!("{mailbox} pending"))
}

/// Started then verified, both naming `acting`.
async fn change(agent: &mut AgentServiceClient<Channel>, rotation: &str, acting: &str) {
    let reports = vec![
        step(&format!("{rotation}-s"), rotation, pb::RotationStep::Started, acting),
        step(&format!("{rotation}-v"), rotation, pb::RotationStep::Verified, acting),
    ];
    let results = agent.report_steps(pb::ReportStepsRequest { reports }).await.unwrap();
    for result in results.into_inner().results {
        assert_eq!(result.outcome(), pb::report_result::Outcome::Recorded, "{}", result.reason);
    }
}

async fn audit_count(server: &TestServer, action: &str) -> usize {
    let audit = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    records.iter().filter(|r| r["action"] == action).count()
}

async fn a_verified_report_binds_its_account_on_its_workstation_only(server: &TestServer) {
    server.sesamectl(&["office", "add", "01234", "--name", "Office Dupont"]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // A bad account in the file names its line, and nothing is imported.
    let bad = format!(
        "address,display_name,local_account\n{DUPONT},Jean Dupont,jdupont\n{MARTIN},Paul Martin,{}\n",
        "x".repeat(300)
    );
    let file = write_file(dir.path(), "bad.csv", &bad);
    let (code, message) =
        super::code_of(server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("line 3: local_account"), "{message}");
    assert!(message.contains("nothing was imported"), "{message}");
    let listed = server.sesamectl(&["mailbox", "list"]).await.unwrap();
    assert!(!listed.contains(DUPONT), "{listed}");

    // The column is optional per line: Martin gets a default account, Dupont none.
    let good = format!(
        "address,display_name,local_account\n{DUPONT},Jean Dupont,\n{MARTIN},Paul Martin,pmartin\n"
    );
    let file = write_file(dir.path(), "good.csv", &good);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();

    let (mut first, first_id) = agent(server, dir.path(), "first").await;
    let (mut second, second_id) = agent(server, dir.path(), "second").await;
    for ws in [&first_id, &second_id] {
        server.sesamectl(&["workstation", "assign", ws, DUPONT]).await.unwrap();
    }
    server.sesamectl(&["workstation", "assign", &second_id, MARTIN]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", DUPONT]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--mailbox", MARTIN]).await.unwrap();

    // Not bound yet; Martin's default account holds on his workstation.
    let rotation = pending(&mut first, DUPONT).await;
    assert_eq!(rotation.bound_account, None);
    assert_eq!(pending(&mut second, MARTIN).await.bound_account, Some(account("pmartin", "")));

    // The verified change binds jdupont on the first workstation only.
    change(&mut first, &rotation.rotation_id, "jdupont").await;
    assert_eq!(audit_count(server, "mailbox.account.bind").await, 1);
    server.sesamectl(&["provisional", "issue", "--mailbox", DUPONT]).await.unwrap();
    let again = pending(&mut first, DUPONT).await;
    assert_eq!(again.bound_account, Some(account("jdupont", "uid 1001")));
    assert_eq!(pending(&mut second, DUPONT).await.bound_account, None);

    // Another account's verified change is recorded, and rebinds nothing.
    change(&mut first, &again.rotation_id, "collegue").await;
    assert_eq!(audit_count(server, "mailbox.account.bind").await, 1);

    let text = server.sesamectl(&["mailbox", "show", DUPONT]).await.unwrap();
    for expected in [
        "Default account: none".to_owned(),
        format!("Account on {first_id}: jdupont (uid 1001), since "),
        format!("Account on {second_id}: none"),
        "collegue (uid 1001)".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing:\n{text}");
    }

    // An administrator binds the second workstation and resets the first.
    let out = server
        .sesamectl(&["mailbox", "account", "set", DUPONT, "alice", "--workstation", &second_id])
        .await
        .unwrap();
    assert!(out.contains("bound to the account alice"), "{out}");
    server
        .sesamectl(&["mailbox", "account", "reset", DUPONT, "--workstation", &first_id])
        .await
        .unwrap();
    assert_eq!(audit_count(server, "mailbox.account.set").await, 1);
    assert_eq!(audit_count(server, "mailbox.account.reset").await, 1);
    server.sesamectl(&["provisional", "issue", "--mailbox", DUPONT]).await.unwrap();
    assert_eq!(pending(&mut first, DUPONT).await.bound_account, None);
    assert_eq!(pending(&mut second, DUPONT).await.bound_account, Some(account("alice", "")));
    let json = server.sesamectl(&["mailbox", "show", DUPONT, "-o", "json"]).await.unwrap();
    let detail: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bindings = detail["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(bindings[0]["workstation_id"], second_id.as_str());
    assert_eq!(bindings[0]["source"], "admin");
    let acted = |rotation: &str| {
        let events = detail["events"].as_array().unwrap();
        let mine = events.iter().filter(|e| e["rotation_id"] == rotation);
        mine.map(|e| e["local_account"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(acted(&rotation.rotation_id), ["jdupont", "jdupont"]);
    assert_eq!(acted(&again.rotation_id), ["collegue", "collegue"]);

    // Refusals name the field.
    let (code, message) =
        super::code_of(server.sesamectl(&["mailbox", "account", "set", DUPONT, "a\u{7}b"]).await);
    assert_eq!(
        (code, message.starts_with("account_id")),
        (Code::InvalidArgument, true),
        "{message}"
    );
    let (code, message) = super::code_of(
        server
            .sesamectl(&["mailbox", "account", "set", DUPONT, "x", "--workstation", "ws-nope"])
            .await,
    );
    assert_eq!((code, message.starts_with("workstation_id")), (Code::NotFound, true), "{message}");
    let (code, _) = super::code_of(
        server.sesamectl(&["mailbox", "account", "reset", "nobody.x@01234.mailnot.fr"]).await,
    );
    assert_eq!(code, Code::NotFound);
    server.sesamectl(&["audit", "verify"]).await.unwrap();
}

on_both_backends!(a_verified_report_binds_its_account_on_its_workstation_only);
