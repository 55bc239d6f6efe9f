//! What the operations endpoints report (`ops`, and the gRPC health service in `grpc`): whether
//! the database answers, and the numbers a metrics scrape reads at that moment.
//!
//! These serve no administrator and take no credential: they are counts without a name, an
//! address or a secret, and whether the database answers. A failure is told as a short fixed
//! reason ([`NotReady`]); its cause goes to the logs only.

use std::time::Duration;

use crate::domain::rotation::RotationStatus;
use crate::services::Services;
use crate::services::check_in_writer::WriterStats;
use crate::store::{self, PoolUsage};
use sesame_base::error_chain::chain;

/// Why the server is not ready. `Display` is the short reason probes are told.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The database refused or failed the query.
    #[error("database unreachable")]
    Unreachable(#[source] store::Error),
    /// The database did not answer in time.
    #[error("database not answering")]
    TimedOut,
}

/// The numbers of one metrics scrape, read from the database at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationsSnapshot {
    /// Whether the database answered the scrape's queries in time.
    pub database_up: bool,
    /// How many rotations are in each status: every status, zero included (empty when the
    /// database did not answer).
    pub rotations: Vec<(RotationStatus, u64)>,
    /// The store's connections.
    pub pool: PoolUsage,
    /// How many mailboxes are in each compliance state, by the state's name (exposed as
    /// `sesame_mailboxes{state="..."}`), every state included; empty when the database did not
    /// answer.
    pub mailboxes: Vec<(String, u64)>,
    /// The check-in writer: rows pending before this snapshot flushed them, the last flush.
    pub check_ins: WriterStats,
}

impl Services {
    /// Whether the database answers a trivial query within `within`.
    pub async fn check_ready(&self, within: Duration) -> Result<(), NotReady> {
        match tokio::time::timeout(within, self.store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(NotReady::Unreachable(error)),
            Err(_) => Err(NotReady::TimedOut),
        }
    }

    /// The numbers of a metrics scrape; the database's queries get `within` in all. Never fails:
    /// when the database does not answer, `database_up` is false and its numbers are left out.
    pub async fn operations_snapshot(&self, within: Duration) -> OperationsSnapshot {
        let check_ins = self.check_in_writer.stats();
        let counted = tokio::time::timeout(within, async {
            // The standings as of the check-ins answered so far.
            self.check_in_writer.flush().await?;
            let rotations = self.store.rotation_counts().await?;
            // And as the last sweep left them (at most a minute behind).
            let offices = self.store.compliance_counts(None, None).await?;
            Ok::<_, crate::store::Error>((rotations, offices))
        })
        .await;
        let mut mailboxes = Vec::new();
        let (database_up, rotations) = match counted {
            Ok(Ok((counts, offices))) => {
                let mut fleet = crate::domain::compliance::StateCounts::default();
                for office in &offices {
                    fleet.add_all(&office.counts);
                }
                mailboxes = fleet.iter().map(|(state, n)| (state.as_str().to_owned(), n)).collect();
                let rotations = RotationStatus::ALL
                    .into_iter()
                    .map(|status| {
                        let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                        (status, n)
                    })
                    .collect();
                (true, rotations)
            }
            Ok(Err(error)) => {
                tracing::debug!(error = %chain(&error), "metrics: the database did not answer");
                (false, Vec::new())
            }
            Err(_) => {
                tracing::debug!("metrics: the database did not answer in time");
                (false, Vec::new())
            }
        };
        OperationsSnapshot {
            database_up,
            rotations,
            pool: self.store.pool_usage(),
            mailboxes,
            check_ins,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sesame_base::clock::ManualClock;

    use crate::domain::rotation::RotationStatus;
    use crate::services::testing::{T0, services};
    use crate::store::test_support::TestDatabase;

    #[tokio::test]
    async fn a_snapshot_counts_every_status_and_readiness_follows_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::sqlite(dir.path());
        let clock = ManualClock::new(T0);
        let services = services(db.open().await, &clock, &dir.path().join("data"));
        services.check_ready(Duration::from_secs(5)).await.unwrap();
        let snapshot = services.operations_snapshot(Duration::from_secs(5)).await;
        assert!(snapshot.database_up);
        assert_eq!(snapshot.rotations.len(), RotationStatus::ALL.len());
        assert!(snapshot.rotations.iter().all(|(_, n)| *n == 0));
        assert!(snapshot.pool.max >= 2, "one writer and the readers: {:?}", snapshot.pool);

        services.store.close().await;
        let refused = services.check_ready(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(refused.to_string(), "database unreachable");
        let snapshot = services.operations_snapshot(Duration::from_secs(5)).await;
        assert!(!snapshot.database_up && snapshot.rotations.is_empty());
    }
}
