//! The simulator's certificate authority and its TLS acceptor (rustls with the ring provider, TLS
//! 1.2 and 1.3, HTTP/1.1 only).
//!
//! Certificates keep rcgen's default validity (1975 to 4096), so that nothing reads the clock.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A certificate authority for simulators; clones share it, so that several simulators (the real
/// host and an "evil" one) are trusted through one root.
#[derive(Clone)]
pub struct SimCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl fmt::Debug for SimCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimCa").field("der_len", &self.inner.der.len()).finish_non_exhaustive()
    }
}

impl Default for SimCa {
    fn default() -> SimCa {
        SimCa::new()
    }
}

impl SimCa {
    /// A new CA (ECDSA P-256).
    pub fn new() -> SimCa {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("an ECDSA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "Sesame OWA simulator CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("a self-signed CA certificate");
        let inner =
            CaInner { issuer: Issuer::new(params, key), der: cert.der().clone(), pem: cert.pem() };
        SimCa { inner: Arc::new(inner) }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.inner.pem.clone()
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.inner.der.clone()
    }

    /// A server certificate for these names (DNS names or IP addresses) and its key.
    fn issue(&self, names: &[String]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("an ECDSA key");
        let mut params = CertificateParams::new(names.to_vec()).expect("valid certificate names");
        params.distinguished_name = DistinguishedName::new();
        let common_name = names.first().map_or("owa", String::as_str);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.inner.issuer).expect("a signed certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }
}

/// A TLS acceptor presenting a certificate for `names` signed by `ca`.
pub(crate) fn acceptor(ca: &SimCa, names: &[String]) -> TlsAcceptor {
    let (cert, key) = ca.issue(names);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3 with ring")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("a usable certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}
