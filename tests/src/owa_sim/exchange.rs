//! Exchange's side of the conversation: routing each request to the CAFE/OWA behaviour
//! `agent/src/owa/PROTOCOL.md` describes (`/owa/`, `logon.aspx`, `auth.owa`,
//! `expiredpassword.aspx`, `logoff.owa`, `signout.aspx`), after recording it.

use std::sync::Arc;

use base64::Engine as _;
use futures_util::stream;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::header::{self, HeaderName};
use hyper::{Method, Request, Response, StatusCode};
use rand::RngCore as _;

use super::directory::Logon;
use super::pages::{self, OWA_VERSION};
use super::request::{self, SimRequest};
use super::response::{self, Body, add, expire_fba_cookies, url_encode};
use super::state::Shared;
use super::{
    Behaviour, ChangeAttempt, ChangeFault, ChangeRecord, ChangeResult, LoginRecord, LoginResult,
};

/// The five cookies of an FBA session.
const SESSION_COOKIES: [&str; 5] = ["cadata", "cadataTTL", "cadataKey", "cadataIV", "cadataSig"];

/// Answers one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let request = request::read(request).await;
    let record = request.record();
    shared.with(|s| s.requests.push(record));
    if request.too_large {
        return response::status(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let delay = shared.options.change_delay;
    if !delay.is_zero()
        && request.method == Method::POST
        && request.path == "/owa/auth/expiredpassword.aspx"
    {
        // A domain controller taking its time: the change is made after the wait.
        tokio::time::sleep(delay).await;
    }
    route(&shared, &request)
}

fn route(shared: &Shared, request: &SimRequest) -> Response<Body> {
    if let Some(response) = super::hostile::intercept(&shared.options.behaviour, request) {
        return response;
    }
    let get = request.method == Method::GET;
    let post = request.method == Method::POST;
    match request.path.as_str() {
        "/owa" | "/owa/" if get => owa_root(shared, request),
        "/owa/auth/logon.aspx" if get => logon(shared, request),
        "/owa/auth.owa" if post => auth_post(shared, request),
        "/owa/auth/expiredpassword.aspx" if get || post => expired_password(shared, request),
        "/owa/logoff.owa" if get => logoff(shared, request),
        "/owa/auth/signout.aspx" if get => page(shared, pages::signout_page(request.lang())),
        _ => not_found(),
    }
}

/// A 200 page, written as the options want it ([`pages::dress`]).
fn page(shared: &Shared, html: String) -> Response<Body> {
    response::page(StatusCode::OK, pages::dress(&shared.options, html))
}

fn not_found() -> Response<Body> {
    response::status(StatusCode::NOT_FOUND, "File or directory not found")
}

fn random_base64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The account whose session the request's `cadata` cookie is.
fn session_user(shared: &Shared, request: &SimRequest) -> Option<String> {
    let cadata = request.cookie("cadata")?;
    shared.with(|s| s.sessions.get(cadata).cloned())
}

/// `https://{host}/owa/auth/logon.aspx?url=…&reason=N`, as `RedirectToFbaLogon` builds it.
fn logon_url(request: &SimRequest, destination: &str, reason: u32) -> String {
    format!(
        "https://{}/owa/auth/logon.aspx?url={}&reason={reason}",
        request.host,
        url_encode(destination)
    )
}

fn default_destination(request: &SimRequest) -> String {
    format!("https://{}/owa/", request.host)
}

/// `GET /owa/`: the start page with a session, else the redirect to the logon page.
fn owa_root(shared: &Shared, request: &SimRequest) -> Response<Body> {
    if session_user(shared, request).is_some() {
        let mut response = page(shared, pages::start_page());
        add(&mut response, HeaderName::from_static("x-owa-version"), OWA_VERSION);
        let canary = format!("X-OWA-CANARY={}; path=/; secure", random_base64(24));
        add(&mut response, header::SET_COOKIE, &canary);
        return response;
    }
    let reason = if request.authorization { 2 } else { 0 };
    let mut response =
        response::redirect(&logon_url(request, &default_destination(request), reason));
    expire_fba_cookies(&mut response, request, false);
    response
}

/// `GET /owa/auth/logon.aspx`: the redirect stub for a browser, the form for `replaceCurrent=1`
/// or a downlevel client.
fn logon(shared: &Shared, request: &SimRequest) -> Response<Body> {
    let destination =
        request.query_value("url").map_or_else(|| default_destination(request), str::to_owned);
    let reason = request.query_value("reason").and_then(|r| r.parse().ok()).unwrap_or(0);
    let replace_current = request.query_value("replaceCurrent") == Some("1") || request.downlevel;
    let html = if replace_current {
        let action = match &shared.options.behaviour {
            Behaviour::FormActionTo(url) => url.as_str(),
            _ => "/owa/auth.owa",
        };
        let format = shared.options.logon_format;
        pages::logon_page(request.lang(), format, &destination, reason, action)
    } else {
        pages::logon_stub(&destination, reason)
    };
    page(shared, html)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    // ASP.NET's `Request.Form` ignores the case of field names.
    fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `destination` must be an absolute URL on the host the request was sent to.
fn destination_is_ours(destination: &str, host: &str) -> bool {
    let Ok(url) = url::Url::parse(destination) else { return false };
    let Some(name) = url.host_str() else { return false };
    let authority = match url.port() {
        Some(port) => format!("{name}:{port}"),
        None => name.to_owned(),
    };
    let host = host.to_ascii_lowercase();
    let default_port = url.port_or_known_default().map(|p| format!("{name}:{p}"));
    !host.is_empty() && (authority == host || default_port.is_some_and(|a| a == host))
}

/// `POST /owa/auth.owa`: FbaModule's form post.
fn auth_post(shared: &Shared, request: &SimRequest) -> Response<Body> {
    let bad_request = || response::status(StatusCode::BAD_REQUEST, "Bad Request");
    let raw: Vec<(String, String)> =
        url::form_urlencoded::parse(&request.body).into_owned().collect();
    let typed = field(&raw, "username").map(str::to_owned);
    let carried_login = typed.is_some() && field(&raw, "password").is_some();
    let record = |result: LoginResult| {
        if let (true, Some(user)) = (carried_login, typed.clone()) {
            shared.with(|s| s.logins.push(LoginRecord { user, result }));
        }
    };
    let Some(fields) = request.form() else {
        record(LoginResult::Malformed);
        return bad_request();
    };
    let (Some(user), Some(password), Some(destination), Some(_flags)) = (
        field(&fields, "username"),
        field(&fields, "password"),
        field(&fields, "destination"),
        field(&fields, "flags"),
    ) else {
        record(LoginResult::Malformed);
        return bad_request();
    };
    if !destination_is_ours(destination, &request.host) {
        record(LoginResult::Malformed);
        return bad_request();
    }
    let options = &shared.options;
    let logon = shared.with(|s| {
        let logon = s.directory.logon(options, user, password);
        if let Logon::MustChange(account) = &logon
            && options.change_expired_password_enabled
        {
            s.redirected.insert(account.to_lowercase());
        }
        logon
    });
    let failed = |result: LoginResult| {
        record(result);
        let mut response = response::redirect(&logon_url(request, destination, 2));
        expire_fba_cookies(&mut response, request, false);
        response
    };
    match logon {
        Logon::Failed => failed(LoginResult::BadCredentials),
        Logon::MustChange(_) if !options.change_expired_password_enabled => {
            failed(LoginResult::MustChange)
        }
        Logon::MustChange(_) => {
            record(LoginResult::MustChange);
            response::redirect("/owa/auth/expiredpassword.aspx?url=/owa/auth.owa")
        }
        Logon::LoggedIn(account) => {
            record(LoginResult::LoggedIn);
            let mut response = response::redirect(destination);
            let mut session = String::new();
            for name in SESSION_COOKIES {
                let value = random_base64(if name == "cadata" { 96 } else { 32 });
                if name == "cadata" {
                    session.clone_from(&value);
                }
                let cookie = format!("{name}={value}; path=/; secure; HttpOnly");
                add(&mut response, header::SET_COOKIE, &cookie);
            }
            shared.with(|s| s.sessions.insert(session, account));
            response
        }
    }
}

/// `expiredpassword.aspx`: the change form, and on a POST with the four fields, the change.
fn expired_password(shared: &Shared, request: &SimRequest) -> Response<Body> {
    let options = &shared.options;
    if !options.direct_change_enabled && shared.with(|s| s.redirected.is_empty()) {
        return not_found();
    }
    let lang = request.lang();
    let action = match &options.behaviour {
        Behaviour::ExpiredFormActionTo(url) => url.as_str(),
        _ => "expiredpassword.aspx?url=/owa/auth.owa",
    };
    let form_page = |error: Option<&ChangeResult>| {
        let html = pages::expired_page(lang, options.logon_format, error, action);
        page(shared, html)
    };
    if request.method != Method::POST {
        return form_page(None);
    }
    let Some(fields) = request.form() else { return form_page(None) };
    let (Some(user), Some(old), Some(new1), Some(new2)) = (
        field(&fields, "username"),
        field(&fields, "oldPwd"),
        field(&fields, "newPwd1"),
        field(&fields, "newPwd2"),
    ) else {
        return form_page(None);
    };
    let fault = shared.with(|s| s.change_fault.take());
    let record = |result: &ChangeResult| {
        let attempt = ChangeAttempt { user: user.to_owned(), result: result.clone() };
        shared.with(|s| s.attempts.push(attempt));
    };
    match &fault {
        Some(ChangeFault::Answer(ChangeResult::Changed)) => {
            record(&ChangeResult::Changed);
            return page(shared, pages::expired_success(lang));
        }
        Some(ChangeFault::Answer(result)) => {
            record(result);
            return form_page(Some(result));
        }
        Some(ChangeFault::UnfamiliarMessage) => {
            record(&ChangeResult::Unprocessed);
            return form_page(Some(&ChangeResult::Unprocessed));
        }
        Some(ChangeFault::HangAfterChange) | None => {}
    }
    let outcome = shared.with(|s| {
        let outcome = s.directory.change(options, user, old, new1, new2);
        let result = match &outcome {
            Ok(changed) => {
                s.redirected.remove(&changed.user.to_lowercase());
                s.sessions.retain(|_, account| account != &changed.user);
                s.changes.push(ChangeRecord { user: changed.user.clone(), direct: changed.direct });
                ChangeResult::Changed
            }
            Err(result) => result.clone(),
        };
        s.attempts.push(ChangeAttempt { user: user.to_owned(), result });
        outcome
    });
    match outcome {
        Ok(_) if fault == Some(ChangeFault::HangAfterChange) => {
            response::with_body(StatusCode::OK, StreamBody::new(stream::pending()).boxed())
        }
        Ok(_) => {
            let mut response = page(shared, pages::expired_success(lang));
            expire_fba_cookies(&mut response, request, false);
            response
        }
        Err(result) => form_page(Some(&result)),
    }
}

/// `GET /owa/logoff.owa`: ends the session, expires the cookies, 302 to `signout.aspx`.
fn logoff(shared: &Shared, request: &SimRequest) -> Response<Body> {
    if let Some(cadata) = request.cookie("cadata") {
        shared.with(|s| {
            if s.sessions.remove(cadata).is_some() {
                s.logoffs += 1;
            }
        });
    }
    let mut response = response::redirect("/owa/auth/signout.aspx");
    expire_fba_cookies(&mut response, request, true);
    response
}
