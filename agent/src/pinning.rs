//! Bootstrapping trust at enrollment: the administrator gives the agent the SHA-256 fingerprint of
//! the server's CA certificate; the agent connects, finds that CA in the chain the server presents,
//! and verifies the server's certificate against it (name, validity, signature) before it sends
//! anything. No trust on first use, no "accept any certificate": a server whose chain does not hold
//! the pinned CA is refused before the enrollment token leaves the workstation.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

/// Why the server's CA could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The fingerprint is not 32 bytes of hex.
    #[error("the CA fingerprint must be 64 hexadecimal digits (colons allowed)")]
    BadFingerprint,
    /// The URL is not `https://HOST:PORT`.
    #[error("the server address must look like https://HOST:PORT")]
    BadUrl,
    /// The server could not be reached.
    #[error("cannot reach {0}")]
    Connect(String, #[source] std::io::Error),
    /// The server's certificate chain does not hold the pinned CA, or does not verify against it.
    #[error("the server's certificate does not match the CA fingerprint you gave: {0}")]
    Mismatch(String),
}

/// Parses a fingerprint as printed by the server (`AB:CD:…`) or as plain hex.
pub fn parse_fingerprint(value: &str) -> Result<[u8; 32], PinError> {
    let hex_digits: String = value.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect();
    let bytes = hex::decode(hex_digits).map_err(|_| PinError::BadFingerprint)?;
    bytes.try_into().map_err(|_| PinError::BadFingerprint)
}

/// Splits `https://HOST:PORT[/]` into host and port.
pub fn host_and_port(url: &str) -> Result<(String, u16), PinError> {
    let rest = url.strip_prefix("https://").ok_or(PinError::BadUrl)?.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or(PinError::BadUrl)?;
    let port = port.parse().map_err(|_| PinError::BadUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(PinError::BadUrl);
    }
    Ok((host.to_owned(), port))
}

struct PinnedVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    found: Mutex<Option<CertificateDer<'static>>>,
    reason: Mutex<Option<String>>,
}

impl fmt::Debug for PinnedVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedVerifier").finish_non_exhaustive()
    }
}

impl PinnedVerifier {
    fn fail(&self, reason: String) -> rustls::Error {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
        rustls::Error::General(reason)
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|cert| <[u8; 32]>::from(Sha256::digest(cert.as_ref())) == self.pin)
            .ok_or_else(|| {
                self.fail("the pinned CA is not in the server's certificate chain".to_owned())
            })?;
        let mut roots = RootCertStore::empty();
        roots
            .add(ca.clone().into_owned())
            .map_err(|e| self.fail(format!("unusable CA certificate: {e}")))?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| self.fail(format!("unusable CA certificate: {e}")))?;
        verifier
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| {
                self.fail(format!(
                    "the server certificate does not verify against the pinned CA: {e}"
                ))
            })?;
        *self.found.lock().unwrap_or_else(|p| p.into_inner()) = Some(ca.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Connects to the server, checks its chain against the pinned CA fingerprint and returns the CA
/// certificate as PEM. Nothing but a TLS handshake is sent.
pub async fn fetch_pinned_ca(server_url: &str, fingerprint: &str) -> Result<String, PinError> {
    let pin = parse_fingerprint(fingerprint)?;
    let (host, port) = host_and_port(server_url)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedVerifier {
        pin,
        provider: provider.clone(),
        found: Mutex::new(None),
        reason: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| PinError::Mismatch(e.to_string()))?
        .dangerous() // Reason: the custom verifier is stricter than the default: it pins the CA.
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|_| PinError::BadUrl)?;
    let address = format!("{host}:{port}");
    let tcp =
        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| PinError::Connect(address.clone(), std::io::ErrorKind::TimedOut.into()))?
            .map_err(|e| PinError::Connect(address.clone(), e))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake =
        tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await;
    let reason = || verifier.reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match handshake {
        Ok(Ok(_stream)) => {}
        Ok(Err(e)) => return Err(PinError::Mismatch(reason().unwrap_or_else(|| e.to_string()))),
        Err(_) => return Err(PinError::Connect(address, std::io::ErrorKind::TimedOut.into())),
    }
    let ca = verifier.found.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or_else(|| {
        PinError::Mismatch(reason().unwrap_or_else(|| "no certificate was verified".to_owned()))
    })?;
    let body = base64::engine::general_purpose::STANDARD.encode(ca.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_urls_parse_strictly() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
        assert_eq!(
            host_and_port("https://127.0.0.1:7443").unwrap(),
            ("127.0.0.1".to_owned(), 7443)
        );
        assert_eq!(
            host_and_port("https://sesame.example:7443/").unwrap(),
            ("sesame.example".to_owned(), 7443)
        );
        assert_eq!(host_and_port("https://[::1]:7443").unwrap(), ("::1".to_owned(), 7443));
        assert!(host_and_port("http://127.0.0.1:7443").is_err(), "plain HTTP is refused");
        assert!(host_and_port("https://127.0.0.1").is_err());
    }
}
