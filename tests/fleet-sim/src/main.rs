//! `sesame-fleet-sim`: the load generator of the benchmarks (`tests/fleet-sim/run-benchmarks`).
//! It provisions simulated workstations offline (`provision`), gives them rotations through the
//! admin API (`setup-rotations`), drives them over real mutual TLS at an open-loop rate (`run`),
//! measures TLS handshakes (`handshakes`) and a reconnect storm (`storm`), and serves the bare
//! tonic peer everything is compared with (`echo-server`). Results go to standard output, each
//! run ending with one `RESULT {json}` line.

/// Writes a line to standard output (a closed pipe is ignored).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod agents;
mod check_in;
mod cpu;
mod echo;
mod handshakes;
mod histogram;
mod identities;
mod provision;
mod run;
mod schedule;
mod setup_rotations;
mod stats;
mod storm;
mod tls;

use clap::{Parser, Subcommand};

/// The agent version simulated agents report.
pub(crate) const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Parser)]
#[command(name = "sesame-fleet-sim", version, about = "Simulated Sesame agents for benchmarks")]
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrolls N simulated workstations offline, on the server's data directory and database.
    Provision(provision::ProvisionArgs),
    /// Imports mailboxes, assigns them to simulated workstations and issues provisional rotations.
    SetupRotations(setup_rotations::SetupArgs),
    /// Drives connected agents at a constant arrival rate and reports throughput and latency.
    Run(run::RunArgs),
    /// A bare tonic AgentService over the server's mutual TLS: the peer.
    EchoServer(echo::EchoArgs),
    /// New connections with one Heartbeat each: full or resumed TLS handshakes per second.
    Handshakes(handshakes::HandshakeArgs),
    /// Agents connected, the server restarted, the time until all have checked in again.
    Storm(storm::StormArgs),
}

/// Raises the soft descriptor limit to the hard one (each agent holds a socket).
pub(crate) fn raise_descriptor_limit() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Provision(args) => provision::run(args).await,
            Command::SetupRotations(args) => setup_rotations::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::EchoServer(args) => echo::run(args).await,
            Command::Handshakes(args) => handshakes::run(args).await,
            Command::Storm(args) => storm::run(args).await,
        }
    })
}
