//! Which server certificate the browser trusts: Chromium's
//! `--ignore-certificate-errors-spki-list` takes the base64 SHA-256 of a certificate's
//! SubjectPublicKeyInfo, and accepts exactly the certificates carrying that key (it needs
//! `--user-data-dir`, which the browser always has). Other certificates still fail.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::BrowserError;

/// The base64 SHA-256 of the SubjectPublicKeyInfo of `certificate_der`.
pub fn spki_sha256_base64(certificate_der: &[u8]) -> Result<String, BrowserError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der)
        .map_err(|e| BrowserError::Certificate(e.to_string()))?;
    let spki = certificate.tbs_certificate.subject_pki.raw;
    Ok(STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, spki)))
}
