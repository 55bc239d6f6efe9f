//! Benchmark: what the reminder watcher (`sesame-window --watch`, started at logon and running all
//! day) costs a workstation. The watcher runs on its own desktop (Xvfb, a D-Bus session bus and
//! dunst, as in the end-to-end reminder test), against a fake service in this process that answers
//! `status` with one rotation due in 12 days, so that its first look shows a real notification
//! (over D-Bus) and every later look finds one was shown today.
//!
//! Two runs of the same binary:
//! 1. looking every second (`--check-every-seconds 1`) for `SESAME_WATCH_SECONDS`: the memory after
//!    the first notification and at the end (`VmRSS` split into anonymous and file-backed,
//!    `Pss` from `smaps_rollup`, `VmHWM`, threads), the CPU time of start-up (to the first
//!    notification shown) and per look;
//! 2. the default (a look every 30 minutes) for the same time: the CPU time and wake-ups
//!    (context switches) between two looks, which should be none.
//!
//! From them, a day at the default: start-up, 48 looks and 24 hours idle. It also prints the
//! resident memory by mapping (`smaps`), and checks that the watcher maps no graphics library
//! (the same check as the end-to-end test).
//!
//! ```text
//! cargo build --profile window-release -p sesame-window --target-dir /tmp/rel
//! SESAME_WINDOW_BIN=/tmp/rel/window-release/sesame-window \
//!   cargo bench --profile dev -p sesame-tests --bench watcher_footprint
//! ```
//!
//! Settings (environment): `SESAME_WINDOW_BIN` (default: `sesame-window` in this bench's target
//! profile directory), `SESAME_WATCH_SECONDS` (default 60; 5 is a smoke run). Needs Xvfb,
//! dbus-daemon and dunst (as the end-to-end reminder test). Results are recorded in
//! `tests/benches/README.md`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::cast_precision_loss
)] // Reason: a benchmark prints its report, waits on a blocking thread and divides counts.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame_base::rotation::Step;
use sesame_local::protocol::{
    Event, KeyStatus, PasswordKind, Request, RotationStatus, ServiceError, StatusReport,
};
use sesame_local::server::{LocalHandler, LocalServer, Session};
use sesame_tests::process_memory::{CpuUse, cpu_of, footprint_of, resident_by_mapping};

fn window_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SESAME_WINDOW_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<bench binary>
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join("sesame-window");
    assert!(path.exists(), "no {}: build it, or set SESAME_WINDOW_BIN", path.display());
    path
}

/// Child processes killed (and reaped) when dropped, last started first.
#[derive(Default)]
struct Children(Vec<Child>);

impl Children {
    /// Stops the child started last.
    fn stop_last(&mut self) {
        if let Some(mut child) = self.0.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The fake service: every `status` finds one periodic rotation waiting, due in 12 days.
struct OneWaiting;

fn report() -> StatusReport {
    let due = time::OffsetDateTime::now_utc() + time::Duration::days(12);
    StatusReport {
        agent_version: "bench".to_owned(),
        enrolled: true,
        key: KeyStatus::Absent,
        rotations: vec![RotationStatus {
            mailbox: "etude@notaires.fr".to_owned(),
            display_name: "Étude".to_owned(),
            kind: PasswordKind::Current,
            step: Step::Pending,
            due: Some(due),
            in_hand: false,
        }],
        last_report: None,
        reports_waiting: 0,
        next_page: None,
    }
}

impl LocalHandler for OneWaiting {
    async fn handle(&self, mut session: Session) {
        while let Ok(Some(request)) = session.next_request().await {
            let event = match request {
                Request::Status | Request::StatusPage { .. } => Event::Status(report()),
                _ => Event::Error(ServiceError::UnexpectedRequest),
            };
            if session.send(&event).await.is_err() {
                break;
            }
        }
    }
}

/// Xvfb, a session bus and dunst, in `dir`; returns the display and the bus address.
fn desktop(dir: &Path, children: &mut Children) -> (String, String) {
    let mut x = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (apt-get install xvfb)");
    let mut line = String::new();
    BufReader::new(x.stdout.take().unwrap()).read_line(&mut line).unwrap();
    children.0.push(x);
    let display = format!(":{}", line.trim());

    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .arg(format!("--address=unix:path={}", dir.join("bus").display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon (apt-get install dbus)");
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
    children.0.push(bus);
    let address = address.trim().to_owned();

    // dunst runs the script for each notification it takes in: one line each.
    let script = dir.join("record.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$2\" >> '{}'\n", dir.join("received.log").display()),
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
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst (apt-get install dunst)");
    children.0.push(dunst);
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
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
            return (display, address);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("dunst never took the notifications' name");
}

/// Starts the watcher; `every_second` for the looks every second, else the default.
fn watch(
    dir: &Path,
    socket: &Path,
    display: &str,
    bus: &str,
    log: &Path,
    every_second: bool,
) -> Child {
    let home = dir.join("home");
    let mut command = Command::new(window_binary());
    command.arg("--watch").arg("--socket").arg(socket);
    if every_second {
        command.args(["--check-every-seconds", "1"]);
    }
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DISPLAY", display)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("HOME", &home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", dir)
        .env("TZ", "UTC")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until `log` holds `needle` at least `times` times (60 s at most).
fn wait_log(log: &Path, needle: &str, times: usize) {
    let started = Instant::now();
    while std::fs::read_to_string(log).unwrap_or_default().matches(needle).count() < times {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never said {needle:?} {times} times:\n{}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The looks logged so far: each ends in `reminder: shown` or `reminder: none`.
fn looks(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.matches("reminder: shown").count() + text.matches("reminder: none").count()
}

fn print_footprint(label: &str, pid: u32) {
    let f = footprint_of(pid).unwrap();
    println!(
        "| {label} | {:.2} MiB | {:.2} MiB | {:.2} MiB | {:.2} MiB | {:.2} MiB | {:.2} MiB | {} |",
        f.rss, f.anonymous, f.file_backed, f.pss, f.pss_anonymous, f.peak, f.threads
    );
}

/// The graphics libraries the watcher must never map (it opens no window).
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

fn main() {
    let seconds: u64 =
        std::env::var("SESAME_WATCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let binary = window_binary();
    println!("watcher: {} ({} bytes)", binary.display(), binary.metadata().unwrap().len());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = runtime.block_on(async { LocalServer::bind(&socket).unwrap() });
    runtime.spawn(server.serve(Arc::new(OneWaiting), std::future::pending()));
    let mut children = Children::default();
    let (display, bus) = desktop(dir.path(), &mut children);

    // 1. A look every second.
    let log = dir.path().join("watch-every-second.log");
    let started = Instant::now();
    let watcher = watch(dir.path(), &socket, &display, &bus, &log, true);
    let pid = watcher.id();
    children.0.push(watcher);
    wait_log(&log, "reminder: shown", 1);
    let start_up = cpu_of(pid).unwrap();
    let start_up_wall = started.elapsed();
    // The notification reached dunst.
    wait_log(&dir.path().join("received.log"), "Sesame", 1);
    println!(
        "\n| when | VmRSS | anonymous | file-backed | PSS | PSS anonymous | VmHWM | threads |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    print_footprint("after the first notification", pid);
    let looks_before = looks(&log);
    std::thread::sleep(Duration::from_secs(seconds));
    let end = cpu_of(pid).unwrap();
    let looks_made = looks(&log) - looks_before;
    print_footprint(&format!("after {looks_made} more looks ({seconds} s)"), pid);
    let mappings = resident_by_mapping(pid);
    let mut threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    threads.sort();
    let files = sesame_tests::process_memory::mapped_files(pid);
    let graphics: Vec<&String> =
        files.iter().filter(|f| GRAPHICS.iter().any(|g| f.contains(g))).collect();
    assert!(graphics.is_empty(), "the watcher maps graphics libraries: {graphics:?}");
    let per_look = |a: CpuUse, b: CpuUse| {
        (
            (b.live_threads_ns - a.live_threads_ns) as f64 / looks_made.max(1) as f64 / 1e6,
            (b.seconds - a.seconds) * 1000.0 / looks_made.max(1) as f64,
            (b.switches - a.switches) as f64 / looks_made.max(1) as f64,
        )
    };
    let (look_ms, look_ms_ticks, look_switches) = per_look(start_up, end);
    children.stop_last();

    // 2. The default: one look at start, then 30 minutes of nothing.
    let log = dir.path().join("watch-default.log");
    std::fs::remove_file(dir.path().join("home/state/sesame/last-reminder")).ok();
    let watcher = watch(dir.path(), &socket, &display, &bus, &log, false);
    let pid = watcher.id();
    children.0.push(watcher);
    wait_log(&log, "reminder: shown", 1);
    // The notification's thread settles (its D-Bus connection waits for the person's click).
    std::thread::sleep(Duration::from_secs(1));
    let idle_from = cpu_of(pid).unwrap();
    std::thread::sleep(Duration::from_secs(seconds));
    let idle_to = cpu_of(pid).unwrap();
    assert_eq!(looks(&log), 1, "one look in the first 30 minutes");
    let idle_ms_per_minute =
        (idle_to.live_threads_ns - idle_from.live_threads_ns) as f64 / 1e6 * 60.0 / seconds as f64;
    let idle_switches_per_minute =
        (idle_to.switches - idle_from.switches) as f64 * 60.0 / seconds as f64;
    print_footprint(&format!("default (30 min), idle {seconds} s"), pid);
    children.stop_last();

    println!("\n| CPU | time | context switches |");
    println!("|---|---|---|");
    println!(
        "| start-up to the first notification shown ({} ms wall) | {:.1} ms ({:.0} ms in ticks) | {} |",
        start_up_wall.as_millis(),
        start_up.live_threads_ns as f64 / 1e6,
        start_up.seconds * 1000.0,
        start_up.switches
    );
    println!(
        "| one look (mean of {looks_made}) | {look_ms:.3} ms ({look_ms_ticks:.2} ms in ticks) | {look_switches:.1} |"
    );
    println!(
        "| idle, per minute (default interval) | {idle_ms_per_minute:.3} ms | {idle_switches_per_minute:.1} |"
    );
    let day_ms =
        start_up.live_threads_ns as f64 / 1e6 + 48.0 * look_ms + 24.0 * 60.0 * idle_ms_per_minute;
    println!(
        "| a day at the default: start-up + 48 looks + 24 h idle | {day_ms:.0} ms ({:.5} % of one core) | |",
        day_ms / 864e5 * 100.0
    );

    println!("\nThreads, every-second run at its end: {}", threads.join(", "));
    println!("\nResident memory by mapping, every-second run at its end (MiB, Rss and Pss):");
    for m in mappings.iter().take(12) {
        println!("{:8.2} {:8.2}  {}", m.rss, m.pss, m.name);
    }
}
