//! The agent service's configuration file (`sesame-agent run --config FILE`, TOML). Every key is
//! optional and unknown keys are refused, so a typo is an error rather than a silent default.
//! Where the OWA server is, is the server's decision (it comes with each check-in); the file only
//! says how to reach it from this office (extra CAs of a TLS-inspecting proxy, a proxy, a timeout).
//!
//! ```toml
//! state_dir = "/var/lib/sesame-agent"
//! socket = "/run/sesame-agent/agent.sock"
//! [key]
//! ids = ["08e6:3437"]
//! [owa]
//! extra_ca_files = ["/etc/sesame-agent/office-proxy-ca.pem"]
//! timeout_seconds = 30
//! proxy = "http://proxy.office.local:3128"
//! lockout_threshold = 5
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use crate::key::KeyConfig;
use crate::owa::HttpSettings;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Where the identity, journal and outbox live (default: the platform's state directory).
    pub state_dir: Option<PathBuf>,
    /// The local socket for `change` and `status` (default: `/run/sesame-agent/agent.sock`).
    pub socket: Option<PathBuf>,
    /// How the clé REAL is recognised and watched.
    pub key: KeyConfig,
    /// How OWA is reached.
    pub owa: OwaConfig,
}

/// The `[owa]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OwaConfig {
    /// PEM files of CA certificates to trust for the OWA host besides the system's (an office
    /// behind a TLS-inspecting proxy has one). Certificate checks cannot be turned off.
    pub extra_ca_files: Vec<PathBuf>,
    /// The longest one request may take, in seconds (1 to 600; default 30).
    pub timeout_seconds: u64,
    /// An HTTP proxy to tunnel through, e.g. `http://proxy.office.local:3128`.
    pub proxy: Option<String>,
    /// The `Accept-Language` sent to OWA.
    pub accept_language: String,
    /// The directory's account lockout threshold (failed logons before it locks an account; 0:
    /// it locks no one; default 5; 1 and 2 are refused). Refused current passwords stay below it
    /// (`rotation::limit`).
    pub lockout_threshold: u32,
}

impl Default for OwaConfig {
    fn default() -> Self {
        OwaConfig {
            extra_ca_files: Vec::new(),
            timeout_seconds: 30,
            proxy: None,
            accept_language: "fr-FR,fr;q=0.9".to_owned(),
            lockout_threshold: crate::rotation::limit::DEFAULT_LOCKOUT_THRESHOLD,
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (unknown keys included).
    #[error("{path}: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        detail: String,
    },
    /// A value is out of range or unusable.
    #[error("{0}")]
    Invalid(String),
}

impl AgentConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        AgentConfig::parse(&text, path)
    }

    /// Parses and checks `text` (read from `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<AgentConfig, ConfigError> {
        let config: AgentConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), detail: e.to_string() })?;
        config.key.matcher().map_err(|e| ConfigError::Invalid(format!("[key] {e}")))?;
        config.key.poll_interval().map_err(|e| ConfigError::Invalid(format!("[key] {e}")))?;
        config.key.idle_poll_interval().map_err(|e| ConfigError::Invalid(format!("[key] {e}")))?;
        if !(1..=600).contains(&config.owa.timeout_seconds) {
            return Err(ConfigError::Invalid(
                "[owa] timeout_seconds must be between 1 and 600".to_owned(),
            ));
        }
        if matches!(config.owa.lockout_threshold, 1 | 2) {
            return Err(ConfigError::Invalid(
                "[owa] lockout_threshold must be 0 (no lockout) or at least 3: below that, no \
                 current password could ever be sent without risking a lockout"
                    .to_owned(),
            ));
        }
        config.owa.http_settings()?;
        Ok(config)
    }
}

impl OwaConfig {
    /// The OWA client's transport settings: the extra CAs read from their files, the timeout, the
    /// proxy and the language.
    pub fn http_settings(&self) -> Result<HttpSettings, ConfigError> {
        let mut extra_roots = Vec::new();
        for path in &self.extra_ca_files {
            let pem = std::fs::read(path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let before = extra_roots.len();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra_roots.push(
                    cert.map_err(|e| {
                        ConfigError::Invalid(format!("[owa] {}: {e}", path.display()))
                    })?,
                );
            }
            if extra_roots.len() == before {
                return Err(ConfigError::Invalid(format!(
                    "[owa] {}: no certificate in the file",
                    path.display()
                )));
            }
        }
        let proxy = match &self.proxy {
            Some(proxy) => Some(
                url::Url::parse(proxy)
                    .map_err(|e| ConfigError::Invalid(format!("[owa] proxy: {e}")))?,
            ),
            None => None,
        };
        Ok(HttpSettings {
            accept_language: self.accept_language.clone(),
            extra_roots,
            request_timeout: Duration::from_secs(self.timeout_seconds.clamp(1, 600)),
            proxy,
            ..HttpSettings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = AgentConfig::parse("", Path::new("agent.toml")).expect("valid");
        assert_eq!(config, AgentConfig::default());
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_name() {
        let error = AgentConfig::parse("[owa]\nextra_ca_file = []\n", Path::new("agent.toml"))
            .expect_err("refused");
        assert!(error.to_string().contains("extra_ca_file"), "{error}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let error = AgentConfig::parse(
            "[owa]\nextra_ca_files = [\"/nonexistent/ca.pem\"]\n",
            Path::new("agent.toml"),
        )
        .expect_err("refused");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn a_bad_key_id_is_refused() {
        let error = AgentConfig::parse("[key]\nids = [\"zz\"]\n", Path::new("agent.toml"))
            .expect_err("refused");
        assert!(error.to_string().contains("[key]"), "{error}");
    }
}
