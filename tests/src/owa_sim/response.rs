//! Building responses the way IIS and Exchange shape them: status pages, 302s with IIS's "Object
//! moved" body, the logon pages' headers, FBA cookies, and the two encodings Exchange uses
//! (`HttpUtility.UrlEncode` with lower-case hex, `HttpUtility.HtmlEncode`).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use super::request::SimRequest;

/// Every response body.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The cookies `Utility.DeleteFbaAuthCookies` expires.
const FBA_COOKIES: [&str; 8] = [
    "cadata",
    "cadataTTL",
    "cadataKey",
    "cadataIV",
    "cadataSig",
    "X-DFPOWA-Vdir",
    "TargetServer",
    "ExchClientVer",
];

/// A body held in memory.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A response with this status and body, and the headers IIS adds to everything.
pub(crate) fn with_body(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    add(&mut response, header::SERVER, "Microsoft-IIS/10.0");
    add(&mut response, HeaderName::from_static("x-powered-by"), "ASP.NET");
    add(&mut response, HeaderName::from_static("x-feserver"), "EXCH01");
    response
}

/// Appends a header; a value that cannot be a header value is left out.
pub(crate) fn add(response: &mut Response<Body>, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
        response.headers_mut().append(name, value);
    }
}

/// An HTML page with the headers of Exchange's logon pages.
pub(crate) fn page(status: StatusCode, html: String) -> Response<Body> {
    let mut response = with_body(status, full(html));
    add(&mut response, header::CONTENT_TYPE, "text/html; charset=utf-8");
    add(&mut response, header::CACHE_CONTROL, "no-cache, no-store");
    add(&mut response, header::X_FRAME_OPTIONS, "SAMEORIGIN");
    add(&mut response, HeaderName::from_static("x-aspnet-version"), "4.0.30319");
    response
}

/// A short IIS-style status page.
pub(crate) fn status(status: StatusCode, text: &str) -> Response<Body> {
    let html = format!(
        "<!DOCTYPE html>\r\n<html><head><title>{code} - {text}</title></head>\
         <body><h2>{code} - {text}</h2></body></html>\r\n",
        code = status.as_u16(),
    );
    let mut response = with_body(status, full(html));
    add(&mut response, header::CONTENT_TYPE, "text/html; charset=utf-8");
    response
}

/// A 302 to `location`, with IIS's "Object moved" body.
pub(crate) fn redirect(location: &str) -> Response<Body> {
    let html = format!(
        "<html><head><title>Object moved</title></head><body>\r\n\
         <h2>Object moved to <a href=\"{}\">here</a>.</h2>\r\n</body></html>\r\n",
        html_encode(location)
    );
    let mut response = with_body(StatusCode::FOUND, full(html));
    add(&mut response, header::CONTENT_TYPE, "text/html; charset=utf-8");
    add(&mut response, header::CACHE_CONTROL, "no-cache");
    add(&mut response, header::LOCATION, location);
    response
}

/// Adds `Set-Cookie` headers expiring every FBA cookie the request carried (and `X-OWA-CANARY`
/// when `canary`), as `Utility.DeleteFbaAuthCookies` does.
pub(crate) fn expire_fba_cookies(
    response: &mut Response<Body>,
    request: &SimRequest,
    canary: bool,
) {
    let extra = canary.then_some("X-OWA-CANARY");
    for name in FBA_COOKIES.into_iter().chain(extra) {
        if request.cookie(name).is_some() {
            let cookie = format!("{name}=; expires=Mon, 01-Jan-1990 00:00:00 GMT; path=/");
            add(response, header::SET_COOKIE, &cookie);
        }
    }
}

/// `HttpUtility.UrlEncode`: unreserved `A-Za-z0-9-_.!*()` kept, space as `+`, the rest as
/// lower-case `%xx` of the UTF-8 bytes.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// `HttpUtility.HtmlEncode`.
pub(crate) fn html_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
