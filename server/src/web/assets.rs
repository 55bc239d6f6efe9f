//! The dashboard's one asset, its style sheet, compiled into the binary: no CDN, no build step.

use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Where the style sheet is served.
pub(crate) const STYLE_PATH: &str = "/assets/style.css";

/// The style sheet.
const STYLE: &str = include_str!("../../assets/style.css");

/// `GET /assets/style.css`: the one answer caches may keep (for an hour: it holds nothing secret
/// and changes only with the binary).
pub(crate) async fn style() -> Response {
    let mut answer = STYLE.into_response();
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    answer
}
