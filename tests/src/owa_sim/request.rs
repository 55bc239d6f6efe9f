//! A received request as the pages need it: head fields, cookies, query, the body read with a
//! 64 KiB limit, the form as Exchange's `SecureHtmlFormReader` would read it, whether the client
//! is downlevel, and the [`RequestRecord`] kept for the tests.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request};

use super::RequestRecord;
use super::pages::Lang;

/// The largest request body the simulator reads; a larger one answers 413.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// The fields that carry a password.
const CREDENTIAL_FIELDS: [&str; 4] = ["password", "oldPwd", "newPwd1", "newPwd2"];

/// A request, read.
#[derive(Debug)]
pub(crate) struct SimRequest {
    pub(crate) method: Method,
    /// The path, lower-cased (IIS paths are case-insensitive).
    pub(crate) path: String,
    pub(crate) path_and_query: String,
    pub(crate) query: Vec<(String, String)>,
    /// The `Host` header, as sent (empty when absent).
    pub(crate) host: String,
    pub(crate) user_agent: String,
    pub(crate) accept_language: String,
    pub(crate) downlevel: bool,
    pub(crate) cookies: Vec<(String, String)>,
    pub(crate) content_type: String,
    pub(crate) chunked: bool,
    pub(crate) authorization: bool,
    pub(crate) body: Bytes,
    /// The body was over [`MAX_BODY`] (and is empty here).
    pub(crate) too_large: bool,
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut cookies = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        for pair in String::from_utf8_lossy(value.as_bytes()).split(';') {
            if let Some((name, value)) = pair.split_once('=')
                && !name.trim().is_empty()
            {
                cookies.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    cookies
}

/// Reads a request: its head, then its body up to [`MAX_BODY`].
pub(crate) async fn read(request: Request<hyper::body::Incoming>) -> SimRequest {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let user_agent = header_text(headers, header::USER_AGENT);
    let chunked = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .any(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains("chunked"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut too_large = declared.is_some_and(|n| n > MAX_BODY as u64);
    let body = if too_large {
        Bytes::new()
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                too_large = error.downcast_ref::<LengthLimitError>().is_some();
                Bytes::new()
            }
        }
    };
    let query = parts
        .uri
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    SimRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_lowercase(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        query,
        host: header_text(headers, header::HOST),
        downlevel: is_downlevel(&user_agent),
        user_agent,
        accept_language: header_text(headers, header::ACCEPT_LANGUAGE),
        cookies: cookies(headers),
        content_type: header_text(headers, header::CONTENT_TYPE),
        chunked,
        authorization: headers.contains_key(header::AUTHORIZATION),
        body,
        too_large,
    }
}

impl SimRequest {
    /// A query parameter (names are case-insensitive, as in ASP.NET).
    pub(crate) fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A cookie's value.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The page language: French when the first `Accept-Language` tag is French, else English.
    pub(crate) fn lang(&self) -> Lang {
        let first = self.accept_language.split(',').next().unwrap_or_default();
        let tag = first.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if tag.starts_with("fr") { Lang::Fr } else { Lang::En }
    }

    fn urlencoded(&self) -> bool {
        let content_type = self.content_type.trim().to_ascii_lowercase();
        content_type.is_empty() || content_type.starts_with("application/x-www-form-urlencoded")
    }

    /// The form as Exchange reads it: `None` when the content type is not urlencoded, the body
    /// was chunked (Exchange reads `Content-Length` bytes, none), or a field name repeats.
    pub(crate) fn form(&self) -> Option<Vec<(String, String)>> {
        if !self.urlencoded() || self.chunked {
            return None;
        }
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&self.body).into_owned().collect();
        let mut names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        (names.len() == before).then_some(fields)
    }

    /// Whether the body or headers carried a credential, in whatever encoding.
    fn carried_credentials(&self) -> bool {
        if self.authorization {
            return true;
        }
        let in_form = url::form_urlencoded::parse(&self.body).any(|(k, v)| {
            !v.is_empty() && CREDENTIAL_FIELDS.iter().any(|c| c.eq_ignore_ascii_case(&k))
        });
        // JSON and multipart bodies name the field in quotes.
        let text = String::from_utf8_lossy(&self.body).to_lowercase();
        let quoted = CREDENTIAL_FIELDS
            .iter()
            .any(|name| text.contains(&format!("\"{}\"", name.to_lowercase())));
        in_form || quoted
    }

    /// What the tests see of this request.
    pub(crate) fn record(&self) -> RequestRecord {
        let form_fields = if self.urlencoded() {
            url::form_urlencoded::parse(&self.body).map(|(k, _)| k.into_owned()).collect()
        } else {
            Vec::new()
        };
        RequestRecord {
            method: self.method.as_str().to_owned(),
            path_and_query: self.path_and_query.clone(),
            host_header: self.host.clone(),
            user_agent: self.user_agent.clone(),
            accept_language: self.accept_language.clone(),
            downlevel: self.downlevel,
            form_fields,
            carried_credentials: self.carried_credentials(),
            chunked: self.chunked,
        }
    }
}

/// The number that follows `marker` in the User-Agent (its major version).
fn version_after(user_agent: &str, marker: &str) -> Option<u32> {
    let start = user_agent.find(marker)? + marker.len();
    let digits: String = user_agent[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Exchange's `Extensions.IsDownLevelClient` (`agent/src/owa/PROTOCOL.md`, "Full pages or
/// down-level pages"), over a simplified `UserAgentParser`: a client is "premium" only as IE ≥ 7
/// or IE11 on Windows, Safari ≥ 3 on a Mac, Firefox ≥ 3 on Windows, Mac or Linux (or ≥ 41 on
/// Android mobile), or Chrome (Edge and other Chromium browsers included) on Windows NT or a Mac.
/// Everything else is downlevel, including no User-Agent at all.
pub(crate) fn is_downlevel(user_agent: &str) -> bool {
    let platform =
        ["Windows NT", "Windows 2000", "Windows 98; Win 9x 4.90", "Macintosh", "Android"]
            .into_iter()
            .find(|p| user_agent.contains(p))
            .or_else(|| user_agent.contains("Linux").then_some("Linux"))
            .unwrap_or("");
    let windows = matches!(platform, "Windows NT" | "Windows 2000" | "Windows 98; Win 9x 4.90");
    let premium = if let Some(version) = version_after(user_agent, "MSIE ") {
        version >= 7 && windows
    } else if user_agent.contains("Trident/") {
        version_after(user_agent, "rv:").is_some_and(|v| v >= 11) && platform == "Windows NT"
    } else if let Some(version) = version_after(user_agent, "Firefox/") {
        (version >= 3 && (windows || matches!(platform, "Macintosh" | "Linux")))
            || (version >= 41 && platform == "Android" && user_agent.contains("Mobi"))
    } else if let Some(version) = version_after(user_agent, "Chrome/") {
        version >= 1 && matches!(platform, "Windows NT" | "Macintosh")
    } else if user_agent.contains("Safari/") {
        let version = version_after(user_agent, "Version/").unwrap_or(0);
        (version >= 3 && platform == "Macintosh")
            || (platform == "Linux" && user_agent.contains("QtCarBrowser"))
    } else {
        false
    };
    !premium
}
