//! Tests of the CA and server certificate life cycle.

use std::os::unix::fs::PermissionsExt;

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

#[test]
fn first_start_creates_a_ca_and_a_server_certificate_with_private_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::create(tmp.path()).unwrap();
    let pki = load_or_create(&dir, &["sesame.example".to_owned()], NOW).unwrap();
    assert_eq!(pki.ca_fingerprint.len(), 32 * 3 - 1);
    for key in [dir.ca_key(), dir.server_key()] {
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            key.display()
        );
    }
    assert!(format!("{pki:?}").contains("REDACTED"));
    assert!(!format!("{pki:?}").contains("PRIVATE KEY"));

    // The certificate names the loopback addresses and the configured name, and chains to the CA.
    let (_, pem) = x509_parser::pem::parse_x509_pem(pki.server_cert_pem.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let san = format!("{:?}", cert.subject_alternative_name().unwrap().unwrap().value);
    assert!(san.contains("localhost") && san.contains("sesame.example"), "{san}");
    let ca_der = pem_to_der(&pki.ca_cert_pem, &dir.ca_cert()).unwrap();
    assert!(server_cert_is_current(
        &pki.server_cert_pem,
        &ca_der,
        &wanted_names(&["sesame.example".to_owned()]),
        NOW
    ));
}

#[test]
fn restarts_keep_the_ca_and_renew_the_server_certificate_when_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::create(tmp.path()).unwrap();
    let first = load_or_create(&dir, &[], NOW).unwrap();
    let again = load_or_create(&dir, &[], NOW + Duration::days(1)).unwrap();
    assert_eq!(first.ca_fingerprint, again.ca_fingerprint);
    assert_eq!(first.server_cert_pem, again.server_cert_pem, "a valid certificate is kept");

    let late = load_or_create(&dir, &[], NOW + Duration::days(340)).unwrap();
    assert_eq!(first.ca_fingerprint, late.ca_fingerprint);
    assert_ne!(first.server_cert_pem, late.server_cert_pem, "renewed within 30 days of expiry");

    let renamed =
        load_or_create(&dir, &["new.example".to_owned()], NOW + Duration::days(340)).unwrap();
    assert_ne!(late.server_cert_pem, renamed.server_cert_pem, "re-issued for a new name");
}

#[test]
fn half_a_ca_is_refused_rather_than_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::create(tmp.path()).unwrap();
    load_or_create(&dir, &[], NOW).unwrap();
    fs::remove_file(dir.ca_key()).unwrap();
    assert!(matches!(load_or_create(&dir, &[], NOW), Err(Error::HalfCa(_))));
}
