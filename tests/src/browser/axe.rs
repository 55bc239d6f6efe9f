//! Accessibility checks with axe-core, run in the page: its `axe.min.js` (installed from npm by
//! `.ci/run`, a test-only tool) is injected through WebDriver, whose scripts run whatever the
//! page's Content-Security-Policy says, then `axe.run()` reports the violations.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

use super::{Browser, BrowserError};

/// The variable naming axe-core's `axe.min.js`.
pub const AXE_JS_VAR: &str = "SESAME_AXE_JS";

/// The axe-core version `.ci/run` installs (`npm install --prefix ~/.cache/sesame-axe axe-core@…`).
pub const AXE_VERSION: &str = "4.14.1";

/// Where axe-core's `axe.min.js` is: `$SESAME_AXE_JS`, else where `.ci/run` installs it.
pub fn axe_script_path() -> PathBuf {
    if let Some(path) = std::env::var_os(AXE_JS_VAR) {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/sesame-axe/node_modules/axe-core/axe.min.js")
}

/// One rule the page breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule, e.g. `image-alt`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical` (axe may leave it out).
    pub impact: Option<String>,
    /// What the rule asks, in a sentence.
    pub help: String,
    /// axe's page about the rule.
    pub help_url: String,
    /// A CSS selector per offending element (frames joined by ` >> `).
    pub targets: Vec<String>,
}

impl Violation {
    /// Whether it is `serious` or `critical`: what no page may have.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown impact");
        write!(
            f,
            "[{impact}] {}: {} ({}) at {}",
            self.id,
            self.help,
            self.help_url,
            self.targets.join(", ")
        )
    }
}

/// Runs `axe.run()` with axe's default rules on the current page: every violation found.
pub async fn axe_check(browser: &Browser) -> Result<Vec<Violation>, BrowserError> {
    let loaded = browser.execute("return typeof window.axe;", &[]).await?;
    if loaded != "object" {
        let source = axe_source()?;
        let loaded = browser.execute(&format!("{source}\n;return typeof window.axe;"), &[]).await?;
        if loaded != "object" {
            return Err(BrowserError::Script(format!(
                "axe-core did not load: window.axe is {loaded}"
            )));
        }
    }
    let answer = browser.execute_async(RUN, &[]).await?;
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        return Err(BrowserError::Script(format!("axe.run: {error}")));
    }
    let list = answer
        .get("violations")
        .and_then(Value::as_array)
        .ok_or_else(|| BrowserError::Protocol(format!("axe.run answered {answer}")))?;
    Ok(list.iter().map(violation).collect())
}

/// Panics, listing them, if the current page has a serious or critical violation.
pub async fn assert_accessible(browser: &Browser) {
    let url = browser.current_url().await.unwrap_or_default();
    let violations =
        axe_check(browser).await.unwrap_or_else(|e| panic!("axe-core could not check {url}: {e}"));
    let serious: Vec<String> =
        violations.iter().filter(|v| v.is_serious()).map(ToString::to_string).collect();
    assert!(
        serious.is_empty(),
        "{url} has {} serious or critical accessibility violation(s):\n{}",
        serious.len(),
        serious.join("\n")
    );
}

/// The script running axe: only violations are collected (passes are many and unused).
const RUN: &str = r"
const done = arguments[arguments.length - 1];
const selector = (t) => Array.isArray(t) ? t.join(' >>> ') : String(t);
window.axe.run(document, { resultTypes: ['violations'] })
  .then((r) => done({ violations: r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    targets: v.nodes.map((n) => n.target.map(selector).join(' >> ')),
  })) }))
  .catch((e) => done({ error: String(e) }));
";

fn violation(value: &Value) -> Violation {
    let text = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    Violation {
        id: text("id"),
        impact: value.get("impact").and_then(Value::as_str).map(str::to_owned),
        help: text("help"),
        help_url: text("helpUrl"),
        targets: value
            .get("targets")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}

/// axe-core's source, read once per test process.
fn axe_source() -> Result<&'static str, BrowserError> {
    static SOURCE: OnceLock<String> = OnceLock::new();
    if let Some(source) = SOURCE.get() {
        return Ok(source);
    }
    let path = axe_script_path();
    let source = std::fs::read_to_string(&path).map_err(|source| BrowserError::Io {
        context: format!("read axe-core at {} (${AXE_JS_VAR})", path.display()),
        source,
    })?;
    Ok(SOURCE.get_or_init(|| source))
}

#[cfg(test)]
mod tests {
    use super::AXE_VERSION;

    #[test]
    fn ci_installs_the_axe_core_version_the_harness_names() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/run");
        let script = std::fs::read_to_string(script).unwrap();
        assert!(
            script.lines().any(|line| line == format!("AXE_VERSION={AXE_VERSION}")),
            ".ci/run must install axe-core {AXE_VERSION}"
        );
    }
}
