//! Checks on the source tree itself: conventions that would otherwise rot.

use std::path::{Path, PathBuf};

mod boundaries;
mod conventions;
mod migrations;

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

/// Longest hand-written source file, in lines (generated code excepted).
const MAX_FILE_LINES: usize = 600;

/// Every Rust source file of the workspace but generated code, with its path relative to the root.
fn sources() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            let relative = path.strip_prefix(&root).expect("inside the root").to_string_lossy();
            (relative.replace('\\', "/"), text)
        })
        .collect()
}

/// The code of a file, its comments removed (line comments and doc comments), so that a rule
/// about code is not tripped by prose.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("")))
        .filter(|(_, line)| !line.trim().is_empty())
}

#[test]
fn no_source_file_is_too_long() {
    let long: Vec<String> = sources()
        .into_iter()
        .map(|(path, text)| (path, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_FILE_LINES)
        .map(|(path, lines)| format!("{path}: {lines} lines (split it by what it owns)"))
        .collect();
    assert!(long.is_empty(), "files over {MAX_FILE_LINES} lines:\n{}", long.join("\n"));
}

/// Which crates' names a file may use, by where it is: `(path prefix, forbidden word, allowed
/// prefixes)`. The edges are the only places that know protobuf and gRPC (the server's domain does
/// not even name the contract crate); the store is the only place that knows sqlx.
const CONFINED: &[(&str, &str, &[&str])] = &[
    ("server/src/", "sqlx", &["server/src/store"]),
    ("server/src/", "tonic", &["server/src/grpc"]),
    ("server/src/", "prost", &["server/src/grpc"]),
    ("server/src/", "sesame_proto::v1", &["server/src/grpc"]),
    ("server/src/domain/", "sesame_proto", &[]),
    // The dashboard's web stack: axum and askama in its edge only.
    ("server/src/", "axum", &["server/src/web"]),
    ("server/src/", "askama", &["server/src/web"]),
    ("agent/src/", "tonic", &["agent/src/uplink"]),
    ("agent/src/", "prost", &["agent/src/uplink"]),
    ("agent/src/", "sesame_proto::v1", &["agent/src/uplink"]),
    ("proto/base/", "sqlx", &[]),
    ("proto/base/", "tonic", &[]),
    // The documents are rendered from plain inputs, for sesamectl and the server's dashboard alike.
    ("server/documents/", "sesame_proto", &[]),
    ("server/documents/", "tonic", &[]),
    ("server/documents/", "sqlx", &[]),
    ("server/documents/", "sesame_server", &[]),
    // Every request to OWA goes through `OwaHttp`, which checks each URL against the configured
    // host; the clé REAL is asked through `key::usb` alone, with a fresh libusb context per probe.
    ("agent/src/", "reqwest", &["agent/src/owa/http"]),
    ("agent/src/", "rusb", &["agent/src/key/usb"]),
];

#[test]
fn database_and_wire_crates_stay_in_their_layer() {
    let mut problems = Vec::new();
    for (path, text) in sources() {
        for (scope, word, allowed) in CONFINED {
            if !path.starts_with(scope) || allowed.iter().any(|a| path.starts_with(a)) {
                continue;
            }
            for (number, line) in code_lines(&text) {
                if names(line, word) {
                    problems.push(format!("{path}:{number}: `{word}` outside {allowed:?}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether `line` names `word` as a path segment (not as part of a longer identifier).
fn names(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The server's layers, lowest first, and the top-level modules in each. A module may use its own
/// layer and the ones below it, never one above.
const SERVER_LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    ("keys", &["keys", "data_dir"]),
    ("store", &["store"]),
    ("services", &["services"]),
    ("edges", &["grpc", "ops", "web"]),
];

/// The layer of a top-level module of the server, if it has one (start-up code has none: it
/// wires every layer together).
fn layer_of(module: &str) -> Option<usize> {
    SERVER_LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

#[test]
fn server_layers_only_import_downwards() {
    let mut problems = Vec::new();
    for (path, text) in sources() {
        let Some(rest) = path.strip_prefix("server/src/") else { continue };
        let module = rest.split(['/', '.']).next().unwrap_or("");
        let Some(layer) = layer_of(module) else { continue };
        for (number, line) in code_lines(&text) {
            for (at, _) in line.match_indices("crate::") {
                let used: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if layer_of(&used).is_some_and(|l| l > layer) || is_startup(&used) {
                    problems.push(format!(
                        "{path}:{number}: the {} layer uses crate::{used}",
                        SERVER_LAYERS[layer].0
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "upward imports:\n{}", problems.join("\n"));
}

/// Start-up modules: the configuration, read once by `Server::prepare`, and `startup`.
fn is_startup(module: &str) -> bool {
    module == "config" || module == "startup"
}

/// The files and directories allowed at the root of the repository: scratch files (logs, scripts,
/// addresses) cannot land there unnoticed. A new top-level entry is added here on purpose.
const ROOT_ENTRIES: &[&str] = &[
    ".cargo",
    ".ci",
    ".git",
    ".gitattributes",
    ".gitignore",
    "ARCHITECTURE.md",
    "BENCHMARKS.md",
    "Cargo.lock",
    "Cargo.toml",
    "README.md",
    "agent",
    "clippy.toml",
    "deploy",
    "docs",
    "migrations",
    "proto",
    "rustfmt.toml",
    "server",
    "target",
    "tests",
];

#[test]
fn only_known_files_sit_at_the_root() {
    let root = workspace_root();
    let tracked = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output();
    // In a checkout, every file git tracks or would add (ignored ones such as `target/` aside);
    // without git (a source archive), whatever is there.
    let entries: Vec<String> = match tracked {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|path| path.split('/').next().unwrap_or(path).to_owned())
            .collect(),
        _ => std::fs::read_dir(&root)
            .expect("the workspace root")
            .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect(),
    };
    let mut unknown: Vec<String> =
        entries.into_iter().filter(|e| !ROOT_ENTRIES.contains(&e.as_str())).collect();
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "unexpected files at the root (move them, delete them, or list them in ROOT_ENTRIES): {unknown:?}"
    );
}

/// What start-up (`server/src/lib.rs`, `main.rs`, `config`) may do with the store it opens: share
/// it, close it, hand it to the services. Every read and write goes through a service, which owns
/// the rules and the audit actor.
const STARTUP_STORE_CALLS: &[&str] = &["as_ref", "clone", "close", "shares_changes"];

#[test]
fn start_up_does_not_reach_the_store() {
    let mut problems = Vec::new();
    for (path, text) in sources() {
        let startup =
            ["server/src/lib.rs", "server/src/main.rs", "server/src/startup", "server/src/config"]
                .iter()
                .any(|p| path.starts_with(p));
        if !startup {
            continue;
        }
        for (number, line) in code_lines(&text) {
            for (at, _) in line.match_indices("store.") {
                if line[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let method: String = line[at + 6..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !STARTUP_STORE_CALLS.contains(&method.as_str()) {
                    problems.push(format!(
                        "{path}:{number}: start-up calls store.{method}: go through a service"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether a file is shipped code: not a test crate, an integration test, a bench or a unit-test
/// file (`tests.rs`, `*_tests.rs`, `foo/tests.rs`).
fn is_shipped(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !(path.starts_with("tests/")
        || path.contains("/tests/")
        || path.contains("/benches/")
        || name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "testing.rs"
        || name == "test_support.rs")
}

/// The code lines of a shipped file up to its inline unit tests (the `#[cfg(test)] mod tests {`
/// that ends a file by convention); `#[cfg(test)] mod tests;` declarations are passed over.
fn shipped_code_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<(usize, &str)> = code_lines(text).collect();
    let inline_tests = lines
        .windows(2)
        .position(|pair| pair[0].1.trim() == "#[cfg(test)]" && pair[1].1.trim_end().ends_with('{'));
    lines.into_iter().take(inline_tests.unwrap_or(usize::MAX)).collect()
}
