//! The `[agents]` section: agent certificates and check-ins (their interval, the check-in writer's
//! flush window), the limits on unauthenticated agent requests (enrollment, recovery) per source
//! address, and the caches of workstation rows and pending flags; each checked here, from the file
//! or from `SESAME_AGENTS__*`.

use serde::Deserialize;

use super::{Config, Error, value_err};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentsSection {
    certificate_lifetime_hours: Option<u32>,
    recovery_window_days: Option<u32>,
    check_in_interval_seconds: Option<u32>,
    enroll_burst: Option<u32>,
    enroll_per_minute: Option<u32>,
    cache_workstations: Option<u32>,
    cache_ttl_seconds: Option<u32>,
    check_in_flush_ms: Option<u32>,
}

impl Config {
    /// Applies the file's `[agents]` section.
    pub(super) fn apply_agents_file(&mut self, section: AgentsSection) -> Result<(), Error> {
        let keys = [
            ("certificate_lifetime_hours", section.certificate_lifetime_hours),
            ("recovery_window_days", section.recovery_window_days),
            ("check_in_interval_seconds", section.check_in_interval_seconds),
            ("enroll_burst", section.enroll_burst),
            ("enroll_per_minute", section.enroll_per_minute),
            ("cache_workstations", section.cache_workstations),
            ("cache_ttl_seconds", section.cache_ttl_seconds),
            ("check_in_flush_ms", section.check_in_flush_ms),
        ];
        for (name, value) in keys {
            if let Some(value) = value {
                self.apply_agents_key(name, &format!("agents.{name}"), value)?;
            }
        }
        Ok(())
    }

    /// Applies one `SESAME_AGENTS__*` variable.
    pub(super) fn apply_agents_env(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let Some(name) = key.strip_prefix("SESAME_AGENTS__") else {
            return Err(Error::UnknownEnv(key.to_owned()));
        };
        let name = name.to_ascii_lowercase();
        if !super::ENV_KEYS.contains(&key) {
            return Err(Error::UnknownEnv(key.to_owned()));
        }
        let n = value.parse().map_err(|_| value_err(key, "expected a whole number"))?;
        self.apply_agents_key(&name, key, n)
    }

    /// Sets the `[agents]` key `name` to `n`, refusing it under `key` when out of bounds.
    fn apply_agents_key(&mut self, name: &str, key: &str, n: u32) -> Result<(), Error> {
        let within = |low: u32, high: u32, unit: &str| {
            if (low..=high).contains(&n) {
                Ok(i64::from(n))
            } else {
                Err(value_err(key, &format!("expected {low} to {high}{unit}")))
            }
        };
        match name {
            "certificate_lifetime_hours" => {
                self.agents.certificate_lifetime =
                    time::Duration::hours(within(1, 24 * 90, " hours")?);
            }
            "recovery_window_days" => {
                self.agents.recovery_window = time::Duration::days(within(0, 365, " days")?);
            }
            "check_in_interval_seconds" => {
                self.agents.check_in_interval =
                    time::Duration::seconds(within(10, 86_400, " seconds")?);
            }
            "enroll_burst" => {
                within(1, 1000, "")?;
                self.agents.attempts_burst = n;
            }
            "enroll_per_minute" => {
                within(1, 6000, "")?;
                self.agents.attempts_per_minute = n;
            }
            "cache_workstations" => {
                within(0, 10_000_000, "")?;
                self.caches.workstations = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "cache_ttl_seconds" => {
                self.caches.ttl = time::Duration::seconds(within(1, 3600, " seconds")?);
            }
            "check_in_flush_ms" => {
                let ms = within(10, 1000, " milliseconds")?;
                self.agents.check_in_flush = std::time::Duration::from_millis(ms.unsigned_abs());
            }
            _ => return Err(Error::UnknownEnv(key.to_owned())),
        }
        Ok(())
    }
}
