//! Benchmark: what the agent service costs a workstation when nothing happens. The release
//! `sesame-agent run` is enrolled against a server (in this process, SQLite, the default check-in
//! interval of 60 s) and started on a simulated USB bus (umockdev, a root hub and no key) with the
//! default configuration but for the OWA simulator's CA, so it checks in, polls the key, looks at
//! OWA and waits, as on an office PC between rotations. After a warm-up it samples the process's
//! `VmRSS`/`VmHWM` (`/proc/<pid>/status`) and its CPU time (`utime + stime` of `/proc/<pid>/stat`)
//! every minute; the CPU time over the window is also given per hour. The agent reaches the server
//! through a counting TCP relay, so the bytes it exchanges with the server (TLS records both ways,
//! TCP/IP headers not counted) are given per day.
//!
//! ```text
//! cargo bench -p sesame-tests --bench agent_idle
//! ```
//!
//! Settings (environment): `SESAME_IDLE_SECONDS` (default 600), `SESAME_IDLE_WARMUP` (default
//! 60), `SESAME_AGENT_BIN` (an agent binary built beforehand, e.g. with `cargo build --release
//! -p sesame-agent`, instead of building one; then `cargo bench --profile dev` spares the
//! release build of the whole harness). Needs `umockdev-wrapper` with its Python bindings (as the end-to-end tests). Results are
//! recorded in `tests/benches/README.md`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // Reason: a benchmark prints its report.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sesame_tests::agent_host::{AgentHost, umockdev_available};
use sesame_tests::owa_sim::{OwaSim, SimOptions};
use sesame_tests::{Backend, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::block_in_place;

/// Relays every connection to `target`, counting the bytes both ways in `bytes`; returns the
/// relay's address.
async fn counting_relay(target: SocketAddr, bytes: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else { continue };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, bytes.clone()));
            tokio::spawn(pump(server_read, client_write, bytes.clone()));
        }
    });
    address
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    bytes: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 || to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory_of(pid: u32) -> (f64, f64) {
    sesame_tests::process_memory::memory_of(pid).expect("the process's /proc status")
}

/// User plus system CPU time of a process, in seconds.
fn cpu_of(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / ticks_per_second
}

fn ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    assert!(umockdev_available(), "umockdev-wrapper and its Python bindings are needed");
    let window = Duration::from_secs(setting("SESAME_IDLE_SECONDS", 600));
    let warmup = Duration::from_secs(setting("SESAME_IDLE_WARMUP", 60));
    let hz = ticks_per_second();

    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    server.sesamectl(&["office", "add", "01234", "--name", "Étude"]).await.unwrap();
    server.sesamectl(&["owa-url", "set", &sim.url()]).await.unwrap();
    let token = server.sesamectl(&["token", "create", "--office", "01234"]).await.unwrap();
    let token = token.lines().next().unwrap().to_owned();
    let bytes = Arc::new(AtomicU64::new(0));
    let server_address = server.url().trim_start_matches("https://").parse().unwrap();
    let relay = counting_relay(server_address, bytes.clone()).await;
    let url = format!("https://{relay}");
    let mut host =
        block_in_place(|| AgentHost::enroll(&url, &server.ca_fingerprint, &token, &sim.ca().pem()));
    // The defaults (key polling, OWA timeout), with the simulator's CA trusted.
    let ca = host.dir.path().join("owa-ca.pem");
    host.set_config(&format!("[owa]\nextra_ca_files = [\"{}\"]\n", ca.display()));
    block_in_place(|| host.start(None));
    let pid = host.pid().unwrap();
    let binary = sesame_tests::agent_host::agent_binary();
    println!("agent: {} ({} bytes), pid {pid}", binary.display(), binary.metadata().unwrap().len());

    tokio::time::sleep(warmup).await;
    let (rss, hwm) = memory_of(pid);
    let cpu_start = cpu_of(pid, hz);
    let bytes_start = bytes.load(Ordering::Relaxed);
    let started = Instant::now();
    println!("\n| after | VmRSS | VmHWM | CPU time in the window |");
    println!("|---|---|---|---|");
    println!("| warm-up ({} s) | {rss:.1} MiB | {hwm:.1} MiB | 0.00 s |", warmup.as_secs());
    let step = Duration::from_secs(60).min(window);
    while started.elapsed() < window {
        tokio::time::sleep(step.min(window.saturating_sub(started.elapsed()))).await;
        let (rss, hwm) = memory_of(pid);
        let cpu = cpu_of(pid, hz) - cpu_start;
        println!(
            "| +{} s | {rss:.1} MiB | {hwm:.1} MiB | {cpu:.2} s |",
            started.elapsed().as_secs()
        );
    }
    let cpu = cpu_of(pid, hz) - cpu_start;
    let per_hour = cpu * 3600.0 / started.elapsed().as_secs_f64();
    let check_ins = host.log().matches("looked at OWA").count();
    let exchanged = bytes.load(Ordering::Relaxed) - bytes_start;
    let per_day = exchanged as f64 * 86_400.0 / started.elapsed().as_secs_f64();
    println!(
        "\nCPU: {cpu:.2} s in {} s, {per_hour:.2} CPU-seconds per hour; {check_ins} look(s) at OWA",
        started.elapsed().as_secs()
    );
    println!(
        "Network with the server: {exchanged} bytes in {} s, {:.0} KB per day",
        started.elapsed().as_secs(),
        per_day / 1000.0
    );
    block_in_place(|| host.stop());
    sim.stop().await;
    server.stop().await;
}
