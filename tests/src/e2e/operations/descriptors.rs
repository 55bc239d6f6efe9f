//! The real `sesame-server` binary under a low descriptor limit (`prlimit --nofile`), as a
//! service started with too few descriptors would run: idle connections piled on the operations
//! port take no more than its cap, the process keeps descriptors in reserve, and the gRPC port
//! answers a real administrator's call throughout. Linux only (`/proc`, `prlimit`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::Exposition;
use super::listener::try_get;
use crate::{run_sesamectl, silent, write_file};

/// The descriptor limit the server runs under (soft and hard, so it cannot raise it).
const LIMIT: u64 = 256;
/// Idle connections opened to the operations port: more than the whole limit.
const IDLE: usize = 600;
/// Only a guard against a hang, never the measure of speed.
const GUARD: Duration = Duration::from_secs(60);

/// The `sesame-server` binary.
fn server_binary() -> PathBuf {
    crate::binaries::workspace_binary("sesame-server")
}

/// How many descriptors process `pid` holds.
fn descriptors_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// What the server printed at start: its gRPC and operations addresses and the bootstrap
/// administrator's credentials file.
struct Started {
    grpc: SocketAddr,
    ops: SocketAddr,
    credentials: String,
}

/// Reads the start-up lines of `sesame-server serve` from its standard output.
async fn started(stdout: tokio::process::ChildStdout) -> Started {
    let mut lines = BufReader::new(stdout).lines();
    let (mut grpc, mut ops) = (None, None);
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(at) = line.strip_prefix("Sesame server listening on https://") {
            grpc = Some(at.trim().parse().unwrap());
        } else if let Some(rest) = line.strip_prefix("Operations endpoint on http://") {
            ops = Some(rest.split_whitespace().next().unwrap().parse().unwrap());
        } else if let Some(path) =
            line.strip_prefix("Bootstrap administrator credentials written to ")
        {
            // The server may print more: keep reading, or its next line would meet a closed pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Started {
                grpc: grpc.unwrap(),
                ops: ops.unwrap(),
                credentials: path.trim().to_owned(),
            };
        }
    }
    panic!("the server ended before it said it was ready");
}

/// Finding 8: under the shipped unit's 1,024 descriptors, 1,133 idle connections to the operations
/// port used every descriptor and the gRPC port stopped answering. Here at 256: 600 idle
/// connections, and `sesamectl office list` still gets its answer while the server keeps its
/// reserve of descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_low_descriptor_limit_idle_operations_connections_leave_the_grpc_port_answering() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let binary = server_binary();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_file(
        dir.path(),
        "server.toml",
        "version = 1\n[server]\nlisten = \"127.0.0.1:0\"\n[operations]\nlisten = \"127.0.0.1:0\"\n",
    );
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut server = tokio::process::Command::new("prlimit")
        .arg(format!("--nofile={LIMIT}:{LIMIT}"))
        .arg("--")
        .arg(&binary)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("prlimit runs the server");
    // prlimit executes the server in its own process.
    let pid = server.id().unwrap();
    let stdout = server.stdout.take().unwrap();
    let at = tokio::time::timeout(GUARD, started(stdout)).await.expect("the server starts");
    let before = descriptors_of(pid);

    let idle = silent::open(at.ops, &silent::loopback_sources(1), IDLE).await;
    let credentials = at.credentials.clone();
    let listed = tokio::time::timeout(
        GUARD,
        run_sesamectl(&["sesamectl", "--credentials", &credentials, "office", "list"]),
    )
    .await
    .expect("the gRPC port answers while idle connections pile up on the operations port");
    listed.expect("sesamectl lists the offices");
    let during = descriptors_of(pid);
    let log_text = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        during + 64 <= LIMIT as usize,
        "{during} descriptors of {LIMIT} held ({before} at start): no reserve left\n{}",
        log_text()
    );
    drop(idle);

    let deadline = tokio::time::Instant::now() + GUARD;
    let text = loop {
        if let Some(text) = try_get(at.ops, "/metrics").await {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "/metrics: no answer\n{}", log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let metrics = Exposition::parse(&text);
    let operations = [("listener", "operations")];
    let cap = metrics.value("sesame_listener_connections_max", &operations).unwrap();
    let grpc_cap = metrics.value("sesame_listener_connections_max", &[("listener", "grpc")]);
    let refused = metrics.value("sesame_listener_connections_refused_total", &operations).unwrap();
    assert!(cap < 64.0, "the operations cap is sized from the limit: {cap}");
    assert!(refused >= IDLE as f64 / 2.0, "{refused} of {IDLE} refused");
    eprintln!(
        "descriptor limit {LIMIT}: {before} descriptors at start, {during} with {IDLE} idle \
         connections on the operations port; caps: operations {cap}, gRPC ({}) {grpc_cap:?}; \
         {refused} refused",
        at.grpc
    );
    server.kill().await.unwrap();
}
