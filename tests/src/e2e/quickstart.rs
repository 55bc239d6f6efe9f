//! The README's quick start, with the real binaries: `sesame-server` with no arguments in an empty
//! directory, then `sesamectl` from the same directory, then a graceful stop on SIGTERM.
//!
//! The binaries come from [`crate::binaries`].

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::binaries::workspace_binary;

/// The `sesame-server` binary.
fn server() -> PathBuf {
    workspace_binary("sesame-server")
}

#[test]
fn the_server_starts_with_no_configuration_and_sesamectl_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(server())
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

    let sesamectl_binary = workspace_binary("sesamectl");
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
    let out = Command::new(server()).arg("default-config").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), sesame_server::config::EXAMPLE);
}

#[test]
fn a_bad_configuration_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "[server]\nlisten_address = \"0.0.0.0:1\"\n").unwrap();
    let out = Command::new(server())
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
        Command::new(server())
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
        Command::new(server())
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
