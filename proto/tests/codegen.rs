//! Checks that the committed generated code, and the encoded file descriptor set the server's
//! reflection service answers from, match the `.proto` files.
//!
//! Run with `SESAME_UPDATE_PROTO=1` to rewrite `src/gen` after changing a `.proto` file.

use std::path::{Path, PathBuf};

use prost::Message;

const PROTOS: &[&str] =
    &["sesame/v1/common.proto", "sesame/v1/admin.proto", "sesame/v1/agent.proto"];

/// The encoded file descriptor set, beside the generated code.
const DESCRIPTOR_SET: &str = "sesame.v1.bin";

#[allow(clippy::expect_used)] // Reason: a test helper fails by panicking.
fn generate(out_dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let fds = protox::compile(&files, [root]).expect("the .proto files compile");
    std::fs::write(out_dir.join(DESCRIPTOR_SET), fds.encode_to_vec())
        .expect("the descriptor set is written");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .out_dir(out_dir)
        .compile_fds(fds)
        .expect("code generation succeeds");
}

#[test]
fn generated_code_is_fresh() {
    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gen");
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let mut stale = Vec::new();
    for name in ["sesame.v1.rs", DESCRIPTOR_SET] {
        let fresh = std::fs::read(tmp.path().join(name)).unwrap();
        let committed_path = committed_dir.join(name);
        let committed = std::fs::read(&committed_path).unwrap_or_default();
        if fresh != committed {
            if std::env::var_os("SESAME_UPDATE_PROTO").is_some() {
                std::fs::write(&committed_path, fresh).unwrap();
            } else {
                stale.push(committed_path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale: run `SESAME_UPDATE_PROTO=1 cargo test --workspace -- generated_code` and commit the result",
        stale.join(", ")
    );
}
