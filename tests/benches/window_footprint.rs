//! Benchmark: what the Sesame window costs when it opens. The `sesame-window` binary is started
//! (three runs by default) on its own Xvfb (1024×768, no window manager, Mesa's software OpenGL
//! through glow), pointed at a socket where no service listens, so that it draws its "service
//! unreachable" screen. For each run: the time from `exec` to its first frame (its first
//! `screen=` log line), then, 4 s later, `VmRSS` split into anonymous and file-backed
//! (`/proc/PID/status`), the proportional set size (`Pss`, `/proc/PID/smaps_rollup`: a page shared
//! with other processes, such as Xvfb's own Mesa, counts in part), and the mappings holding the most
//! resident memory (`/proc/PID/smaps`, summed by file), so that what belongs to the program and
//! what to Mesa can be told apart, and the same summed by part (the program's binary, the heap,
//! Mesa and LLVM with the libraries they pull in, other libraries, other anonymous memory).
//!
//! ```text
//! cargo build --profile window-release -p sesame-window --target-dir /tmp/rel
//! SESAME_WINDOW_BIN=/tmp/rel/window-release/sesame-window \
//!   cargo bench --profile dev -p sesame-tests --bench window_footprint
//! ```
//!
//! Settings (environment): `SESAME_WINDOW_BIN` (default: `sesame-window` in this bench's target
//! profile directory), `SESAME_WINDOW_RUNS` (default 3), and any variable for the window or Mesa,
//! passed on: `GALLIUM_DRIVER=softpipe` (Mesa's other software driver, which runs no LLVM code),
//! `GALLIUM_DRIVER=zink` (OpenGL over Vulkan, here Mesa's lavapipe), `LP_NUM_THREADS`, … Needs
//! Xvfb and Mesa (as the end-to-end window test). Results are recorded in `tests/benches/README.md`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)] // Reason: a benchmark prints its report and waits on a blocking thread.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sesame_tests::process_memory::{footprint_of, resident_by_mapping};

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

/// Which part of the process a mapping belongs to, for the summary by part.
fn part_of(name: &str, binary: &Path) -> &'static str {
    const GRAPHICS: [&str; 15] = [
        "libLLVM",
        "_dri.so",
        "libGL",
        "libEGL",
        "libglapi",
        "libgbm",
        "libvulkan",
        "libstdc++",
        "libz3",
        "libicu",
        "libxml2",
        "libedit",
        "libdrm",
        "libsensors",
        "libelf",
    ];
    if Path::new(name) == binary {
        "the program (its binary)"
    } else if name == "[heap]" {
        "heap (the program's and Mesa's)"
    } else if GRAPHICS.iter().any(|g| name.contains(g)) {
        "Mesa, LLVM and their libraries"
    } else if name.starts_with('/') && (name.contains(".so") || name.contains("/SYSV")) {
        if name.contains("/SYSV") {
            "X shared memory (the presented image)"
        } else {
            "other libraries (libc, X, xkb)"
        }
    } else {
        "other anonymous (stacks, large allocations)"
    }
}

fn main() {
    let binary = window_binary();
    let runs: usize =
        std::env::var("SESAME_WINDOW_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    println!("window: {} ({} bytes)", binary.display(), binary.metadata().unwrap().len());
    let dir = tempfile::tempdir().unwrap();
    println!(
        "| run | first frame | VmRSS | anonymous | file-backed | PSS | PSS anonymous | threads |"
    );
    println!("|---|---|---|---|---|---|---|---|");
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
        let f = footprint_of(pid).unwrap();
        println!(
            "| {run} | {} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} |",
            first_frame.as_millis(),
            f.rss,
            f.anonymous,
            f.file_backed,
            f.pss,
            f.pss_anonymous,
            f.threads,
        );
        last_mappings = resident_by_mapping(pid);
    }
    let canonical = binary.canonicalize().unwrap_or_else(|_| binary.clone());
    let mut parts: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for m in &last_mappings {
        let part = parts.entry(part_of(&m.name, &canonical)).or_default();
        part.0 += m.rss;
        part.1 += m.pss;
    }
    let mut parts: Vec<(&str, (f64, f64))> = parts.into_iter().collect();
    parts.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    println!("\nResident memory by part, last run (MiB, Rss and Pss):");
    for (part, (rss, pss)) in &parts {
        println!("{rss:8.1} {pss:8.1}  {part}");
    }
    println!("\nResident memory by mapping, last run (MiB, Rss and Pss):");
    for m in last_mappings.iter().take(15) {
        println!("{:8.1} {:8.1}  {}", m.rss, m.pss, m.name);
    }
}
