//! How to reach the database ([`StoreOptions`], with a URL safe to log) and [`connect`], which
//! picks the backend the URL names.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{Error, SharedStore, postgres, sqlite};

/// How to reach the database.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite:PATH` or `postgres://...`. May hold a password: never logged.
    pub url: SecretString,
    /// Connections in the pool (PostgreSQL) or readers (SQLite, which has one writer).
    pub max_connections: u32,
    /// How long to wait for a connection before failing the request.
    pub acquire_timeout: Duration,
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// A database URL safe to log: the password, if any, replaced by `[REDACTED]`, query parameters
/// dropped.
pub fn redact_url(url: &str) -> String {
    let url = url.split('?').next().unwrap_or("");
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.rsplit_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or("");
        let pass = if userinfo.contains(':') { ":[REDACTED]" } else { "" };
        return format!("{scheme}://{user}{pass}@{host}");
    }
    url.to_owned()
}

/// Opens the store the URL names, runs its migrations and returns it.
pub async fn connect(options: &StoreOptions) -> Result<SharedStore, Error> {
    let url = options.url.expose_secret();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::connect(options).await?))
    } else {
        Err(Error::UnsupportedUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://sesame:hunter2@db:5432/sesame"),
            "postgres://sesame:[REDACTED]@db:5432/sesame"
        );
        assert_eq!(
            redact_url("postgres://sesame@db/sesame?password=hunter2"),
            "postgres://sesame@db/sesame"
        );
        assert_eq!(
            redact_url("sqlite:/var/lib/sesame/sesame.db"),
            "sqlite:/var/lib/sesame/sesame.db"
        );
        assert_eq!(redact_url("postgres://u:p@ss@db/x"), "postgres://u:[REDACTED]@db/x");
    }
}
