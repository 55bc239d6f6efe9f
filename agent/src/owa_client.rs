//! The OWA client: logs in to Outlook Web App and changes a password on Exchange's
//! expired-password page exactly as a person does in a browser (owa-protocol.md §6).
//!
//! Safety, by construction:
//! - every URL (redirect, form action) goes through [`OwaEndpoint`]: HTTPS on the configured host
//!   only, checked before anything is sent (see `owa_http`);
//! - one client makes **at most two logins** and **at most one change post**; a third login or a
//!   second change is an error, not a request, so the agent can never lock an account by retrying;
//! - once the change post has left, no outcome is an error: whatever happens after (timeout, odd
//!   page, refused verification) is [`ChangeOutcome::Unknown`], to be reconciled, never retried
//!   blindly;
//! - success is only claimed after logging in with the new password (the `cadata` cookies), and
//!   the session is closed with `/owa/logoff.owa`;
//! - passwords stay in [`SecretString`]s and zeroizing buffers; no message carries one.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sesame_base::clock::SharedClock;
use url::Url;

use crate::owa_html::{Form, Page, read_page};
use crate::owa_http::{FormBody, HttpError, HttpSettings, OwaHttp, Response};
use crate::owa_messages::{ChangePageMessage, classify};
use crate::owa_url::{LoginRedirect, OwaEndpoint, UrlRefusal, classify_login_redirect};

/// Logins one client may make: the current password, then the verification.
const MAX_LOGINS: u8 = 2;
/// Redirects followed to reach a page.
const MAX_REDIRECTS: usize = 5;
/// The marker Exchange puts in every logon page.
const LOGON_PAGE_GUID: &str = "{57A118C6-2DA9-419d-BE9A-F92B0F9A418B}";
/// Ids of the elements that may hold a message (the logon page's, and the change page's).
const MESSAGE_IDS: [&str; 3] = ["signInErrorDiv", "expltxt", "errorText"];
/// The label of the user-name field, which tells the logon format.
const USER_LABEL_ID: &str = "userNameLabel";
/// Ids of the elements whose text the client reads.
const TEXT_IDS: &[&str] = &[USER_LABEL_ID, MESSAGE_IDS[0], MESSAGE_IDS[1], MESSAGE_IDS[2]];

/// What logging in found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in (302 with the `cadata` cookies): the password does not need changing.
    LoggedIn,
    /// The credentials are right and the password must change (redirect to the expired-password
    /// page).
    MustChangePassword,
    /// Refused: wrong password, or locked, disabled or unknown account, or a password that must
    /// change on a server whose expired-password page is switched off. Exchange answers all of
    /// these alike.
    BadCredentials,
    /// The server does not use forms-based authentication (ADFS, Windows or Basic); nothing was
    /// sent.
    NotFormsBased(String),
    /// The server answered with an error.
    ServerError(String),
}

impl fmt::Display for LoginOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginOutcome::LoggedIn => f.write_str("logged in"),
            LoginOutcome::MustChangePassword => f.write_str("the password must be changed"),
            LoginOutcome::BadCredentials => f.write_str("credentials refused"),
            LoginOutcome::NotFormsBased(detail) => write!(f, "not forms-based: {detail}"),
            LoginOutcome::ServerError(detail) => write!(f, "server error: {detail}"),
        }
    }
}

/// How a password change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Changed, and a login with the new password succeeded.
    ChangedAndVerified,
    /// The new password was refused by the domain's policy (length, complexity, history or
    /// minimum age: Exchange cannot tell them apart). The password is unchanged.
    RejectedByPolicy,
    /// The current password (or the user name) is wrong. The password is unchanged. When this
    /// comes from the first login it may also mean a locked account or a switched-off page.
    WrongCurrentPassword,
    /// Exchange found the two new passwords different. The password is unchanged.
    ConfirmationMismatch,
    /// The account is locked. The password is unchanged.
    LockedOut,
    /// No change was attempted, and why (not forms-based, no expired-password page, a
    /// `DOMAIN\user` server, a server error before the change).
    Unavailable(String),
    /// The change was sent but its result is not known for sure: report it for reconciliation,
    /// never retry it blindly.
    Unknown(String),
}

impl ChangeOutcome {
    /// Whether a change post reached Exchange and may have changed the password.
    pub fn may_have_changed(&self) -> bool {
        matches!(self, ChangeOutcome::ChangedAndVerified | ChangeOutcome::Unknown(_))
    }
}

/// Why the client stopped. Before the change post only: afterwards every end is a
/// [`ChangeOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum OwaError {
    /// The transport failed or refused a URL.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A page is not what Exchange sends.
    #[error("unexpected answer from the OWA server: {0}")]
    UnexpectedPage(String),
    /// More redirects than a login needs.
    #[error("the OWA server redirects in a loop")]
    TooManyRedirects,
    /// A third login was asked for: refused, to protect the account from lockout.
    #[error("refused: this run already made its two logins (lockout protection)")]
    LoginBudgetSpent,
    /// A second change was asked for: refused, a change is attempted once.
    #[error("refused: this run already attempted a change")]
    ChangeAlreadyAttempted,
    /// A password Exchange cannot carry (it must be printable ASCII).
    #[error("the password contains characters Exchange cannot receive (printable ASCII only)")]
    NotAscii,
}

impl From<UrlRefusal> for OwaError {
    fn from(refusal: UrlRefusal) -> Self {
        OwaError::Http(HttpError::Refused(refusal))
    }
}

/// How the server asks for the user name (the virtual directory's `LogonFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonFormat {
    /// An e-mail address or UPN ("Adresse de courrier"): what MAILNOT addresses need.
    PrincipalName,
    /// `DOMAIN\user`: an e-mail address cannot change its password there.
    FullDomain,
}

/// What the client learned about the server on its way (for `owa-check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    /// Whether a forms-based logon page was found.
    pub forms_based: Option<bool>,
    /// The language of the pages (`<html lang>`).
    pub language: Option<String>,
    /// The Exchange build, from `X-OWA-Version` or the logon page's resource paths.
    pub version: Option<String>,
    /// The front-end server's name (`X-FEServer`).
    pub front_end: Option<String>,
    /// The user-name format the logon page asks for.
    pub logon_format: Option<LogonFormat>,
    /// Whether the expired-password page answered with its form.
    pub expired_password_page: Option<bool>,
}

/// A page as the server sent it (see [`OwaClient::capture`]).
#[derive(Debug, Clone)]
pub struct CapturedPage {
    /// `logon` or `expiredpassword`.
    pub name: &'static str,
    /// Where it was fetched.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The body, as received.
    pub body: Vec<u8>,
}

/// A login and password-change conversation with one OWA server.
pub struct OwaClient {
    http: OwaHttp,
    logins_left: u8,
    change_sent: bool,
    expired_page: Option<Url>,
    observations: Observations,
}

impl fmt::Debug for OwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwaClient")
            .field("http", &self.http)
            .field("logins_left", &self.logins_left)
            .field("change_sent", &self.change_sent)
            .finish_non_exhaustive()
    }
}

/// Refuses passwords Exchange cannot carry: FBA encodes them in the server's ANSI code page
/// (owa-protocol.md §1.3), so only printable ASCII is safe.
pub fn check_exchange_alphabet(password: &SecretString) -> Result<(), OwaError> {
    if password.expose_secret().bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(OwaError::NotAscii)
    }
}

/// The user-name format a page asks for, from its label ("Domain\\user name" or an address).
fn logon_format(page: &Page) -> Option<LogonFormat> {
    let label = page.text(USER_LABEL_ID)?;
    Some(if label.contains('\\') { LogonFormat::FullDomain } else { LogonFormat::PrincipalName })
}

/// The Exchange build named in a logon page's resource paths (`/owa/auth/15.1.2507/themes/…`).
fn version_in_paths(body: &[u8]) -> Option<String> {
    const PREFIX: &[u8] = b"/owa/auth/";
    let mut at = 0;
    while let Some(found) = body[at..].windows(PREFIX.len()).position(|w| w == PREFIX) {
        let start = at + found + PREFIX.len();
        let version: String = body[start..]
            .iter()
            .take(24)
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .map(|b| char::from(*b))
            .collect();
        if version.contains('.') && body.get(start + version.len()) == Some(&b'/') {
            return Some(version);
        }
        at = start;
    }
    None
}

/// Encodes every field of a live form once, filling the named ones. Buttons and unticked boxes
/// are not sent, as a browser does not send them; duplicates are refused (Exchange would answer
/// 400 or ignore the post).
fn fill_form(form: &Form, fill: &[(&str, &str)]) -> Result<FormBody, OwaError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut fields = Vec::new();
    for input in &form.inputs {
        if matches!(input.kind.as_str(), "submit" | "button" | "image" | "reset" | "file")
            || matches!(input.kind.as_str(), "checkbox" | "radio")
        {
            continue;
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&input.name)) {
            return Err(OwaError::UnexpectedPage(format!(
                "the form has the field {} twice",
                input.name
            )));
        }
        seen.push(&input.name);
        let value = fill
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&input.name))
            .map_or(input.value.as_str(), |(_, value)| *value);
        fields.push((input.name.as_str(), value));
    }
    for (name, _) in fill {
        if form.input(name).is_none() {
            return Err(OwaError::UnexpectedPage(format!("the form has no field {name}")));
        }
    }
    Ok(FormBody::encode(fields))
}

impl OwaClient {
    /// A client for the OWA server at `endpoint`.
    pub fn new(
        endpoint: OwaEndpoint,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<OwaClient, OwaError> {
        Ok(OwaClient {
            http: OwaHttp::new(endpoint, settings, clock)?,
            logins_left: MAX_LOGINS,
            change_sent: false,
            expired_page: None,
            observations: Observations::default(),
        })
    }

    /// What was learned about the server so far.
    pub fn observations(&self) -> &Observations {
        &self.observations
    }

    fn observe(&mut self, response: &Response, page: &Page) {
        let observed = &mut self.observations;
        if let Some(version) = response.hint("X-OWA-Version") {
            observed.version = Some(version.chars().take(32).collect());
        } else if observed.version.is_none() {
            observed.version = version_in_paths(&response.body);
        }
        if let Some(server) = response.hint("X-FEServer") {
            observed.front_end = Some(server.chars().take(64).collect());
        }
        if !page.lang.is_empty() {
            observed.language = Some(page.lang.clone());
        }
        if let Some(format) = logon_format(page) {
            observed.logon_format = Some(format);
        }
    }

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
    async fn logon_page(&mut self) -> Result<Result<Response, LoginOutcome>, OwaError> {
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

    /// The logon page's form, and the URL it was found at.
    async fn logon_form(&mut self) -> Result<Result<(Url, Form), LoginOutcome>, OwaError> {
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
        Ok(Ok((response.url, form)))
    }

    /// The two anonymous pages as the server sends them, for test fixtures (owa-protocol.md §6.7):
    /// the logon page and the expired-password page, in this client's language. Sends no
    /// credential and counts no login; `Err(outcome)` when there is no logon page to capture.
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

    /// Logs in as `user`. Counts against the two logins of this client.
    pub async fn login(
        &mut self,
        user: &str,
        password: &SecretString,
    ) -> Result<LoginOutcome, OwaError> {
        check_exchange_alphabet(password)?;
        if self.logins_left == 0 {
            return Err(OwaError::LoginBudgetSpent);
        }
        let (page_url, form) = match self.logon_form().await? {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        };
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
        // Set by the page's script before it posts (owa-protocol.md §1.2). An older session's
        // cookies are dropped, so that only this answer's `cadata` can prove this login.
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

    fn direct_change_page(&self) -> Result<Url, OwaError> {
        Ok(self.http.endpoint().join("auth/expiredpassword.aspx?url=/owa/auth.owa")?)
    }

    /// Fetches the expired-password page and its form; `Err(reason)` when it is not available.
    async fn change_form(
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
    /// The caller checks the new password against the office's rules first (`sesame_proto::password_rule`);
    /// this only refuses what Exchange cannot carry.
    pub async fn change_password(
        &mut self,
        user: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<ChangeOutcome, OwaError> {
        check_exchange_alphabet(current)?;
        check_exchange_alphabet(new)?;
        if self.change_sent {
            return Err(OwaError::ChangeAlreadyAttempted);
        }
        let page = match self.login(user, current).await? {
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
            .or_else(|| classify(&String::from_utf8_lossy(&response.body)));
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
        Ok(self.verify(user, new).await)
    }

    /// The only proof that counts: a login with the new password, then log-off.
    async fn verify(&mut self, user: &str, new: &SecretString) -> ChangeOutcome {
        match self.login(user, new).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owa_html::Input;

    fn input(name: &str, kind: &str, value: &str) -> Input {
        Input { name: name.into(), kind: kind.into(), value: value.into(), id: String::new() }
    }

    #[test]
    fn every_field_of_the_live_form_is_posted_once() {
        let form = Form {
            name: "logonForm".into(),
            method: "post".into(),
            action: "/owa/auth.owa".into(),
            inputs: vec![
                input("destination", "hidden", "https://mail.example.fr/owa/"),
                input("flags", "hidden", "4"),
                input("forcedownlevel", "hidden", "0"),
                input("username", "text", ""),
                input("password", "password", ""),
                input("passwordText", "text", ""),
                input("trusted", "checkbox", "4"),
                input("go", "submit", "sign in"),
                input("isUtf8", "hidden", "1"),
            ],
            ..Form::default()
        };
        let body = fill_form(&form, &[("username", "a@b.fr"), ("password", "p&q")]).unwrap();
        assert_eq!(
            body.as_str_for_tests(),
            "destination=https%3A%2F%2Fmail.example.fr%2Fowa%2F&flags=4&forcedownlevel=0&\
             username=a%40b.fr&password=p%26q&passwordText=&isUtf8=1"
        );
    }

    #[test]
    fn duplicate_or_missing_fields_are_refused() {
        let mut form = Form {
            inputs: vec![input("username", "text", ""), input("username", "text", "")],
            ..Form::default()
        };
        assert!(matches!(fill_form(&form, &[]), Err(OwaError::UnexpectedPage(_))));
        form.inputs.pop();
        assert!(matches!(
            fill_form(&form, &[("oldPwd", "x")]),
            Err(OwaError::UnexpectedPage(m)) if m.contains("oldPwd")
        ));
    }

    #[test]
    fn exchange_takes_printable_ascii_only() {
        assert!(check_exchange_alphabet(&SecretString::from("Abc123!@# ~")).is_ok());
        assert!(check_exchange_alphabet(&SecretString::from("Mot2passeé!")).is_err());
        assert!(check_exchange_alphabet(&SecretString::from("tab\there")).is_err());
    }

    #[test]
    fn the_build_is_read_from_resource_paths() {
        assert_eq!(
            version_in_paths(b"<link href=\"/owa/auth/15.1.2507/themes/resources/logon.css\">"),
            Some("15.1.2507".to_owned())
        );
        assert_eq!(version_in_paths(b"/owa/auth/logon.aspx /owa/auth/15/x"), None);
    }
}
