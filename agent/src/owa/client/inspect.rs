//! Looking at a server without changing anything: `check` (one login, a look at the
//! expired-password page, the log-off), `capture` (the anonymous pages, for fixtures; see
//! PROTOCOL.md, "Still unknown: capture from the real server") and the anonymous logon-page look
//! behind `owa::readiness`.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::owa::http::HttpError;
use crate::owa::readiness::LookFailure;

use super::{CapturedPage, LoginOutcome, LogonFormat, Observations, OwaClient, OwaError, OwaLogon};

impl OwaClient {
    /// The injected clock's time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Reaches the logon page anonymously, as a login would, and reads its user-name format;
    /// `Ok(Err(problem))` when the server answered but offers no forms-based logon page to drive.
    /// Sends no credential and counts no login.
    pub(crate) async fn anonymous_logon_look(
        &mut self,
    ) -> Result<Result<Option<LogonFormat>, String>, LookFailure> {
        let failure = |reachable, certificate_valid, problem: String| LookFailure {
            reachable,
            certificate_valid,
            problem,
        };
        match self.logon_form().await {
            Ok(Ok((_, _, format))) => Ok(Ok(format)),
            Ok(Err(outcome)) => Ok(Err(match outcome {
                LoginOutcome::NotFormsBased(detail) => format!("not forms-based: {detail}"),
                other => other.to_string(),
            })),
            Err(OwaError::Http(error @ HttpError::Certificate(_))) => {
                Err(failure(true, false, error.to_string()))
            }
            Err(OwaError::Http(
                error @ (HttpError::Connect(_) | HttpError::Timeout(_) | HttpError::Setup(_)),
            )) => Err(failure(false, false, error.to_string())),
            Err(error) => Ok(Err(error.to_string())),
        }
    }

    /// The two anonymous pages as the server sends them, for test fixtures (PROTOCOL.md, "Still
    /// unknown: capture from the real server"): the logon page and the expired-password page, in
    /// this client's language. Sends no credential and counts no login; `Err(outcome)` when there
    /// is no logon page to capture.
    pub async fn capture(&mut self) -> Result<Result<Vec<CapturedPage>, LoginOutcome>, OwaError> {
        let logon = match self.logon_page().await? {
            Ok(response) => response,
            Err(outcome) => return Ok(Err(outcome)),
        };
        let expired = self.http.get(&self.direct_change_page()?).await?;
        Ok(Ok([("logon", logon), ("expiredpassword", expired)]
            .into_iter()
            .map(|(name, response)| CapturedPage {
                name,
                url: response.url.to_string(),
                status: response.status,
                body: response.body,
            })
            .collect()))
    }

    /// Looks at the server without changing anything: the logon page, one login, then the
    /// expired-password page (a plain GET, harmless), and logs off.
    pub async fn check(
        &mut self,
        who: &OwaLogon,
        password: &SecretString,
    ) -> Result<(LoginOutcome, Observations), OwaError> {
        let outcome = self.login(who, password).await?;
        let page = match &outcome {
            LoginOutcome::LoggedIn => {
                self.logoff().await?;
                Some(self.direct_change_page()?)
            }
            LoginOutcome::MustChangePassword => self.expired_page.clone(),
            _ if self.observations.forms_based == Some(true) => Some(self.direct_change_page()?),
            _ => None,
        };
        if let Some(page) = page {
            let found = self.change_form(page).await?;
            self.observations.expired_password_page = Some(found.is_ok());
        }
        Ok((outcome, self.observations.clone()))
    }
}
