//! chromedriver as a child process: started with `--port=0` (it picks a free port and prints it,
//! so no port is raced for), in a process group of its own that Chromium inherits, and killed with
//! that whole group on drop, so that no browser process outlives a test, even one that panicked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::BrowserError;

/// How long chromedriver may take to say which port it listens on.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running chromedriver.
#[derive(Debug)]
pub(crate) struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts `binary`, logging to `log` (chromedriver's own log, with Chromium's stderr beside
    /// it as `<log>.stderr`).
    pub(crate) async fn start(binary: &Path, log: &Path) -> Result<Chromedriver, BrowserError> {
        let stderr_path = log.with_extension("stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(|source| BrowserError::Io {
            context: format!("create {}", stderr_path.display()),
            source,
        })?;
        let mut child = Command::new(binary)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .arg("--log-level=INFO")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BrowserError::Io {
                context: format!("start {}", binary.display()),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BrowserError::Driver("no stdout to read the port from".to_owned()))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.split("started successfully on port ").nth(1) {
                    return port.trim_end_matches('.').trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let mut driver = Chromedriver { child, port: 0, log: log.to_path_buf() };
        let Some(port) = port else {
            return Err(BrowserError::Driver(format!(
                "did not say which port it listens on; its log: {}",
                driver.log_tail()
            )));
        };
        driver.port = port;
        // Nothing more is expected on stdout, but a full pipe would block chromedriver.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(driver)
    }

    /// The port it listens on, on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The last lines of chromedriver's log and of Chromium's stderr, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        format!(
            "\n--- {}\n{}\n--- {}\n{}",
            self.log.display(),
            tail(&self.log),
            self.log.with_extension("stderr").display(),
            tail(&self.log.with_extension("stderr"))
        )
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group is chromedriver's pid (`process_group(0)`); Chromium and its helpers are in it.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}
