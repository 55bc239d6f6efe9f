//! The real `sesame-server` with a lost audit signing key: it refuses to start and says what to
//! do, `sesame-server audit rotate-key` replaces the key in the open, and the server starts again.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// `sesame-server ARGS` in `dir`, to completion.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking, like the test calling it.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(crate::binaries::workspace_binary("sesame-server"))
        .current_dir(dir)
        .env("SESAME_SERVER__LISTEN", "127.0.0.1:0")
        .env_remove("SESAME_DATABASE__URL")
        .args(args)
        .output()
        .unwrap()
}

/// A running server, and its standard output kept open (it prints its banner after the line read).
struct Running {
    child: Child,
    _stdout: BufReader<ChildStdout>,
}

/// Starts `sesame-server serve` in `dir` and waits for its banner.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking, like the test calling it.
fn start(dir: &Path) -> Running {
    let mut child = Command::new(crate::binaries::workspace_binary("sesame-server"))
        .current_dir(dir)
        .env("SESAME_SERVER__LISTEN", "127.0.0.1:0")
        .env_remove("SESAME_DATABASE__URL")
        .args(["serve", "--data-dir", "data"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("Sesame server listening"), "{line}");
    Running { child, _stdout: stdout }
}

/// Stops it with SIGTERM; `true` when it stopped gracefully (signing the audit chain's head as
/// it stops). A signal that comes before the server listens for it kills it instead.
#[allow(clippy::unwrap_used, clippy::disallowed_methods)]
// Reason: a test helper fails by panicking; this synchronous test has no runtime to block.
fn stop(mut server: Running) -> bool {
    // Give the server time to set up its signal handler after the banner.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = server.child.id().to_string();
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    server.child.wait().unwrap().success()
}

#[test]
fn a_lost_audit_key_stops_the_server_until_it_is_rotated() {
    let dir = tempfile::tempdir().unwrap();
    // The first start creates the key; the bootstrap administrator's record is signed at the stop.
    for _ in 0..5 {
        if stop(start(dir.path())) && dir.path().join("data/audit-head").exists() {
            break;
        }
    }
    assert!(dir.path().join("data/audit-head").exists(), "a head was signed");
    let key = dir.path().join("data/audit-signing.key");
    std::fs::remove_file(&key).unwrap();

    let mut refused = Command::new(crate::binaries::workspace_binary("sesame-server"))
        .current_dir(dir.path())
        .env("SESAME_SERVER__LISTEN", "127.0.0.1:0")
        .env_remove("SESAME_DATABASE__URL")
        .args(["serve", "--data-dir", "data"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts anyway prints its banner (and is stopped); one that refuses prints
    // nothing on its standard output and exits.
    let mut banner = String::new();
    BufReader::new(refused.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    if !banner.is_empty() {
        let _ = refused.kill();
        panic!("the server started without its audit key: {banner}");
    }
    let out = refused.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit-signing.key is missing"), "{err}");
    assert!(err.contains("Restore the file from the backup of the data directory"), "{err}");
    assert!(err.contains("sesame-server audit rotate-key"), "{err}");
    assert!(!key.exists(), "no key is made in its place");

    let out = run(dir.path(), &["audit", "rotate-key", "--data-dir", "data"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Audit signing key rotated at audit record "), "{text}");
    assert!(text.contains("(LOST: the key file did not hold it)"), "{text}");
    assert!(text.contains("-----BEGIN PUBLIC KEY-----"), "{text}");
    assert!(key.exists());

    // It starts again, with the new key.
    stop(start(dir.path()));
}
