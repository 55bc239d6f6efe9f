//! The workstation's identity on disk: its private key, its current certificate, the server's CA
//! and where the server is.
//!
//! The key is created on the workstation at enrollment and never leaves it: the file is written
//! mode 0600 (readable by the service account only). Files are replaced atomically (temporary file,
//! sync, rename), so a crash leaves either the old or the new version, never half of one. The
//! presence of `identity.toml`, written last, marks a completed enrollment.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sesame_base::private_file::{self, PRIVATE_MODE};
use time::OffsetDateTime;

/// Why the identity could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The agent has not enrolled yet.
    #[error("this workstation is not enrolled: run `sesame-agent enroll` first")]
    NotEnrolled,
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file does not hold what it should.
    #[error("{0} is corrupt; enroll the workstation again")]
    Corrupt(String),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    server: String,
    workstation_id: String,
    office: String,
}

/// The mode of the certificates and `identity.toml`: anyone on the workstation may read them.
const PUBLIC_MODE: u32 = 0o644;

/// The enrolled identity.
#[derive(Clone)]
pub struct Identity {
    /// The server's URL.
    pub server: String,
    /// This workstation's id.
    pub workstation_id: String,
    /// Its office's CRPCEN.
    pub office: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: SecretString,
    /// The current certificate, PEM.
    pub cert_pem: String,
    /// The server's CA certificate, PEM.
    pub ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("server", &self.server)
            .field("workstation_id", &self.workstation_id)
            .field("office", &self.office)
            .finish_non_exhaustive()
    }
}

/// The files of an identity in a state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory at `root` (created, mode 0700, when written to).
    pub fn new(root: &Path) -> StateDir {
        StateDir { root: root.to_path_buf() }
    }

    /// The default for this platform.
    pub fn default_root() -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(r"C:\ProgramData\Sesame\agent")
        } else {
            PathBuf::from("/var/lib/sesame-agent")
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Whether an enrollment completed here.
    pub fn is_enrolled(&self) -> bool {
        self.path("identity.toml").exists()
    }

    /// Reads the identity.
    pub fn load(&self) -> Result<Identity, IdentityError> {
        if !self.is_enrolled() {
            return Err(IdentityError::NotEnrolled);
        }
        let read = |name: &str| {
            let path = self.path(name);
            fs::read_to_string(&path)
                .map_err(|source| IdentityError::Io { path: path.display().to_string(), source })
        };
        let file: IdentityFile = toml::from_str(&read("identity.toml")?)
            .map_err(|_| IdentityError::Corrupt("identity.toml".into()))?;
        Ok(Identity {
            server: file.server,
            workstation_id: file.workstation_id,
            office: file.office,
            key_pem: SecretString::from(read("agent.key")?),
            cert_pem: read("agent.pem")?,
            ca_pem: read("ca.pem")?,
        })
    }

    /// Writes a whole new identity; `identity.toml` last.
    pub fn save(&self, identity: &Identity) -> Result<(), IdentityError> {
        self.create_root()?;
        self.write("agent.key", identity.key_pem.expose_secret().as_bytes(), true)?;
        self.write("agent.pem", identity.cert_pem.as_bytes(), false)?;
        self.write("ca.pem", identity.ca_pem.as_bytes(), false)?;
        let file = IdentityFile {
            server: identity.server.clone(),
            workstation_id: identity.workstation_id.clone(),
            office: identity.office.clone(),
        };
        let text =
            toml::to_string(&file).map_err(|_| IdentityError::Corrupt("identity.toml".into()))?;
        self.write("identity.toml", text.as_bytes(), false)
    }

    /// Replaces the certificate after a renewal or recovery.
    pub fn save_certificate(&self, cert_pem: &str) -> Result<(), IdentityError> {
        self.write("agent.pem", cert_pem.as_bytes(), false)
    }

    fn create_root(&self) -> Result<(), IdentityError> {
        private_file::create_private_dir(&self.root)
            .map_err(|source| IdentityError::Io { path: self.root.display().to_string(), source })
    }

    fn write(&self, name: &str, contents: &[u8], private: bool) -> Result<(), IdentityError> {
        let path = self.path(name);
        let mode = if private { PRIVATE_MODE } else { PUBLIC_MODE };
        private_file::write_atomic(&path, contents, mode)
            .map_err(|source| IdentityError::Io { path: path.display().to_string(), source })
    }
}

/// The validity of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start.
    pub not_before: OffsetDateTime,
    /// End.
    pub not_after: OffsetDateTime,
}

/// Reads the validity of a PEM certificate.
pub fn validity(cert_pem: &str) -> Option<Validity> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(Validity {
        not_before: OffsetDateTime::from_unix_timestamp(cert.validity().not_before.timestamp())
            .ok()?,
        not_after: OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .ok()?,
    })
}

/// What to do about the certificate at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateAction {
    /// Nothing until `renew_at`.
    Keep {
        /// Two thirds into the certificate's life.
        renew_at: OffsetDateTime,
    },
    /// Two thirds of its life have passed: renew with it.
    Renew,
    /// It has expired: recover with the registered key.
    Recover,
}

/// Decides what to do about a certificate: renew at two thirds of its lifetime, recover once it
/// has expired.
pub fn certificate_action(validity: Validity, now: OffsetDateTime) -> CertificateAction {
    let renew_at = validity.not_before + (validity.not_after - validity.not_before) * 2 / 3;
    if now >= validity.not_after {
        CertificateAction::Recover
    } else if now >= renew_at {
        CertificateAction::Renew
    } else {
        CertificateAction::Keep { renew_at }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn renew_at_two_thirds_and_recover_after_expiry() {
        let v = Validity {
            not_before: datetime!(2026-11-01 0:00 UTC),
            not_after: datetime!(2026-11-04 0:00 UTC),
        };
        assert_eq!(
            certificate_action(v, datetime!(2026-11-02 0:00 UTC)),
            CertificateAction::Keep { renew_at: datetime!(2026-11-03 0:00 UTC) }
        );
        assert_eq!(certificate_action(v, datetime!(2026-11-03 0:00 UTC)), CertificateAction::Renew);
        assert_eq!(
            certificate_action(v, v.not_after - Duration::seconds(1)),
            CertificateAction::Renew
        );
        assert_eq!(certificate_action(v, v.not_after), CertificateAction::Recover);
    }

    #[cfg(unix)]
    #[test]
    fn the_private_key_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(&dir.path().join("state"));
        let identity = Identity {
            server: "https://127.0.0.1:7443".into(),
            workstation_id: "ws-1".into(),
            office: "01234".into(),
            key_pem: SecretString::from("KEY".to_owned()),
            cert_pem: "CERT".into(),
            ca_pem: "CA".into(),
        };
        state.save(&identity).unwrap();
        let mode =
            fs::metadata(dir.path().join("state/agent.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = state.load().unwrap();
        assert_eq!(loaded.key_pem.expose_secret(), "KEY");
        assert!(!format!("{loaded:?}").contains("KEY"));
    }
}
