//! The reminder for real: `sesame-window --watch` on a real X server (Xvfb), a real D-Bus session
//! bus (`dbus-daemon`) and a real notification server (dunst), against the real agent service and
//! the Exchange simulator. While a change is being made (first the service waits for the key to
//! be unplugged, nothing sent yet; then the change post stays in flight, the simulator's domain
//! controller being slow) the watcher stays quiet; once the change has stopped
//! (Exchange refused the new password) dunst receives one notification naming the days left, and
//! no second one that day, not even from a watcher started again. "Clicking" it (`dunstctl action`,
//! dunst's default action) opens the window. The watcher itself maps no graphics library (no X
//! connection, no OpenGL): only the window it opens does.
//!
//! What dunst received is written by a dunst rule's script (one line per notification), which sees
//! every notification as the server got it over D-Bus.
// Reason: the daemons are driven from a blocking thread (`block_in_place`), as `window` does.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sesame_base::clock::{Clock as _, SystemClock};
use sesame_base::rotation::Step;
use sesame_local::texts_fr;
use tokio::task::block_in_place;

use super::agent_story::{MAILBOX, NEW, roll_out, wait_for_delivery};
use super::window::{Xvfb, window_binary, x_tools_available};
use crate::agent_host::{change_at, umockdev_available};
use crate::owa_sim::{OwaSim, SimOptions};
use crate::process_memory::mapped_files;
use crate::{Backend, TestServer};

/// Whether dbus-daemon and dunst are here; under CI they must be.
fn notification_tools_available() -> bool {
    let found = ["dbus-daemon", "dbus-send", "dunst", "dunstctl"].iter().all(|tool| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        found || std::env::var_os("CI").is_none(),
        "dbus-daemon and dunst are required under CI (apt-get install dbus dunst; .ci/run \
         installs them)"
    );
    found
}

/// Child processes killed (and reaped) when dropped, last started first.
#[derive(Default)]
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A session bus and a notification server on display `x`, with what dunst received in
/// `received.log`.
struct Desktop<'x> {
    x: &'x Xvfb,
    dir: PathBuf,
    bus: String,
    daemons: Children,
}

impl<'x> Desktop<'x> {
    fn start(x: &'x Xvfb, dir: &Path) -> Desktop<'x> {
        let mut daemons = Children::default();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
        daemons.0.push(bus);
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon gave no address: {address:?}");

        let received = dir.join("received.log");
        let script = dir.join("record.sh");
        // dunst runs the script with: appname summary body icon urgency.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" >> '{}'\n",
                received.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.join("dunstrc");
        std::fs::write(
            &config,
            format!("[record]\n    summary = \"*\"\n    script = {}\n", script.display()),
        )
        .unwrap();
        let dunst = Command::new("dunst")
            .arg("-config")
            .arg(&config)
            .env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("dunst.log")).unwrap())
            .spawn()
            .unwrap();
        daemons.0.push(dunst);
        let desktop = Desktop { x, dir: dir.to_owned(), bus: address, daemons };
        // Waits for dunst to own the name (NameHasOwner does not start anything).
        for _ in 0..200 {
            let owned = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.Notifications",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
                .output()
                .unwrap();
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                return desktop;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dunst never took the notifications' name:\n{}", desktop.read("dunst.log"));
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The notifications dunst received: `appname|summary|body`.
    fn received(&self) -> Vec<String> {
        self.read("received.log").lines().map(str::to_owned).collect()
    }

    fn dunstctl(&self, args: &[&str]) -> String {
        let output = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "dunstctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Starts `sesame-window --watch` looking every second; its log (and that of any window it
    /// opens) is `log`.
    fn watch(&mut self, socket: &Path, log: &str) {
        let home = self.dir.join("home");
        let watcher = Command::new(window_binary())
            .args(["--watch", "--check-every-seconds", "1", "--socket"])
            .arg(socket)
            .env("DISPLAY", &self.x.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_RUNTIME_DIR", &self.dir)
            .env("GSETTINGS_BACKEND", "memory")
            .env("TZ", "UTC")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join(log)).unwrap())
            .spawn()
            .unwrap();
        self.daemons.0.push(watcher);
    }

    /// Waits until `log` holds `needle` at least `times` times.
    fn wait_log(&self, log: &str, needle: &str, times: usize) {
        for _ in 0..600 {
            if self.read(log).matches(needle).count() >= times {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{log} never said {needle:?} {times} times:\n{}", self.read(log));
    }

    /// The process id of the watcher started last.
    fn watcher_pid(&self) -> u32 {
        self.daemons.0.last().unwrap().id()
    }

    /// Stops the watcher started last.
    fn stop_watcher(&mut self) {
        if let Some(mut watcher) = self.daemons.0.pop() {
            let _ = watcher.kill();
            let _ = watcher.wait();
        }
    }
}

/// The libraries of a window: X, Wayland, OpenGL, Mesa's drivers and LLVM (all loaded at run time
/// by winit and glutin, none linked).
const GRAPHICS: [&str; 9] = [
    "libGL",
    "libEGL",
    "libGLX",
    "libX11",
    "libxcb",
    "libxkbcommon",
    "libwayland",
    "_dri.so",
    "libLLVM",
];

/// The watcher `pid` (running all day) maps none of [`GRAPHICS`]: it initialises nothing of
/// eframe, winit or OpenGL, so it holds no X connection and no GL context.
fn assert_no_graphics(pid: u32) {
    let files = mapped_files(pid);
    assert!(files.iter().any(|f| f.ends_with("sesame-window")), "not the watcher: {files:?}");
    let graphics: Vec<&String> =
        files.iter().filter(|f| GRAPHICS.iter().any(|g| f.contains(g))).collect();
    assert!(graphics.is_empty(), "the watcher maps graphics libraries: {graphics:?}");
}

/// "dans 12 jours", as the reminder says it, from the `à faire avant le 20 décembre 2026` of
/// `sesame-agent status` (the person's calendar, and the watcher runs with `TZ=UTC`).
fn days_phrase(status: &str) -> String {
    let (_, after) = status.split_once("à faire avant le ").unwrap();
    let mut words = after.split_whitespace();
    let day: u8 = words.next().unwrap().trim_end_matches("er").parse().unwrap();
    let month_name = words.next().unwrap();
    let month = sesame_base::calendar::MONTHS.iter().position(|m| *m == month_name).unwrap();
    let year: i32 = words.next().unwrap().trim_end_matches([',', '.', ')']).parse().unwrap();
    let month = time::Month::try_from(u8::try_from(month + 1).unwrap()).unwrap();
    let due = time::Date::from_calendar_date(year, month, day).unwrap();
    match (due - SystemClock.now().date()).whole_days() {
        0 => "à faire aujourd'hui".to_owned(),
        1 => "à faire demain".to_owned(),
        days => format!("à faire dans {days} jours"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_notification_once_a_day_and_none_during_a_change() {
    if !umockdev_available() || !x_tools_available() || !notification_tools_available() {
        return;
    }
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    // A slow domain controller (the change post stays in flight) that refuses the new password
    // (too short for it): the change is in progress for a while, then waits for the person again.
    let sim = OwaSim::start(SimOptions {
        host: "localhost".into(),
        change_delay: Duration::from_secs(8),
        min_length: NEW.len() + 4,
        ..SimOptions::default()
    })
    .await;
    let (mut host, provisional) = roll_out(&server, &sim).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;
    let status = block_in_place(|| host.status()).1;
    let days = days_phrase(&status);
    let dir = tempfile::tempdir().unwrap();

    // The person starts the change with the key still in: the service waits for it to be
    // unplugged. Nothing has reached Exchange, but the rotation is in the person's hands.
    block_in_place(|| host.plug());
    let socket = host.socket();
    let person = std::thread::spawn(move || change_at(&socket, &[&provisional, NEW, NEW], &[]));
    for _ in 0..300 {
        if host.log().contains("waiting for the key to be unplugged") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(host.log().contains("waiting for the key to be unplugged"), "{}", host.log());

    block_in_place(|| {
        let x = Xvfb::start();
        let mut desktop = Desktop::start(&x, dir.path());
        desktop.watch(&host.socket(), "watch.log");
        // Looked twice while the service waits for the key: nothing shown.
        desktop.wait_log("watch.log", "quiet=InProgress", 2);
        assert!(
            desktop.received().is_empty() && !desktop.read("watch.log").contains("reminder: shown"),
            "a reminder during a change: {:?}",
            desktop.received()
        );
        // The key out, the change post in flight (the slow domain controller): still nothing.
        host.unplug();
        let started = texts_fr::step_status(Step::Started);
        for _ in 0..300 {
            if host.status().1.contains(&started) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        desktop.wait_log("watch.log", "quiet=InProgress", 4);
        assert!(
            desktop.received().is_empty() && !desktop.read("watch.log").contains("reminder: shown"),
            "a reminder during a change: {:?}",
            desktop.received()
        );

        // The change stops (Exchange refused the new password): the rotation waits again.
        let (code, out) = person.join().unwrap();
        assert_ne!(code, 0, "{out}");
        desktop.wait_log("watch.log", "reminder: shown", 1);
        // dunst runs its rule's script once it has taken the notification in, a moment after.
        desktop.wait_log("received.log", "|", 1);
        let received = desktop.received();
        assert_eq!(received.len(), 1, "{received:?}");
        let (app, rest) = received[0].split_once('|').unwrap();
        let (summary, body) = rest.split_once('|').unwrap();
        assert_eq!(app, "Sesame");
        assert_eq!(summary, "Sesame : mot de passe à changer");
        assert!(body.contains(MAILBOX) && body.contains(&format!("({days})")), "{body}");
        // The watcher opened no window: after a notification shown, it maps no graphics library.
        assert_no_graphics(desktop.watcher_pid());

        // Looked three more times that day: still one.
        desktop.wait_log("watch.log", "quiet=ShownToday", 3);
        assert_eq!(desktop.read("watch.log").matches("reminder: shown").count(), 1);
        assert_eq!(desktop.received().len(), 1, "{:?}", desktop.received());
        assert_eq!(desktop.dunstctl(&["count", "displayed"]), "1");

        // Clicking it (dunst's default action) opens the window.
        desktop.dunstctl(&["action", "0"]);
        desktop.wait_log("watch.log", "screen=", 1);
        let windows = x.run("xdotool", &["search", "--sync", "--name", "Sesame"]);
        assert!(!windows.is_empty(), "no Sesame window");

        // A watcher started again (the next logon, the same day) stays quiet.
        desktop.stop_watcher();
        desktop.watch(&host.socket(), "watch-again.log");
        desktop.wait_log("watch-again.log", "quiet=ShownToday", 2);
        assert!(!desktop.read("watch-again.log").contains("reminder: shown"));
        assert_eq!(desktop.received().len(), 1, "{:?}", desktop.received());
    });
    assert_ne!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "Exchange refused it");
    block_in_place(|| host.stop());
    sim.stop().await;
    server.stop().await;
}
