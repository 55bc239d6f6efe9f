//! The real `sesame-window` on a real X server (Xvfb, no window manager), against the real agent
//! service on its simulated USB bus and the Exchange simulator: the letter's whole change done
//! from the keyboard alone (xdotool), as a person who has never seen Sesame would, with a
//! screenshot of each step saved under `target/window-screens/` and checked not to be blank.
//! The window logs each screen it shows (`screen=…`), which is what the test waits for.
// Reason: the X tools are driven from a blocking thread (`block_in_place`), as `agent_host` does.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::task::block_in_place;

use super::agent_story::{
    MAILBOX, NEW, agent_config, roll_out, wait_for_delivery, wait_for_status,
};
use crate::agent_host::{agent_binary, umockdev_available};
use crate::owa_sim::{OwaSim, SimOptions};
use crate::{Backend, TestServer};

/// Whether Xvfb, xdotool and ImageMagick are here; under CI they must be.
pub(super) fn x_tools_available() -> bool {
    let found = ["Xvfb", "xdotool", "import", "convert"].iter().all(|tool| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        found || std::env::var_os("CI").is_none(),
        "Xvfb, xdotool and ImageMagick are required under CI (apt-get install xvfb xdotool \
         imagemagick; .ci/run installs them)"
    );
    found
}

/// The `sesame-window` binary.
pub(super) fn window_binary() -> PathBuf {
    crate::binaries::workspace_binary("sesame-window")
}

/// Where the screenshots go: `target/window-screens/`.
fn screens_dir() -> PathBuf {
    let dir = agent_binary().parent().and_then(Path::parent).unwrap().join("window-screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An X server of its own, stopped when dropped.
pub(super) struct Xvfb {
    child: Child,
    pub(super) display: String,
}

impl Xvfb {
    pub(super) fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb gave no display");
        Xvfb { child, display }
    }

    pub(super) fn run(&self, program: &str, args: &[&str]) -> String {
        let output =
            Command::new(program).args(args).env("DISPLAY", &self.display).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The window program, its log, and the X window it opened.
pub(super) struct Window<'x> {
    x: &'x Xvfb,
    child: Child,
    log: PathBuf,
    pub(super) id: String,
    shots: usize,
}

impl Window<'_> {
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the window has shown `screen` (the name it logs).
    pub(super) fn wait_screen(&self, screen: &str) {
        let needle = format!("screen={screen}");
        for _ in 0..600 {
            if self.log().contains(&needle) {
                // One more frame is drawn after the screen's first one.
                std::thread::sleep(Duration::from_millis(300));
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the window never showed {screen}:\n{}", self.log());
    }

    pub(super) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["key", "--window", &self.id, "--delay", "60"];
        args.extend_from_slice(keys);
        self.x.run("xdotool", &args);
    }

    pub(super) fn type_text(&self, text: &str) {
        self.x.run("xdotool", &["type", "--window", &self.id, "--delay", "40", text]);
    }

    /// Waits for the passwords step and types the three passwords.
    fn type_passwords(&self, provisional: &str) {
        self.wait_screen("Passwords");
        self.type_text(provisional);
        self.keys(&["Tab"]);
        self.type_text(NEW);
        self.keys(&["Tab"]);
        self.type_text(NEW);
        std::thread::sleep(Duration::from_millis(300));
    }

    /// A screenshot of the window, checked not to be blank.
    fn shot(&mut self, name: &str) {
        self.shots += 1;
        let path = screens_dir().join(format!("{:02}-{name}.png", self.shots));
        let path_text = path.display().to_string();
        self.x.run("import", &["-window", &self.id, &path_text]);
        let colors: usize =
            self.x.run("convert", &[&path_text, "-format", "%k", "info:"]).parse().unwrap();
        assert!(colors > 16, "{name}: the screenshot is blank ({colors} colours)");
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the window; `dark`: the desktop prefers dark (`GTK_THEME`), otherwise it says nothing
/// (no session bus either, so no desktop portal) and the window is light.
fn open_window<'x>(x: &'x Xvfb, socket: &Path, home: &Path, dark: bool) -> (Window<'x>, Duration) {
    let dark_theme: &[(&str, &str)] = &[("GTK_THEME", "Adwaita:dark")];
    open_window_with(x, socket, home, if dark { dark_theme } else { &[] })
}

/// The window opened with these environment variables too (a session bus, a theme): without
/// them, the desktop says nothing of its theme and there is no session bus.
pub(super) fn open_window_with<'x>(
    x: &'x Xvfb,
    socket: &Path,
    home: &Path,
    vars: &[(&str, &str)],
) -> (Window<'x>, Duration) {
    let log = home.join("window.log");
    let started = Instant::now();
    let child = Command::new(window_binary())
        .env_remove("GTK_THEME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .envs(vars.iter().copied())
        .arg("--socket")
        .arg(socket)
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", home)
        .env("GSETTINGS_BACKEND", "memory")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut window = Window { x, child, log, id: String::new(), shots: 0 };
    window.wait_screen("Why");
    let to_screen = started.elapsed();
    window.id = x
        .run("xdotool", &["search", "--sync", "--onlyvisible", "--name", "Sesame"])
        .lines()
        .next()
        .unwrap()
        .to_owned();
    x.run("xdotool", &["windowfocus", "--sync", &window.id]);
    (window, to_screen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_alone_walks_a_person_through_the_letter() {
    if !umockdev_available() || !x_tools_available() {
        return;
    }
    let server =
        TestServer::start_with(Backend::Sqlite, agent_config).await.expect("SQLite always runs");
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, provisional) = roll_out(&server, &sim).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;
    let home = tempfile::tempdir().unwrap();
    block_in_place(|| {
        let x = Xvfb::start();
        // The key is in when the person starts.
        host.plug();
        let (mut window, to_screen) = open_window(&x, &host.socket(), home.path(), false);
        eprintln!("sesame-window: first screen after {} ms", to_screen.as_millis());
        window.shot("pourquoi");
        window.keys(&["Return"]);
        window.wait_screen("Unplug");
        window.shot("cle-branchee");
        host.unplug();
        std::thread::sleep(Duration::from_millis(1500));
        window.shot("cle-retiree");
        window.keys(&["Return"]);
        window.type_passwords(&provisional);
        window.shot("mots-de-passe");
        // The same step on a desktop that prefers dark: closed and opened again, the window
        // takes the change up where the service left it.
        drop(window);
        let (mut window, _) = open_window(&x, &host.socket(), home.path(), true);
        window.shots = 3;
        window.keys(&["Return"]);
        window.wait_screen("Unplug");
        std::thread::sleep(Duration::from_millis(1500));
        window.keys(&["Return"]);
        window.type_passwords(&provisional);
        window.shot("mots-de-passe-sombre");
        drop(window);
        let (mut window, _) = open_window(&x, &host.socket(), home.path(), false);
        window.shots = 4;
        window.keys(&["Return"]);
        window.wait_screen("Unplug");
        std::thread::sleep(Duration::from_millis(1500));
        window.keys(&["Return"]);
        window.type_passwords(&provisional);
        window.keys(&["Return"]);
        window.wait_screen("Outlook");
        window.shot("outlook");
        assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
        window.keys(&["Return"]);
        window.wait_screen("Replug");
        window.shot("remettre-cle");
        host.plug();
        window.wait_screen("Finished");
        window.shot("termine");
        let log = window.log();
        assert!(
            !log.contains(&provisional) && !log.contains(NEW),
            "a password in the window's log"
        );
    });
    wait_for_status(&server, &host, "completed").await;
    block_in_place(|| host.stop());
    sim.stop().await;
    server.stop().await;
}
