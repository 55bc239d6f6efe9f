//! What the page wrote to its console, as chromedriver collects it (`goog:loggingPrefs`): script
//! errors, `console.*` calls, and the browser's own messages, such as a resource or an inline
//! script the Content-Security-Policy refused.

use serde_json::Value;

/// One console message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// Where it comes from: `javascript` (an uncaught error), `console-api`, `security`,
    /// `network`, …
    pub source: String,
    /// The text, prefixed by chromedriver with the script's URL and position.
    pub message: String,
}

impl ConsoleEntry {
    /// Whether it is an error (`SEVERE`).
    pub fn is_error(&self) -> bool {
        self.level == "SEVERE"
    }
}

pub(crate) fn from_json(value: &Value) -> ConsoleEntry {
    let text = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    ConsoleEntry { level: text("level"), source: text("source"), message: text("message") }
}
