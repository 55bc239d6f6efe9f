//! The WebDriver protocol's transport: JSON commands over HTTP to chromedriver on loopback, with
//! reqwest (rustls configured but unused: chromedriver speaks plain HTTP on 127.0.0.1), and the
//! decoding of WebDriver's error answers.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::BrowserError;

/// How long one command may take at most; page loads and scripts have shorter WebDriver timeouts
/// of their own (see `Browser::start`), so this only catches a hung chromedriver.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// The key under which WebDriver names an element in JSON.
pub(crate) const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A client of one chromedriver (`http://127.0.0.1:<port>`), cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    http: reqwest::Client,
    base: Arc<str>,
}

impl Wire {
    /// A client of the chromedriver listening on `port`.
    pub(crate) fn new(port: u16) -> Result<Wire, BrowserError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BrowserError::Setup(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .map_err(|e| BrowserError::Setup(e.to_string()))?;
        Ok(Wire { http, base: Arc::from(format!("http://127.0.0.1:{port}")) })
    }

    /// A client of the same chromedriver whose paths start at `/session/<id>`.
    pub(crate) fn for_session(&self, session_id: &str) -> Wire {
        Wire {
            http: self.http.clone(),
            base: Arc::from(format!("{}/session/{session_id}", self.base)),
        }
    }

    /// `GET path`, the answer's `value`.
    pub(crate) async fn get(&self, path: &str) -> Result<Value, BrowserError> {
        self.command(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body, the answer's `value`.
    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value, BrowserError> {
        self.command(Method::POST, path, Some(body)).await
    }

    /// `DELETE path`, the answer's `value`.
    pub(crate) async fn delete(&self, path: &str) -> Result<Value, BrowserError> {
        self.command(Method::DELETE, path, None).await
    }

    async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BrowserError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| BrowserError::Transport(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| BrowserError::Transport(format!("{method} {path}: {e}")))?;
        let mut answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            BrowserError::Protocol(format!("{method} {path}: HTTP {status}, not JSON: {e}"))
        })?;
        let value = answer.get_mut("value").map(Value::take).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default();
        Err(BrowserError::WebDriver {
            command: format!("{method} {path}"),
            error: field("error").to_owned(),
            message: field("message").lines().next().unwrap_or_default().to_owned(),
        })
    }
}

/// Deletes a session with a plain blocking HTTP request, for `Drop` (no runtime needed), bounded
/// to 5 s: Chromium quits.
pub(crate) fn delete_session_blocking(port: u16, session_id: &str) {
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(request.as_bytes()).is_ok() {
            read_one_response(&mut stream);
        }
    }
}

/// Reads one HTTP response from `stream`, by its `Content-Length` (chromedriver keeps the
/// connection open: reading to the end would wait for the read timeout).
fn read_one_response(stream: &mut std::net::TcpStream) {
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if response.len() >= end + 4 + length {
                return;
            }
        }
    }
}
