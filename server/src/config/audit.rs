//! The `[audit]` section: how often the audit chain's head is signed, the signing key's file, and
//! where records are shipped (a file, the local syslog).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Error, value_err};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditSection {
    sign_interval_seconds: Option<u32>,
    signing_key_file: Option<PathBuf>,
    ship_file: Option<PathBuf>,
    ship_syslog: Option<bool>,
    syslog_socket: Option<PathBuf>,
}

/// The audit trail's settings (`[audit]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// How often the chain's head is signed when it advanced (300 s by default).
    pub sign_interval: Duration,
    /// The audit signing key file; `None` means `audit-signing.key` in the data directory,
    /// created on first start.
    pub signing_key_file: Option<PathBuf>,
    /// A file each audit record is appended to as one JSON line; `None`: no file.
    pub ship_file: Option<PathBuf>,
    /// Whether each audit record is sent to the local syslog as one line.
    pub ship_syslog: bool,
    /// The local syslog socket (`/dev/log`).
    pub syslog_socket: PathBuf,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            sign_interval: Duration::from_secs(300),
            signing_key_file: None,
            ship_file: None,
            ship_syslog: false,
            syslog_socket: PathBuf::from("/dev/log"),
        }
    }
}

impl AuditConfig {
    /// Applies the file's `[audit]` section.
    pub(super) fn apply_file(&mut self, section: AuditSection) -> Result<(), Error> {
        if let Some(secs) = section.sign_interval_seconds {
            self.sign_interval = sign_seconds("audit.sign_interval_seconds", secs)?;
        }
        if let Some(path) = section.signing_key_file {
            self.signing_key_file = non_empty_path(path);
        }
        if let Some(path) = section.ship_file {
            self.ship_file = non_empty_path(path);
        }
        if let Some(on) = section.ship_syslog {
            self.ship_syslog = on;
        }
        if let Some(path) = section.syslog_socket {
            self.syslog_socket = path;
        }
        Ok(())
    }

    /// Applies one `SESAME_AUDIT__*` variable; an unknown one is refused.
    pub(super) fn apply_env(&mut self, key: &str, value: String) -> Result<(), Error> {
        match key {
            "SESAME_AUDIT__SIGN_INTERVAL_SECONDS" => {
                let secs = value
                    .parse()
                    .map_err(|_| value_err(key, "expected a whole number of seconds"))?;
                self.sign_interval = sign_seconds(key, secs)?;
            }
            "SESAME_AUDIT__SIGNING_KEY_FILE" => {
                self.signing_key_file = non_empty_path(PathBuf::from(value));
            }
            "SESAME_AUDIT__SHIP_FILE" => self.ship_file = non_empty_path(PathBuf::from(value)),
            "SESAME_AUDIT__SHIP_SYSLOG" => {
                self.ship_syslog = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(value_err(key, "expected true or false")),
                };
            }
            "SESAME_AUDIT__SYSLOG_SOCKET" => self.syslog_socket = PathBuf::from(value),
            _ => return Err(Error::UnknownEnv(key.to_owned())),
        }
        Ok(())
    }
}

/// A signing interval: from 10 seconds to a day.
fn sign_seconds(key: &str, secs: u32) -> Result<Duration, Error> {
    if (10..=86_400).contains(&secs) {
        Ok(Duration::from_secs(u64::from(secs)))
    } else {
        Err(value_err(key, "expected 10 to 86400 seconds"))
    }
}

fn non_empty_path(path: PathBuf) -> Option<PathBuf> {
    (!path.as_os_str().is_empty()).then_some(path)
}
