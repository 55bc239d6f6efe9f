//! How a browser is started: [`BrowserOptions`] and the WebDriver session's capabilities they
//! make (headless Chromium's arguments, the profile and downloads folders, trusted certificates).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{BrowserError, spki_sha256_base64};

/// How to start the browser.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Chromium (`/usr/bin/chromium`).
    pub chromium: PathBuf,
    /// chromedriver (`/usr/bin/chromedriver`).
    pub chromedriver: PathBuf,
    /// DER server certificates to trust whatever their issuer, by their public key (see
    /// [`spki_sha256_base64`]); any other certificate error still stops the page.
    pub trusted_certificates: Vec<Vec<u8>>,
    /// WebDriver's `acceptInsecureCerts`: every certificate error ignored. Off; prefer
    /// `trusted_certificates`.
    pub accept_insecure_certs: bool,
    /// The window's size in CSS pixels (also the screenshots' size).
    pub window_size: (u32, u32),
    /// The browser's language, also sent as `Accept-Language`.
    pub language: String,
    /// More Chromium arguments.
    pub extra_args: Vec<String>,
}

impl Default for BrowserOptions {
    fn default() -> BrowserOptions {
        BrowserOptions {
            chromium: PathBuf::from("/usr/bin/chromium"),
            chromedriver: PathBuf::from("/usr/bin/chromedriver"),
            trusted_certificates: Vec::new(),
            accept_insecure_certs: false,
            window_size: (1280, 900),
            language: "fr-FR".to_owned(),
            extra_args: Vec::new(),
        }
    }
}

impl BrowserOptions {
    /// The defaults, trusting the server certificate `certificate_der`.
    pub fn trusting(certificate_der: &[u8]) -> BrowserOptions {
        BrowserOptions {
            trusted_certificates: vec![certificate_der.to_vec()],
            ..BrowserOptions::default()
        }
    }
}

/// The session's capabilities: headless Chromium, the profile and downloads in `dir`.
pub(crate) fn capabilities(
    options: &BrowserOptions,
    dir: &Path,
    downloads: &Path,
) -> Result<Value, BrowserError> {
    let (width, height) = options.window_size;
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!("--window-size={width},{height}"));
    args.push(format!("--user-data-dir={}", dir.join("profile").display()));
    args.push(format!("--lang={}", options.language));
    if !options.trusted_certificates.is_empty() {
        let hashes: Vec<String> = options
            .trusted_certificates
            .iter()
            .map(|der| spki_sha256_base64(der))
            .collect::<Result<_, _>>()?;
        args.push(format!("--ignore-certificate-errors-spki-list={}", hashes.join(",")));
    }
    args.extend(options.extra_args.iter().cloned());
    Ok(json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "acceptInsecureCerts": options.accept_insecure_certs,
        "pageLoadStrategy": "normal",
        "goog:loggingPrefs": { "browser": "ALL" },
        "timeouts": { "implicit": 0, "pageLoad": 30_000, "script": 30_000 },
        "goog:chromeOptions": {
            "binary": options.chromium,
            "args": args,
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "intl.accept_languages": options.language,
                "safebrowsing.enabled": false,
            },
        },
    } } }))
}
