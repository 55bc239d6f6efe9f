//! The agent binary builds and identifies itself.

use std::process::Command;

#[test]
fn the_agent_answers_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_sesame-agent")).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("sesame-agent {}\n", env!("CARGO_PKG_VERSION"))
    );
}
