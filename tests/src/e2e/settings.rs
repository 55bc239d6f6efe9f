//! Issue 11's settings end to end through sesamectl and an enrolled agent: the OWA address (global,
//! office override, removal), logon names (CSV column, set-logon, delivered with a pending
//! rotation), check-ins carrying the key state and the look at OWA (bounds refused, answers the
//! office's address), `workstation list`, and `office readiness`.

use secrecy::ExposeSecret;
use sesame_agent::identity::StateDir;
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::identity::{token, try_enroll};
use crate::{TestServer, write_file};

async fn agent_client(server: &TestServer, state: &StateDir) -> AgentServiceClient<Channel> {
    let identity = state.load().unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&identity.ca_pem))
        .identity(Identity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    let channel =
        Endpoint::from_shared(server.url()).unwrap().tls_config(tls).unwrap().connect().await;
    AgentServiceClient::new(channel.unwrap())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn the_owa_address_is_set_globally_and_per_office(server: &TestServer) {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude"]).await.unwrap();
    let shown = server.sesamectl(&["owa-url", "show"]).await.unwrap();
    assert_eq!(shown, "Global:    https://mail.authentic-connect.fr/owa\n");

    let bad = server.sesamectl(&["owa-url", "set", "http://mail.example.fr/owa"]).await;
    let message = bad.unwrap_err().to_string();
    assert!(message.contains("url: invalid OWA address: must start with https://"), "{message}");
    let set = server.sesamectl(&["owa-url", "set", "https://mail.example.fr/owa"]).await.unwrap();
    assert_eq!(set, "Global OWA address set to https://mail.example.fr/owa.\n");
    server
        .sesamectl(&["owa-url", "set", "https://owa.etude.fr/owa", "--office", "01234"])
        .await
        .unwrap();
    let view = json(
        &server.sesamectl(&["owa-url", "show", "--office", "01234", "-o", "json"]).await.unwrap(),
    );
    assert_eq!(view["global_url"], "https://mail.example.fr/owa");
    assert_eq!(view["office_url"], "https://owa.etude.fr/owa");
    assert_eq!(view["effective_url"], "https://owa.etude.fr/owa");

    let unset = server.sesamectl(&["owa-url", "unset", "--office", "01234"]).await.unwrap();
    assert_eq!(unset, "Office 01234 uses the global OWA address again.\n");
    let shown = server.sesamectl(&["owa-url", "show", "--office", "01234"]).await.unwrap();
    assert!(
        shown.contains("Office 01234: (none)\nEffective: https://mail.example.fr/owa"),
        "{shown}"
    );
    let missing = server.sesamectl(&["owa-url", "show", "--office", "99999"]).await.unwrap_err();
    assert!(missing.to_string().contains("office 99999 does not exist"), "{missing}");

    let audit = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    let actions: Vec<String> = json(&audit)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["action"].as_str().filter(|a| a.starts_with("owa_url.")))
        .map(str::to_owned)
        .collect();
    assert_eq!(actions, ["owa_url.set", "owa_url.set", "owa_url.unset"]);
}

async fn logon_names_check_ins_and_readiness(server: &TestServer) {
    let token = token(server, "01234", &[]).await;
    let bad = write_file(
        server.data_dir(),
        "bad.csv",
        "address,display_name,logon_name\n\
         dupont.jean@01234.mailnot.fr,Jean Dupont,ETUDE\\jdupont\n\
         martin.paul@01234.mailnot.fr,Paul Martin,pmartin\n",
    );
    let error = server.sesamectl(&["mailbox", "import", bad.to_str().unwrap()]).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("line 3: invalid logon name"), "{message}");
    let listed = server.sesamectl(&["mailbox", "list", "-o", "json"]).await.unwrap();
    assert_eq!(json(&listed).as_array().unwrap().len(), 0, "nothing was imported");

    let good = write_file(
        server.data_dir(),
        "good.csv",
        "address,display_name,logon_name\n\
         dupont.jean@01234.mailnot.fr,Jean Dupont,ETUDE\\jdupont\n\
         martin.paul@01234.mailnot.fr,Paul Martin,\n",
    );
    server.sesamectl(&["mailbox", "import", good.to_str().unwrap()]).await.unwrap();
    let listed = json(&server.sesamectl(&["mailbox", "list", "-o", "json"]).await.unwrap());
    assert_eq!(listed[0]["logon_name"], "ETUDE\\jdupont");
    assert_eq!(listed[1]["logon_name"], "");
    let set = server
        .sesamectl(&["mailbox", "set-logon", "martin.paul@01234.mailnot.fr", "ETUDE\\pmartin"])
        .await
        .unwrap();
    assert_eq!(set, "martin.paul@01234.mailnot.fr logs on as ETUDE\\pmartin.\n");
    let table = server.sesamectl(&["mailbox", "list"]).await.unwrap();
    assert!(table.contains("LOGON NAME") && table.contains("ETUDE\\pmartin"), "{table}");
    let bad = server
        .sesamectl(&["mailbox", "set-logon", "martin.paul@01234.mailnot.fr", "ETUDE/pm"])
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("logon_name: invalid logon name"), "{bad}");

    // An enrolled agent with the first mailbox assigned gets its logon name with the rotation.
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(&dir.path().join("agent"));
    try_enroll(server, &state, &token).await.unwrap();
    let ws = state.load().unwrap().workstation_id;
    server
        .sesamectl(&["workstation", "assign", &ws, "dupont.jean@01234.mailnot.fr"])
        .await
        .unwrap();
    server
        .sesamectl(&["provisional", "issue", "--mailbox", "dupont.jean@01234.mailnot.fr"])
        .await
        .unwrap();
    let mut agent = agent_client(server, &state).await;
    let pending = agent
        .get_pending_rotations(pb::GetPendingRotationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rotations;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].logon_name, "ETUDE\\jdupont");

    // Before any look at OWA, the office is not ready.
    let readiness =
        json(&server.sesamectl(&["office", "readiness", "01234", "-o", "json"]).await.unwrap());
    assert_eq!(readiness["ready"], false);
    assert_eq!(readiness["workstations"][0]["blockers"][0], "no OWA check reported yet");

    // A check-in out of bounds is refused, naming the field, and records nothing.
    let long = pb::HeartbeatRequest {
        agent_version: "0.2.0".into(),
        key: Some(pb::KeyState {
            presence: pb::key_state::Presence::Present.into(),
            device: "x".repeat(201),
            ..Default::default()
        }),
        ..Default::default()
    };
    let refused = agent.heartbeat(long).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("key.device"), "{}", refused.message());
    let many = pb::HeartbeatRequest {
        rotations: vec![
            pb::RotationProgress { rotation_id: "rot-1".into(), ..Default::default() };
            101
        ],
        ..Default::default()
    };
    let refused = agent.heartbeat(many).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("rotations"), "{}", refused.message());

    let look = pb::OwaReadiness {
        owa_url: "https://mail.authentic-connect.fr/owa".into(),
        checked_at: "2026-11-29T08:00:00Z".into(),
        reachable: true,
        certificate_valid: true,
        forms_based: true,
        logon_format: pb::owa_readiness::LogonFormat::DomainUser.into(),
        language: "fr".into(),
        problem: String::new(),
    };
    let beat = pb::HeartbeatRequest {
        agent_version: "0.2.0".into(),
        key: Some(pb::KeyState {
            presence: pb::key_state::Presence::Unknown.into(),
            reason: "no USB access".into(),
            ..Default::default()
        }),
        rotations: vec![pb::RotationProgress {
            rotation_id: pending[0].rotation_id.clone(),
            step: pb::RotationStep::Pending.into(),
            failure: 0,
        }],
        readiness: Some(look),
    };
    let answer = agent.heartbeat(beat).await.unwrap().into_inner();
    assert_eq!(answer.check_in_interval_seconds, 60);
    assert_eq!(answer.owa_url, "https://mail.authentic-connect.fr/owa");

    let listed = server.sesamectl(&["workstation", "list"]).await.unwrap();
    assert!(listed.contains("unknown: no USB access") && listed.contains("0.2.0"), "{listed}");
    let listed = json(&server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap());
    assert_eq!(listed[0]["key"], "unknown: no USB access");

    // The assigned mailbox has a logon name and the look is good: ready. Clearing the name makes
    // it a blocker, since OWA asks for DOMAIN\user.
    let readiness =
        json(&server.sesamectl(&["office", "readiness", "01234", "-o", "json"]).await.unwrap());
    assert_eq!(readiness["ready"], true, "{readiness}");
    assert_eq!(readiness["owa_url"], "https://mail.authentic-connect.fr/owa");
    server
        .sesamectl(&["mailbox", "set-logon", "dupont.jean@01234.mailnot.fr", "--clear"])
        .await
        .unwrap();
    let table = server.sesamectl(&["office", "readiness", "01234"]).await.unwrap();
    assert!(
        table.contains(
            "mailbox dupont.jean@01234.mailnot.fr needs a logon name: OWA asks for DOMAIN\\user"
        ),
        "{table}"
    );
    assert!(table.contains("unknown: no USB access") && table.contains(" no "), "{table}");

    // An office override the agent has not looked at yet is a blocker too.
    server
        .sesamectl(&["owa-url", "set", "https://owa.etude.fr/owa", "--office", "01234"])
        .await
        .unwrap();
    let answer = agent.heartbeat(pb::HeartbeatRequest::default()).await.unwrap().into_inner();
    assert_eq!(answer.owa_url, "https://owa.etude.fr/owa");
    let table = server.sesamectl(&["office", "readiness", "01234"]).await.unwrap();
    assert!(table.contains("checked another address"), "{table}");
}

on_both_backends!(
    the_owa_address_is_set_globally_and_per_office,
    logon_names_check_ins_and_readiness
);
