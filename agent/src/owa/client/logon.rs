//! The logon conversation: reach the logon form the way a browser does, post it, read what the
//! redirect answering the post means, and log off. See PROTOCOL.md: "Reaching the logon form",
//! "The logon form", "The login post and its answers", "The cookies that prove a login" and
//! "Logging off".

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::owa::html::{Form, read_page};
use crate::owa::http::{HttpError, Response};
use crate::owa::url::{LoginRedirect, UrlRefusal, classify_login_redirect};

use super::pages::{fill_form, logon_format};
use super::{
    LOGON_PAGE_GUID, LoginOutcome, LogonFormat, MAX_REDIRECTS, OwaClient, OwaError, OwaLogon,
    TEXT_IDS, check_exchange_alphabet,
};

impl OwaClient {
    /// Follows same-server redirects from `url` to a page, as a browser would, up to
    /// [`MAX_REDIRECTS`]. Returns the last response (a 200, or any non-redirect status).
    async fn get_following(&mut self, mut url: Url) -> Result<Response, OwaError> {
        for _ in 0..=MAX_REDIRECTS {
            let response = self.http.get(&url).await?;
            if !(300..400).contains(&response.status) {
                return Ok(response);
            }
            let location = response.location.as_deref().ok_or_else(|| {
                OwaError::UnexpectedPage(format!("HTTP {} without Location", response.status))
            })?;
            url = self.http.endpoint().resolve(&url, location)?;
        }
        Err(OwaError::TooManyRedirects)
    }

    /// Reaches the logon page the way a browser does: `GET /owa/`, its redirect to
    /// `logon.aspx`, with `replaceCurrent=1` (what the page's script would add).
    pub(super) async fn logon_page(&mut self) -> Result<Result<Response, LoginOutcome>, OwaError> {
        let base = self.http.endpoint().base().clone();
        let first = self.http.get(&base).await?;
        if first.status == 401 && !first.authenticate.is_empty() {
            self.observations.forms_based = Some(false);
            return Ok(Err(LoginOutcome::NotFormsBased(format!(
                "the server asks for {} authentication",
                first.authenticate.join("/")
            ))));
        }
        let mut url = match (first.status, first.location.as_deref()) {
            (300..=399, Some(location)) => match self.http.endpoint().resolve(&base, location) {
                Ok(url) => url,
                Err(UrlRefusal::OtherHost(target)) => {
                    self.observations.forms_based = Some(false);
                    return Ok(Err(LoginOutcome::NotFormsBased(format!(
                        "the server sends its users to another site to sign in ({target})"
                    ))));
                }
                Err(refusal) => return Err(refusal.into()),
            },
            (200, _) => base,
            (status, _) => {
                return Ok(Err(LoginOutcome::ServerError(format!("GET /owa/ answered {status}"))));
            }
        };
        if url.path().to_ascii_lowercase().ends_with("/logon.aspx")
            && !url.query_pairs().any(|(k, v)| k == "replaceCurrent" && v == "1")
        {
            url.query_pairs_mut().append_pair("replaceCurrent", "1");
        }
        let response = self.get_following(url).await?;
        if response.status != 200 {
            return Ok(Err(LoginOutcome::ServerError(format!(
                "the logon page answered {}",
                response.status
            ))));
        }
        Ok(Ok(response))
    }

    /// The logon page's form, the URL it was found at, and the user-name format it asks for.
    pub(super) async fn logon_form(
        &mut self,
    ) -> Result<Result<(Url, Form, Option<LogonFormat>), LoginOutcome>, OwaError> {
        let response = match self.logon_page().await? {
            Ok(response) => response,
            Err(outcome) => return Ok(Err(outcome)),
        };
        let page = read_page(&response.body, TEXT_IDS).map_err(|_| HttpError::TooLarge)?;
        self.observe(&response, &page);
        let Some(form) = page.form("logonForm").cloned() else {
            return Err(OwaError::UnexpectedPage(if page.has_comment(LOGON_PAGE_GUID) {
                "the logon page has no logon form".to_owned()
            } else {
                "no Outlook Web App logon page at this address".to_owned()
            }));
        };
        self.observations.forms_based = Some(true);
        Ok(Ok((response.url, form, logon_format(&page))))
    }

    /// Logs in as `who`. The logon page's user-name format is read first (PROTOCOL.md,
    /// "User-name formats") and decides what is posted: the address, or the logon name on a
    /// `DOMAIN\user` server, where a mailbox without one gets [`OwaError::LogonNameMissing`] and
    /// no request carrying its password. Counts against the two logins of this client.
    pub async fn login(
        &mut self,
        who: &OwaLogon,
        password: &SecretString,
    ) -> Result<LoginOutcome, OwaError> {
        check_exchange_alphabet(password)?;
        if self.logins_left == 0 {
            return Err(OwaError::LoginBudgetSpent);
        }
        let (page_url, form, format) = match self.logon_form().await? {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        };
        let user = who.user_for(format)?.to_owned();
        let user = user.as_str();
        self.user_name = Some(user.to_owned());
        if form.method != "post" {
            return Err(OwaError::UnexpectedPage("the logon form is not posted".to_owned()));
        }
        let action = self.http.endpoint().resolve(&page_url, &form.action)?;
        // The destination is where Exchange redirects after the login: it must be ours too.
        let destination = form.input("destination").map(|i| i.value.clone()).unwrap_or_default();
        let destination = if destination.is_empty() {
            self.http.endpoint().base().clone()
        } else {
            self.http.endpoint().resolve(&page_url, &destination)?
        };
        let body = fill_form(
            &form,
            &[
                ("destination", destination.as_str()),
                ("username", user),
                ("password", password.expose_secret()),
            ],
        )?;
        // Set by the page's script before it posts (PROTOCOL.md, "The logon form"). An older
        // session's cookies are dropped, so that only this answer's `cadata` can prove this login
        // (PROTOCOL.md, "The cookies that prove a login").
        self.http.cookies().set("PBack", "0");
        self.http.cookies().forget("cadata");
        self.logins_left -= 1;
        let response = self.http.post_form(&action, body).await?;
        match response.status {
            300..=399 => {
                let location = response.location.as_deref().unwrap_or_default();
                let target = self.http.endpoint().resolve(&action, location)?;
                Ok(match classify_login_redirect(&target) {
                    LoginRedirect::BadCredentials => LoginOutcome::BadCredentials,
                    LoginRedirect::MustChangePassword(page) => {
                        self.expired_page = Some(page);
                        LoginOutcome::MustChangePassword
                    }
                    LoginRedirect::ServerError => {
                        LoginOutcome::ServerError("Exchange's error page".to_owned())
                    }
                    LoginRedirect::LogonPage { reason } => LoginOutcome::ServerError(format!(
                        "back to the logon page (reason {reason})"
                    )),
                    LoginRedirect::Destination(_) if self.http.cookies().has("cadata") => {
                        LoginOutcome::LoggedIn
                    }
                    LoginRedirect::Destination(_) => {
                        LoginOutcome::ServerError("redirected without a session cookie".to_owned())
                    }
                })
            }
            200 if response.hint("X-OWA-FEError").is_some() => Ok(LoginOutcome::ServerError(
                "cross-site redirection (CasRedirect) is not supported".to_owned(),
            )),
            400 => {
                Err(OwaError::UnexpectedPage("Exchange refused the logon form (400)".to_owned()))
            }
            status => Ok(LoginOutcome::ServerError(format!("the login answered {status}"))),
        }
    }

    /// Closes the session (`GET /owa/logoff.owa`), following its redirects on the server.
    pub async fn logoff(&mut self) -> Result<(), OwaError> {
        let url = self.http.endpoint().join("logoff.owa")?;
        self.get_following(url).await?;
        Ok(())
    }
}
