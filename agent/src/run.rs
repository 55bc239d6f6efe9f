//! The agent service's loop: keep the identity fresh and send heartbeats, backing off with full
//! jitter while the server is unreachable, until the shutdown future resolves.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::uplink::{Agent, IdentityOutcome, UplinkError};

/// Time between heartbeats when all is well.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// The longest wait between attempts while the server is unreachable.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// A delay drawn uniformly from [0, min(cap, base · 2^attempt)] ("full jitter"), so that thousands
/// of agents coming back together do not retry in step.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// One round: renew or recover if due, then a heartbeat.
pub async fn tick(agent: &Agent) -> Result<IdentityOutcome, UplinkError> {
    let outcome = agent.maintain_identity().await?;
    agent.heartbeat().await?;
    Ok(outcome)
}

/// Runs rounds until `shutdown` resolves.
pub async fn run(agent: Agent, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut failures = 0u32;
    loop {
        let wait = match tick(&agent).await {
            Ok(outcome) => {
                failures = 0;
                tracing::debug!(?outcome, "round done");
                HEARTBEAT_INTERVAL
            }
            Err(error @ UplinkError::Identity(_)) => {
                tracing::error!(%error, "the identity is unusable; stopping");
                return;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures, Duration::from_secs(5), MAX_BACKOFF);
                tracing::warn!(%error, retry_in = ?wait, "round failed");
                wait
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_spreads_over_the_whole_range_and_never_exceeds_the_cap() {
        let cap = Duration::from_secs(900);
        let samples: Vec<Duration> =
            (0..2000).map(|_| backoff(30, Duration::from_secs(5), cap)).collect();
        assert!(samples.iter().all(|d| *d <= cap));
        assert!(samples.iter().any(|d| *d < cap / 4), "jitter is not clamped at the cap");
        assert!(samples.iter().any(|d| *d > cap * 3 / 4));
        assert!(backoff(0, Duration::from_secs(5), cap) <= Duration::from_secs(5));
    }
}
