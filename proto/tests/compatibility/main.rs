//! Holds the `.proto` files to every released contract: compiles the current contract and
//! compares it with each descriptor set committed in `proto/released/`, failing with every change
//! that would break agents or clients built from a release (`check` says which changes do).
//!
//! `SESAME_RELEASE_CONTRACT=<version> cargo test -p sesame-proto --test compatibility` records the
//! current contract as release `<version>` (`proto/released/<version>.binpb`); a release already
//! recorded is never rewritten. `proto/released/README.md` says what a release is.

// Reason: a test and its helpers fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod check;
mod check_tests;

use std::path::{Path, PathBuf};

use prost::Message;
use prost_types::FileDescriptorSet;

/// The contract's sources, below this crate.
const CONTRACT_DIR: &str = "sesame/v1";
/// The released descriptor sets, below this crate.
const RELEASED_DIR: &str = "released";
/// Names the version to record the current contract as.
const RELEASE_VARIABLE: &str = "SESAME_RELEASE_CONTRACT";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The current contract, compiled from every `.proto` file of `sesame/v1`, without source
/// comments: a release keeps what the wire and the generated code depend on, not the prose.
fn current_contract() -> FileDescriptorSet {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(CONTRACT_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "proto"))
        .collect();
    files.sort();
    let mut set = protox::compile(&files, [root()]).unwrap();
    for file in &mut set.file {
        file.source_code_info = None;
    }
    set
}

/// The committed releases, `(version, descriptor set)`, in file name order.
fn releases() -> Vec<(String, FileDescriptorSet)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join(RELEASED_DIR)).unwrap() {
        let path = entry.unwrap().path();
        let Some(version) = path.file_name().unwrap().to_str().unwrap().strip_suffix(".binpb")
        else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let set = FileDescriptorSet::decode(bytes.as_slice())
            .unwrap_or_else(|e| panic!("{}: not a FileDescriptorSet: {e}", path.display()));
        found.push((version.to_owned(), set));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Whether `version` reads as a release version: `MAJOR.MINOR.PATCH`, optionally `-PRE`.
fn is_version(version: &str) -> bool {
    let (core, pre) = version.split_once('-').unwrap_or((version, "a"));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !pre.is_empty()
        && pre.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[test]
fn the_current_contract_keeps_every_release_working() {
    let current = current_contract();
    if let Ok(version) = std::env::var(RELEASE_VARIABLE) {
        assert!(is_version(&version), "{RELEASE_VARIABLE}={version}: not a version such as 0.2.0");
        let path = root().join(RELEASED_DIR).join(format!("{version}.binpb"));
        let bytes = current.encode_to_vec();
        match std::fs::read(&path) {
            Ok(recorded) => assert!(
                recorded == bytes,
                "{} is already recorded with another contract: a release is never rewritten",
                path.display()
            ),
            Err(_) => std::fs::write(&path, bytes).unwrap(),
        }
    }
    let releases = releases();
    assert!(!releases.is_empty(), "no release in proto/{RELEASED_DIR}");
    let mut breaks = Vec::new();
    for (version, release) in &releases {
        for change in check::breaking_changes(release, &current) {
            breaks.push(format!("release {version}: {change}"));
        }
    }
    assert!(
        breaks.is_empty(),
        "the contract breaks agents or clients of an earlier release (see proto/released/README.md):\n{}",
        breaks.join("\n")
    );
}

#[test]
fn every_release_is_a_version_the_readme_describes() {
    let readme = std::fs::read_to_string(root().join(RELEASED_DIR).join("README.md")).unwrap();
    for (version, set) in releases() {
        assert!(is_version(&version), "proto/{RELEASED_DIR}/{version}.binpb: not a version");
        assert!(readme.contains(&format!("`{version}`")), "README.md does not describe {version}");
        let agent = set.file.iter().any(|f| f.service.iter().any(|s| s.name() == "AgentService"));
        assert!(agent, "release {version} has no AgentService");
    }
}
