//! The hostile behaviours: huge, endless and deeply nested pages, redirect loops, redirects to
//! foreign hosts, and servers that do not use forms-based authentication.
//!
//! They only replace responses: the request is recorded before, as for every request. Lazy bodies
//! are streams, so nothing allocates 50 MB, and a drip ends when hyper fails to send (the client
//! went away) or the simulator stops (its connection task is aborted).

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header;
use hyper::{Method, Response, StatusCode};

use super::Behaviour;
use super::pages::LOGON_GUID;
use super::request::SimRequest;
use super::response::{self, Body, add, full, with_body};

/// The size of [`Behaviour::HugePage`]'s body.
pub(crate) const HUGE_SIZE: usize = 50 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
/// How many nested `<div>` [`Behaviour::DeepNesting`] serves.
pub(crate) const NESTING: usize = 100_000;

const PAGE_START: &str = "<!DOCTYPE html>\r\n<html dir=\"ltr\" lang=\"en\">\r\n\
                          <!-- OwaPage = ASP.auth_logon_aspx -->\r\n";

/// The response that replaces the normal one under a hostile behaviour, if any.
pub(crate) fn intercept(behaviour: &Behaviour, request: &SimRequest) -> Option<Response<Body>> {
    let get = request.method == Method::GET;
    let path = request.path.as_str();
    let root = matches!(path, "/owa" | "/owa/");
    let logon = get && path == "/owa/auth/logon.aspx";
    match behaviour {
        Behaviour::HugePage if logon => Some(huge_page(true)),
        Behaviour::HugePageChunked if logon => Some(huge_page(false)),
        Behaviour::DeepNesting if logon => Some(deep_nesting()),
        Behaviour::Drip if logon => Some(drip()),
        Behaviour::RedirectLoop if get && root => Some(response::redirect("/owa/auth/a.aspx")),
        Behaviour::RedirectLoop if path.starts_with("/owa/auth/") => {
            let next =
                if path == "/owa/auth/a.aspx" { "/owa/auth/b.aspx" } else { "/owa/auth/a.aspx" };
            Some(response::redirect(next))
        }
        Behaviour::RedirectTo(url) if logon => Some(response::redirect(url)),
        Behaviour::NotFormsBased => Some(not_forms_based()),
        Behaviour::Adfs(url) if get && root => Some(response::redirect(url)),
        _ => None,
    }
}

fn html_response(body: Body) -> Response<Body> {
    let mut response = with_body(StatusCode::OK, body);
    add(&mut response, header::CONTENT_TYPE, "text/html; charset=utf-8");
    add(&mut response, header::CACHE_CONTROL, "no-cache, no-store");
    response
}

/// 50 MiB of HTML in 64 KiB chunks made on demand (two shared buffers, cloned by reference).
fn huge_page(with_length: bool) -> Response<Body> {
    let start =
        format!("{PAGE_START}{LOGON_GUID}\r\n<head><title>Outlook</title></head><body>\r\n");
    let line = b"<p class=\"signInExpl\">Outlook Web App</p>\r\n";
    let filler: Vec<u8> = line.iter().copied().cycle().take(CHUNK).collect();
    let mut first = start.into_bytes();
    first.extend(filler.iter().copied().take(CHUNK.saturating_sub(first.len())));
    first.truncate(CHUNK);
    let (first, filler) = (Bytes::from(first), Bytes::from(filler));
    let chunks = HUGE_SIZE / CHUNK;
    let frames = stream::iter((0..chunks).map(move |i| {
        let chunk = if i == 0 { first.clone() } else { filler.clone() };
        Ok(Frame::data(chunk))
    }));
    let mut response = html_response(StreamBody::new(frames).boxed());
    if with_length {
        add(&mut response, header::CONTENT_LENGTH, &HUGE_SIZE.to_string());
    }
    response
}

/// 100,000 nested `<div>` and no form (about 1.1 MB).
fn deep_nesting() -> Response<Body> {
    let mut html = String::with_capacity(NESTING * 11 + 512);
    html.push_str(PAGE_START);
    html.push_str(LOGON_GUID);
    html.push_str("\r\n<head><title>Outlook</title></head><body>\r\n");
    for _ in 0..NESTING {
        html.push_str("<div>");
    }
    for _ in 0..NESTING {
        html.push_str("</div>");
    }
    html.push_str("\r\n</body></html>\r\n");
    html_response(full(html))
}

/// The headers at once, then one byte a second, forever.
fn drip() -> Response<Body> {
    let page = Bytes::from(format!("{PAGE_START}{LOGON_GUID}\r\n<head><title>Outlook</title>"));
    let frames = stream::unfold(0usize, move |i| {
        let page = page.clone();
        async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let at = i % page.len();
            Some((Ok(Frame::data(page.slice(at..at + 1))), i + 1))
        }
    });
    html_response(StreamBody::new(frames).boxed())
}

/// A virtual directory with Windows authentication only.
fn not_forms_based() -> Response<Body> {
    let mut response = response::status(StatusCode::UNAUTHORIZED, "Unauthorized");
    add(&mut response, header::WWW_AUTHENTICATE, "Negotiate");
    add(&mut response, header::WWW_AUTHENTICATE, "NTLM");
    response
}
