//! The server's own certificate authority and TLS certificate.
//!
//! On first start the server creates a CA (ECDSA P-256, ten years) and a server certificate signed
//! by it (one year, for `localhost`, the loopback addresses and the configured names). Clients pin
//! the CA by its SHA-256 fingerprint, so there is no trust on first use. The server certificate is
//! re-issued at start when it is missing, expires within 30 days, or lacks a configured name.
//! Several servers sharing one PostgreSQL database must share the CA: copy `ca.pem` and `ca.key`
//! into each data directory before their first start.

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use secrecy::{ExposeSecret, SecretString};
use sesame_base::private_file::write_private;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::data_dir::DataDir;
use crate::domain::identifier::WorkstationId;

/// Why the TLS material could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key could not be made or parsed.
    #[error("certificate error")]
    Certificate(#[from] rcgen::Error),
    /// The CA certificate exists without its key, or the reverse.
    #[error("{0} exists without its pair; restore both ca.pem and ca.key, or remove both")]
    HalfCa(String),
    /// A stored certificate is not valid PEM.
    #[error("{0} is not a valid certificate")]
    BadCertificate(String),
}

/// The TLS material the server runs with.
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_cert_pem: String,
    /// SHA-256 of the CA certificate's DER, as colon-separated upper-case hex.
    pub ca_fingerprint: String,
    /// The server certificate chain, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM.
    pub server_key_pem: SecretString,
    /// The CA's private key, PEM, to sign agent certificates.
    ca_key_pem: SecretString,
}

const CA_LIFETIME: Duration = Duration::days(3650);
const SERVER_LIFETIME: Duration = Duration::days(365);
const RENEW_BEFORE: Duration = Duration::days(30);
/// Certificates are back-dated so that a client whose clock is a little behind accepts them.
const BACKDATE: Duration = Duration::minutes(10);

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

/// The fingerprint of a certificate given as DER.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn pem_to_der(pem: &str, what: &Path) -> Result<Vec<u8>, Error> {
    match x509_parser::pem::parse_x509_pem(pem.as_bytes()) {
        Ok((_, parsed)) if parsed.label == "CERTIFICATE" => Ok(parsed.contents),
        _ => Err(Error::BadCertificate(what.display().to_string())),
    }
}

/// Loads the data directory's CA and server certificate, creating or renewing what is missing.
pub fn load_or_create(dir: &DataDir, names: &[String], now: OffsetDateTime) -> Result<Pki, Error> {
    let (ca_cert_pem, ca_key_pem) = load_or_create_ca(dir, now)?;
    let ca_der = pem_to_der(&ca_cert_pem, &dir.ca_cert())?;
    let wanted = wanted_names(names);
    let current =
        match (fs::read_to_string(dir.server_cert()), fs::read_to_string(dir.server_key())) {
            (Ok(cert), Ok(key)) if server_cert_is_current(&cert, &ca_der, &wanted, now) => {
                Some((cert, key))
            }
            _ => None,
        };
    let (server_cert_pem, server_key_pem) = match current {
        Some(pair) => pair,
        None => {
            let pair = issue_server_cert(&ca_cert_pem, &ca_key_pem, &wanted, now)?;
            write_private(&dir.server_key(), pair.1.as_bytes())
                .map_err(io_err(&dir.server_key()))?;
            write_private(&dir.server_cert(), pair.0.as_bytes())
                .map_err(io_err(&dir.server_cert()))?;
            tracing::info!(names = ?wanted, "issued a new server certificate");
            pair
        }
    };
    Ok(Pki {
        ca_fingerprint: fingerprint(&ca_der),
        ca_cert_pem,
        server_cert_pem,
        server_key_pem: SecretString::from(server_key_pem),
        ca_key_pem: SecretString::from(ca_key_pem),
    })
}

fn load_or_create_ca(dir: &DataDir, now: OffsetDateTime) -> Result<(String, String), Error> {
    let (cert_path, key_path) = (dir.ca_cert(), dir.ca_key());
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let cert = fs::read_to_string(&cert_path).map_err(io_err(&cert_path))?;
            let key = fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
            Ok((cert, key))
        }
        (false, false) => {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name = DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, "Sesame certificate authority");
            params.distinguished_name.push(DnType::OrganizationName, "Sesame");
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            params.not_before = now - BACKDATE;
            params.not_after = now + CA_LIFETIME;
            let cert = params.self_signed(&key)?;
            let key_pem = zeroize::Zeroizing::new(key.serialize_pem());
            write_private(&key_path, key_pem.as_bytes()).map_err(io_err(&key_path))?;
            write_private(&cert_path, cert.pem().as_bytes()).map_err(io_err(&cert_path))?;
            tracing::info!(path = %cert_path.display(), "created the certificate authority");
            Ok((cert.pem(), key_pem.to_string()))
        }
        (true, false) => Err(Error::HalfCa(cert_path.display().to_string())),
        (false, true) => Err(Error::HalfCa(key_path.display().to_string())),
    }
}

fn wanted_names(extra: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    for name in extra {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn server_cert_is_current(
    cert_pem: &str,
    ca_der: &[u8],
    wanted: &[String],
    now: OffsetDateTime,
) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else { return false };
    let Ok(cert) = pem.parse_x509() else { return false };
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else { return false };
    if cert.issuer() != ca.subject() || cert.verify_signature(Some(ca.public_key())).is_err() {
        return false;
    }
    if cert.validity().not_after.timestamp() < (now + RENEW_BEFORE).unix_timestamp() {
        return false;
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else { return false };
    let present: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                4 => <[u8; 4]>::try_from(*ip).ok().map(|b| IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*ip).ok().map(|b| IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    wanted.iter().all(|name| present.contains(name))
}

fn issue_server_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    names: &[String],
    now: OffsetDateTime,
) -> Result<(String, String), Error> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.subject_alt_names = names
        .iter()
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(name.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "Sesame server");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_LIFETIME;
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Pki {
    /// The server key in clear, for the TLS acceptor.
    pub fn server_key(&self) -> &str {
        self.server_key_pem.expose_secret()
    }

    /// Signs a client certificate for a workstation's registered key.
    pub fn issue_agent_certificate(
        &self,
        workstation_id: &str,
        office: &str,
        public_key: &[u8],
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<AgentCertificate, Error> {
        let ca_key = KeyPair::from_pem(self.ca_key_pem.expose_secret())?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert_pem, ca_key)?;
        let (params, serial) = agent_params(workstation_id, office, now, lifetime)?;
        let cert = params.signed_by(&RawP256Key(public_key), &issuer)?;
        Ok(AgentCertificate {
            pem: cert.pem(),
            serial: hex::encode(serial),
            not_before: params.not_before,
            not_after: params.not_after,
        })
    }
}

/// The certificate of a workstation (its id in a URI, its office as the OU) with a random serial,
/// valid from now (back-dated) for `lifetime`.
fn agent_params(
    workstation_id: &str,
    office: &str,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(CertificateParams, [u8; 16]), Error> {
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut serial);
    serial[0] &= 0x7f; // A positive INTEGER, so the DER encoding keeps all 16 bytes.
    serial[0] |= 0x40;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.subject_alt_names = vec![SanType::URI(agent_uri(workstation_id).try_into()?)];
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, workstation_id);
    params.distinguished_name.push(DnType::OrganizationalUnitName, office);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
    params.use_authority_key_identifier_extension = true;
    Ok((params, serial))
}

/// A signed agent certificate.
#[derive(Debug, Clone)]
pub struct AgentCertificate {
    /// PEM.
    pub pem: String,
    /// Serial, hex.
    pub serial: String,
    /// Validity start (back-dated for clock skew).
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

/// The URI naming a workstation in its certificate.
pub fn agent_uri(workstation_id: &str) -> String {
    format!("urn:sesame:workstation:{workstation_id}")
}

/// An uncompressed ECDSA P-256 point, as rcgen signs for it.
struct RawP256Key<'a>(&'a [u8]);

impl rcgen::PublicKeyData for RawP256Key<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// Why a certificate signing request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not a PEM PKCS#10 request, or its signature does not verify.
    #[error("not a valid certificate signing request")]
    Invalid,
    /// Not an ECDSA P-256 key.
    #[error("the key must be ECDSA P-256")]
    Algorithm,
}

/// The public key (uncompressed point) of a certificate signing request, whose signature proves
/// that the requester holds the private key.
pub fn csr_public_key(csr_pem: &str) -> Result<Vec<u8>, CsrError> {
    let params =
        rcgen::CertificateSigningRequestParams::from_pem(csr_pem).map_err(|_| CsrError::Invalid)?;
    if params.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(CsrError::Algorithm);
    }
    let key = rcgen::PublicKeyData::der_bytes(&params.public_key).to_vec();
    if key.len() != 65 || key[0] != 4 {
        return Err(CsrError::Algorithm);
    }
    Ok(key)
}

/// What the server reads from a presented agent certificate (already verified by TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedAgent {
    /// The workstation id from the certificate's URI.
    pub workstation_id: WorkstationId,
    /// The certificate's serial, hex.
    pub serial: String,
    /// Its expiry.
    pub not_after: OffsetDateTime,
}

/// Reads a presented agent certificate. `None` when it is not one this server issues.
pub fn read_agent_certificate(der: &[u8]) -> Option<PresentedAgent> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let workstation_id = san.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => {
            uri.strip_prefix("urn:sesame:workstation:")
        }
        _ => None,
    })?;
    let not_after =
        OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).ok()?;
    Some(PresentedAgent {
        workstation_id: WorkstationId::parse("certificate", workstation_id).ok()?,
        serial: hex::encode(cert.raw_serial()),
        not_after,
    })
}

#[cfg(feature = "bulk-provision")]
pub mod bulk;
#[cfg(test)]
mod tests;
