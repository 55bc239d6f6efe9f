//! The service's OWA work, each turned into the rotation machine's event: the change (one post,
//! verified by the client's own logon), the verifying logon, and the one reconciliation probe.
//! A fresh client per operation: its lockout budget (two logons, one change post) then bounds
//! each operation on its own. [`OwaWork`] is what the actor's OWA tasks call: [`LiveOwa`] in
//! the service, a fake in tests.

use std::sync::{Arc, Mutex as StdMutex};

use secrecy::SecretString;
use sesame_base::clock::SharedClock;
use sesame_base::rotation::FailureReason;

use crate::owa::{
    ChangeOutcome, HttpError, HttpSettings, LoginOutcome, OwaClient, OwaEndpoint, OwaError,
    OwaLogon,
};
use crate::rotation::{Event, ProbeOutcome, Refusal};

/// Where and how OWA is reached for one operation.
#[derive(Debug, Clone)]
pub(crate) struct OwaAccess {
    /// The address the server gave.
    pub url: String,
    /// Transport settings (extra CAs, timeout, proxy).
    pub settings: HttpSettings,
    /// The clock.
    pub clock: SharedClock,
}

impl OwaAccess {
    fn client(&self) -> Result<OwaClient, FailureReason> {
        let endpoint = OwaEndpoint::parse(&self.url).map_err(|refusal| {
            tracing::warn!(%refusal, "the OWA address given by the server is not usable");
            FailureReason::OwaUnexpected
        })?;
        OwaClient::new(endpoint, &self.settings, self.clock.clone()).map_err(|error| {
            tracing::warn!(%error, "cannot set up the OWA client");
            unavailable(&error)
        })
    }
}

/// Why nothing was attempted, from an error before any change post.
fn unavailable(error: &OwaError) -> FailureReason {
    match error {
        OwaError::LogonNameMissing => FailureReason::LogonNameMissing,
        OwaError::Http(HttpError::Certificate(_) | HttpError::Refused(_)) => {
            FailureReason::OwaUntrusted
        }
        OwaError::Http(HttpError::Connect(_) | HttpError::Timeout(_) | HttpError::Protocol(_)) => {
            FailureReason::OwaUnreachable
        }
        _ => FailureReason::OwaUnexpected,
    }
}

/// Changes the password from `old` to `new` and verifies it: the machine's answer to
/// `CallOwaChange`.
pub(crate) async fn change(
    access: &OwaAccess,
    who: &OwaLogon,
    old: &SecretString,
    new: &SecretString,
) -> Event {
    let mut client = match access.client() {
        Ok(client) => client,
        Err(reason) => return Event::OwaUnavailable(reason),
    };
    match client.change_password(who, old, new).await {
        Ok(ChangeOutcome::ChangedAndVerified) => Event::OwaChanged { verified: true },
        Ok(ChangeOutcome::RejectedByPolicy | ChangeOutcome::ConfirmationMismatch) => {
            Event::OwaRefused(Refusal::NewPassword)
        }
        Ok(ChangeOutcome::WrongCurrentPassword) => Event::OwaRefused(Refusal::CurrentPassword),
        Ok(ChangeOutcome::LockedOut) => Event::OwaRefused(Refusal::LockedOut),
        Ok(ChangeOutcome::Unavailable(detail)) => {
            tracing::warn!(%detail, "OWA: no change attempted");
            Event::OwaUnavailable(FailureReason::OwaUnexpected)
        }
        Ok(ChangeOutcome::Unknown(detail)) => {
            tracing::warn!(%detail, "OWA: the change's outcome is unknown");
            Event::OwaAmbiguous
        }
        Err(error) => {
            tracing::warn!(%error, "OWA: no change attempted");
            Event::OwaUnavailable(unavailable(&error))
        }
    }
}

/// One logon with the new password, then log-off: the machine's answer to `CallOwaVerify`.
pub(crate) async fn verify(access: &OwaAccess, who: &OwaLogon, new: &SecretString) -> Event {
    let mut client = match access.client() {
        Ok(client) => client,
        Err(reason) => return Event::VerifyUnavailable(reason),
    };
    match client.login(who, new).await {
        Ok(LoginOutcome::LoggedIn) => {
            if let Err(error) = client.logoff().await {
                tracing::warn!(%error, "verified, but the log-off failed");
            }
            Event::Verified
        }
        Ok(LoginOutcome::BadCredentials) => Event::VerifyFailed,
        // The new password works but Exchange wants it changed again: it is the password now.
        Ok(LoginOutcome::MustChangePassword) => Event::Verified,
        Ok(outcome @ (LoginOutcome::NotFormsBased(_) | LoginOutcome::ServerError(_))) => {
            tracing::warn!(%outcome, "OWA: the verifying logon could not be made");
            Event::VerifyUnavailable(FailureReason::OwaUnexpected)
        }
        Err(error) => {
            tracing::warn!(%error, "OWA: the verifying logon could not be made");
            Event::VerifyUnavailable(unavailable(&error))
        }
    }
}

/// The one reconciliation probe: does the provisional password still reach the expired-password
/// page? Logs off if it logged in; changes nothing.
pub(crate) async fn probe_provisional(
    access: &OwaAccess,
    who: &OwaLogon,
    provisional: &SecretString,
) -> Event {
    let mut client = match access.client() {
        Ok(client) => client,
        Err(reason) => return Event::ProbeResult(ProbeOutcome::Inconclusive(reason)),
    };
    let outcome = match client.login(who, provisional).await {
        Ok(LoginOutcome::MustChangePassword) => ProbeOutcome::StillExpired,
        Ok(LoginOutcome::BadCredentials) => ProbeOutcome::Refused,
        Ok(LoginOutcome::LoggedIn) => {
            // The provisional password works without a change asked: nothing was changed.
            let _ = client.logoff().await;
            ProbeOutcome::StillExpired
        }
        Ok(LoginOutcome::NotFormsBased(_) | LoginOutcome::ServerError(_)) => {
            ProbeOutcome::Inconclusive(FailureReason::OwaUnexpected)
        }
        Err(error) => ProbeOutcome::Inconclusive(unavailable(&error)),
    };
    Event::ProbeResult(outcome)
}

/// The OWA work the actor hands to its own tasks: each operation owns its inputs (copies of the
/// session's passwords, zeroized when dropped) and answers with the machine's event. The service
/// runs [`LiveOwa`]; tests put a fake in its place.
pub(crate) trait OwaWork: Send + Sync + 'static {
    /// The change, verified ([`change`]).
    fn change(
        &self,
        who: OwaLogon,
        old: SecretString,
        new: SecretString,
    ) -> impl Future<Output = Event> + Send;
    /// The verifying logon ([`verify`]).
    fn verify(&self, who: OwaLogon, new: SecretString) -> impl Future<Output = Event> + Send;
    /// The reconciliation probe ([`probe_provisional`]).
    fn probe(&self, who: OwaLogon, provisional: SecretString)
    -> impl Future<Output = Event> + Send;
}

/// The real OWA, at the address the server gave last (read when each operation starts).
#[derive(Debug)]
pub(crate) struct LiveOwa {
    /// The current address, shared with the check-in loop which updates it.
    pub url: Arc<StdMutex<String>>,
    /// Transport settings (extra CAs, timeout, proxy).
    pub settings: HttpSettings,
    /// The clock.
    pub clock: SharedClock,
}

impl LiveOwa {
    fn access(&self) -> OwaAccess {
        let url = self.url.lock().unwrap_or_else(|e| e.into_inner()).clone();
        OwaAccess { url, settings: self.settings.clone(), clock: self.clock.clone() }
    }
}

impl OwaWork for LiveOwa {
    fn change(
        &self,
        who: OwaLogon,
        old: SecretString,
        new: SecretString,
    ) -> impl Future<Output = Event> + Send {
        let access = self.access();
        async move { change(&access, &who, &old, &new).await }
    }

    fn verify(&self, who: OwaLogon, new: SecretString) -> impl Future<Output = Event> + Send {
        let access = self.access();
        async move { verify(&access, &who, &new).await }
    }

    fn probe(
        &self,
        who: OwaLogon,
        provisional: SecretString,
    ) -> impl Future<Output = Event> + Send {
        let access = self.access();
        async move { probe_provisional(&access, &who, &provisional).await }
    }
}
