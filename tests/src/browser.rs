//! A real browser for the dashboard's tests: Debian's headless Chromium driven over WebDriver by
//! chromedriver, through a small client of our own (JSON over reqwest, no browser-automation
//! crate, no OpenSSL).
//!
//! Each [`Browser`] has its own chromedriver, a fresh profile and downloads folder (temporary
//! directories), and trusts exactly the server certificates it is given
//! ([`BrowserOptions::trusted_certificates`]); dropping it ends the session and kills every
//! process it started. [`Browser::for_test`] is the entry point of a test: it skips outside CI
//! when Chromium, chromedriver or axe-core is missing, and fails under `CI`.
//!
//! - [`chromedriver`]: the child process; [`wire`]: the WebDriver transport; [`options`]:
//!   [`BrowserOptions`] and the session's capabilities; [`error`]: [`BrowserError`].
//! - [`element`]: [`Element`]; [`keys`]: [`Key`] and chords; [`cookie`]: [`Cookie`];
//!   [`console`]: [`ConsoleEntry`]; [`fetch`]: a
//!   request made by the page; [`certificate`]: which certificate is trusted; [`axe`]:
//!   accessibility checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub mod axe;
mod certificate;
mod chromedriver;
mod console;
mod cookie;
mod element;
mod error;
mod fetch;
mod keys;
mod options;
mod wire;

pub use certificate::spki_sha256_base64;
pub use console::ConsoleEntry;
pub use cookie::Cookie;
pub use element::Element;
pub use error::BrowserError;
pub use fetch::FetchResponse;
pub use keys::Key;
pub use options::BrowserOptions;

use chromedriver::Chromedriver;
use wire::Wire;

/// How often `wait_for`, `wait_until` and `wait_for_download` look again.
const POLL: Duration = Duration::from_millis(50);

/// A headless Chromium with one WebDriver session.
#[derive(Debug)]
pub struct Browser {
    wire: Wire,
    session_id: String,
    driver: Chromedriver,
    /// Holds `profile/`, `downloads/` and the logs; removed after the processes are gone.
    dir: tempfile::TempDir,
}

impl Browser {
    /// The browser a test uses, or `None` (with a message) when Chromium, chromedriver or axe-core
    /// is missing outside CI.
    ///
    /// # Panics
    /// When one is missing under `CI`, or when the browser does not start.
    // Reason: says why a test is skipped, like `TestDatabase::postgres`.
    #[allow(clippy::print_stderr, clippy::panic)]
    pub async fn for_test(options: BrowserOptions) -> Option<Browser> {
        let axe = axe::axe_script_path();
        let needed = [
            ("Chromium", options.chromium.clone()),
            ("chromedriver", options.chromedriver.clone()),
            ("axe-core (see .ci/run, or set SESAME_AXE_JS)", axe),
        ];
        for (what, path) in needed {
            if !path.exists() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{what} is not at {}: CI must run the browser tests",
                    path.display()
                );
                eprintln!("skipping a browser test: {what} is not at {}", path.display());
                return None;
            }
        }
        match Browser::start(options).await {
            Ok(browser) => Some(browser),
            Err(e) => panic!("the browser did not start: {e}"),
        }
    }

    /// Starts chromedriver and a headless Chromium session.
    pub async fn start(options: BrowserOptions) -> Result<Browser, BrowserError> {
        for (what, path) in
            [("Chromium", &options.chromium), ("chromedriver", &options.chromedriver)]
        {
            if !path.exists() {
                return Err(BrowserError::Missing { what, path: path.clone() });
            }
        }
        let dir =
            tempfile::Builder::new().prefix("sesame-browser-").tempdir().map_err(|source| {
                BrowserError::Io {
                    context: "create the browser's temporary directory".to_owned(),
                    source,
                }
            })?;
        let downloads = dir.path().join("downloads");
        std::fs::create_dir(&downloads).map_err(|source| BrowserError::Io {
            context: format!("create {}", downloads.display()),
            source,
        })?;
        let driver =
            Chromedriver::start(&options.chromedriver, &dir.path().join("chromedriver.log"))
                .await?;
        let wire = Wire::new(driver.port())?;
        let capabilities = options::capabilities(&options, dir.path(), &downloads)?;
        let answer = match wire.post("/session", capabilities).await {
            Ok(answer) => answer,
            Err(e) => {
                return Err(BrowserError::Driver(format!("no session: {e}{}", driver.log_tail())));
            }
        };
        let session_id = answer
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| BrowserError::Protocol(format!("no session id in {answer}")))?
            .to_owned();
        Ok(Browser { wire: wire.for_session(&session_id), session_id, driver, dir })
    }

    /// Opens `url` and waits for its `load` event. A certificate the browser does not trust gives
    /// Chromium's "Privacy error" page, not an error.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.wire.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The page's URL.
    pub async fn current_url(&self) -> Result<String, BrowserError> {
        string(self.wire.get("/url").await?)
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> Result<String, BrowserError> {
        string(self.wire.get("/title").await?)
    }

    /// The page's HTML as the DOM now is.
    pub async fn source(&self) -> Result<String, BrowserError> {
        string(self.wire.get("/source").await?)
    }

    /// Goes back in history.
    pub async fn back(&self) -> Result<(), BrowserError> {
        self.wire.post("/back", json!({})).await.map(drop)
    }

    /// Reloads the page.
    pub async fn refresh(&self) -> Result<(), BrowserError> {
        self.wire.post("/refresh", json!({})).await.map(drop)
    }

    /// The first element matching `css` (`no such element` if none: see
    /// [`BrowserError::is_no_such_element`]).
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        let value =
            self.wire.post("/element", json!({ "using": "css selector", "value": css })).await?;
        Element::from_json(&self.wire, &value)
    }

    /// Every element matching `css`, in document order (maybe none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        let value =
            self.wire.post("/elements", json!({ "using": "css selector", "value": css })).await?;
        Element::list_from_json(&self.wire, &value)
    }

    /// The element that has the focus (`body` when none has).
    pub async fn active_element(&self) -> Result<Element, BrowserError> {
        let value = self.wire.get("/element/active").await?;
        Element::from_json(&self.wire, &value)
    }

    /// Runs `script` as a function body in the page (`arguments` are `args`; elements as
    /// [`Element::to_arg`]); its `return` value. Runs whatever the page's CSP allows.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Result<Value, BrowserError> {
        self.wire.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Like [`Browser::execute`], but the script ends by calling the callback WebDriver appends to
    /// `arguments` (`arguments[arguments.length - 1](result)`), within 30 s.
    pub async fn execute_async(&self, script: &str, args: &[Value]) -> Result<Value, BrowserError> {
        self.wire.post("/execute/async", json!({ "script": script, "args": args })).await
    }

    /// `fetch(url, {method, body, headers})` run by the page, with its cookies, and what it got.
    pub async fn fetch(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<FetchResponse, BrowserError> {
        fetch::fetch(self, method, url, body, headers).await
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, BrowserError> {
        decode_png(self.wire.get("/screenshot").await?)
    }

    /// A PNG of the whole page, beyond the viewport (for the README's screenshots).
    pub async fn full_page_screenshot_png(&self) -> Result<Vec<u8>, BrowserError> {
        let params = json!({ "format": "png", "captureBeyondViewport": true });
        let answer = self.cdp("Page.captureScreenshot", params).await?;
        decode_png(answer.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Runs a Chrome DevTools Protocol command (`Page.captureScreenshot`, `Emulation.…`) and
    /// returns its result: for what WebDriver has no command for.
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value, BrowserError> {
        self.wire.post("/goog/cdp/execute", json!({ "cmd": command, "params": params })).await
    }

    /// The console messages since the last call (script errors, `console.*`, CSP refusals).
    pub async fn console_log(&self) -> Result<Vec<ConsoleEntry>, BrowserError> {
        let value = self.wire.post("/se/log", json!({ "type": "browser" })).await?;
        let list = value
            .as_array()
            .ok_or_else(|| BrowserError::Protocol(format!("not a list of log entries: {value}")))?;
        Ok(list.iter().map(console::from_json).collect())
    }

    /// Resizes the window (for screenshots of another size).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.wire.post("/window/rect", json!({ "width": width, "height": height })).await.map(drop)
    }

    /// Waits until an element matches `css`, and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, BrowserError> {
        let found = tokio::time::timeout(timeout, async {
            loop {
                match self.find(css).await {
                    Err(e) if e.is_no_such_element() => tokio::time::sleep(POLL).await,
                    other => return other,
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            Err(BrowserError::Timeout { what: format!("an element matching {css:?}"), timeout })
        })
    }

    /// Waits until `check` answers true (it is called again and again), e.g.
    /// `browser.wait_until("the report", t, async |b| Ok(b.title().await? == "Rapport")).await`.
    pub async fn wait_until<F>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<(), BrowserError>
    where
        F: AsyncFnMut(&Browser) -> Result<bool, BrowserError>,
    {
        let done = tokio::time::timeout(timeout, async {
            loop {
                if check(self).await? {
                    return Ok(());
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        done.unwrap_or_else(|_| Err(BrowserError::Timeout { what: what.to_owned(), timeout }))
    }

    /// Presses `key` (and releases it) wherever the focus is.
    pub async fn press_key(&self, key: Key) -> Result<(), BrowserError> {
        self.press_keys(&[key]).await
    }

    /// Presses `keys` together (`[Key::Shift, Key::Tab]`), then releases them.
    pub async fn press_keys(&self, keys: &[Key]) -> Result<(), BrowserError> {
        self.wire.post("/actions", keys::chord(keys)).await?;
        self.wire.delete("/actions").await.map(drop)
    }

    /// Every cookie the browser holds for the current page.
    pub async fn cookies(&self) -> Result<Vec<Cookie>, BrowserError> {
        let value = self.wire.get("/cookie").await?;
        let list = value
            .as_array()
            .ok_or_else(|| BrowserError::Protocol(format!("not a list of cookies: {value}")))?;
        Ok(list.iter().map(cookie::from_json).collect())
    }

    /// The cookie named `name`, if the browser holds one for the current page.
    pub async fn cookie(&self, name: &str) -> Result<Option<Cookie>, BrowserError> {
        Ok(self.cookies().await?.into_iter().find(|c| c.name == name))
    }

    /// Where downloads go (empty at start).
    pub fn downloads_dir(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    /// Waits until a download whose file name satisfies `name` is complete, and returns its path.
    pub async fn wait_for_download<F>(
        &self,
        name: F,
        timeout: Duration,
    ) -> Result<PathBuf, BrowserError>
    where
        F: Fn(&str) -> bool,
    {
        let dir = self.downloads_dir();
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(path) = complete_download(&dir, &name)? {
                    return Ok(path);
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            Err(BrowserError::Timeout { what: format!("a download in {}", dir.display()), timeout })
        })
    }

    /// chromedriver's log and Chromium's stderr (their last lines), to explain a failure.
    pub fn logs(&self) -> String {
        self.driver.log_tail()
    }
}

impl Drop for Browser {
    /// Ends the session (Chromium quits), then `Chromedriver`'s drop kills what is left.
    fn drop(&mut self) {
        wire::delete_session_blocking(self.driver.port(), &self.session_id);
    }
}

/// The path of a finished download in `dir` whose name satisfies `name` (Chromium writes
/// `*.crdownload` files, renamed when complete).
fn complete_download(
    dir: &Path,
    name: &impl Fn(&str) -> bool,
) -> Result<Option<PathBuf>, BrowserError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BrowserError::Io {
        context: format!("read {}", dir.display()),
        source,
    })?;
    // Chromium may create the final name empty before it writes `NAME.crdownload`, and renames
    // that over it when done: a download is complete when its name has bytes and no partner.
    let names: Vec<(String, PathBuf, u64)> = entries
        .flatten()
        .map(|entry| {
            let size = entry.metadata().map_or(0, |m| m.len());
            (entry.file_name().to_string_lossy().into_owned(), entry.path(), size)
        })
        .collect();
    for (file_name, path, size) in &names {
        let partial = format!("{file_name}.crdownload");
        if !file_name.ends_with(".crdownload")
            && name(file_name)
            && *size > 0
            && !names.iter().any(|(other, _, _)| *other == partial)
        {
            return Ok(Some(path.clone()));
        }
    }
    Ok(None)
}

/// The PNG a screenshot command answers (base64).
fn decode_png(value: Value) -> Result<Vec<u8>, BrowserError> {
    let text = string(value)?;
    STANDARD.decode(text.as_bytes()).map_err(|e| BrowserError::Protocol(format!("screenshot: {e}")))
}

fn string(value: Value) -> Result<String, BrowserError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(BrowserError::Protocol(format!("not a string: {other}"))),
    }
}
