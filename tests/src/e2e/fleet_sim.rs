//! The fleet simulator (`tests/fleet-sim`, the benchmarks' load generator) against a real server:
//! 50 workstations provisioned in bulk offline (one audit record for the batch, an identities
//! file only its owner can read), a few seconds of check-ins at a low rate over mutual TLS with no
//! error and every workstation seen by the server; then provisional rotations set up through the
//! admin API, delivered to the simulated agents and completed by their step reports; and the audit
//! chain still verifies.

use std::path::{Path, PathBuf};

use crate::TestServer;

on_both_backends!(fleet_sim_checks_in_and_completes_rotations);

/// The simulator: `SESAME_FLEET_SIM_BIN` when set, else the workspace's.
fn fleet_sim() -> PathBuf {
    match std::env::var_os("SESAME_FLEET_SIM_BIN") {
        Some(path) => PathBuf::from(path),
        None => crate::binaries::workspace_binary("sesame-fleet-sim"),
    }
}

/// Runs the simulator (without blocking the server's runtime) and returns its output; panics
/// when it fails.
async fn sim(args: &[&str]) -> String {
    let output = tokio::process::Command::new(fleet_sim())
        .args(args)
        .env_remove("SESAME_DATABASE__URL")
        .output()
        .await
        .expect("the simulator runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "sesame-fleet-sim {args:?}: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `RESULT` line of a run.
fn result(stdout: &str) -> serde_json::Value {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Each workstation's last check-in time, by id.
async fn last_seen(server: &TestServer) -> Vec<(String, String)> {
    let json = server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let mut seen: Vec<(String, String)> = list
        .iter()
        .map(|w| {
            (w["id"].as_str().unwrap().to_owned(), w["last_seen_at"].as_str().unwrap().to_owned())
        })
        .collect();
    seen.sort();
    seen
}

fn run_args<'a>(server: &'a str, ca: &'a str, ids: &'a str, label: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--server",
        server,
        "--ca",
        ca,
        "--identities",
        ids,
        "--connections",
        "50",
        "--sources",
        "2",
        "--rate",
        "40",
        "--duration",
        "3",
        "--warmup",
        "1",
        "--label",
        label,
    ]
}

async fn fleet_sim_checks_in_and_completes_rotations(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let config = server.config();
    let data = config.data_dir.display().to_string();
    let url = secrecy::ExposeSecret::expose_secret(&config.effective_database_url()).to_owned();
    let ids_path = dir.path().join("agents.jsonl");
    let ids = ids_path.display().to_string();
    let provision = [
        "provision",
        "--data-dir",
        &data,
        "--database-url",
        &url,
        "--office",
        "99001",
        "--count",
        "50",
        "--out",
        &ids,
    ];
    sim(&provision).await;
    assert_identities_file(&ids_path);
    let before = last_seen(server).await;
    assert_eq!(before.len(), 50, "every provisioned workstation is listed");
    let audit = server.sesamectl(&["audit", "list", "-o", "json"]).await.unwrap();
    assert_eq!(audit.matches("workstation.provision_bulk").count(), 1, "one record for the batch");

    let address = server.address.to_string();
    let ca = config.data_dir.join("ca.pem").display().to_string();
    let idle = result(&sim(&run_args(&address, &ca, &ids, "idle")).await);
    assert_eq!(idle["error_count"], 0, "{idle}");
    assert!(idle["ok"].as_u64().unwrap() >= 100, "{idle}");
    let after = last_seen(server).await;
    for ((id, then), (_, now)) in before.iter().zip(&after) {
        assert_ne!(then, now, "the server saw workstation {id} check in");
    }

    let credentials = server.credentials.display().to_string();
    sim(&[
        "setup-rotations",
        "--credentials",
        &credentials,
        "--identities",
        &ids,
        "--mailboxes",
        "5",
    ])
    .await;
    let busy = result(&sim(&run_args(&address, &ca, &ids, "rotations")).await);
    assert_eq!(busy["error_count"], 0, "{busy}");
    assert_eq!(busy["rotations"], 5, "each rotation delivered once: {busy}");
    assert_eq!(busy["reports"], 20, "four steps each: {busy}");
    let verified = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert!(!verified.to_lowercase().contains("broken"), "{verified}");
}

fn assert_identities_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the identities file holds private keys");
    }
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().count(), 50);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["key_pem"].as_str().unwrap().contains("PRIVATE KEY"));
    assert_eq!(first["office"], "99001");
}
