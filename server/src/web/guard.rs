//! What every answer and every state-changing request goes through: the security headers, and
//! the same-origin check (the first half of the CSRF defence; the second is the session's form
//! token, checked by [`super::session::Signed::check_form`]).
//!
//! A request that changes something (any method but GET and HEAD) is refused unless the browser
//! says it comes from the dashboard itself: `Sec-Fetch-Site: same-origin` when the browser sends
//! it, else an `Origin` equal to `https://` and the request's `Host`. A request with neither (no
//! browser sends a form without one) is refused as well: the dashboard has no other clients.

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Scripts and styles from the dashboard only, no inline script or style, no plug-in, no frame,
/// forms posted to the dashboard only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to an answer.
pub(crate) async fn headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    // Pages and documents may hold what an administrator only may read: never kept (the style
    // sheet says otherwise for itself).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a state-changing request from another site (403), before any handler runs.
pub(crate) async fn same_origin(request: Request, next: Next) -> Response {
    let safe = request.method() == Method::GET || request.method() == Method::HEAD;
    if !safe && !is_same_origin(request.headers()) {
        tracing::info!(path = request.uri().path(), "dashboard: cross-site request refused");
        return (StatusCode::FORBIDDEN, super::page::refusal_page(REFUSED)).into_response();
    }
    next.run(request).await
}

/// The French text of a refused cross-site request.
const REFUSED: &str = "Cette demande ne vient pas d'une page du tableau de bord : elle est refusée. \
                       Rechargez la page et recommencez.";

/// Whether the browser says the request comes from the dashboard's own pages.
pub(crate) fn is_same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            origin.as_bytes().strip_prefix(b"https://") == Some(host.as_bytes())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_the_dashboards_own_pages_may_change_something() {
        assert!(is_same_origin(&with(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_same_origin(&with(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_same_origin(&with(&[("sec-fetch-site", "same-site")])));
        // Sec-Fetch-Site decides when present, whatever Origin says.
        assert!(!is_same_origin(&with(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://dash:8443"),
            ("host", "dash:8443"),
        ])));
        assert!(is_same_origin(&with(&[("origin", "https://dash:8443"), ("host", "dash:8443")])));
        assert!(!is_same_origin(&with(&[("origin", "http://dash:8443"), ("host", "dash:8443")])));
        assert!(!is_same_origin(&with(&[("origin", "https://evil"), ("host", "dash:8443")])));
        assert!(!is_same_origin(&with(&[("origin", "null"), ("host", "dash:8443")])));
        assert!(!is_same_origin(&with(&[("host", "dash:8443")])));
    }
}
