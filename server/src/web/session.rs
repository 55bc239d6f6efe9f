//! Who is asking: the session cookie, read into a [`Signed`] administrator on every page, and the
//! session's form token (CSRF), checked on every change.
//!
//! The cookie is `__Host-sesame`: Secure, HttpOnly, SameSite=Strict, for the whole dashboard and
//! no other host (the `__Host-` prefix makes browsers refuse it otherwise). It lives as long as
//! the browser runs; the server ends the session before that when it is idle or too old, or when
//! it is revoked (`sesamectl admin sessions revoke`), since every request looks it up in the
//! database (`Services::web_session`), which several servers share.

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretString};

use super::Web;
use super::page::{self, Layout};
use crate::domain::admin::Admin;
use crate::services::web_access::{WebSession, csrf_token};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "__Host-sesame";
/// The longest session token the dashboard reads.
const MAX_TOKEN_CHARS: usize = 128;

/// A signed-in administrator, and its session's token.
pub(crate) struct Signed {
    /// The session, with its administrator.
    pub(crate) session: WebSession,
    token: SecretString,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed").field("session", &self.session.id).finish_non_exhaustive()
    }
}

impl Signed {
    /// The administrator.
    pub(crate) fn admin(&self) -> &Admin {
        &self.session.admin
    }

    /// The session's form token.
    pub(crate) fn csrf(&self) -> String {
        csrf_token(&self.token)
    }

    /// The token, for signing out.
    pub(crate) fn token(&self) -> &SecretString {
        &self.token
    }

    /// What every page's frame shows of the session.
    pub(crate) fn layout(&self, title: &str) -> Layout {
        Layout::new(title, self.admin(), self.csrf())
    }

    /// Refuses (403) a form whose token is not this session's.
    pub(crate) fn check_form(&self, given: &str) -> Result<(), BadForm> {
        let expected = self.csrf();
        if same(expected.as_bytes(), given.as_bytes()) {
            Ok(())
        } else {
            tracing::info!(
                session = self.session.id,
                "dashboard: a form from outside this session refused"
            );
            Err(BadForm)
        }
    }
}

/// A form without the session's token: answered 403.
#[derive(Debug)]
pub(crate) struct BadForm;

impl IntoResponse for BadForm {
    fn into_response(self) -> Response {
        page::forbidden(
            "Ce formulaire a expiré ou ne vient pas de cette session : rechargez la page et \
             recommencez.",
        )
    }
}

/// Whether two tokens are equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session token in the request's cookies, if it has one of a plausible shape.
pub(crate) fn token_of(headers: &HeaderMap) -> Option<SecretString> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|token| {
            !token.is_empty()
                && token.len() <= MAX_TOKEN_CHARS
                && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|token| SecretString::from(token.to_owned()))
}

/// The `Set-Cookie` value that opens a session in the browser.
pub(crate) fn set_cookie(token: &SecretString) -> HeaderValue {
    let value =
        format!("{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict", token.expose_secret());
    HeaderValue::from_str(&value).unwrap_or_else(|_| clear_cookie())
}

/// The `Set-Cookie` value that ends it.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-sesame=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

impl FromRequestParts<Web> for Signed {
    type Rejection = Response;

    /// The session, or a redirection to the sign-in page that comes back here.
    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Signed, Response> {
        let signed = match token_of(&parts.headers) {
            Some(token) => match web.services.web_session(&token).await {
                Ok(session) => Some(Signed { session, token }),
                Err(crate::services::Error::Unauthenticated(_)) => None,
                Err(other) => return Err(page::error(other)),
            },
            None => None,
        };
        signed.ok_or_else(|| {
            let back = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut answer =
                Redirect::to(&format!("/sign-in?next={}", page::encode(back))).into_response();
            answer.headers_mut().insert(header::SET_COOKIE, clear_cookie());
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_its_cookie_only_when_well_formed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; __Host-sesame=abc-DEF_1"));
        assert_eq!(
            token_of(&headers).map(|t| t.expose_secret().to_owned()).as_deref(),
            Some("abc-DEF_1")
        );
        headers.insert(header::COOKIE, HeaderValue::from_static("__Host-sesame=a;b"));
        assert_eq!(token_of(&headers).map(|t| t.expose_secret().to_owned()).as_deref(), Some("a"));
        headers.insert(header::COOKIE, HeaderValue::from_static("__Host-sesame=<script>"));
        assert!(token_of(&headers).is_none());
        headers.insert(header::COOKIE, HeaderValue::from_static("sesame=abc"));
        assert!(token_of(&headers).is_none());
        let long = format!("__Host-sesame={}", "a".repeat(129));
        headers.insert(header::COOKIE, HeaderValue::from_str(&long).unwrap());
        assert!(token_of(&headers).is_none());
    }

    #[test]
    fn the_cookie_is_secure_http_only_and_strict() {
        let value = set_cookie(&SecretString::from("tok".to_owned()));
        let text = value.to_str().unwrap();
        for part in ["__Host-sesame=tok", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!text.contains("Domain"));
    }
}
