//! The `[dashboard]` section: the web dashboard's HTTPS listener (off unless `listen` names an
//! address) and its cap on connections, from the file or `SESAME_DASHBOARD__*`.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{Error, parse_optional_listen, value_err};

/// The web dashboard's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardConfig {
    /// The HTTPS address of the dashboard; `None`, the default, serves none.
    pub listen: Option<SocketAddr>,
    /// The most connections the dashboard's listener holds at once (256 by default).
    pub max_connections: u32,
}

impl Default for DashboardConfig {
    fn default() -> DashboardConfig {
        DashboardConfig { listen: None, max_connections: 256 }
    }
}

/// The section as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DashboardSection {
    listen: Option<String>,
    max_connections: Option<u32>,
}

impl DashboardConfig {
    /// Applies the file's section.
    pub(super) fn apply_file(&mut self, section: DashboardSection) -> Result<(), Error> {
        if let Some(listen) = section.listen {
            self.listen = parse_optional_listen("dashboard.listen", &listen)?;
        }
        if let Some(n) = section.max_connections {
            self.max_connections = connections("dashboard.max_connections", n)?;
        }
        Ok(())
    }

    /// Applies one `SESAME_DASHBOARD__*` variable.
    pub(super) fn apply_env(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "SESAME_DASHBOARD__LISTEN" => self.listen = parse_optional_listen(key, value)?,
            "SESAME_DASHBOARD__MAX_CONNECTIONS" => {
                let n = value.parse().map_err(|_| value_err(key, "expected a whole number"))?;
                self.max_connections = connections(key, n)?;
            }
            _ => return Err(Error::UnknownEnv(key.to_owned())),
        }
        Ok(())
    }
}

fn connections(key: &str, n: u32) -> Result<u32, Error> {
    if (1..=4096).contains(&n) { Ok(n) } else { Err(value_err(key, "expected 1 to 4096")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_set_from_the_file_or_the_environment() {
        let mut config = DashboardConfig::default();
        assert_eq!(config.listen, None);
        let section: DashboardSection =
            toml::from_str("listen = \"127.0.0.1:8443\"\nmax_connections = 32").unwrap();
        config.apply_file(section).unwrap();
        assert_eq!(config.listen, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(config.max_connections, 32);
        config.apply_env("SESAME_DASHBOARD__LISTEN", "").unwrap();
        assert_eq!(config.listen, None);
        assert!(config.apply_env("SESAME_DASHBOARD__MAX_CONNECTIONS", "0").is_err());
        assert!(config.apply_env("SESAME_DASHBOARD__LISTEN", "nowhere").is_err());
    }
}
