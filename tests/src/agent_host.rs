//! The real `sesame-agent` in end-to-end tests: the binary built by cargo into this target
//! directory, enrolled against a [`TestServer`](crate::TestServer), run as the service on a
//! simulated USB bus (`tests/usb/keybed.py` under umockdev, so its rusb code runs for real and the
//! clé REAL can be plugged and unplugged), and `sesame-agent change` run as the person would, with
//! the passwords on standard input.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::binaries::workspace_binary;

/// The `sesame-agent` binary: `SESAME_AGENT_BIN` when set (a build made beforehand, used as is, such
/// as the release agent a benchmark measures), else the workspace's ([`workspace_binary`]).
pub fn agent_binary() -> PathBuf {
    match std::env::var_os("SESAME_AGENT_BIN") {
        Some(path) => PathBuf::from(path),
        None => workspace_binary("sesame-agent"),
    }
}

/// Where the simulated USB devices are (the agent's own test devices).
pub fn usb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/usb")
}

/// The script that runs the service on a simulated bus and plugs the key on request.
fn keybed_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("usb/keybed.py")
}

/// Whether umockdev and its Python bindings are here; under CI they must be.
pub fn umockdev_available() -> bool {
    let found = Command::new("umockdev-wrapper")
        .arg("/usr/bin/python3")
        .args(["-c", "import gi; gi.require_version('UMockdev', '1.0')"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "umockdev-wrapper with the UMockdev GObject bindings is required under CI \
         (apt-get install umockdev gir1.2-umockdev-1.0 python3-gi)"
    );
    found
}

/// An agent on a simulated workstation.
pub struct AgentHost {
    /// The state directory, socket, configuration and log live here.
    pub dir: tempfile::TempDir,
    keybed: Child,
    commands: ChildStdin,
    answers: BufReader<ChildStdout>,
    pid: Option<u32>,
}

impl std::fmt::Debug for AgentHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentHost").field("dir", &self.dir.path()).finish_non_exhaustive()
    }
}

#[allow(clippy::unwrap_used, clippy::expect_used)] // Reason: a test helper fails by panicking.
impl AgentHost {
    /// A workstation with its simulated bus (no key plugged in), enrolled with `token` against
    /// `server_url`, trusting `owa_ca_pem` for OWA.
    pub fn enroll(
        server_url: &str,
        ca_fingerprint: &str,
        token: &str,
        owa_ca_pem: &str,
    ) -> AgentHost {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(agent_binary())
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["enroll", "--server", server_url, "--ca-fingerprint", ca_fingerprint])
            .env("SESAME_ENROLL_TOKEN", token)
            .output()
            .unwrap();
        assert!(output.status.success(), "enroll: {}", String::from_utf8_lossy(&output.stderr));
        std::fs::write(dir.path().join("owa-ca.pem"), owa_ca_pem).unwrap();
        let config = format!(
            "[key]\npoll_interval_ms = 100\nidle_poll_interval_ms = 100\n\
             [owa]\nextra_ca_files = [\"{}\"]\ntimeout_seconds = 10\n",
            dir.path().join("owa-ca.pem").display()
        );
        std::fs::write(dir.path().join("agent.toml"), config).unwrap();
        let mut keybed = Command::new("umockdev-wrapper")
            .arg("/usr/bin/python3")
            .arg(keybed_script())
            .arg(usb_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // What the simulated bus says when it fails, for the failing test's message.
            .stderr(std::fs::File::create(dir.path().join("keybed.log")).unwrap())
            .spawn()
            .expect("umockdev-wrapper runs");
        let commands = keybed.stdin.take().unwrap();
        let answers = BufReader::new(keybed.stdout.take().unwrap());
        AgentHost { dir, keybed, commands, answers, pid: None }
    }

    fn command(&mut self, line: &str) -> String {
        writeln!(self.commands, "{line}").unwrap();
        self.commands.flush().unwrap();
        let mut answer = String::new();
        self.answers.read_line(&mut answer).unwrap();
        if answer.is_empty() {
            // The simulated bus is gone: say why, with what the service logged.
            let said = std::fs::read_to_string(self.dir.path().join("keybed.log"));
            panic!(
                "the simulated USB bus ended at {line:?}: {}\nstatus: {:?}\nagent log:\n{}",
                said.unwrap_or_default(),
                self.keybed.try_wait(),
                self.log()
            );
        }
        answer.trim().to_owned()
    }

    /// The workstation's identity directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The service's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("agent.sock")
    }

    /// The service's log (standard output and error, all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// Starts `sesame-agent run`, crashing at `crash_at` when given. Blocking: async tests call
    /// it inside `block_in_place`.
    pub fn start(&mut self, crash_at: Option<&str>) {
        self.start_with(crash_at, &[]);
    }

    /// [`AgentHost::start`] with more environment variables (such as
    /// `SESAME_AGENT_CLOCK_OFFSET_SECONDS`, the workstation's clock moved).
    #[allow(clippy::disallowed_methods)] // Reason: a blocking helper, run outside the runtime's workers.
    pub fn start_with(&mut self, crash_at: Option<&str>, vars: &[(&str, &str)]) {
        let argv = [
            agent_binary().display().to_string(),
            "--state-dir".to_owned(),
            self.state_dir().display().to_string(),
            "--socket".to_owned(),
            self.socket().display().to_string(),
            "run".to_owned(),
            "--config".to_owned(),
            self.dir.path().join("agent.toml").display().to_string(),
        ];
        let mut env = serde_json::Map::new();
        env.insert("RUST_LOG".into(), "info".into());
        if let Some(point) = crash_at {
            env.insert("SESAME_AGENT_CRASH_AT".into(), point.into());
        }
        for (name, value) in vars {
            env.insert((*name).into(), (*value).into());
        }
        let spec = serde_json::json!({
            "argv": argv,
            "env": env,
            "log": self.dir.path().join("agent.log"),
        });
        let answer = self.command(&format!("start {spec}"));
        self.pid = answer.strip_prefix("started ").and_then(|pid| pid.parse().ok());
        assert!(self.pid.is_some(), "{answer}");
        // The socket appears when the service is ready for the person.
        for _ in 0..300 {
            if self.socket().exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the agent service did not open its socket:\n{}", self.log());
    }

    /// The process id of the service last started.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Replaces the agent's configuration file (`agent.toml` in [`AgentHost::dir`]); the next
    /// [`AgentHost::start`] reads it.
    pub fn set_config(&self, toml: &str) {
        std::fs::write(self.dir.path().join("agent.toml"), toml).unwrap();
    }

    /// Kills the service as `kill -9` would.
    pub fn kill(&mut self) {
        assert_eq!(self.command("kill"), "killed");
        let _ = std::fs::remove_file(self.socket());
    }

    /// Stops the service with SIGTERM.
    pub fn stop(&mut self) {
        let answer = self.command("stop");
        assert!(answer.starts_with("stopped"), "{answer}");
    }

    /// Plugs the simulated clé REAL in.
    pub fn plug(&mut self) {
        assert_eq!(self.command("plug"), "plugged");
    }

    /// Unplugs it.
    pub fn unplug(&mut self) {
        assert_eq!(self.command("unplug"), "unplugged");
    }

    /// `sesame-agent change` with `lines` on standard input; returns the exit code and what it
    /// printed.
    pub fn change(&self, lines: &[&str], args: &[&str]) -> (i32, String) {
        change_at(&self.socket(), lines, args)
    }

    /// `sesame-agent status`; returns the exit code and what it printed.
    pub fn status(&self) -> (i32, String) {
        let output = Command::new(agent_binary())
            .arg("--socket")
            .arg(self.socket())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("status")
            .output()
            .unwrap();
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Every byte of every file left in the workstation's directories, as text.
    pub fn files_text(&self) -> String {
        fn walk(dir: &Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        let mut out = String::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

/// `sesame-agent change` against the service listening on `socket` (from any thread), with
/// `lines` on standard input; returns the exit code and what it printed.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
pub fn change_at(socket: &Path, lines: &[&str], args: &[&str]) -> (i32, String) {
    let mut child = Command::new(agent_binary())
        .arg("--socket")
        .arg(socket)
        .arg("change")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

impl Drop for AgentHost {
    fn drop(&mut self) {
        let _ = writeln!(self.commands, "exit");
        let _ = self.commands.flush();
        let _ = self.keybed.wait();
    }
}
