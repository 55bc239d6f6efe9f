//! The password change: the expired-password page and its form, the one change post, what its
//! answer means, and the verifying login. See PROTOCOL.md: "The must-change redirect", "The
//! expired-password page" and "Outcomes of a change and their messages".

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::owa::entities::decode;
use crate::owa::html::{Form, Page, read_page};
use crate::owa::http::HttpError;
use crate::owa::messages::{ChangePageMessage, classify};

use super::pages::{fill_form, logon_format};
use super::{
    ChangeOutcome, LoginOutcome, LogonFormat, MESSAGE_IDS, OwaClient, OwaError, OwaLogon, TEXT_IDS,
    check_exchange_alphabet,
};

impl OwaClient {
    pub(super) fn direct_change_page(&self) -> Result<Url, OwaError> {
        Ok(self.http.endpoint().join("auth/expiredpassword.aspx?url=/owa/auth.owa")?)
    }

    /// Fetches the expired-password page and its form; `Err(reason)` when it is not available.
    pub(super) async fn change_form(
        &mut self,
        page_url: Url,
    ) -> Result<Result<(Url, Form, Page), String>, OwaError> {
        let response = self.http.get(&page_url).await?;
        if response.status != 200 {
            return Ok(Err(format!(
                "the expired-password page is not available on this server (HTTP {})",
                response.status
            )));
        }
        let page = read_page(&response.body, TEXT_IDS).map_err(|_| HttpError::TooLarge)?;
        self.observe(&response, &page);
        let form = page.forms.iter().find(|f| f.input("oldPwd").is_some()).cloned();
        Ok(match form {
            Some(form) => Ok((response.url, form, page)),
            None => Err("the expired-password page has no change form".to_owned()),
        })
    }

    /// Changes `user`'s password from `current` to `new`, as the letter describes: log in with the
    /// current password; on the expired-password page (where Exchange sends a must-change account,
    /// or directly for a password that has not expired) post the live form once; verify by
    /// logging in with the new password; log off.
    ///
    /// The caller checks the new password against the office's rules first (`sesame_base::password_rule`);
    /// this only refuses what Exchange cannot carry.
    ///
    /// The user name posted is the one the login posted (see [`OwaClient::login`]): on a
    /// `DOMAIN\user` server without a logon name this ends with [`OwaError::LogonNameMissing`]
    /// before any password is sent.
    pub async fn change_password(
        &mut self,
        who: &OwaLogon,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<ChangeOutcome, OwaError> {
        check_exchange_alphabet(current)?;
        check_exchange_alphabet(new)?;
        if self.change_sent {
            return Err(OwaError::ChangeAlreadyAttempted);
        }
        let page = match self.login(who, current).await? {
            LoginOutcome::MustChangePassword => match self.expired_page.clone() {
                Some(page) => page,
                None => {
                    return Err(OwaError::UnexpectedPage("no expired-password page".to_owned()));
                }
            },
            LoginOutcome::LoggedIn => {
                self.logoff().await?;
                self.direct_change_page()?
            }
            LoginOutcome::BadCredentials => return Ok(ChangeOutcome::WrongCurrentPassword),
            LoginOutcome::NotFormsBased(detail) | LoginOutcome::ServerError(detail) => {
                return Ok(ChangeOutcome::Unavailable(detail));
            }
        };
        let (page_url, form, page) = match self.change_form(page).await? {
            Ok(found) => found,
            Err(reason) => return Ok(ChangeOutcome::Unavailable(reason)),
        };
        let user = self.user_name.clone().unwrap_or_else(|| who.address.clone());
        let user = user.as_str();
        if logon_format(&page) == Some(LogonFormat::FullDomain) && !user.contains('\\') {
            return Ok(ChangeOutcome::Unavailable(
                "the server expects DOMAIN\\user names (LogonFormat FullDomain): an e-mail address \
                 cannot change its password there"
                    .to_owned(),
            ));
        }
        if form.method != "post" {
            return Err(OwaError::UnexpectedPage("the change form is not posted".to_owned()));
        }
        let action = self.http.endpoint().resolve(&page_url, &form.action)?;
        let body = fill_form(
            &form,
            &[
                ("username", user),
                ("oldPwd", current.expose_secret()),
                ("newPwd1", new.expose_secret()),
                ("newPwd2", new.expose_secret()),
            ],
        )?;
        self.change_sent = true;
        let response = match self.http.post_form(&action, body).await {
            Ok(response) => response,
            Err(error) => {
                return Ok(ChangeOutcome::Unknown(format!("no answer to the change: {error}")));
            }
        };
        if response.status != 200 {
            return Ok(ChangeOutcome::Unknown(format!(
                "the change answered HTTP {}",
                response.status
            )));
        }
        let Ok(answer) = read_page(&response.body, TEXT_IDS) else {
            return Ok(ChangeOutcome::Unknown("the change's answer is too large".to_owned()));
        };
        let message = MESSAGE_IDS
            .iter()
            .filter_map(|id| answer.text(id))
            .find_map(classify)
            .or_else(|| classify(&decode(&String::from_utf8_lossy(&response.body))));
        let form_again = answer.forms.iter().any(|f| f.input("oldPwd").is_some());
        if form_again {
            return Ok(match message {
                Some(ChangePageMessage::PasswordConflict) => ChangeOutcome::ConfirmationMismatch,
                Some(ChangePageMessage::InvalidNewPassword) => ChangeOutcome::RejectedByPolicy,
                Some(ChangePageMessage::InvalidCredentials) => ChangeOutcome::WrongCurrentPassword,
                Some(ChangePageMessage::LockedOut) => ChangeOutcome::LockedOut,
                Some(ChangePageMessage::Changed) | None => ChangeOutcome::Unknown(
                    "the change page came back without a message we know".to_owned(),
                ),
            });
        }
        Ok(self.verify(who, new).await)
    }

    /// The only proof that counts: a login with the new password, then log-off.
    async fn verify(&mut self, who: &OwaLogon, new: &SecretString) -> ChangeOutcome {
        match self.login(who, new).await {
            Ok(LoginOutcome::LoggedIn) => match self.logoff().await {
                Ok(()) => ChangeOutcome::ChangedAndVerified,
                Err(error) => {
                    tracing::warn!(%error, "verified, but the log-off failed");
                    ChangeOutcome::ChangedAndVerified
                }
            },
            Ok(outcome) => ChangeOutcome::Unknown(format!(
                "the change page reported success but the login with the new password gave: \
                 {outcome}"
            )),
            Err(error) => ChangeOutcome::Unknown(format!(
                "the change page reported success but the verifying login failed: {error}"
            )),
        }
    }
}
