//! The workspace's real binaries (`sesame-server`, `sesamectl`, `sesame-agent`, `sesame-window`,
//! `sesame-fleet-sim`), which end-to-end tests run as processes: the one place that finds them and
//! makes sure they are the binaries of the build under test.
//!
//! The first call in a test process has the cargo running the tests build the workspace's
//! binaries into the same target directory and profile, with the features of
//! `cargo test --workspace` (`--workspace --bins --tests`). Under `cargo test --workspace` that
//! only links the few binaries no test target made cargo build (`sesamectl`,
//! `sesame-fleet-sim`); the rest is found up to date. Under a narrower run it rebuilds whatever
//! changed, so a test never runs a stale binary. `SESAME_BIN_DIR` names a directory to take them
//! from as they are, building nothing (the release binaries a benchmark measures).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace binary `name` (without the executable suffix), ready to run.
pub fn workspace_binary(name: &str) -> PathBuf {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    if let Some(dir) = std::env::var_os("SESAME_BIN_DIR") {
        return PathBuf::from(dir).join(file);
    }
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT
        .get_or_init(|| {
            let profile_dir = profile_dir();
            build_workspace_binaries(&profile_dir);
            profile_dir
        })
        .join(file);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `target/<profile>`, from this test binary's path (`target/<profile>/deps/<test binary>`).
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Builds the workspace's binaries with the cargo running the tests.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
fn build_workspace_binaries(profile_dir: &Path) {
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet"]);
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        build.args(["--release", "--workspace", "--bins"]);
    } else {
        // The whole workspace's binaries and tests: the same features as `cargo test --workspace`
        // (a `--package` build alone resolves other features and rebuilds dozens of crates).
        build.args(["--workspace", "--bins", "--tests"]);
    }
    build.arg("--target-dir").arg(profile_dir.parent().unwrap());
    // What cargo set for this test process is not the developer's environment: build scripts that
    // watch a variable (ring watches CARGO_MANIFEST_DIR) would see it change and rebuild.
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
    assert!(status.success(), "cargo build (the workspace's binaries): {status:?}");
}
