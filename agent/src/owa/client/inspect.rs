//! Looking at a server without changing anything: `check` (one login, a look at the
//! expired-password page, the log-off) and `capture` (the anonymous pages, for fixtures). See
//! PROTOCOL.md, "Still unknown: capture from the real server".

use secrecy::SecretString;

use super::{CapturedPage, LoginOutcome, Observations, OwaClient, OwaError};

impl OwaClient {
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
        user: &str,
        password: &SecretString,
    ) -> Result<(LoginOutcome, Observations), OwaError> {
        let outcome = self.login(user, password).await?;
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
