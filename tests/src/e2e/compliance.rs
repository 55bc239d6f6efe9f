//! Compliance end to end, as an auditor asks it, through sesamectl alone: "which offices were
//! compliant on a past date, and since when is office X late?", in a table, CSV, JSON and the
//! French PDF (read back with pdftotext), with the server's clock moved by the test.

use sesame_agent::identity::StateDir;
use time::Duration;

use super::identity::{token, try_enroll};
use crate::{TestServer, write_file};

async fn an_auditor_answers_from_sesamectl_alone(server: &TestServer) {
    let t0 = server.clock_now();
    let ctl = |args: &'static [&'static str]| server.sesamectl(args);
    // Two offices: 01234 with a workstation for both its mailboxes, 05678 with none. Workstations
    // are not expected to check in here: a year of silence is allowed.
    server.sesamectl(&["office", "add", "01234", "--name", "Étude Martin"]).await.unwrap();
    server.sesamectl(&["office", "add", "05678", "--name", "Étude Durand"]).await.unwrap();
    let people = "address,display_name\nmartin.anne@01234.mailnot.fr,Anne Martin\n\
                  martin.paul@01234.mailnot.fr,Paul Martin\ndurand.lea@05678.mailnot.fr,Léa Durand\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    ctl(&["compliance", "policy", "set", "--offline-days", "365"]).await.unwrap();
    let shown = ctl(&["compliance", "policy", "show", "-o", "json"]).await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (policy["source"].as_str(), policy["limit_days"].as_u64(), policy["offline_days"].as_u64()),
        (Some("global"), Some(90), Some(365))
    );
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    try_enroll(server, &state, &token(server, "01234", &[]).await).await.unwrap();
    let ws = state.load().unwrap().workstation_id;
    for address in ["martin.anne@01234.mailnot.fr", "martin.paul@01234.mailnot.fr"] {
        server.sesamectl(&["workstation", "assign", &ws, address]).await.unwrap();
    }

    // Forty days later, then a hundred days later: 01234 went overdue at day 90.
    server.clock.advance(Duration::days(40));
    let day40 = server.clock_now();
    server.clock.advance(Duration::days(60));
    let day90 = t0 + Duration::days(90);

    // At day 40 (a past date): 01234 compliant, 05678 not (never enrolled since its registration).
    let at40 = day40.format(&time::format_description::well_known::Rfc3339).unwrap();
    let csv = server.sesamectl(&["report", "--at", &at40, "-o", "csv"]).await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("crpcen,name,mailboxes,compliant,percent_compliant"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!(&rows[0][..5], ["01234", "Étude Martin", "2", "2", "100.0"]);
    assert_eq!(&rows[1][..5], ["05678", "Étude Durand", "1", "0", "0.0"]);
    assert_eq!(rows[0][12], "", "01234 is not late");
    assert!(rows[1][12].starts_with(&t0.date().to_string()), "05678 late since its registration");

    // Now: 01234 late since day 90, each mailbox overdue since then.
    let table = server.sesamectl(&["report", "--office", "01234"]).await.unwrap();
    assert!(table.contains("2 mailbox(es) in 1 office(s): 0 compliant (0.0 %)"), "{table}");
    assert!(table.contains("overdue"), "{table}");
    let json = server.sesamectl(&["report", "--office", "01234", "-o", "json"]).await.unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let office = &report["per_office"][0];
    let day90_text = day90.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(office["late_since"].as_str(), Some(day90_text.as_str()));
    assert_eq!(office["overdue"].as_u64(), Some(2));
    for mailbox in report["mailbox_states"].as_array().unwrap() {
        assert_eq!(mailbox["state"].as_str(), Some("overdue"));
        assert_eq!(mailbox["since"].as_str(), Some(day90_text.as_str()));
    }
    assert!(report["audit_head_seq"].as_i64().unwrap() > 0);
    assert_eq!(report["audit_head_hash"].as_str().unwrap().len(), 64);

    // The fleet's totals alone.
    let summary = server.sesamectl(&["report", "--summary", "--at", &at40]).await.unwrap();
    assert!(summary.contains("3 mailbox(es) in 2 office(s): 2 compliant (66.7 %)"), "{summary}");
    assert!(!summary.contains("CRPCEN"), "no line per office: {summary}");

    // The PDF an auditor files, in French.
    let pdf = dir.path().join("rapport.pdf");
    let said = server
        .sesamectl(&["report", "--at", &at40, "-o", "pdf", "--out", pdf.to_str().unwrap()])
        .await
        .unwrap();
    assert!(said.contains("2 office(s), 3 mailbox(es)"), "{said}");
    let text = std::process::Command::new("pdftotext").arg(&pdf).arg("-").output();
    let text = match text {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ if std::env::var_os("CI").is_some() => panic!("pdftotext is needed (poppler-utils)"),
        _ => return,
    };
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Rapport de conformité des mots de passe MAILNOT"), "{flat}");
    assert!(flat.contains("Office 01234 - Étude Martin"), "{flat}");
    assert!(flat.contains("2 boîte(s), 2 conforme(s) (100,0 %)"), "{flat}");
    assert!(
        flat.contains("Léa Durand <durand.lea@05678.mailnot.fr> - aucun poste enrôlé"),
        "{flat}"
    );
    assert!(flat.contains("Journal d'audit"), "{flat}");

    // A date to come is refused with a clear message, today means now; pdf is for reports only.
    let future = server.sesamectl(&["report", "--at", "2999-01-01"]).await.unwrap_err();
    assert!(future.to_string().contains("a day to come"), "{future}");
    let later = server.sesamectl(&["report", "--at", "2999-01-01T00:00:00Z"]).await.unwrap_err();
    assert!(later.to_string().contains("later than the server's time"), "{later}");
    let now = jiff::Timestamp::from_second(
        <sesame_base::clock::SystemClock as sesame_base::clock::Clock>::now(
            &sesame_base::clock::SystemClock,
        )
        .unix_timestamp(),
    );
    let today = now.unwrap().to_zoned(jiff::tz::TimeZone::system()).date().to_string();
    let now = server.sesamectl(&["report", "--at", &today, "-o", "csv"]).await.unwrap();
    assert!(now.starts_with("crpcen,name,mailboxes,compliant"), "{now}");
    let misuse = server.sesamectl(&["office", "list", "-o", "pdf"]).await.unwrap_err();
    assert!(misuse.to_string().contains("sesamectl report"), "{misuse}");
}

on_both_backends!(an_auditor_answers_from_sesamectl_alone);
