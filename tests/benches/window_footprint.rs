//! Benchmark: what the Sesame window costs when it opens. The `sesame-window` binary is started
//! (three runs by default) on its own Xvfb (1024×768, no window manager, Mesa's software OpenGL
//! through glow), pointed at a socket where no service listens, so that it draws its "service
//! unreachable" screen. For each run: the time from `exec` to its first frame (its first
//! `screen=` log line), then, 4 s later, `VmRSS` split into anonymous and file-backed
//! (`/proc/PID/status`), the proportional set size (`Pss`, `/proc/PID/smaps_rollup`: a page shared
//! with other processes, such as Xvfb's own Mesa, counts in part), and the mappings holding the most
//! resident memory (`/proc/PID/smaps`, summed by file), so that what belongs to the program and
//! what to Mesa can be told apart.
//!
//! ```text
//! cargo build --release -p sesame-window --target-dir /tmp/rel
//! SESAME_WINDOW_BIN=/tmp/rel/release/sesame-window cargo bench --profile dev -p sesame-tests --bench window_footprint
//! ```
//!
//! Settings (environment): `SESAME_WINDOW_BIN` (default: `sesame-window` in this bench's target
//! profile directory), `SESAME_WINDOW_RUNS` (default 3), and any variable for the window or Mesa
//! (`LP_NUM_THREADS`, …), passed on. Needs Xvfb and Mesa (as the end-to-end window test). Results
//! are recorded in `tests/benches/README.md`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)] // Reason: a benchmark prints its report and waits on a blocking thread.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (apt-get install xvfb)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Killed(child), format!(":{}", line.trim()))
}

/// A field of `/proc/PID/<file>` (`status`, `smaps_rollup`), in MiB.
fn field_mib(pid: u32, file: &str, name: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory by mapping name (a file, `[heap]`, or `[anon]`), in MiB, largest first.
fn by_mapping(pid: u32) -> Vec<(String, f64)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut current = String::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            let fields: Vec<&str> = line.split_whitespace().collect();
            current = fields.get(5).map_or("[anon]".to_owned(), |name| (*name).to_owned());
        } else if let Some(kb) = line.strip_prefix("Rss:") {
            let kb: f64 = kb.split_whitespace().next().unwrap().parse().unwrap();
            *sums.entry(current.clone()).or_default() += kb / 1024.0;
        }
    }
    let mut sums: Vec<(String, f64)> = sums.into_iter().collect();
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums
}

fn main() {
    let binary = window_binary();
    let runs: usize =
        std::env::var("SESAME_WINDOW_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    println!("window: {} ({} bytes)", binary.display(), binary.metadata().unwrap().len());
    let dir = tempfile::tempdir().unwrap();
    println!("| run | first frame | VmRSS | anonymous | file-backed | PSS | threads |");
    println!("|---|---|---|---|---|---|---|");
    let mut last_mappings = Vec::new();
    for run in 1..=runs {
        let (_x, display) = xvfb();
        let log = dir.path().join(format!("window-{run}.log"));
        let started = Instant::now();
        let window = Killed(
            Command::new(&binary)
                .arg("--socket")
                .arg(dir.path().join("nobody-listens.sock"))
                .env("DISPLAY", &display)
                .env_remove("WAYLAND_DISPLAY")
                .env("HOME", dir.path())
                .env("XDG_RUNTIME_DIR", dir.path())
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        let first_frame = loop {
            if std::fs::read_to_string(&log).unwrap_or_default().contains("screen=") {
                break started.elapsed();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no frame in 30 s");
            std::thread::sleep(Duration::from_millis(5));
        };
        std::thread::sleep(Duration::from_secs(4));
        let pid = window.0.id();
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count();
        println!(
            "| {run} | {} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {threads} |",
            first_frame.as_millis(),
            field_mib(pid, "status", "VmRSS:"),
            field_mib(pid, "status", "RssAnon:"),
            field_mib(pid, "status", "RssFile:") + field_mib(pid, "status", "RssShmem:"),
            field_mib(pid, "smaps_rollup", "Pss:"),
        );
        last_mappings = by_mapping(pid);
    }
    println!("\nResident memory by mapping, last run (MiB):");
    for (name, mib) in last_mappings.iter().take(15) {
        println!("{mib:8.1}  {name}");
    }
}
