//! The README's quick start, with the real binaries: `sesame-server` with no arguments in an empty
//! directory, then `sesamectl` from the same directory, then a graceful stop on SIGTERM.
//!
//! `sesamectl` is another crate's binary, which cargo does not hand to this test
//! (`CARGO_BIN_EXE_*` names this crate's binaries only): [`sesamectl_binary`] builds it with the
//! cargo running the tests, into the same target directory and profile, and returns its path.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The `sesamectl` binary beside `sesame-server`, built (or found up to date) by cargo.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking, like the test calling it.
fn sesamectl_binary() -> PathBuf {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_sesame-server"));
    let profile_dir = server.parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet"]);
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        build.args(["--release", "--package", "sesamectl", "--bin", "sesamectl"]);
    } else {
        // The whole workspace's binaries and tests: the same features as the
        // `cargo test --workspace` running this, so nothing is built again (a
        // `--package` build alone resolves other features and rebuilds dozens of crates).
        build.args(["--workspace", "--bins", "--tests"]);
    }
    build.arg("--target-dir").arg(profile_dir.parent().unwrap());
    // What cargo set for this test process is not the developer's environment: build scripts
    // that watch a variable (ring watches CARGO_MANIFEST_DIR) would see it change and rebuild.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_str())
        {
            build.env_remove(name);
        }
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().unwrap();
    assert!(status.success(), "cargo build (sesamectl): {status:?}");
    server.with_file_name(format!("sesamectl{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn the_server_starts_with_no_configuration_and_sesamectl_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_sesame-server"))
        .current_dir(dir.path())
        // Port 0 instead of the default 7443 so that parallel runs never collide; nothing else is set.
        .env("SESAME_SERVER__LISTEN", "127.0.0.1:0")
        .env_remove("SESAME_DATABASE__URL")
        .env_remove("SESAME_CREDENTIALS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut banner).unwrap();
    }
    assert!(banner.contains("Sesame server listening on https://127.0.0.1:"), "{banner}");
    let fingerprint = banner
        .lines()
        .find_map(|l| l.strip_prefix("CA certificate SHA-256 fingerprint: "))
        .unwrap();
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    assert!(banner.contains("sesame-data/admin.credentials"), "{banner}");

    let data = dir.path().join("sesame-data");
    for (file, mode) in [("ca.key", 0o600), ("server.key", 0o600), ("admin.credentials", 0o600)] {
        let actual = std::fs::metadata(data.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, mode, "{file}");
    }
    assert!(
        data.join("sesame.db").exists(),
        "the embedded SQLite database is in the data directory"
    );

    let sesamectl_binary = sesamectl_binary();
    let sesamectl = |args: &[&str]| {
        let out = Command::new(&sesamectl_binary)
            .current_dir(dir.path())
            .env_remove("SESAME_CREDENTIALS")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, err) = sesamectl(&["office", "add", "01234", "--name", "Office Dupont"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Office 01234 \"Office Dupont\" created.\n");
    let (code, out, _) = sesamectl(&["office", "list", "--output", "json"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"crpcen\": \"01234\""), "{out}");
    let (code, _, err) = sesamectl(&["office", "add", "01234", "--name", "Again"]);
    assert_eq!(code, Some(1));
    assert_eq!(err, "sesamectl: already exists: office 01234 already exists\n");

    let term = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    let token = std::fs::read_to_string(data.join("admin.credentials")).unwrap();
    let token =
        token.lines().find_map(|l| l.strip_prefix("token = \"")).unwrap().trim_end_matches('"');
    assert!(!log.contains(token), "the log never holds the token");
}

#[test]
fn the_example_configuration_is_what_default_config_prints() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_sesame-server")).arg("default-config").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), sesame_server::config::EXAMPLE);
}

#[test]
fn a_bad_configuration_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "[server]\nlisten_address = \"0.0.0.0:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sesame-server"))
        .current_dir(dir.path())
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("listen_address"), "{err}");
    assert!(
        !dir.path().join("sesame-data").exists(),
        "nothing is created when the configuration is refused"
    );
}

#[test]
fn admin_create_writes_a_credentials_file_that_sesamectl_uses() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sesame-server"))
            .current_dir(dir.path())
            .env("SESAME_SERVER__LISTEN", "127.0.0.1:0")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "admin",
        "create",
        "paul",
        "--role",
        "office",
        "--offices",
        "01234",
        "--out",
        "paul.credentials",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("office 01234 does not exist"));
    let out = run(&["admin", "create", "paul", "--role", "office", "--out", "paul.credentials"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --offices"));
    let out =
        run(&["admin", "create", "claire", "--role", "auditor", "--out", "claire.credentials"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode =
        std::fs::metadata(dir.path().join("claire.credentials")).unwrap().permissions().mode()
            & 0o777;
    assert_eq!(mode, 0o600);
    let again =
        run(&["admin", "create", "claire", "--role", "auditor", "--out", "other.credentials"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert!(!dir.path().join("other.credentials").exists());
}

#[test]
fn audit_public_key_prints_the_key_the_server_signs_with() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_sesame-server"))
            .current_dir(dir.path())
            .args(["audit", "public-key", "--data-dir", "data"])
            .output()
            .unwrap()
    };
    // Before the server's first start (or with a wrong --data-dir) the file is named, not made.
    let out = run();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit-signing.key"));
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let key = sesame_server::keys::audit_signing::AuditSigningKey::load_or_create(
        &dir.path().join("data/audit-signing.key"),
        true,
    )
    .unwrap();
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, String::from_utf8(run().stdout).unwrap());
    assert!(text.starts_with(&format!("Audit signing key id: {}\n", key.id())), "{text}");
    let pem: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PUBLIC KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(pem).unwrap();
    assert_eq!(der.len(), 44);
    assert_eq!(&der[12..], key.public_key());
}
