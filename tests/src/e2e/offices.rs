//! Offices through sesamectl: creation, listings in every format, and input errors.

use tonic::Code;

use super::code_of;
use crate::TestServer;

async fn offices_are_created_listed_and_shown(server: &TestServer) {
    let out = server
        .sesamectl(&["office", "add", "01234", "--name", "Office Dupont", "--city", "Lyon"])
        .await
        .unwrap();
    assert_eq!(out, "Office 01234 \"Office Dupont\" created.\n");
    server
        .sesamectl(&["office", "add", "75001", "--name", "Étude Martin & Associés"])
        .await
        .unwrap();

    let table = server.sesamectl(&["office", "list"]).await.unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CRPCEN"), "{table}");
    assert!(lines[1].starts_with("01234   Office Dupont"), "{table}");
    assert_eq!(lines.last().copied(), Some("2 office(s)"));

    let json: serde_json::Value =
        serde_json::from_str(&server.sesamectl(&["office", "list", "-o", "json"]).await.unwrap())
            .unwrap();
    assert_eq!(json[0]["crpcen"], "01234", "the leading zero is kept");
    assert_eq!(json[0]["name"], "Office Dupont");
    assert_eq!(json[1]["name"], "Étude Martin & Associés");

    let csv = server.sesamectl(&["office", "list", "--output", "csv"]).await.unwrap();
    assert!(
        csv.starts_with("crpcen,name,city,mailboxes,created_at\n01234,Office Dupont,Lyon,0,"),
        "{csv}"
    );

    let show = server.sesamectl(&["office", "show", "01234"]).await.unwrap();
    assert!(
        show.contains("Name:       Office Dupont") && show.contains("City:       Lyon"),
        "{show}"
    );
    let one: serde_json::Value = serde_json::from_str(
        &server.sesamectl(&["office", "show", "75001", "-o", "json"]).await.unwrap(),
    )
    .unwrap();
    assert_eq!(one["crpcen"], "75001");
}

async fn office_input_errors_have_clear_codes(server: &TestServer) {
    let (code, message) =
        code_of(server.sesamectl(&["office", "add", "1234", "--name", "X"]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("crpcen") && message.contains("5 digits"), "{message}");

    let (code, message) =
        code_of(server.sesamectl(&["office", "add", "01234", "--name", "  "]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("name"), "{message}");

    server.sesamectl(&["office", "add", "01234", "--name", "A"]).await.unwrap();
    let (code, message) =
        code_of(server.sesamectl(&["office", "add", "01234", "--name", "B"]).await);
    assert_eq!(code, Code::AlreadyExists);
    assert!(message.contains("01234"), "{message}");

    let (code, message) = code_of(server.sesamectl(&["office", "show", "99999"]).await);
    assert_eq!(code, Code::NotFound);
    assert!(message.contains("99999"), "{message}");

    let listed = server.sesamectl(&["office", "show", "01234", "-o", "json"]).await.unwrap();
    assert!(listed.contains("\"name\": \"A\""), "the refused duplicate changed nothing: {listed}");
}

on_both_backends!(offices_are_created_listed_and_shown, office_input_errors_have_clear_codes);
