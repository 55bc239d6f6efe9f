//! The check-in loop: identity, check-in, pending rotations (asked only when the check-in's answer
//! says there are some), reconciliation probes, the outbox, and the anonymous look at OWA, at the
//! server's interval with jitter, backing off with full jitter while the server is away. An idle
//! round is one call on the kept connection. The loop is a client of the service's actor: its own
//! network I/O (the uplink) runs here, and only snapshots, deliveries and acknowledgements go to
//! the actor.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{oneshot, watch};

use super::Service;
use super::actor::Input;
use crate::backoff::{MAX_BACKOFF, backoff};
use crate::failpoint;
use crate::outbox::{MAX_BATCH, Receipt};
use crate::uplink::check_in::{CheckIn, DEFAULT_CHECK_IN};
use crate::uplink::{IdentityOutcome, UplinkError};

/// Why a round stops when the actor is gone (the service is stopping).
const STOPPING: UplinkError = UplinkError::Protocol("the service is stopping");

/// How old a look at OWA may be before another is made.
const READINESS_MAX_AGE: time::Duration = time::Duration::hours(6);

impl Service {
    /// Check-ins until `stop`.
    pub(super) async fn check_in_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        let mut interval = DEFAULT_CHECK_IN;
        loop {
            let wait = match self.round().await {
                Ok(next) => {
                    failures = 0;
                    interval = next;
                    jittered(interval)
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    if error.is_transport() && failures.is_power_of_two() && failures >= 2 {
                        self.recover_if_refused(&error).await;
                    }
                    let wait = backoff(failures, Duration::from_secs(5), MAX_BACKOFF.max(interval));
                    tracing::warn!(%error, retry_in = ?wait, "check-in failed");
                    wait
                }
            };
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified(), if failures == 0 => {}
            }
        }
    }

    /// After repeated failures below gRPC (the 2nd, 4th, 8th... so that an outage costs few extra
    /// connections): a server whose clock went back behind this certificate's start (or past its
    /// end) ends every handshake, and its alert may be lost in the teardown. Recovery, over a
    /// connection without the certificate, tells the two apart: it succeeds when the server is
    /// up, and the next round checks in with the new certificate.
    async fn recover_if_refused(&self, error: &UplinkError) {
        match self.uplink.recover_identity().await {
            Ok(()) => {
                tracing::warn!(%error, "check-ins kept failing with the server up; recovered the certificate")
            }
            Err(recovery) => tracing::debug!(%recovery, "recovery failed too"),
        }
    }

    /// One round; returns the interval the server asked for.
    async fn round(&self) -> Result<Duration, UplinkError> {
        if !self.state.is_enrolled() {
            return Err(UplinkError::Protocol("this workstation is not enrolled yet"));
        }
        let outcome = self.uplink.maintain_identity().await?;
        if outcome != IdentityOutcome::Renewed {
            tracing::debug!(?outcome, "identity checked");
        }
        let progress = self.ask(|reply| Input::Progress { reply }).await.ok_or(STOPPING)?;
        let check_in = CheckIn {
            key: self.key_now(),
            key_since: *self.key_since.lock().unwrap_or_else(|e| e.into_inner()),
            rotations: progress.steps,
            readiness: self.readiness.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        };
        let answer = match self.uplink.check_in(&check_in).await {
            // The server's clock is the one that counts: with a workstation clock that lags, the
            // server may find the certificate expired while this clock does not. Prove possession
            // of the key for a new one, then check in again.
            Err(error) if error.is_certificate_refused() => {
                tracing::warn!(%error, "the server refused the certificate; recovering");
                self.uplink.recover_identity().await?;
                self.uplink.check_in(&check_in).await?
            }
            other => other?,
        };
        if let Some(url) = answer.owa_url {
            self.set_owa_url(url);
        }
        // An idle round ends with the check-in: the server said nothing is pending, which is what
        // asking would have answered.
        let pending = match answer.rotations_pending {
            Some(false) => Vec::new(),
            Some(true) | None => self.uplink.pending_rotations().await?,
        };
        // The deliveries' drives (a verifying logon, a probe) end before the outbox goes up.
        let drives = self.ask(|reply| Input::Deliver { pending, reply }).await.ok_or(STOPPING)?;
        ended(drives).await;
        let probes = self.ask(|reply| Input::Reconcile { reply }).await.ok_or(STOPPING)?;
        ended(probes).await;
        self.deliver_outbox().await?;
        self.set_key_interval().await;
        self.look_at_owa().await;
        Ok(answer.interval)
    }

    /// Sends the outbox in order, a batch at a time; each report the server answered for leaves
    /// it (recorded, duplicate, or rejected for good).
    async fn deliver_outbox(&self) -> Result<(), UplinkError> {
        loop {
            let batch = self
                .ask(|reply| Input::OutboxPeek { max: MAX_BATCH, reply })
                .await
                .ok_or(STOPPING)?;
            if batch.is_empty() {
                return Ok(());
            }
            let receipts = self.uplink.report_steps(&batch).await?;
            failpoint::hit("delivered");
            let mut answered = Vec::new();
            for (report_id, receipt) in receipts {
                if let Receipt::Rejected(reason) = &receipt {
                    tracing::warn!(report = %report_id, %reason, "the server rejected a report; dropped");
                }
                answered.push(report_id);
            }
            if answered.is_empty() {
                return Err(UplinkError::Protocol("the server answered for no report"));
            }
            let written = self.ask(|reply| Input::OutboxAck { answered, reply }).await;
            if written != Some(true) {
                return Ok(());
            }
        }
    }

    /// Probes the key quickly while a rotation is held, slowly otherwise.
    async fn set_key_interval(&self) {
        let Some(progress) = self.ask(|reply| Input::Progress { reply }).await else { return };
        let active = progress.active;
        let (quick, idle) = self.key_intervals;
        self.key_watcher.set_interval(if active { quick } else { idle });
    }

    /// An anonymous look at OWA when the address changed or the last look is old.
    async fn look_at_owa(&self) {
        let url = self.owa_url();
        let stale = match &*self.readiness.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(look) => look.owa_url != url || self.now() - look.checked_at > READINESS_MAX_AGE,
            None => true,
        };
        if stale {
            let look = crate::owa::readiness(&url, &self.http, self.clock.clone()).await;
            tracing::info!(
                reachable = look.reachable,
                forms_based = look.forms_based,
                "looked at OWA"
            );
            *self.readiness.lock().unwrap_or_else(|e| e.into_inner()) = Some(look);
        }
    }

    /// Remembers the OWA address the server gave (also on disk, for a start without the server).
    fn set_owa_url(&self, url: String) {
        let mut current = self.owa_url.lock().unwrap_or_else(|e| e.into_inner());
        if *current != url {
            tracing::info!(%url, "OWA address from the server");
            let path = self.state_dir.join(super::OWA_URL_FILE);
            if let Err(error) =
                sesame_base::private_file::write_atomic(&path, url.as_bytes(), 0o644)
            {
                tracing::warn!(%error, "cannot remember the OWA address");
            }
            *current = url;
        }
    }
}

/// Waits for each drive to end (or for the actor to stop).
async fn ended(drives: Vec<oneshot::Receiver<()>>) {
    for drive in drives {
        let _ = drive.await;
    }
}

/// `interval` ± 20 %, so that agents started together drift apart.
fn jittered(interval: Duration) -> Duration {
    let factor = rand::rng().random_range(0.8..1.2);
    interval.mul_f64(factor)
}
