//! Who may reach what: the edges go through the services, every store transaction commits
//! through the audit log, only the agent's actor holds its state, and the server's domain and the
//! agent's rotation machine do no input or output.

use super::{code_lines, names, shipped_code_lines, sources};

#[test]
fn store_transactions_commit_through_the_audit_log() {
    // `Db::commit` (store/audit.rs) appends the audit records of a change, then commits: a store
    // file that commits a transaction itself could write a change without its record.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if !path.starts_with("server/src/store") || path == "server/src/store/audit.rs" {
            continue;
        }
        for (number, line) in code_lines(&text) {
            if line.contains(".commit()") {
                problems
                    .push(format!("{path}:{number}: commit through `Db::commit(tx, &events, at)`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_edges_call_services_not_the_store() {
    // An edge authenticates, parses, calls one service and converts back; the rules, the
    // authorization and the audit actor are the services'. So a second edge reuses all of them.
    let mut problems = Vec::new();
    for (path, text) in sources() {
        let edge = ["server/src/grpc", "server/src/ops", "server/src/web"]
            .iter()
            .any(|p| path.starts_with(p));
        if !edge {
            continue;
        }
        for (number, line) in shipped_code_lines(&text) {
            if line.contains("crate::store") || names(line, "Store") {
                problems.push(format!("{path}:{number}: an edge goes through `Services`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_actor_holds_the_agents_state() {
    // `service::core::Core` (journal, outbox, rotations) is owned by the one actor task: no lock
    // around it, no other task reaching it. `service.rs` opens it and hands it over.
    let allowed = ["agent/src/service.rs", "agent/src/service/core", "agent/src/service/actor"];
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if !path.starts_with("agent/src/") || allowed.iter().any(|a| path.starts_with(a)) {
            continue;
        }
        for (number, line) in code_lines(&text) {
            if names(line, "Core") {
                problems.push(format!("{path}:{number}: send the actor an input instead"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What pure code may not name: the runtime, files, processes and the environment. The server's
/// domain is types and rules; the agent's rotation machine turns events and the time into
/// commands; the documents turn plain inputs into bytes (written to any `Write`).
const PURE: &[&str] = &["server/src/domain", "agent/src/rotation", "server/documents"];
const INPUT_OUTPUT: &[&str] = &["tokio", "std::fs", "std::process", "std::env", "reqwest", "rusb"];

#[test]
fn the_domain_and_the_rotation_machine_do_no_input_or_output() {
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if !PURE.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for (number, line) in code_lines(&text) {
            for word in INPUT_OUTPUT {
                if names(line, word) {
                    problems.push(format!("{path}:{number}: `{word}` in pure code"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
