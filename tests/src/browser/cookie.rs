//! Cookies as the browser holds them, read through WebDriver (HttpOnly ones included, which the
//! page's scripts cannot see).

use serde_json::Value;

/// A cookie as the browser holds it (HttpOnly ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`.
    pub same_site: Option<String>,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
}

pub(crate) fn from_json(value: &Value) -> Cookie {
    let text = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let flag = |name: &str| value.get(name).and_then(Value::as_bool).unwrap_or(false);
    Cookie {
        name: text("name"),
        value: text("value"),
        domain: text("domain"),
        path: text("path"),
        secure: flag("secure"),
        http_only: flag("httpOnly"),
        same_site: value.get("sameSite").and_then(Value::as_str).map(str::to_owned),
        expiry: value.get("expiry").and_then(Value::as_u64),
    }
}
