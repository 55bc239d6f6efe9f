//! Provisional passwords end to end: issue, escrow, delivery to the assigned agent only, export
//! for Exchange, letters, audit trail, and the secrets' absence from the database and the logs;
//! the password policy's strength checks, set with sesamectl, delivered with each rotation.

use std::sync::OnceLock;

use secrecy::ExposeSecret;
use sesame_agent::identity::StateDir;
use sesame_base::calendar::{LocalCalendar, moment_fr};
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use super::code_of;
use super::identity::{token, try_enroll};
use crate::{LogBuffer, TestServer, write_file};

/// Everything logged by every server of this test binary at trace level.
fn captured_logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("sesame_server=trace,info")
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

async fn enroll(
    server: &TestServer,
    office: &str,
    dir: &std::path::Path,
    name: &str,
) -> (StateDir, String) {
    let token = token(server, office, &[]).await;
    let state = StateDir::new(&dir.join(name));
    try_enroll(server, &state, &token).await.unwrap();
    let id = state.load().unwrap().workstation_id;
    (state, id)
}

async fn pending(server: &TestServer, state: &StateDir) -> Vec<pb::PendingRotation> {
    let identity = state.load().unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&identity.ca_pem))
        .identity(TlsIdentity::from_pem(&identity.cert_pem, identity.key_pem.expose_secret()));
    let channel = Endpoint::from_shared(server.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    AgentServiceClient::new(channel)
        .get_pending_rotations(pb::GetPendingRotationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rotations
}

/// `sesamectl provisional export --office OFFICE --format FORMAT --out PATH`.
async fn export(
    server: &TestServer,
    office: &str,
    format: &str,
    path: &std::path::Path,
) -> crate::CtlResult {
    server
        .sesamectl(&[
            "provisional",
            "export",
            "--office",
            office,
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ])
        .await
}

fn csv_passwords(path: &std::path::Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_owned(), r[2].to_owned())).collect()
}

async fn the_full_cycle_discloses_each_password_only_where_it_belongs(server: &TestServer) {
    let logs = captured_logs();
    server
        .sesamectl(&[
            "office",
            "add",
            "01234",
            "--name",
            "Office notarial Dupont & Associés",
            "--city",
            "Lyon",
        ])
        .await
        .unwrap();
    server.sesamectl(&["office", "add", "75001", "--name", "Étude Martin"]).await.unwrap();
    let people = "address,display_name\n\
                  dupont.jean@01234.mailnot.fr,Jean Dupont\n\
                  durand.marie@01234.mailnot.fr,Marie Durand\n\
                  martin.paul@75001.mailnot.fr,Paul Martin\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (assigned, assigned_id) = enroll(server, "01234", dir.path(), "assigned").await;
    let (unassigned, _) = enroll(server, "01234", dir.path(), "unassigned").await;
    let (other_office, other_id) = enroll(server, "75001", dir.path(), "other").await;
    server
        .sesamectl(&["workstation", "assign", &assigned_id, "dupont.jean@01234.mailnot.fr"])
        .await
        .unwrap();
    let (code, message) = code_of(
        server
            .sesamectl(&["workstation", "assign", &other_id, "dupont.jean@01234.mailnot.fr"])
            .await,
    );
    assert_eq!(code, Code::InvalidArgument, "a workstation only serves its own office: {message}");

    // Issue for the office; one open rotation per mailbox.
    let issued = server
        .sesamectl(&["provisional", "issue", "--office", "01234", "-o", "json"])
        .await
        .unwrap();
    let issued: Vec<serde_json::Value> = serde_json::from_str(
        issued.split("\n]").next().map(|s| format!("{s}\n]")).unwrap().as_str(),
    )
    .unwrap();
    assert_eq!(issued.len(), 2);
    assert!(issued.iter().all(|r| r["status"] == "issued"));
    let again = server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();
    assert!(again.contains("2 mailbox(es) skipped"), "{again}");
    let (code, _) = code_of(
        server
            .sesamectl(&["provisional", "issue", "--mailbox", "dupont.jean@01234.mailnot.fr"])
            .await,
    );
    assert_eq!(code, Code::AlreadyExists);

    // Export for Exchange: owner-only files.
    let csv_path = dir.path().join("export.csv");
    let out = export(server, "01234", "csv", &csv_path).await.unwrap();
    assert!(out.starts_with("2 provisional password(s)"), "{out}");
    let exported = csv_passwords(&csv_path);
    assert_eq!(exported.len(), 2);
    let policy = sesame_server::domain::password::PasswordPolicy::default();
    for (_, password) in &exported {
        assert!(policy.check(password).is_empty() && password.len() == 16, "{password:?}");
    }
    let ps_path = dir.path().join("export.ps1");
    export(server, "01234", "powershell", &ps_path).await.unwrap();
    let script = std::fs::read_to_string(&ps_path).unwrap();
    assert!(
        script.contains("Set-ADAccountPassword") && script.contains("-ChangePasswordAtLogon $true")
    );
    #[cfg(unix)]
    for path in [&csv_path, &ps_path] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Only the assigned workstation of the same office receives the rotation.
    let delivered = pending(server, &assigned).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].mailbox, "dupont.jean@01234.mailnot.fr");
    let dupont = exported.iter().find(|(a, _)| a == "dupont.jean@01234.mailnot.fr").unwrap();
    assert_eq!(delivered[0].provisional_password, dupont.1);
    assert_eq!(delivered[0].policy.as_ref().unwrap().min_length, 10);
    assert!(pending(server, &unassigned).await.is_empty(), "same office, not assigned: nothing");
    assert!(pending(server, &other_office).await.is_empty(), "another office: nothing");
    let listed = server
        .sesamectl(&["provisional", "list", "--office", "01234", "-o", "json"])
        .await
        .unwrap();
    assert!(listed.contains("\"status\": \"delivered\""), "{listed}");

    // Letters: a real PDF, one page per person, in French, printed at 23:30 UTC on 7 December by
    // an administrator in Paris: dated the 8th, their day.
    let pdf = dir.path().join("letters.pdf");
    let paris = LocalCalendar::named("Europe/Paris").expect("tzdata (Europe/Paris)");
    let printed_at = time::macros::datetime!(2026-12-07 23:30 UTC);
    let argv = ["provisional", "letters", "--office", "01234", "--out", pdf.to_str().unwrap()];
    server.sesamectl_at(&argv, printed_at, &paris).await.unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(text.matches('\u{c}').count(), 2, "one page per person");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Mot de passe provisoire",
        "RETIREZ VOTRE CLÉ REAL",
        "au moins 10 caractères",
        "une majuscule",
        "Jean Dupont",
        "Marie Durand",
        "dupont.jean@01234.mailnot.fr",
        "Office notarial Dupont & Associés, Lyon (CRPCEN 01234)",
        "Imprimé le 8 décembre 2026.",
        "Si la fenêtre Sesame ne s'ouvre pas",
        "sesame-agent change",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from the letters:\n{text}");
    }
    assert!(!text.contains("Imprimé le 7 décembre"), "the printer's day, not UTC's:\n{text}");
    // Valid until each expiry (the export's fourth column), in the printer's calendar too.
    for record in csv::Reader::from_path(&csv_path).unwrap().records() {
        let expires = OffsetDateTime::parse(&record.unwrap()[3], &Rfc3339).unwrap();
        let until = format!("Valable jusqu'au {}.", moment_fr(expires, &paris));
        assert!(text.contains(&until), "{until:?} missing from the letters:\n{text}");
    }
    for (_, password) in &exported {
        // pdftotext reads a line ending in '-' as a hyphenated word and joins it to the next line
        // without the '-': a password ending in '-' comes out without it (the PDF holds it whole).
        let extracted = password.strip_suffix('-').unwrap_or(password);
        assert!(text.contains(extracted), "each letter carries its password");
    }

    // The audit trail records every disclosure and verifies.
    let audit =
        server.sesamectl(&["audit", "list", "--office", "01234", "-o", "json"]).await.unwrap();
    for action in [
        "rotation.open",
        "provisional.export",
        "provisional.deliver",
        "provisional.letters",
        "workstation.assign",
    ] {
        assert!(audit.contains(action), "{action} missing from the audit trail");
    }
    assert!(
        audit.contains(&format!("workstation:{assigned_id}")),
        "deliveries are attributed to the workstation"
    );
    assert!(
        server
            .sesamectl(&["audit", "verify"])
            .await
            .unwrap()
            .starts_with("The audit trail is intact")
    );

    // Neither the database nor the logs hold a provisional password.
    let dump = server.database_dump().await;
    assert!(dump.contains("dupont.jean@01234.mailnot.fr"));
    let logged = logs.text();
    assert!(logged.contains("escrow disclosed"), "the logs were captured");
    for (_, password) in &exported {
        assert!(!dump.contains(password.as_str()), "the database holds a provisional password");
        assert!(!logged.contains(password.as_str()), "the logs hold a provisional password");
    }

    // Cancelling destroys the escrow: nothing left to export.
    let out = server.sesamectl(&["provisional", "cancel", "--office", "01234"]).await.unwrap();
    assert!(out.starts_with("2 rotation(s) cancelled"), "{out}");
    let out = export(server, "01234", "csv", &csv_path).await.unwrap();
    assert!(out.starts_with("0 provisional password(s)"), "{out}");
}

async fn tampering_is_caught(server: &TestServer) {
    server.sesamectl(&["office", "add", "01234", "--name", "Office"]).await.unwrap();
    let people = "address,display_name\na.a@01234.mailnot.fr,A A\nb.b@01234.mailnot.fr,B B\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();

    // When the audit record cannot be written, nothing is disclosed.
    let (block, unblock): (&[&str], &[&str]) = if server.database().is_postgres() {
        (
            &[
                "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit down'; END; $$",
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_down()",
            ],
            &["DROP TRIGGER audit_down ON audit_log", "DROP FUNCTION audit_down()"],
        )
    } else {
        (
            &[
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit down'); END",
            ],
            &["DROP TRIGGER audit_down"],
        )
    };
    server.database().execute(block).await;
    let blocked = dir_file(server, "blocked.csv");
    let (code, _) = code_of(export(server, "01234", "csv", std::path::Path::new(&blocked)).await);
    assert_eq!(code, Code::Internal);
    assert!(!std::path::Path::new(&blocked).exists(), "no password left the server");
    server.database().execute(unblock).await;
    let listed = server
        .sesamectl(&["provisional", "list", "--office", "01234", "-o", "json"])
        .await
        .unwrap();
    assert!(!listed.contains("\"status\": \"delivered\""), "{listed}");

    // Two rows' ciphertexts swapped: decryption fails, nothing is disclosed, nothing internal leaks.
    server
        .database()
        .execute(&[
            "CREATE TABLE swap AS SELECT id, nonce, ciphertext FROM rotations",
            "UPDATE rotations SET nonce = (SELECT s.nonce FROM swap s WHERE s.id <> rotations.id), \
             ciphertext = (SELECT s.ciphertext FROM swap s WHERE s.id <> rotations.id)",
            "DROP TABLE swap",
        ])
        .await;
    let out = dir_file(server, "x.csv");
    let (code, message) = code_of(export(server, "01234", "csv", std::path::Path::new(&out)).await);
    assert_eq!(code, Code::Internal);
    assert!(!message.contains("cipher") && !message.contains("rotations"), "{message}");
    assert!(!std::path::Path::new(&out).exists(), "no file is written");

    // Editing, deleting or inserting an audit record is named by verify.
    let drop_guards: &[&str] = if server.database().is_postgres() {
        &["DROP TRIGGER audit_log_no_update_delete ON audit_log"]
    } else {
        &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
    };
    server.database().execute(drop_guards).await;
    server
        .database()
        .execute(&["UPDATE audit_log SET details = '{\"name\":\"forged\"}' WHERE seq = 2"])
        .await;
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(error.contains("BROKEN at record 2") && error.contains("edited"), "{error}");
    server.database().execute(&["DELETE FROM audit_log WHERE seq = 2"]).await;
    let error = server.sesamectl(&["audit", "verify"]).await.unwrap_err().to_string();
    assert!(error.contains("BROKEN at record 2"), "{error}");
}

/// The strength checks of the agent's policy in a delivered rotation, and its office's name and
/// city: `(personal words, common passwords, min strength, office name, office city)`.
fn checks_of(
    rotation: &pb::PendingRotation,
) -> (Option<bool>, Option<bool>, Option<u32>, &str, &str) {
    let policy = rotation.policy.as_ref().expect("a policy with each rotation");
    (
        policy.refuse_personal_words,
        policy.refuse_common_passwords,
        policy.min_strength,
        &rotation.office_name,
        &rotation.office_city,
    )
}

async fn the_policys_strength_checks_reach_the_agent_with_each_rotation(server: &TestServer) {
    server
        .sesamectl(&["office", "add", "01234", "--name", "Étude Dupont", "--city", "Lyon"])
        .await
        .unwrap();
    server.sesamectl(&["office", "add", "75001", "--name", "Étude Martin"]).await.unwrap();
    let people = "address,display_name\n\
                  dupont.jean@01234.mailnot.fr,Jean Dupont\n\
                  martin.paul@75001.mailnot.fr,Paul Martin\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (lyon, lyon_id) = enroll(server, "01234", dir.path(), "lyon").await;
    let (paris, paris_id) = enroll(server, "75001", dir.path(), "paris").await;
    for (id, address) in
        [(&lyon_id, "dupont.jean@01234.mailnot.fr"), (&paris_id, "martin.paul@75001.mailnot.fr")]
    {
        server.sesamectl(&["workstation", "assign", id, address]).await.unwrap();
    }

    // By default every check is on, score 3.
    let shown = server.sesamectl(&["policy", "show"]).await.unwrap();
    for line in [
        "refuse personal words:   on",
        "refuse common passwords: on",
        "minimum strength:        3 of 4",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }

    // The global policy leaves out common passwords and asks for 2; office 01234's override (made
    // from the policy in force) drops personal words too and asks for 4.
    server
        .sesamectl(&["policy", "set", "--refuse-common-passwords", "off", "--min-strength", "2"])
        .await
        .unwrap();
    server
        .sesamectl(&[
            "policy",
            "set",
            "--office",
            "01234",
            "--refuse-personal-words",
            "off",
            "--min-strength",
            "4",
        ])
        .await
        .unwrap();
    let shown = server.sesamectl(&["policy", "show", "--office", "01234"]).await.unwrap();
    for line in [
        "refuse personal words:   off",
        "refuse common passwords: off",
        "minimum strength:        4 of 4",
        "minimum length:          10",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }

    // Each agent receives its office's effective checks, and the office's name and city.
    server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--office", "75001"]).await.unwrap();
    let [lyon_rotation] = &pending(server, &lyon).await[..] else { panic!("one rotation") };
    assert_eq!(
        checks_of(lyon_rotation),
        (Some(false), Some(false), Some(4), "Étude Dupont", "Lyon")
    );
    let [paris_rotation] = &pending(server, &paris).await[..] else { panic!("one rotation") };
    assert_eq!(checks_of(paris_rotation), (Some(true), Some(false), Some(2), "Étude Martin", ""));

    // Each change is audited with the checks it set.
    let audit =
        server.sesamectl(&["audit", "list", "--office", "01234", "-o", "json"]).await.unwrap();
    assert!(audit.contains("password_policy.set"), "{audit}");
    for field in ["refuse_personal_words", "refuse_common_passwords", "min_strength"] {
        assert!(audit.contains(field), "{field} missing from the audit record: {audit}");
    }

    // Through the API: a score above 4 is refused with what is allowed; a request that predates
    // the checks (fields absent) sets them on, score 3, and every answer states them.
    let mut admin = sesamectl::connect(&server.read_credentials()).await.unwrap();
    let policy = |min_strength| pb::PasswordPolicy {
        min_length: 12,
        require_lower: true,
        require_upper: true,
        require_digit: true,
        require_special: true,
        provisional_length: 16,
        min_strength,
        ..Default::default()
    };
    for (score, shown) in [(5, "not 5"), (u32::MAX, "not 4294967295")] {
        let refused = admin
            .set_password_policy(pb::SetPasswordPolicyRequest {
                office: "75001".into(),
                policy: Some(policy(Some(score))),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        let expected = format!("policy: the minimum strength must be a score from 0 to 4, {shown}");
        assert_eq!(refused.message(), expected);
    }
    admin
        .set_password_policy(pb::SetPasswordPolicyRequest {
            office: "75001".into(),
            policy: Some(policy(None)),
        })
        .await
        .unwrap();
    let read = admin
        .get_password_policy(pb::GetPasswordPolicyRequest { office: "75001".into() })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(
        (read.refuse_personal_words, read.refuse_common_passwords, read.min_strength),
        (Some(true), Some(true), Some(3))
    );
    let [paris_rotation] = &pending(server, &paris).await[..] else { panic!("one rotation") };
    assert_eq!(checks_of(paris_rotation), (Some(true), Some(true), Some(3), "Étude Martin", ""));
}

fn dir_file(server: &TestServer, name: &str) -> String {
    server.data_dir().join(name).to_str().unwrap().to_owned()
}

on_both_backends!(
    the_full_cycle_discloses_each_password_only_where_it_belongs,
    tampering_is_caught,
    the_policys_strength_checks_reach_the_agent_with_each_rotation
);
