//! The REAL key probe at the libusb boundary: the real `sesame-agent key-status` (rusb, libusb
//! built from source) run under Debian's umockdev, which shows libusb simulated USB devices
//! (`agent/tests/usb/*.umockdev`) by faking `/sys` and `/dev/bus/usb` through `LD_PRELOAD`.
//!
//! Needs `umockdev` (and, for plugging at run time, `gir1.2-umockdev-1.0` and `python3-gi` for
//! Debian's `/usr/bin/python3`). `.ci/run` installs them; with `CI=true` a missing tool fails the
//! tests, otherwise they are skipped with a message.

// Reason: the helpers fail by panicking, like the tests calling them; a skipped test says why.
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::{Command, Output};

const ABSENT: &str = "Aucune clé REAL branchée";

fn usb_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/usb")
}

fn agent() -> &'static str {
    env!("CARGO_BIN_EXE_sesame-agent")
}

/// Whether `what` is available; under CI=true a missing tool is a failure, not a skip.
fn available(what: &str, found: bool) -> bool {
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "{what} is missing and CI=true: install it (see .ci/run)"
        );
        eprintln!("skipped: {what} is not installed (apt-get install umockdev)");
    }
    found
}

fn umockdev() -> bool {
    let found = Command::new("umockdev-run")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    available("umockdev-run", found)
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "key-status failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8").trim_end().to_owned()
}

/// `sesame-agent key-status ARGS` with these simulated devices plugged in.
fn key_status(devices: &[&str], args: &[&str]) -> String {
    let mut command = Command::new("umockdev-run");
    for device in devices {
        command.arg("--device").arg(usb_dir().join(device));
    }
    command.arg("--").arg(agent()).arg("key-status").args(args);
    stdout(&command.output().expect("umockdev-run runs"))
}

#[test]
fn the_root_hub_alone_is_no_key() {
    if umockdev() {
        assert_eq!(key_status(&["root-hub.umockdev"], &[]), ABSENT);
    }
}

#[test]
fn the_gemalto_reader_is_the_key_with_its_place_on_the_bus() {
    if umockdev() {
        assert_eq!(
            key_status(&["root-hub.umockdev", "gemalto-ccid-reader.umockdev"], &[]),
            "Clé REAL branchée (08e6:3437 bus 1 port 1-1)"
        );
    }
}

#[test]
fn a_usb_stick_is_no_key_unless_listed() {
    if umockdev() {
        let devices = ["root-hub.umockdev", "usb-stick.umockdev"];
        assert_eq!(key_status(&devices, &[]), ABSENT);
        assert_eq!(
            key_status(&devices, &["--id", "0781:5567"]),
            "Clé REAL branchée (0781:5567 bus 1 port 1-2)"
        );
    }
}

#[test]
fn the_key_is_found_among_other_devices() {
    if umockdev() {
        let devices = ["root-hub.umockdev", "usb-stick.umockdev", "gemalto-ccid-reader.umockdev"];
        assert_eq!(key_status(&devices, &[]), "Clé REAL branchée (08e6:3437 bus 1 port 1-1)");
    }
}

#[test]
fn an_unlisted_device_with_a_smart_card_interface_is_a_key() {
    if umockdev() {
        // A keyboard whose second interface is a CCID reader; its id is in no list.
        let devices = ["root-hub.umockdev", "keyboard-with-reader.umockdev"];
        assert_eq!(key_status(&devices, &[]), "Clé REAL branchée (1209:0b0b bus 1 port 1-3)");
        assert_eq!(
            key_status(&devices, &["--id", "08e6:3437"]),
            "Clé REAL branchée (1209:0b0b bus 1 port 1-3)",
            "the class rule holds whatever the list"
        );
    }
}

#[test]
fn a_listed_device_is_a_key_whatever_its_class() {
    if umockdev() {
        // 08e6:3438 is in the default list; this one reports a vendor-specific class only.
        let devices = ["root-hub.umockdev", "vendor-class-token.umockdev"];
        assert_eq!(key_status(&devices, &[]), "Clé REAL branchée (08e6:3438 bus 1 port 1-1)");
        assert_eq!(key_status(&devices, &["--id", "08e6:3437"]), ABSENT, "--id replaces the list");
    }
}

#[test]
fn no_usb_at_all_is_an_unknown_state_not_a_panic() {
    if umockdev() {
        // umockdev with no device: no /sys/bus/usb and no /dev/bus/usb, as on our build machines.
        let state = key_status(&[], &[]);
        assert!(state.starts_with("État de la clé inconnu : Sesame ne peut pas voir"), "{state}");
        assert!(state.contains("no USB access: this computer shows no USB bus"), "{state}");
    }
    // Without umockdev: on a machine without a USB bus (CI), the same answer.
    if !std::path::Path::new("/sys/bus/usb").exists() {
        let output = Command::new(agent()).arg("key-status").output().expect("the agent runs");
        let state = stdout(&output);
        assert!(state.contains("no USB access: this computer shows no USB bus"), "{state}");
    }
}

#[test]
fn plugging_and_unplugging_at_run_time_reaches_the_watcher() {
    if !umockdev() {
        return;
    }
    let python = "/usr/bin/python3";
    let bindings = Command::new(python)
        .args(["-c", "import gi; gi.require_version('UMockdev', '1.0')"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !available("python3-gi with gir1.2-umockdev-1.0", bindings) {
        return;
    }
    let output = Command::new("umockdev-wrapper")
        .arg(python)
        .arg(usb_dir().join("plug.py"))
        .arg(agent())
        .arg(usb_dir())
        .output()
        .expect("umockdev-wrapper runs");
    let seen = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "plug.py: {}\n{seen}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let present = "Clé REAL branchée (08e6:3437 bus 1 port 1-1)";
    assert_eq!(seen.lines().collect::<Vec<_>>(), [ABSENT, present, ABSENT, present]);
}
