//! Checks on the source tree itself: conventions that would otherwise rot.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | ".git" | "gen" | "sesame-data") {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc_and_none_is_mod_rs() {
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    assert!(files.len() > 20, "the walk found the sources");
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        if !text.starts_with("//!") {
            problems.push(format!("{}: does not start with a //! doc comment", file.display()));
        }
        if file.file_name().is_some_and(|n| n == "mod.rs") {
            problems.push(format!("{}: use foo.rs + foo/ instead of mod.rs", file.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_openssl_in_the_dependency_tree() {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).expect("Cargo.lock");
    let banned = ["openssl", "openssl-sys", "native-tls"];
    let found: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"'))
        .filter(|n| banned.contains(n))
        .collect();
    assert!(found.is_empty(), "rustls is the only TLS stack; found {found:?} in Cargo.lock");
}

#[test]
fn migrations_exist_in_pairs() {
    let names = |backend: &str| {
        let mut names: Vec<String> =
            std::fs::read_dir(workspace_root().join("migrations").join(backend))
                .expect("a migrations directory")
                .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
                .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("sqlite"),
        names("postgres"),
        "every migration has a SQLite and a PostgreSQL version"
    );
}
