//! A request made by the page itself with `fetch()`: with the page's origin and cookies (HttpOnly
//! ones included) but only the headers the test gives, so that a test can show what the server
//! does with a request the page's own forms would never send (no CSRF token, another method).

use serde_json::{Value, json};

use super::{Browser, BrowserError};

/// Runs in the page through `execute_async`: `arguments` are method, URL, body (or null), headers
/// and WebDriver's callback. Redirects are followed, as a form's would be.
const SCRIPT: &str = r"
const [method, url, body, headers, done] = arguments;
fetch(url, { method, headers, body: body === null ? undefined : body, credentials: 'same-origin' })
  .then(async (r) => done({
    status: r.status, url: r.url, redirected: r.redirected,
    headers: [...r.headers.entries()], body: await r.text(),
  }))
  .catch((e) => done({ error: String(e) }));
";

/// What the page's `fetch()` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// The HTTP status (of the last response when redirected).
    pub status: u16,
    /// The final URL.
    pub url: String,
    /// Whether a redirect was followed.
    pub redirected: bool,
    /// The response headers the page may read, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl FetchResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

pub(crate) async fn fetch(
    browser: &Browser,
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<FetchResponse, BrowserError> {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| ((*n).to_owned(), Value::from(*v))).collect();
    let answer = browser
        .execute_async(SCRIPT, &[json!(method), json!(url), json!(body), json!(headers)])
        .await?;
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        return Err(BrowserError::Script(format!("fetch {method} {url}: {error}")));
    }
    let text = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let headers = answer
        .get("headers")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| {
                    Some((pair.get(0)?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let status =
        answer
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| BrowserError::Protocol(format!("fetch {method} {url}: {answer}")))?;
    Ok(FetchResponse {
        status,
        url: text("url"),
        redirected: answer.get("redirected").and_then(Value::as_bool).unwrap_or(false),
        headers,
        body: text("body"),
    })
}
