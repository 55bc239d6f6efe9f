//! The real `sesame-window` read by a screen reader: the letter's whole change done from the
//! keyboard alone (xdotool) on a real X server (Xvfb), against the real agent service on its
//! simulated USB bus and the Exchange simulator, with the window's accessibility tree read over
//! AT-SPI as Orca would read it. A session bus of its own (`dbus-daemon`) starts the AT-SPI bus
//! (`at-spi-bus-launcher`, Debian's at-spi2-core) once accessibility is switched on
//! (`org.a11y.Status.IsEnabled`), which makes AccessKit's Unix adapter publish the window;
//! `window_screen_reader.py` (libatspi's GObject bindings) reads the tree and records the events.
//!
//! Checked: the window's accessible name is its X title; each screen's title is a heading; the
//! spinner is named; the focus lands on each screen's main field or button, or on its title while
//! there is nothing to press; a wrong provisional password is announced
//! (`object:announcement`, with the refusal's words) and the focus goes back to the field; every
//! step of the change is announced; the change is done with Tab and Enter only.
// Reason: the X tools and the reader are driven from a blocking thread (`block_in_place`).
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sesame_local::protocol::{PasswordKind, Refusal};
use sesame_local::texts_fr;
use tokio::task::block_in_place;

use super::agent_story::{
    MAILBOX, NEW, agent_config, roll_out, wait_for_delivery, wait_for_status,
};
use super::window::{Xvfb, open_window_with, x_tools_available};
use crate::agent_host::umockdev_available;
use crate::owa_sim::{OwaSim, SimOptions};
use crate::{Backend, TestServer};

/// The window's words a screen reader says (`sesame_window::texts`, which this crate does not
/// link: the test reads them as a person hears them).
mod texts {
    pub(super) const WINDOW_TITLE: &str = "Sesame : changement du mot de passe de messagerie";
    pub(super) const START: &str = "Commencer";
    pub(super) const NEXT: &str = "Suivant";
    pub(super) const CLOSE: &str = "Fermer";
    pub(super) const OUTLOOK_DONE: &str = "C'est fait";
    pub(super) const UNPLUG_TITLE: &str = "Retirez votre clé REAL";
    pub(super) const PASSWORDS_TITLE: &str = "Vos mots de passe";
    pub(super) const WORKING_TITLE: &str = "Changement en cours";
    pub(super) const OUTLOOK_TITLE: &str = "Ouvrez Outlook et saisissez votre nouveau mot de passe";
    pub(super) const REPLUG_TITLE: &str = "Remettez votre clé REAL";
    pub(super) const WAITING_FOR_KEY: &str = "En attente de la clé REAL";
    pub(super) const FINISHED_TITLE: &str = "C'est terminé";
}

/// The reader script, kept next to this file.
fn reader_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/e2e/window_screen_reader.py")
}

/// Whether the session bus, the AT-SPI bus and libatspi's Python bindings are here; under CI
/// they must be.
fn screen_reader_tools_available() -> bool {
    let found = ["dbus-daemon", "dbus-send"].iter().all(|tool| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }) && Path::new("/usr/libexec/at-spi-bus-launcher").exists()
        && Path::new("/usr/libexec/at-spi2-registryd").exists()
        && Command::new("/usr/bin/python3")
            .args(["-c", "import gi; gi.require_version('Atspi', '2.0')"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "dbus-daemon, at-spi2-core and libatspi's Python bindings are required under CI \
         (apt-get install dbus at-spi2-core gir1.2-atspi-2.0 python3-gi; .ci/run installs them)"
    );
    found
}

/// A session bus with accessibility switched on; the AT-SPI bus and its registry, which the
/// session bus starts on demand, stop with it.
struct AccessibleDesktop {
    bus: Child,
    address: String,
}

impl AccessibleDesktop {
    fn start(x: &Xvfb, dir: &Path) -> AccessibleDesktop {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            // What it starts (the AT-SPI bus) keeps its socket here, not in the real HOME.
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .env("DISPLAY", &x.display)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let address = address.trim().to_owned();
        let desktop = AccessibleDesktop { bus, address };
        assert!(desktop.address.starts_with("unix:"), "dbus-daemon gave no address");
        // Starts at-spi-bus-launcher, as a desktop does when the screen reader is switched on.
        for property in ["IsEnabled", "ScreenReaderEnabled"] {
            let output = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.a11y.Bus",
                    "/org/a11y/bus",
                    "org.freedesktop.DBus.Properties.Set",
                    "string:org.a11y.Status",
                    &format!("string:{property}"),
                    "variant:boolean:true",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "switching accessibility on: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        desktop
    }
}

impl Drop for AccessibleDesktop {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// One node of the window as the screen reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    role: String,
    name: String,
    focused: bool,
}

/// The window's frame: its name, whether it has the keyboard focus, and its nodes.
#[derive(Debug)]
struct Frame {
    name: String,
    active: bool,
    nodes: Vec<Node>,
}

impl Frame {
    fn focused(&self) -> Option<&Node> {
        self.nodes.iter().find(|node| node.focused)
    }

    fn has(&self, role: &str, name: &str) -> bool {
        self.nodes.iter().any(|node| node.role == role && node.name == name)
    }

    fn is_focused(&self, role: &str, name: &str) -> bool {
        self.focused().is_some_and(|node| node.role == role && node.name == name)
    }
}

/// An event a screen reader acts on.
#[derive(Debug, Clone)]
struct Heard {
    kind: String,
    role: String,
    name: String,
    text: String,
}

/// The reader script, answering one command per line.
struct ScreenReader {
    /// Gives the window the keyboard focus again (X without a window manager may leave it
    /// nowhere): a person would click on their window.
    refocus: Box<dyn Fn()>,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    heard: Vec<Heard>,
}

impl ScreenReader {
    fn start(desktop: &AccessibleDesktop) -> ScreenReader {
        let mut child = Command::new("/usr/bin/python3")
            .arg(reader_script())
            .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let refocus = Box::new(|| {});
        let mut reader = ScreenReader { refocus, child, input, output, heard: Vec::new() };
        assert_eq!(reader.read_answer()["ready"], true, "the reader did not start");
        reader
    }

    fn read_answer(&mut self) -> Value {
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("the reader said {line:?}"))
    }

    fn ask(&mut self, command: &str) -> Value {
        writeln!(self.input, "{command}").unwrap();
        self.input.flush().unwrap();
        self.read_answer()
    }

    /// The Sesame window's frame, if the screen reader sees it.
    fn frame(&mut self) -> Option<Frame> {
        let tree = self.ask("tree");
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let apps = tree["apps"].as_array()?;
        let app = apps.iter().find(|app| app["app"] == "sesame-window")?;
        let frame = app["frames"].as_array()?.iter().find(|frame| frame["role"] == "frame")?;
        let nodes = frame["nodes"]
            .as_array()?
            .iter()
            .map(|node| Node {
                role: text(&node["role"]),
                name: text(&node["name"]),
                focused: node["focused"] == true,
            })
            .collect();
        Some(Frame { name: text(&frame["name"]), active: frame["active"] == true, nodes })
    }

    /// Reads the window until `reached` holds.
    fn wait(&mut self, what: &str, reached: impl Fn(&Frame) -> bool) -> Frame {
        let mut last = None;
        for _ in 0..300 {
            if let Some(frame) = self.frame() {
                if reached(&frame) {
                    return frame;
                }
                if !frame.active {
                    (self.refocus)();
                }
                last = Some(frame);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.listen();
        panic!(
            "the screen reader never saw {what}; it last saw {last:#?}; heard {:#?}",
            self.heard
        );
    }

    /// Waits for a screen: its title as a heading, and the focus on `role` named `name`.
    fn wait_screen(&mut self, title: &str, role: &str, name: &str) -> Frame {
        let frame = self.wait(&format!("{title:?} with the focus on {role} {name:?}"), |frame| {
            frame.has("heading", title) && frame.is_focused(role, name)
        });
        assert_eq!(frame.name, texts::WINDOW_TITLE, "the window's accessible name");
        frame
    }

    /// Collects the events heard so far.
    fn listen(&mut self) {
        let answer = self.ask("events");
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        for event in answer["events"].as_array().into_iter().flatten() {
            self.heard.push(Heard {
                kind: text(&event["type"]),
                role: text(&event["role"]),
                name: text(&event["name"]),
                text: text(&event["text"]),
            });
        }
    }

    /// Waits for an announcement containing `words`.
    fn wait_announcement(&mut self, words: &str) -> Heard {
        for _ in 0..300 {
            self.listen();
            let found = self.heard.iter().find(|heard| {
                heard.kind.starts_with("object:announcement") && heard.text.contains(words)
            });
            if let Some(heard) = found {
                return heard.clone();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never announced: {words:?}; heard: {:#?}", self.heard);
    }

    /// The announcements heard so far, in order.
    fn announcements(&mut self) -> Vec<String> {
        self.listen();
        self.heard
            .iter()
            .filter(|heard| heard.kind.starts_with("object:announcement"))
            .map(|heard| heard.text.clone())
            .collect()
    }
}

impl Drop for ScreenReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_reader_follows_the_letters_change_made_from_the_keyboard() {
    if !umockdev_available() || !x_tools_available() || !screen_reader_tools_available() {
        return;
    }
    let started = Instant::now();
    let server =
        TestServer::start_with(Backend::Sqlite, agent_config).await.expect("SQLite always runs");
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, provisional) = roll_out(&server, &sim).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;
    let home = tempfile::tempdir().unwrap();
    let prepared = started.elapsed();
    block_in_place(|| {
        let x = Xvfb::start();
        let desktop = AccessibleDesktop::start(&x, home.path());
        let mut reader = ScreenReader::start(&desktop);
        host.plug();
        let opened = Instant::now();
        let (window, _) = open_window_with(
            &x,
            &host.socket(),
            home.path(),
            &[("DBUS_SESSION_BUS_ADDRESS", desktop.address.as_str())],
        );
        let (display, id) = (x.display.clone(), window.id.clone());
        reader.refocus = Box::new(move || {
            let _ = Command::new("xdotool")
                .args(["windowfocus", "--sync", &id])
                .env("DISPLAY", &display)
                .status();
        });
        // The first screen: the window named after its X title, the title a heading, the focus
        // on "Commencer".
        let frame = reader.wait_screen(texts::WINDOW_TITLE, "push button", texts::START);
        let first_read = opened.elapsed();
        let x_title = x.run("xdotool", &["getwindowname", &window.id]);
        assert_eq!(frame.name, x_title, "the accessible name is the X title");
        window.keys(&["Return"]);

        // The key is in: the focus on the title until it is out, then on "Suivant".
        window.wait_screen("Unplug");
        let frame = reader.wait_screen(texts::UNPLUG_TITLE, "heading", texts::UNPLUG_TITLE);
        assert!(frame.has("push button", texts::NEXT));
        host.unplug();
        reader.wait_announcement("Votre clé REAL est retirée.");
        reader.wait_screen(texts::UNPLUG_TITLE, "push button", texts::NEXT);
        window.keys(&["Return"]);

        // The passwords: the focus in the first field, Tab to the next ones. A typo first.
        window.wait_screen("Passwords");
        let old_label =
            texts_fr::old_password_prompt(PasswordKind::Provisional).trim_end_matches([' ', ':']);
        reader.wait_screen(texts::PASSWORDS_TITLE, "password text", old_label);
        let wrong = format!("{provisional}x");
        window.type_text(&wrong);
        window.keys(&["Tab"]);
        window.type_text(NEW);
        window.keys(&["Tab"]);
        window.type_text(NEW);
        window.keys(&["Return"]);
        // The refusal is announced with its words, and the focus is back in the first field.
        let refusal = &texts_fr::refusal(&Refusal::ProvisionalMismatch)[0];
        let heard = reader.wait_announcement(refusal);
        assert_eq!(heard.role, "status bar", "the announcer: {heard:?}");
        assert!(heard.name.starts_with(refusal.as_str()), "the announcer's name: {heard:?}");
        reader.wait(&format!("the focus back on {old_label:?} after the refusal"), |frame| {
            frame.is_focused("password text", old_label)
                && frame.nodes.iter().any(|node| node.name == *refusal)
        });
        window.type_text(&provisional);
        window.keys(&["Tab"]);
        window.type_text(NEW);
        window.keys(&["Tab"]);
        window.type_text(NEW);
        window.keys(&["Return"]);

        // Outlook: each step of the change was announced on the way.
        window.wait_screen("Outlook");
        reader.wait_screen(texts::OUTLOOK_TITLE, "push button", texts::OUTLOOK_DONE);
        reader.wait_announcement(texts::OUTLOOK_TITLE);
        assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
        window.keys(&["Return"]);

        // The key back in: the spinner named, the focus on the title.
        window.wait_screen("Replug");
        let frame = reader.wait_screen(texts::REPLUG_TITLE, "heading", texts::REPLUG_TITLE);
        assert!(frame.has("progress bar", texts::WAITING_FOR_KEY), "{frame:#?}");
        host.plug();
        window.wait_screen("Finished");
        reader.wait_screen(texts::FINISHED_TITLE, "push button", texts::CLOSE);
        reader.wait_announcement(texts::FINISHED_TITLE);

        let said = reader.announcements();
        eprintln!(
            "screen reader: {} announcements; server, simulator and agent ready after {} ms, \
             the window read {} ms after it was started",
            said.len(),
            prepared.as_millis(),
            first_read.as_millis()
        );
        for text in &said {
            eprintln!("  announced: {text}");
        }
        let working = said.iter().any(|text| text.starts_with(texts::WORKING_TITLE));
        assert!(working, "the change in progress was never announced: {said:#?}");
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
