//! Offline issuance of many agent identities at once, for benchmarks (cargo feature
//! `bulk-provision`, which only `sesame-fleet-sim` enables; the shipped server never has it).
//!
//! [`BulkIssuer`] reads the CA's certificate and private key from a data directory, so only the
//! server's own account (which alone can read `ca.key`, mode 0600) can use it, on the machine that
//! holds the data directory: there is no network path to it. Unlike enrollment, the workstation's
//! private key is made here, beside the CA, because the simulated workstations have no machine of
//! their own to keep it on. The CA is parsed once for the whole batch.

use std::fs;

use rcgen::{Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use time::{Duration, OffsetDateTime};

use super::{AgentCertificate, Error, agent_params, io_err};
use crate::data_dir::DataDir;

/// The data directory's CA, loaded once to sign a batch of agent certificates.
#[derive(Debug)]
pub struct BulkIssuer {
    issuer: Issuer<'static, KeyPair>,
}

/// One simulated workstation's identity: its key pair and its certificate. Its `Debug` leaves the
/// private key out.
pub struct BulkIdentity {
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The public key as the store registers it (the uncompressed P-256 point).
    pub public_key: Vec<u8>,
    /// Its certificate.
    pub certificate: AgentCertificate,
}

impl std::fmt::Debug for BulkIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkIdentity")
            .field("key_pem", &"[redacted]")
            .field("certificate", &self.certificate.serial)
            .finish_non_exhaustive()
    }
}

impl BulkIssuer {
    /// Loads the CA of an existing data directory (`ca.pem` and `ca.key`); never creates one.
    pub fn load(dir: &DataDir) -> Result<BulkIssuer, Error> {
        let (cert_path, key_path) = (dir.ca_cert(), dir.ca_key());
        let cert = fs::read_to_string(&cert_path).map_err(io_err(&cert_path))?;
        let key =
            zeroize::Zeroizing::new(fs::read_to_string(&key_path).map_err(io_err(&key_path))?);
        let issuer = Issuer::from_ca_cert_pem(&cert, KeyPair::from_pem(&key)?)?;
        Ok(BulkIssuer { issuer })
    }

    /// A new key pair and its certificate for workstation `id` of `office`, valid from `now` for
    /// `lifetime`.
    pub fn issue(
        &self,
        id: &str,
        office: &str,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<BulkIdentity, Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let (params, serial) = agent_params(id, office, now, lifetime)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(BulkIdentity {
            key_pem: key.serialize_pem(),
            public_key: key.public_key_raw().to_vec(),
            certificate: AgentCertificate {
                pem: cert.pem(),
                serial: hex::encode(serial),
                not_before: params.not_before,
                not_after: params.not_after,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::pki::{load_or_create, read_agent_certificate};

    #[test]
    fn a_bulk_certificate_names_its_workstation_and_chains_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("data")).unwrap();
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let pki = load_or_create(&data, &[], now).unwrap();
        let issuer = BulkIssuer::load(&data).unwrap();
        let identity =
            issuer.issue("ws-0123456789abcdef", "12345", now, Duration::hours(1)).unwrap();
        assert_eq!(identity.public_key.len(), 65);
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(identity.certificate.pem.as_bytes()).unwrap();
        let presented = read_agent_certificate(&pem.contents).unwrap();
        assert_eq!(presented.workstation_id.as_str(), "ws-0123456789abcdef");
        assert_eq!(presented.serial, identity.certificate.serial);
        let cert = pem.parse_x509().unwrap();
        let (_, ca) = x509_parser::pem::parse_x509_pem(pki.ca_cert_pem.as_bytes()).unwrap();
        let ca = ca.parse_x509().unwrap();
        assert!(cert.verify_signature(Some(ca.public_key())).is_ok());
    }

    #[test]
    fn without_the_ca_key_nothing_is_issued() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("data")).unwrap();
        assert!(matches!(BulkIssuer::load(&data), Err(Error::Io { .. })));
    }
}
