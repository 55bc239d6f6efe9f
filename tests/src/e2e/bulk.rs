//! Bulk and visibility through sesamectl, as an administrator rolls out many offices: offices from
//! a CSV file (French Excel's included), all or nothing and idempotent; mailboxes assessed by
//! their import; several mailboxes assigned at once, all or none; `workstation show`.

use tonic::Code;

use super::code_of;
use super::identity::{token, try_enroll};
use crate::{TestServer, write_file};

async fn office_list(server: &TestServer) -> Vec<serde_json::Value> {
    let json = server.sesamectl(&["office", "list", "-o", "json"]).await.unwrap();
    serde_json::from_str(&json).unwrap()
}

async fn offices_are_imported_all_or_nothing_and_idempotently(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    // As French Excel saves "CSV (séparateur : point-virgule)": a BOM, `;`, CRLF.
    let excel = "\u{feff}CRPCEN;Nom;Ville\r\n01234;Étude d'Élodie;Saint-Étienne\r\n\r\n\
                 75001;\"Office Martin; Durand\";Paris\r\n13001;Office Sud;\r\n";
    let file = write_file(dir.path(), "offices.csv", excel);
    let path = file.to_str().unwrap();

    let dry = server.sesamectl(&["office", "import", path, "--dry-run"]).await.unwrap();
    assert_eq!(
        dry,
        "Dry run, nothing written: would import 3 offices: 3 created, 0 updated, 0 unchanged.\n"
    );
    assert!(office_list(server).await.is_empty());

    let first = server.sesamectl(&["office", "import", path]).await.unwrap();
    assert_eq!(first, "Imported 3 offices: 3 created, 0 updated, 0 unchanged.\n");
    let again = server.sesamectl(&["office", "import", path]).await.unwrap();
    assert_eq!(again, "Nothing to change: all 3 offices are already registered as in the file.\n");
    let offices = office_list(server).await;
    let names: Vec<(&str, &str, &str)> = offices
        .iter()
        .map(|o| {
            (
                o["crpcen"].as_str().unwrap(),
                o["name"].as_str().unwrap(),
                o["city"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("01234", "Étude d'Élodie", "Saint-Étienne"),
            ("13001", "Office Sud", ""),
            ("75001", "Office Martin; Durand", "Paris"),
        ]
    );

    // Another name updates the office; an empty city leaves its city; a new one is created.
    let changed = "crpcen,name,city\n01234,Étude d'Élodie Martin,\n75001,Office Martin; Durand,Paris\n\
                   69001,Office Lyon,Lyon\n";
    let file = write_file(dir.path(), "changed.csv", changed);
    let out = server.sesamectl(&["office", "import", file.to_str().unwrap()]).await.unwrap();
    assert_eq!(out, "Imported 3 offices: 1 created, 1 updated, 1 unchanged.\n");
    let shown = server.sesamectl(&["office", "show", "01234", "-o", "json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (shown["name"].as_str(), shown["city"].as_str()),
        (Some("Étude d'Élodie Martin"), Some("Saint-Étienne"))
    );

    // Each office written has its audit record.
    let audit = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    let audit: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["target"].as_str().unwrap()))
        .filter(|(a, _)| a.starts_with("office."))
        .collect();
    assert_eq!(
        actions,
        [
            ("office.create", "01234"),
            ("office.create", "75001"),
            ("office.create", "13001"),
            ("office.create", "69001"),
            ("office.update", "01234"),
        ]
    );

    // A wrong line is named, with every other one, and nothing is imported.
    let bad = "crpcen,name,city\n44000,Nantes,\n1234,Short,\n44001,,Nantes\n44000,Twice,\n";
    let file = write_file(dir.path(), "bad.csv", bad);
    let (code, message) =
        code_of(server.sesamectl(&["office", "import", file.to_str().unwrap()]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.starts_with("3 invalid lines; nothing was imported"), "{message}");
    assert!(message.contains("line 3: "), "{message}");
    assert!(message.contains("line 4: invalid name: must not be empty"), "{message}");
    assert!(message.contains("line 5: duplicate of line 2 (44000)"), "{message}");
    assert_eq!(office_list(server).await.len(), 4, "nothing was imported");

    // A malformed file fails before anything is sent, naming its line.
    let file = write_file(dir.path(), "short.csv", "crpcen,name,city\n44000,Nantes\n");
    let error = server.sesamectl(&["office", "import", file.to_str().unwrap()]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2: expected 3 columns (crpcen, name, city), found 2; nothing was imported"
    );
}

/// A thousand offices come in one command: one stream of bounded chunks, one transaction.
async fn a_thousand_offices_import_in_one_command(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("crpcen,name,city\n");
    for i in 0..1_000 {
        // Names as long as the rule allows, so that the rows need several chunks.
        csv.push_str(&format!("{:05},Office {i} {},Ville {i}\n", 10_000 + i, "é".repeat(150)));
    }
    let file = write_file(dir.path(), "many.csv", &csv);
    let out = server.sesamectl(&["office", "import", file.to_str().unwrap()]).await.unwrap();
    assert_eq!(out, "Imported 1000 offices: 1000 created, 0 updated, 0 unchanged.\n");
    assert_eq!(office_list(server).await.len(), 1_000);
}

async fn imported_mailboxes_are_reported_at_once(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    server.sesamectl(&["office", "add", "01234", "--name", "Étude"]).await.unwrap();
    let mut csv = String::from("address,display_name\n");
    for i in 0..50 {
        csv.push_str(&format!("p{i}.n@01234.mailnot.fr,P{i} N\n"));
    }
    let file = write_file(dir.path(), "m.csv", &csv);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    // The standings exist from the import: the report reads them as they are, and so does a
    // report at the import's own time (from the history).
    let report = server.sesamectl(&["report", "--office", "01234", "-o", "csv"]).await.unwrap();
    assert_eq!(report.matches(",never enrolled,").count(), 50, "{report}");
}

async fn several_mailboxes_are_assigned_at_once_and_shown(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let enroll = token(server, "01234", &[]).await;
    let state = sesame_agent::identity::StateDir::new(dir.path());
    try_enroll(server, &state, &enroll).await.unwrap();
    let ws = state.load().unwrap().workstation_id;
    let csv = "address,display_name\na.a@01234.mailnot.fr,A A\nb.b@01234.mailnot.fr,B B\n\
               c.c@01234.mailnot.fr,C C\n";
    let file = write_file(dir.path(), "m.csv", csv);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();

    // One unknown mailbox refuses them all.
    let (code, message) = code_of(
        server
            .sesamectl(&[
                "workstation",
                "assign",
                &ws,
                "a.a@01234.mailnot.fr",
                "z.z@01234.mailnot.fr",
            ])
            .await,
    );
    assert_eq!(code, Code::NotFound);
    assert!(message.contains("z.z@01234.mailnot.fr"), "{message}");
    let shown = server.sesamectl(&["workstation", "show", &ws, "-o", "json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["mailboxes"], serde_json::json!([]), "none was assigned");

    let out = server
        .sesamectl(&["workstation", "assign", &ws, "a.a@01234.mailnot.fr", "B.B@01234.mailnot.fr"])
        .await
        .unwrap();
    assert!(out.starts_with(&format!("2 mailboxes assigned to workstation {ws}:")), "{out}");
    server.sesamectl(&["provisional", "issue", "--mailbox", "a.a@01234.mailnot.fr"]).await.unwrap();

    let shown = server.sesamectl(&["workstation", "show", &ws, "-o", "json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["id"], ws.as_str());
    assert_eq!(
        shown["mailboxes"],
        serde_json::json!(["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr"])
    );
    let rotations = shown["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1, "{shown}");
    assert_eq!(rotations[0]["mailbox"], "a.a@01234.mailnot.fr");
    let text = server.sesamectl(&["workstation", "show", &ws]).await.unwrap();
    assert!(
        text.contains("Mailboxes:   2\n  a.a@01234.mailnot.fr\n  b.b@01234.mailnot.fr\n"),
        "{text}"
    );
    assert!(text.contains("Last rotations:"), "{text}");
    assert!(text.contains("Key:         "), "{text}");

    // A workstation that does not exist is named.
    let (code, message) = code_of(server.sesamectl(&["workstation", "show", "ws-0123abcd"]).await);
    assert_eq!(code, Code::NotFound);
    assert_eq!(message, "workstation ws-0123abcd does not exist");
}

on_both_backends!(
    offices_are_imported_all_or_nothing_and_idempotently,
    a_thousand_offices_import_in_one_command,
    imported_mailboxes_are_reported_at_once,
    several_mailboxes_are_assigned_at_once_and_shown,
);
