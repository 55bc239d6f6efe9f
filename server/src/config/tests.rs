//! Tests of configuration loading.

use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn no_file_and_no_environment_gives_the_defaults() {
    let config = Config::load(None, env(&[])).unwrap();
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.data_dir, PathBuf::from("./sesame-data"));
    assert!(config.database_url.is_none());
    assert!(config.effective_database_url().expose_secret().starts_with("sqlite:"));
}

#[test]
fn the_example_file_parses_to_the_defaults() {
    let example = file(EXAMPLE);
    let config = Config::load(Some(example.path()), env(&[])).unwrap();
    let defaults = Config::default();
    assert_eq!(format!("{config:?}"), format!("{defaults:?}"));
}

#[test]
fn unknown_keys_and_versions_are_refused() {
    let typo = file("[server]\nlisten_addr = \"0.0.0.0:1\"\n");
    let err = Config::load(Some(typo.path()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("listen_addr"), "{err}");
    let section = file("[servre]\n");
    assert!(Config::load(Some(section.path()), env(&[])).is_err());
    let version = file("version = 2\n");
    assert!(matches!(Config::load(Some(version.path()), env(&[])), Err(Error::Version(2))));
    let bad = file("[log]\nformat = \"xml\"\n");
    assert!(matches!(Config::load(Some(bad.path()), env(&[])), Err(Error::Value { .. })));
}

#[test]
fn environment_overrides_the_file() {
    let f = file("[server]\nlisten = \"127.0.0.1:1000\"\n[mailnot]\ndomain = \"a.example\"\n");
    let config = Config::load(
        Some(f.path()),
        env(&[
            ("SESAME_SERVER__LISTEN", "0.0.0.0:2000"),
            ("SESAME_SERVER__TLS_NAMES", "sesame.example, 10.0.0.5"),
            ("SESAME_LOG__FORMAT", "json"),
            ("SESAME_CREDENTIALS", "/not/a/server/setting"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:2000");
    assert_eq!(config.tls_names, ["sesame.example", "10.0.0.5"]);
    assert_eq!(config.mail_domain.as_str(), "a.example");
    assert_eq!(config.log_format, LogFormat::Json);
    let err = Config::load(None, env(&[("SESAME_SERVER__LISTN", "x")])).unwrap_err();
    assert!(matches!(err, Error::UnknownEnv(ref k) if k == "SESAME_SERVER__LISTN"));
}

#[test]
fn the_database_password_never_shows_in_debug() {
    let url_file = file("postgres://sesame:s3cr3t-pw@db.example/sesame\n");
    let config = Config::load(
        None,
        env(&[("SESAME_DATABASE__URL_FILE", url_file.path().to_str().unwrap())]),
    )
    .unwrap();
    assert_eq!(
        config.database_url.as_ref().unwrap().expose_secret(),
        "postgres://sesame:s3cr3t-pw@db.example/sesame"
    );
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t-pw"), "{debug}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    let f = file("[database]\nurl = \"postgres://u:s3cr3t-pw@h/d\"\n");
    let err =
        format!("{:?}", Config::load(Some(f.path()), env(&[("SESAME_X__Y", "1")])).unwrap_err());
    assert!(!err.contains("s3cr3t-pw"));
}

#[test]
fn the_audit_section_is_read_from_the_file_and_the_environment() {
    let f = file(
        "[audit]\nsign_interval_seconds = 60\nship_file = \"/var/log/sesame/audit.jsonl\"\n\
         ship_syslog = true\nsyslog_socket = \"/run/fake.log\"\nsigning_key_file = \"\"\n",
    );
    let config = Config::load(Some(f.path()), env(&[])).unwrap();
    assert_eq!(config.audit.sign_interval, std::time::Duration::from_secs(60));
    assert_eq!(config.audit.ship_file.as_deref(), Some(Path::new("/var/log/sesame/audit.jsonl")));
    assert!(config.audit.ship_syslog);
    assert_eq!(config.audit.syslog_socket, Path::new("/run/fake.log"));
    assert_eq!(config.audit.signing_key_file, None);
    let config = Config::load(
        Some(f.path()),
        env(&[
            ("SESAME_AUDIT__SHIP_SYSLOG", "false"),
            ("SESAME_AUDIT__SHIP_FILE", ""),
            ("SESAME_AUDIT__SIGNING_KEY_FILE", "/etc/sesame/audit.key"),
        ]),
    )
    .unwrap();
    assert!(!config.audit.ship_syslog);
    assert_eq!(config.audit.ship_file, None);
    assert_eq!(config.audit.signing_key_file.as_deref(), Some(Path::new("/etc/sesame/audit.key")));
    for (key, value) in
        [("SESAME_AUDIT__SIGN_INTERVAL_SECONDS", "5"), ("SESAME_AUDIT__SHIP_SYSLOG", "yes")]
    {
        let err = Config::load(None, env(&[(key, value)])).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
    let err = Config::load(None, env(&[("SESAME_AUDIT__SHIP", "x")])).unwrap_err();
    assert!(matches!(err, Error::UnknownEnv(ref k) if k == "SESAME_AUDIT__SHIP"));
}

#[test]
fn the_operations_endpoint_is_off_unless_given_an_address() {
    assert_eq!(Config::default().operations_listen, None);
    let on = file("[operations]\nlisten = \"127.0.0.1:9464\"\n");
    let config = Config::load(Some(on.path()), env(&[])).unwrap();
    assert_eq!(config.operations_listen, Some("127.0.0.1:9464".parse().unwrap()));
    let off = Config::load(Some(on.path()), env(&[("SESAME_OPERATIONS__LISTEN", " ")])).unwrap();
    assert_eq!(off.operations_listen, None);
    let env_on = Config::load(None, env(&[("SESAME_OPERATIONS__LISTEN", "[::1]:9464")])).unwrap();
    assert_eq!(env_on.operations_listen, Some("[::1]:9464".parse().unwrap()));
    let bad = file("[operations]\nlisten = \"9464\"\n");
    let err = Config::load(Some(bad.path()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("operations.listen"), "{err}");
}

#[test]
fn listener_caps_and_the_metrics_refresh_are_settings() {
    let defaults = Config::default();
    assert_eq!(defaults.grpc_max_connections, None, "sized from the descriptor limit");
    assert_eq!(defaults.operations_max_connections, 64);
    assert_eq!(defaults.metrics_refresh, Duration::from_secs(15));
    let set = file(
        "[server]\nmax_connections = 5000\n[operations]\nmax_connections = 8\nmetrics_refresh_seconds = 60\n",
    );
    let config = Config::load(Some(set.path()), env(&[])).unwrap();
    assert_eq!(config.grpc_max_connections, Some(5000));
    assert_eq!(config.operations_max_connections, 8);
    assert_eq!(config.metrics_refresh, Duration::from_secs(60));
    let config = Config::load(
        Some(set.path()),
        env(&[
            ("SESAME_SERVER__MAX_CONNECTIONS", "0"),
            ("SESAME_OPERATIONS__MAX_CONNECTIONS", "2"),
            ("SESAME_OPERATIONS__METRICS_REFRESH_SECONDS", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(config.grpc_max_connections, None);
    assert_eq!(config.operations_max_connections, 2);
    assert_eq!(config.metrics_refresh, Duration::from_secs(1));
    for bad in [
        "[operations]\nmax_connections = 0\n",
        "[operations]\nmetrics_refresh_seconds = 0\n",
        "[server]\nmax_connections = 2000000\n",
    ] {
        let bad = file(bad);
        assert!(matches!(Config::load(Some(bad.path()), env(&[])), Err(Error::Value { .. })));
    }
}

#[test]
fn attempt_limits_handshakes_and_caches_are_settings() {
    let defaults = Config::default();
    assert_eq!((defaults.agents.attempts_burst, defaults.agents.attempts_per_minute), (5, 10));
    assert_eq!((defaults.handshakes_per_address, defaults.handshakes_total), (16, 256));
    assert_eq!(defaults.caches.workstations, 1_000_000);
    assert_eq!(defaults.caches.ttl, time::Duration::seconds(60));

    let f = file(
        "[agents]\nenroll_burst = 3\nenroll_per_minute = 30\ncache_workstations = 500\n\
         cache_ttl_seconds = 5\n[server]\nhandshakes_per_address = 4\nhandshakes_total = 64\n",
    );
    let config = Config::load(Some(f.path()), env(&[])).unwrap();
    assert_eq!((config.agents.attempts_burst, config.agents.attempts_per_minute), (3, 30));
    assert_eq!((config.handshakes_per_address, config.handshakes_total), (4, 64));
    assert_eq!(config.caches.workstations, 500);
    assert_eq!(config.caches.ttl, time::Duration::seconds(5));

    let config = Config::load(
        Some(f.path()),
        env(&[
            ("SESAME_AGENTS__ENROLL_BURST", "7"),
            ("SESAME_AGENTS__ENROLL_PER_MINUTE", "70"),
            ("SESAME_AGENTS__CACHE_WORKSTATIONS", "0"),
            ("SESAME_AGENTS__CACHE_TTL_SECONDS", "600"),
            ("SESAME_SERVER__HANDSHAKES_PER_ADDRESS", "2"),
            ("SESAME_SERVER__HANDSHAKES_TOTAL", "1024"),
        ]),
    )
    .unwrap();
    assert_eq!((config.agents.attempts_burst, config.agents.attempts_per_minute), (7, 70));
    assert_eq!((config.handshakes_per_address, config.handshakes_total), (2, 1024));
    assert_eq!(config.caches.workstations, 0);
    assert_eq!(config.caches.ttl, time::Duration::seconds(600));

    for (key, value) in [
        ("SESAME_AGENTS__ENROLL_BURST", "0"),
        ("SESAME_AGENTS__ENROLL_PER_MINUTE", "6001"),
        ("SESAME_AGENTS__CACHE_TTL_SECONDS", "0"),
        ("SESAME_AGENTS__CACHE_WORKSTATIONS", "10000001"),
        ("SESAME_SERVER__HANDSHAKES_PER_ADDRESS", "0"),
        ("SESAME_SERVER__HANDSHAKES_TOTAL", "x"),
    ] {
        let err = Config::load(None, env(&[(key, value)])).unwrap_err();
        assert!(matches!(&err, Error::Value { key: k, .. } if k == key), "{key}: {err}");
    }
    let bad = file("[agents]\nenroll_burst = 0\n");
    let err = Config::load(Some(bad.path()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("agents.enroll_burst"), "{err}");
    let unknown = Config::load(None, env(&[("SESAME_AGENTS__ENROLL", "1")])).unwrap_err();
    assert!(matches!(unknown, Error::UnknownEnv(_)));
}

#[test]
fn the_check_in_flush_window_is_a_bounded_setting() {
    assert_eq!(Config::default().agents.check_in_flush, Duration::from_millis(100));
    let set = file("[agents]\ncheck_in_flush_ms = 250\n");
    let config = Config::load(Some(set.path()), env(&[])).unwrap();
    assert_eq!(config.agents.check_in_flush, Duration::from_millis(250));
    let config =
        Config::load(Some(set.path()), env(&[("SESAME_AGENTS__CHECK_IN_FLUSH_MS", "10")])).unwrap();
    assert_eq!(config.agents.check_in_flush, Duration::from_millis(10));
    for bad in ["9", "1001", "soon"] {
        let loaded = Config::load(None, env(&[("SESAME_AGENTS__CHECK_IN_FLUSH_MS", bad)]));
        assert!(matches!(loaded, Err(Error::Value { .. })), "{bad}");
    }
}
