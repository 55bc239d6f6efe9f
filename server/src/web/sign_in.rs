//! Signing in and out: a name, the web password and a TOTP code in one form
//! (`Services::web_sign_in` checks all three, limits attempts per account and per address, and
//! audits failures), then the session cookie; signing out ends the session in the database.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::page::{self, Form, Query, render};
use super::session::{self, Signed};
use super::{Remote, Web};
use crate::services::Error;
use crate::services::web_access::SignIn;

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    next: &'a str,
    name: &'a str,
    refusal: Option<&'a str>,
}

/// Where to go once signed in.
#[derive(Debug, Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct Attempt {
    name: String,
    password: SecretString,
    code: String,
    #[serde(default)]
    next: String,
}

/// A page of the dashboard to go back to after signing in: a path of this site, never another
/// site (`//host`; browsers also read `\` as `/` and drop tabs and line breaks, so neither may
/// appear) nor the sign-in itself.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && path.len() <= 512
                && !path.starts_with("/sign-") =>
        {
            path
        }
        _ => "/",
    }
}

/// `GET /sign-in`.
pub(crate) async fn form(Query(next): Query<Next>) -> Response {
    render(&SignInPage { next: local_path(next.next.as_deref()), name: "", refusal: None })
}

/// `POST /sign-in`.
pub(crate) async fn submit(
    State(web): State<Web>,
    Extension(Remote(remote)): Extension<Remote>,
    headers: HeaderMap,
    Form(attempt): Form<Attempt>,
) -> Response {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let next = local_path(Some(&attempt.next));
    let outcome = web
        .services
        .web_sign_in(SignIn {
            name: attempt.name.trim(),
            password: &attempt.password,
            code: attempt.code.trim(),
            remote: Some(remote.ip()),
            user_agent,
        })
        .await;
    let refusal = match outcome {
        Ok(signed_in) => {
            let mut answer = Redirect::to(next).into_response();
            answer.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&signed_in.token));
            return answer;
        }
        Err(Error::Unauthenticated(_)) => (
            StatusCode::UNAUTHORIZED,
            "Nom, mot de passe ou code incorrect. Vérifiez-les et recommencez : le code change \
             toutes les 30 secondes.",
        ),
        Err(Error::ResourceExhausted(_)) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de tentatives : la connexion est bloquée pour quelques minutes. Attendez avant \
             de recommencer.",
        ),
        Err(other) => return page::error(other),
    };
    let page = SignInPage { next, name: attempt.name.trim(), refusal: Some(refusal.1) };
    (refusal.0, render(&page)).into_response()
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub(crate) struct Token {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: ends the session here and in the database.
pub(crate) async fn sign_out(
    State(web): State<Web>,
    signed: Signed,
    Form(form): Form<Token>,
) -> Response {
    if let Err(refused) = signed.check_form(&form.csrf) {
        return refused.into_response();
    }
    if let Err(error) = web.services.web_sign_out(signed.token()).await {
        return page::error(error);
    }
    let mut answer = Redirect::to("/sign-in").into_response();
    answer.headers_mut().insert(header::SET_COOKIE, session::clear_cookie());
    answer
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_pages_are_gone_back_to() {
        assert_eq!(
            local_path(Some("/offices/14032?state=overdue")),
            "/offices/14032?state=overdue"
        );
        for foreign in [
            "//evil.example/",
            "/\\evil",
            "/\t/evil",
            "/\n/evil",
            "https://evil",
            "evil",
            "",
            "/sign-out",
        ] {
            assert_eq!(local_path(Some(foreign)), "/", "{foreign}");
        }
        assert_eq!(local_path(None), "/");
    }
}
