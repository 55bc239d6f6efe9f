//! What can go wrong driving the browser: one error type for the whole harness.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong driving the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A program is not installed.
    #[error("{what} is not installed at {}", path.display())]
    Missing { what: &'static str, path: PathBuf },
    /// The client could not be set up.
    #[error("browser setup: {0}")]
    Setup(String),
    /// chromedriver did not start, or the session could not be opened.
    #[error("chromedriver: {0}")]
    Driver(String),
    /// chromedriver refused a command: `error` is WebDriver's code (`no such element`, …).
    #[error("WebDriver {command}: {error}: {message}")]
    WebDriver { command: String, error: String, message: String },
    /// chromedriver could not be reached.
    #[error("talking to chromedriver: {0}")]
    Transport(String),
    /// An answer of an unexpected shape.
    #[error("unexpected WebDriver answer: {0}")]
    Protocol(String),
    /// A script run in the page reported an error.
    #[error("in the page: {0}")]
    Script(String),
    /// Something waited for did not happen in time.
    #[error("waited {timeout:?} for {what} in vain")]
    Timeout { what: String, timeout: Duration },
    /// A certificate could not be read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl BrowserError {
    /// Whether WebDriver found no element matching the selector.
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, BrowserError::WebDriver { error, .. } if error == "no such element")
    }
}
