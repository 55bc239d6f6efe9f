//! Names that display what they are: office names, cities, display names and a workstation's
//! hostname or OS holding bidirectional controls or invisible format characters are refused with
//! the field (or the line) named, and nothing is written.

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use sesame_proto::v1 as pb;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;

use super::{channel, code_of};
use crate::{TestServer, write_file};

/// Characters that make a name read as something else: bidirectional controls, zero-width
/// characters, the byte-order mark.
const DECEIVERS: [char; 12] = [
    '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}',
    '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
];

async fn offices(server: &TestServer) -> Vec<serde_json::Value> {
    serde_json::from_str(&server.sesamectl(&["office", "list", "-o", "json"]).await.unwrap())
        .unwrap()
}

async fn office_names_and_cities_with_hidden_characters_are_refused(server: &TestServer) {
    for c in DECEIVERS {
        let name = format!("Étude Dupont{c}txt.exe");
        let (code, message) =
            code_of(server.sesamectl(&["office", "add", "01234", "--name", &name]).await);
        assert_eq!(code, Code::InvalidArgument, "{c:?}: {message}");
        assert!(message.contains("name") && message.contains("invisible"), "{c:?}: {message}");
        assert!(!message.contains(c), "the character is not echoed back: {message:?}");

        let city = format!("{c}Lyon");
        let (code, message) = code_of(
            server
                .sesamectl(&["office", "add", "01234", "--name", "Dupont", "--city", &city])
                .await,
        );
        assert_eq!(code, Code::InvalidArgument, "{c:?}: {message}");
        assert!(message.contains("city"), "{c:?}: {message}");
    }
    assert!(offices(server).await.is_empty(), "nothing was written");
    server
        .sesamectl(&["office", "add", "01234", "--name", "Étude Dupont", "--city", "Lyon"])
        .await
        .unwrap();
    assert_eq!(offices(server).await.len(), 1, "a valid name is still accepted");
}

async fn a_display_name_with_a_bidi_control_is_refused_by_line(server: &TestServer) {
    server.sesamectl(&["office", "add", "01234", "--name", "Office"]).await.unwrap();
    let csv = "address,display_name\n\
               dupont.jean@01234.mailnot.fr,Jean Dupont\n\
               durand.marie@01234.mailnot.fr,Marie \u{202E}dnaruD\n\
               martin.paul@01234.mailnot.fr,Paul\u{200B}Martin\n";
    let file = write_file(server.data_dir(), "bidi.csv", csv);
    let (code, message) =
        code_of(server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await);
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(message.contains("line 3: invalid display_name: contains invisible"), "{message}");
    assert!(message.contains("line 4: invalid display_name: contains invisible"), "{message}");
    let json = server.sesamectl(&["mailbox", "list", "-o", "json"]).await.unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(listed.is_empty(), "the valid line was not imported either: {json}");
}

async fn a_hostname_with_a_bidi_control_does_not_enroll(server: &TestServer) {
    let token = super::identity::token(server, "01234", &[]).await;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = CertificateParams::default().serialize_request(&key).unwrap().pem().unwrap();
    let mut client = AgentServiceClient::new(channel(server).await);
    for (field, hostname, os) in [
        ("hostname", "PC-\u{202E}LIUCCA", "Windows 11"),
        ("os", "PC-ACCUEIL", "Windows\u{2066} 11"),
    ] {
        let status = client
            .enroll(pb::EnrollRequest {
                token: token.clone(),
                csr_pem: csr.clone(),
                hostname: hostname.to_owned(),
                os: os.to_owned(),
                agent_version: "0.1.0".to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }
    let json = server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(listed.is_empty(), "no workstation was enrolled: {json}");
}

on_both_backends!(
    office_names_and_cities_with_hidden_characters_are_refused,
    a_display_name_with_a_bidi_control_is_refused_by_line,
    a_hostname_with_a_bidi_control_does_not_enroll,
);
