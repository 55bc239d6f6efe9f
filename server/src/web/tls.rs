//! The dashboard's TLS: the server's own certificate chain (leaf and CA) and key, TLS 1.2 and 1.3
//! with rustls' AEAD suites, no client certificate, HTTP/1.1.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::keys::pki::Pki;

/// Why the dashboard's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// The certificate or key is not valid PEM.
    #[error("invalid certificate or key PEM")]
    Pem,
    /// rustls refused the configuration.
    #[error("TLS configuration refused")]
    Rustls(#[from] rustls::Error),
}

/// The rustls configuration the dashboard runs with.
pub(crate) fn server_config(pki: &Pki) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::Pem)?;
    chain.push(
        CertificateDer::from_pem_slice(pki.ca_cert_pem.as_bytes()).map_err(|_| TlsError::Pem)?,
    );
    let key =
        PrivateKeyDer::from_pem_slice(pki.server_key().as_bytes()).map_err(|_| TlsError::Pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
