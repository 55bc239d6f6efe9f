//! Server configuration: a versioned TOML file, overridden by `SESAME_<SECTION>__<KEY>` environment
//! variables, resolved into a [`Config`].
//!
//! Unknown keys in the file and unknown `SESAME_<SECTION>__<KEY>` variables are refused, so a typo
//! fails loudly instead of being ignored. The database URL may hold a password: it is a
//! [`SecretString`], redacted in `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::office::MailDomain;
use crate::domain::workstation::AgentPolicy;
use crate::store::redact_url;

mod agents;
mod audit;
mod dashboard;
mod listeners;

use self::agents::AgentsSection;
pub use self::audit::AuditConfig;
use self::audit::AuditSection;
pub use self::dashboard::DashboardConfig;
use self::listeners::{grpc_connections, handshakes, operations_connections, refresh_seconds};

/// The example configuration, with every key at its default.
pub const EXAMPLE: &str = include_str!("../../deploy/server.example.toml");

/// The default gRPC address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or holds unknown keys.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with its position.
        message: String,
    },
    /// The file's `version` is not one this server reads.
    #[error("unsupported configuration version {0}: this server reads version 1")]
    Version(u32),
    /// A value is malformed.
    #[error("invalid value for {key}: {message}")]
    Value {
        /// The key, as `section.key` or the environment variable's name.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment variable looks like a setting but names none.
    #[error("unknown setting {0}: known are {known}", known = ENV_KEYS.join(", "))]
    UnknownEnv(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    version: Option<u32>,
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    database: DatabaseSection,
    #[serde(default)]
    mailnot: MailnotSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    agents: AgentsSection,
    #[serde(default)]
    provisional: ProvisionalSection,
    #[serde(default)]
    rotations: RotationsSection,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    operations: OperationsSection,
    #[serde(default)]
    dashboard: self::dashboard::DashboardSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationsSection {
    listen: Option<String>,
    max_connections: Option<u32>,
    metrics_refresh_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationsSection {
    period_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvisionalSection {
    validity_days: Option<u32>,
    escrow_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    tls_names: Option<Vec<String>>,
    max_connections: Option<u32>,
    handshakes_per_address: Option<u32>,
    handshakes_total: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: Option<SecretString>,
    max_connections: Option<u32>,
    acquire_timeout_secs: Option<u64>,
}

impl fmt::Debug for DatabaseSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSection")
            .field("url", &self.url.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailnotSection {
    domain: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    format: Option<String>,
    level: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    /// The gRPC address.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Extra names for the server certificate.
    pub tls_names: Vec<String>,
    /// The database; `None` means the embedded SQLite file in the data directory.
    pub database_url: Option<SecretString>,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a database connection.
    pub acquire_timeout: Duration,
    /// The MAILNOT domain suffix.
    pub mail_domain: MailDomain,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Agent identities.
    pub agents: AgentPolicy,
    /// How long a provisional password stays valid.
    pub provisional_validity: time::Duration,
    /// The escrow key file; `None` means `escrow.key` in the data directory, created on first start.
    pub escrow_key_file: Option<PathBuf>,
    /// How old a mailbox's last verified password change may grow before a periodic rotation
    /// opens (90 days by default).
    pub rotation_period: time::Duration,
    /// The audit trail's signing and shipping.
    pub audit: AuditConfig,
    /// The address of the operations endpoint (plain HTTP: `/metrics`, `/livez`, `/readyz`);
    /// `None`, the default, serves none.
    pub operations_listen: Option<SocketAddr>,
    /// The most connections the gRPC listener holds at once (handshakes and established);
    /// `None`, the default, sizes it from the descriptor limit (see `descriptors`).
    pub grpc_max_connections: Option<u32>,
    /// The most connections the operations listener holds at once (64 by default); fewer when
    /// the descriptor limit is low.
    pub operations_max_connections: u32,
    /// How often the numbers `/metrics` reports from the database are read again (15 s by
    /// default): a scrape reads the last snapshot, never the database.
    pub metrics_refresh: Duration,
    /// The caches of workstation rows, OWA addresses and pending flags.
    pub caches: crate::services::cache::CacheSettings,
    /// The most TLS handshakes in progress at once from one source address (16 by default).
    pub handshakes_per_address: usize,
    /// The most TLS handshakes in progress at once (256 by default).
    pub handshakes_total: usize,
    /// The web dashboard (`[dashboard]`), off by default.
    pub dashboard: DashboardConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("tls_names", &self.tls_names)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|u| redact_url(u.expose_secret())),
            )
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("mail_domain", &self.mail_domain)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("agents", &self.agents)
            .field("provisional_validity", &self.provisional_validity)
            .field("escrow_key_file", &self.escrow_key_file)
            .field("rotation_period", &self.rotation_period)
            .field("audit", &self.audit)
            .field("operations_listen", &self.operations_listen)
            .field("grpc_max_connections", &self.grpc_max_connections)
            .field("operations_max_connections", &self.operations_max_connections)
            .field("metrics_refresh", &self.metrics_refresh)
            .field("caches", &self.caches)
            .field("handshakes_per_address", &self.handshakes_per_address)
            .field("handshakes_total", &self.handshakes_total)
            .field("dashboard", &self.dashboard)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            data_dir: PathBuf::from("./sesame-data"),
            tls_names: Vec::new(),
            database_url: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            mail_domain: MailDomain::default(),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            agents: AgentPolicy::default(),
            provisional_validity: time::Duration::days(14),
            escrow_key_file: None,
            rotation_period: time::Duration::days(90),
            audit: AuditConfig::default(),
            operations_listen: None,
            grpc_max_connections: None,
            operations_max_connections: 64,
            metrics_refresh: Duration::from_secs(15),
            caches: Default::default(),
            handshakes_per_address: 16,
            handshakes_total: 256,
            dashboard: DashboardConfig::default(),
        }
    }
}

/// The environment variables the server reads.
pub const ENV_KEYS: &[&str] = &[
    "SESAME_SERVER__LISTEN",
    "SESAME_SERVER__DATA_DIR",
    "SESAME_SERVER__TLS_NAMES",
    "SESAME_SERVER__MAX_CONNECTIONS",
    "SESAME_SERVER__HANDSHAKES_PER_ADDRESS",
    "SESAME_SERVER__HANDSHAKES_TOTAL",
    "SESAME_DATABASE__URL",
    "SESAME_DATABASE__URL_FILE",
    "SESAME_DATABASE__MAX_CONNECTIONS",
    "SESAME_DATABASE__ACQUIRE_TIMEOUT_SECS",
    "SESAME_MAILNOT__DOMAIN",
    "SESAME_LOG__FORMAT",
    "SESAME_LOG__LEVEL",
    "SESAME_AGENTS__CERTIFICATE_LIFETIME_HOURS",
    "SESAME_AGENTS__RECOVERY_WINDOW_DAYS",
    "SESAME_AGENTS__CHECK_IN_INTERVAL_SECONDS",
    "SESAME_AGENTS__ENROLL_BURST",
    "SESAME_AGENTS__ENROLL_PER_MINUTE",
    "SESAME_AGENTS__CACHE_WORKSTATIONS",
    "SESAME_AGENTS__CACHE_TTL_SECONDS",
    "SESAME_AGENTS__CHECK_IN_FLUSH_MS",
    "SESAME_PROVISIONAL__VALIDITY_DAYS",
    "SESAME_PROVISIONAL__ESCROW_KEY_FILE",
    "SESAME_ROTATIONS__PERIOD_DAYS",
    "SESAME_AUDIT__SIGN_INTERVAL_SECONDS",
    "SESAME_AUDIT__SIGNING_KEY_FILE",
    "SESAME_AUDIT__SHIP_FILE",
    "SESAME_AUDIT__SHIP_SYSLOG",
    "SESAME_AUDIT__SYSLOG_SOCKET",
    "SESAME_OPERATIONS__LISTEN",
    "SESAME_OPERATIONS__MAX_CONNECTIONS",
    "SESAME_OPERATIONS__METRICS_REFRESH_SECONDS",
    "SESAME_DASHBOARD__LISTEN",
    "SESAME_DASHBOARD__MAX_CONNECTIONS",
];

impl Config {
    /// Loads the configuration: defaults, then the file (if any), then the `SESAME_*__*`
    /// variables among `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Error> {
        let format = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| Error::Read { path: path.display().to_string(), source })?;
                parse_file(&text, &path.display().to_string())?
            }
            None => FileFormat::default(),
        };
        let mut config = Config::default();
        config.apply_file(format)?;
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_file(&mut self, file: FileFormat) -> Result<(), Error> {
        if let Some(version) = file.version
            && version != 1
        {
            return Err(Error::Version(version));
        }
        if let Some(listen) = file.server.listen {
            self.listen = parse_listen("server.listen", &listen)?;
        }
        if let Some(dir) = file.server.data_dir {
            self.data_dir = dir;
        }
        if let Some(names) = file.server.tls_names {
            self.tls_names = names;
        }
        if let Some(n) = file.server.max_connections {
            self.grpc_max_connections = grpc_connections("server.max_connections", n)?;
        }
        if let Some(n) = file.server.handshakes_per_address {
            self.handshakes_per_address = handshakes("server.handshakes_per_address", n)?;
        }
        if let Some(n) = file.server.handshakes_total {
            self.handshakes_total = handshakes("server.handshakes_total", n)?;
        }
        if let Some(url) = file.database.url {
            self.database_url = non_empty(url);
        }
        if let Some(n) = file.database.max_connections {
            self.max_connections = check_connections("database.max_connections", n)?;
        }
        if let Some(secs) = file.database.acquire_timeout_secs {
            self.acquire_timeout = Duration::from_secs(secs);
        }
        if let Some(domain) = file.mailnot.domain {
            self.mail_domain = parse_domain("mailnot.domain", &domain)?;
        }
        if let Some(format) = file.log.format {
            self.log_format = parse_log_format("log.format", &format)?;
        }
        if let Some(level) = file.log.level {
            self.log_level = level;
        }
        self.apply_agents_file(file.agents)?;
        if let Some(days) = file.provisional.validity_days {
            self.provisional_validity = validity_days("provisional.validity_days", days)?;
        }
        if let Some(path) = file.provisional.escrow_key_file {
            self.escrow_key_file = (!path.as_os_str().is_empty()).then_some(path);
        }
        if let Some(days) = file.rotations.period_days {
            self.rotation_period = period_days("rotations.period_days", days)?;
        }
        self.audit.apply_file(file.audit)?;
        if let Some(listen) = file.operations.listen {
            self.operations_listen = parse_optional_listen("operations.listen", &listen)?;
        }
        if let Some(n) = file.operations.max_connections {
            self.operations_max_connections =
                operations_connections("operations.max_connections", n)?;
        }
        if let Some(secs) = file.operations.metrics_refresh_seconds {
            self.metrics_refresh = refresh_seconds("operations.metrics_refresh_seconds", secs)?;
        }
        self.dashboard.apply_file(file.dashboard)?;
        Ok(())
    }

    fn apply_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<(), Error> {
        for (key, value) in env {
            if !key.starts_with("SESAME_") || !key.contains("__") {
                continue;
            }
            match key.as_str() {
                "SESAME_SERVER__LISTEN" => self.listen = parse_listen(&key, &value)?,
                "SESAME_SERVER__DATA_DIR" => self.data_dir = PathBuf::from(value),
                "SESAME_SERVER__TLS_NAMES" => {
                    self.tls_names = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "SESAME_DATABASE__URL" => self.database_url = non_empty(SecretString::from(value)),
                "SESAME_DATABASE__URL_FILE" => {
                    let text = std::fs::read_to_string(&value)
                        .map_err(|source| Error::Read { path: value.clone(), source })?;
                    self.database_url = non_empty(SecretString::from(text.trim().to_owned()));
                }
                "SESAME_DATABASE__MAX_CONNECTIONS" => {
                    let n =
                        value.parse().map_err(|_| value_err(&key, "expected a whole number"))?;
                    self.max_connections = check_connections(&key, n)?;
                }
                "SESAME_DATABASE__ACQUIRE_TIMEOUT_SECS" => {
                    let secs = value
                        .parse()
                        .map_err(|_| value_err(&key, "expected a whole number of seconds"))?;
                    self.acquire_timeout = Duration::from_secs(secs);
                }
                "SESAME_MAILNOT__DOMAIN" => self.mail_domain = parse_domain(&key, &value)?,
                "SESAME_LOG__FORMAT" => self.log_format = parse_log_format(&key, &value)?,
                "SESAME_LOG__LEVEL" => self.log_level = value,
                k if k.starts_with("SESAME_AGENTS__") => self.apply_agents_env(&key, &value)?,
                "SESAME_PROVISIONAL__VALIDITY_DAYS" => {
                    let days = value
                        .parse()
                        .map_err(|_| value_err(&key, "expected a whole number of days"))?;
                    self.provisional_validity = validity_days(&key, days)?;
                }
                "SESAME_PROVISIONAL__ESCROW_KEY_FILE" => {
                    self.escrow_key_file = Some(PathBuf::from(value))
                }
                "SESAME_ROTATIONS__PERIOD_DAYS" => {
                    let days = value
                        .parse()
                        .map_err(|_| value_err(&key, "expected a whole number of days"))?;
                    self.rotation_period = period_days(&key, days)?;
                }
                k if k.starts_with("SESAME_AUDIT__") => self.audit.apply_env(&key, value)?,
                k if k.starts_with("SESAME_DASHBOARD__") => self.dashboard.apply_env(k, &value)?,
                "SESAME_OPERATIONS__LISTEN" => {
                    self.operations_listen = parse_optional_listen(&key, &value)?;
                }
                "SESAME_SERVER__MAX_CONNECTIONS" => {
                    let n =
                        value.parse().map_err(|_| value_err(&key, "expected a whole number"))?;
                    self.grpc_max_connections = grpc_connections(&key, n)?;
                }
                "SESAME_OPERATIONS__MAX_CONNECTIONS" => {
                    let n =
                        value.parse().map_err(|_| value_err(&key, "expected a whole number"))?;
                    self.operations_max_connections = operations_connections(&key, n)?;
                }
                "SESAME_OPERATIONS__METRICS_REFRESH_SECONDS" => {
                    let secs = value
                        .parse()
                        .map_err(|_| value_err(&key, "expected a whole number of seconds"))?;
                    self.metrics_refresh = refresh_seconds(&key, secs)?;
                }
                "SESAME_SERVER__HANDSHAKES_PER_ADDRESS" | "SESAME_SERVER__HANDSHAKES_TOTAL" => {
                    let n =
                        value.parse().map_err(|_| value_err(&key, "expected a whole number"))?;
                    let n = handshakes(&key, n)?;
                    if key.ends_with("PER_ADDRESS") {
                        self.handshakes_per_address = n;
                    } else {
                        self.handshakes_total = n;
                    }
                }
                _ => return Err(Error::UnknownEnv(key)),
            }
        }
        Ok(())
    }

    /// The database URL to open: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                SecretString::from(format!("sqlite:{}", self.data_dir.join("sesame.db").display()))
            }
        }
    }
}

fn parse_file(text: &str, path: &str) -> Result<FileFormat, Error> {
    toml::from_str(text).map_err(|e| Error::Parse { path: path.to_owned(), message: e.to_string() })
}

fn value_err(key: &str, message: &str) -> Error {
    Error::Value { key: key.to_owned(), message: message.to_owned() }
}

fn non_empty(url: SecretString) -> Option<SecretString> {
    if url.expose_secret().trim().is_empty() { None } else { Some(url) }
}

fn parse_listen(key: &str, value: &str) -> Result<SocketAddr, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| value_err(key, "expected an address and port such as 127.0.0.1:7443"))
}

/// An address that may be left empty: empty means off.
fn parse_optional_listen(key: &str, value: &str) -> Result<Option<SocketAddr>, Error> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    value.trim().parse().map(Some).map_err(|_| {
        value_err(key, "expected empty (off) or an address and port such as 127.0.0.1:9464")
    })
}

fn check_connections(key: &str, n: u32) -> Result<u32, Error> {
    if (1..=1000).contains(&n) { Ok(n) } else { Err(value_err(key, "expected 1 to 1000")) }
}

fn parse_domain(key: &str, value: &str) -> Result<MailDomain, Error> {
    MailDomain::parse(value).map_err(|e| value_err(key, &e.to_string()))
}

fn validity_days(key: &str, days: u32) -> Result<time::Duration, Error> {
    if (1..=90).contains(&days) {
        Ok(time::Duration::days(i64::from(days)))
    } else {
        Err(value_err(key, "expected 1 to 90 days"))
    }
}

fn period_days(key: &str, days: u32) -> Result<time::Duration, Error> {
    if (1..=3650).contains(&days) {
        Ok(time::Duration::days(i64::from(days)))
    } else {
        Err(value_err(key, "expected 1 to 3650 days"))
    }
}

fn parse_log_format(key: &str, value: &str) -> Result<LogFormat, Error> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(value_err(key, "expected \"text\" or \"json\"")),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
