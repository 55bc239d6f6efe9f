//! House rules of the code itself: every crate under the workspace lints, every silenced lint
//! with its reason, the wall clock read by the clock alone, `anyhow` in binaries only, one
//! spelling of "check-in", and every RPC of the contract saying who may call it.

use std::path::{Path, PathBuf};

use super::{code_lines, is_shipped, names, shipped_code_lines, sources, workspace_root};

#[test]
fn every_crate_inherits_the_workspace_lints() {
    // `[workspace.lints]` forbids `unsafe` and warns on unwrap, expect, print and the methods
    // clippy.toml bans (CI denies warnings); a crate without `[lints] workspace = true` would
    // escape all of it.
    let mut manifests = Vec::new();
    find_manifests(&workspace_root(), &mut manifests);
    assert!(manifests.len() > 5, "the walk found the crates");
    let mut problems = Vec::new();
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest).expect("a readable Cargo.toml");
        if text.contains("[workspace]") {
            continue;
        }
        let inherits = text
            .split("\n[")
            .any(|section| section.starts_with("lints]") && section.contains("workspace = true"));
        if !inherits {
            problems.push(format!("{}: add `[lints] workspace = true`", manifest.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every Cargo.toml under `dir`, build output aside.
fn find_manifests(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | ".git" | "sesame-data") {
                find_manifests(&path, found);
            }
        } else if name == "Cargo.toml" {
            found.push(path);
        }
    }
}

#[test]
fn every_allow_says_why() {
    // A lint silenced without a reason is a rule nobody can weigh later. The reason is a
    // `// Reason: …` comment on the line before the attribute, on its last line or on the line
    // after it.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if path.starts_with("proto/src/gen/") {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if !(trimmed.starts_with("#[allow(") || trimmed.starts_with("#![allow(")) {
                continue;
            }
            let end = (i..lines.len()).find(|&j| lines[j].contains(")]")).unwrap_or(i);
            let around = [i.checked_sub(1), Some(end), Some(end + 1)];
            let said = around
                .into_iter()
                .flatten()
                .filter_map(|j| lines.get(j))
                .any(|l| l.contains("Reason:"));
            if !said {
                problems.push(format!("{path}:{}: say why with `// Reason: …`", i + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_clock_may_read_the_wall_clock() {
    // clippy.toml bans the wall-clock reads (`disallowed-methods`); in shipped code only
    // `sesame_base::clock::SystemClock` may lift the ban.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if !is_shipped(&path) || path == "proto/base/src/clock.rs" {
            continue;
        }
        for (number, line) in shipped_code_lines(&text) {
            if line.contains("disallowed_methods") {
                problems.push(format!("{path}:{number}: take the time from a `Clock`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn anyhow_is_for_binaries_only() {
    // Libraries return typed errors (`thiserror`) their callers can match; a binary's `main`
    // reports whatever it gets.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if !is_shipped(&path) || path.ends_with("/main.rs") {
            continue;
        }
        for (number, line) in shipped_code_lines(&text) {
            if names(line, "anyhow") {
                problems.push(format!("{path}:{number}: a library returns a `thiserror` type"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The spellings refused, written so that this file does not use them.
const WRONG_CHECK_IN: [&str; 2] = [concat!("check", "in"), concat!("Check", "in")];

#[test]
fn check_in_is_spelled_check_in() {
    // One word per concept: `check_in` and `CheckIn` in code (the RPC on the wire stays
    // `Heartbeat`), never `checkin` or `Checkin`.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        for (number, line) in code_lines(&text) {
            let words = line.split(|c: char| !(c.is_alphanumeric() || c == '_'));
            for word in words {
                let wrong = WRONG_CHECK_IN.iter().any(|w| {
                    word.match_indices(w).any(|(at, _)| !word[at + w.len()..].starts_with('g'))
                });
                if wrong {
                    problems
                        .push(format!("{path}:{number}: `{word}`: spell it check_in / CheckIn"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rpc_says_who_may_call_it() {
    // The contract is where a client reads who may call an RPC; `e2e::roles` then holds the server
    // to it. Each `rpc` is preceded by a comment that says `Callable by: …`.
    let dir = workspace_root().join("proto/sesame/v1");
    let mut problems = Vec::new();
    let mut rpcs = 0;
    for entry in std::fs::read_dir(&dir).expect("proto/sesame/v1") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "proto") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable .proto file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rpc) = line.trim_start().strip_prefix("rpc ") else { continue };
            rpcs += 1;
            let comment: Vec<&str> =
                lines[..i].iter().rev().map_while(|l| l.trim_start().strip_prefix("//")).collect();
            let words = comment.iter().rev().flat_map(|l| l.split_whitespace()).collect::<Vec<_>>();
            if !words.windows(2).any(|w| w == ["Callable", "by:"]) {
                let name = rpc.split('(').next().unwrap_or(rpc);
                problems.push(format!("{}:{}: say who may call {name}", path.display(), i + 1));
            }
        }
    }
    assert!(rpcs > 20, "the walk found the contract's RPCs");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
