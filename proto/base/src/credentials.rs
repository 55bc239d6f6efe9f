//! The administrator credentials file, written by the server (bootstrap, `sesame-server admin
//! create`) and read by sesamectl: the server's address, the CA certificate to verify it with, and
//! the administrator's bearer token.
//!
//! Anyone holding the file administers Sesame, so it is written with mode 0600 and its token is a
//! secret type whose `Debug` is redacted.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::private_file::write_private;

/// The file's name in the server's data directory, where the server writes the bootstrap
/// administrator's credentials.
pub const FILE_NAME: &str = "admin.credentials";

/// Why a credentials file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("cannot access the credentials file {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a credentials file.
    #[error("{path} is not a Sesame credentials file: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The contents of a credentials file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The server's URL, `https://HOST:PORT`.
    pub server: String,
    /// The administrator's name, for display.
    pub admin: String,
    /// The bearer token.
    pub token: SecretString,
    /// The CA certificate (PEM) the server's certificate must chain to.
    pub ca_certificate: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("admin", &self.admin)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Serialized<'a> {
    server: &'a str,
    admin: &'a str,
    token: &'a str,
    ca_certificate: &'a str,
}

impl Credentials {
    /// Reads a credentials file.
    pub fn read(path: &Path) -> Result<Credentials, Error> {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?,
        );
        toml::from_str(&text).map_err(|e| Error::Parse {
            path: path.display().to_string(),
            message: e.message().to_owned(),
        })
    }

    /// Writes the file, owner-only.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let body = toml::to_string(&Serialized {
            server: &self.server,
            admin: &self.admin,
            token: self.token.expose_secret(),
            ca_certificate: &self.ca_certificate,
        })
        .map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string() })?;
        let text = zeroize::Zeroizing::new(format!(
            "# Sesame administrator credentials for {:?}, read by sesamectl.\n\
             # Whoever holds this file administers Sesame: keep it private (mode 0600).\n{body}",
            self.admin
        ));
        write_private(path, text.as_bytes())
            .map_err(|source| Error::Io { path: path.display().to_string(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_hide_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.credentials");
        let creds = Credentials {
            server: "https://127.0.0.1:7443".into(),
            admin: "bootstrap".into(),
            token: SecretString::from("sesame_admin_0123".to_owned()),
            ca_certificate: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
        };
        creds.write(&path).unwrap();
        let back = Credentials::read(&path).unwrap();
        assert_eq!(back.token.expose_secret(), "sesame_admin_0123");
        assert_eq!(back.ca_certificate, creds.ca_certificate);
        assert!(!format!("{back:?}").contains("sesame_admin_0123"));
        std::fs::write(&path, "server = 1").unwrap();
        let err = Credentials::read(&path).unwrap_err().to_string();
        assert!(err.contains("not a Sesame credentials file"), "{err}");
    }
}
