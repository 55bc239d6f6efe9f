//! The fault suite (`cargo test -p sesame-tests --test faults`): scenarios from
//! `docs/reliability.md`'s families B (server crashes and storage faults), A (the agent's crashes),
//! C (offline agents, slow and failing networks), D (clock) and F (hostile input), each run against
//! real processes or a real in-process server, with real databases (SQLite and PostgreSQL).
//!
//! It has its own `main` (no libtest harness) so that every scenario prints its measured pass
//! criterion, also when it passes: `faults: <scenario>: <figures>`. Scenarios run one after the
//! other (several kill servers or fill disks); arguments filter them by name
//! (`cargo test -p sesame-tests --test faults -- disk`). A failing scenario panics: the binary
//! exits non-zero after naming it.

// Reason: a test fails by panicking; its figures are printed for the person reading CI's log.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used, clippy::print_stdout)]

mod clock_jumps;
mod crash_agent;
mod crash_server;
mod crash_support;
mod disk_full;
mod environment;
mod hostile_input;
mod network;
mod postgres_restart;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// One scenario: its name (`family/what`) and the function that runs it, returning the line of
/// figures it measured.
struct Scenario {
    name: &'static str,
    run: fn() -> Pin<Box<dyn Future<Output = String>>>,
}

/// Every scenario, in the order they run.
fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "suite/self-check", run: || Box::pin(self_check()) },
        Scenario { name: "B/server-kill-sqlite", run: || Box::pin(crash_server::on_sqlite()) },
        Scenario { name: "B/server-kill-postgres", run: || Box::pin(crash_server::on_postgres()) },
        Scenario { name: "A/agent-crash-points", run: || Box::pin(crash_agent::every_point()) },
        Scenario {
            name: "B/postgres-restart",
            run: || Box::pin(postgres_restart::restart_under_load()),
        },
        Scenario { name: "disk/server-sqlite", run: || Box::pin(disk_full::server_sqlite()) },
        Scenario { name: "disk/server-postgres", run: || Box::pin(disk_full::server_postgres()) },
        Scenario { name: "disk/agent-state", run: || Box::pin(disk_full::agent_state()) },
        Scenario { name: "clock/jumps-sqlite", run: || Box::pin(clock_jumps::sqlite()) },
        Scenario { name: "clock/jumps-postgres", run: || Box::pin(clock_jumps::postgres()) },
        Scenario { name: "network/agent-sqlite", run: || Box::pin(network::sqlite()) },
        Scenario { name: "network/agent-postgres", run: || Box::pin(network::postgres()) },
        Scenario {
            name: "hostile/malformed-grpc",
            run: || Box::pin(hostile_input::malformed_messages()),
        },
    ]
}

/// The harness works: one scenario that always passes.
async fn self_check() -> String {
    "the suite runs".to_owned()
}

fn main() {
    let filters: Vec<String> =
        std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let started = Instant::now();
    let mut ran = 0;
    for scenario in scenarios() {
        if !filters.is_empty() && !filters.iter().any(|f| scenario.name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        println!("faults: {} ...", scenario.name);
        let figures = runtime.block_on((scenario.run)());
        println!(
            "faults: {}: passed in {:.1} s: {figures}",
            scenario.name,
            start.elapsed().as_secs_f64()
        );
        ran += 1;
    }
    println!("faults: {ran} scenario(s) passed in {:.1} s", started.elapsed().as_secs_f64());
}
