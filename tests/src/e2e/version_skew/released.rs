//! The AgentService clients of earlier released contracts, generated from their descriptor sets in
//! `proto/released/` (client side only, agent-facing files only) and committed in `gen/`, as
//! `sesame-proto` commits its own: no build script, no `protoc`. [`generated_clients_are_fresh`]
//! regenerates them and fails when the committed copy differs; `SESAME_UPDATE_PROTO=1` rewrites it.

use std::path::Path;

use prost::Message;
use prost_types::FileDescriptorSet;

/// The contract agents ran from 2026-11-29 (before local accounts).
pub(super) mod v0_1_0_pre_1 {
    #![allow(unreachable_pub, missing_debug_implementations, dead_code, clippy::all)]
    // Reason: generated code; its style is tonic-prost-build's, and a test uses part of it.
    include!("gen/v0_1_0_pre_1.rs");
}

/// The contract agents ran from 2026-12-07 (local accounts, before `rotations_pending`).
pub(super) mod v0_1_0_pre_2 {
    #![allow(unreachable_pub, missing_debug_implementations, dead_code, clippy::all)]
    // Reason: generated code; its style is tonic-prost-build's, and a test uses part of it.
    include!("gen/v0_1_0_pre_2.rs");
}

/// Each generated client: the release it comes from and the file it is committed in.
const GENERATED: &[(&str, &str)] =
    &[("0.1.0-pre.1", "v0_1_0_pre_1.rs"), ("0.1.0-pre.2", "v0_1_0_pre_2.rs")];

/// The file an agent is built from; it and what it imports are generated.
const AGENT_FILE: &str = "sesame/v1/agent.proto";

/// A release's agent-facing files: `agent.proto` and the files it imports.
fn agent_files(mut set: FileDescriptorSet) -> FileDescriptorSet {
    let mut wanted = vec![AGENT_FILE.to_owned()];
    let mut i = 0;
    while let Some(name) = wanted.get(i).cloned() {
        let file = set.file.iter().find(|f| f.name() == name).expect("an imported file");
        for dependency in &file.dependency {
            if !wanted.contains(dependency) {
                wanted.push(dependency.clone());
            }
        }
        i += 1;
    }
    set.file.retain(|f| wanted.iter().any(|w| w == f.name()));
    set
}

/// The client code of `release`, as tonic-prost-build writes it.
fn generate(release: &str) -> Vec<u8> {
    let released = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/released");
    let bytes = std::fs::read(released.join(format!("{release}.binpb"))).expect("the release");
    let set = agent_files(FileDescriptorSet::decode(bytes.as_slice()).expect("a descriptor set"));
    let out = tempfile::tempdir().expect("a temporary directory");
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .out_dir(out.path())
        .compile_fds(set)
        .expect("code generation succeeds");
    std::fs::read(out.path().join("sesame.v1.rs")).expect("the generated file")
}

#[test]
fn generated_clients_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/e2e/version_skew/gen");
    let mut stale = Vec::new();
    for (release, file) in GENERATED {
        let fresh = generate(release);
        let path = dir.join(file);
        if std::fs::read(&path).unwrap_or_default() != fresh {
            if std::env::var_os("SESAME_UPDATE_PROTO").is_some() {
                std::fs::write(&path, fresh).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale: run `SESAME_UPDATE_PROTO=1 cargo test -p sesame-tests --lib generated_clients` and commit the result",
        stale.join(", ")
    );
}
