//! `sesame-agent`: the workstation service's command line: `enroll`, `run`, `status`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use sesame_agent::clock::SystemClock;
use sesame_agent::identity::{StateDir, validity};
use sesame_agent::uplink::{Agent, Enrollment, enroll};

#[derive(Debug, Parser)]
#[command(name = "sesame-agent", version = sesame_agent::VERSION, about = "The Sesame workstation agent")]
struct Cli {
    /// Where the agent keeps its identity (key, certificate, server CA).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrolls this workstation with a token from `sesamectl token create`.
    Enroll {
        /// The server, https://HOST:PORT.
        #[arg(long)]
        server: String,
        /// The SHA-256 fingerprint of the server's CA, as sesame-server printed it.
        #[arg(long)]
        ca_fingerprint: String,
        /// The enrollment token (or SESAME_ENROLL_TOKEN, which keeps it out of the process list).
        #[arg(long, env = "SESAME_ENROLL_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Runs the agent service until stopped.
    Run,
    /// Shows the enrolled identity.
    Status,
}

/// Resolves on Ctrl-C, or on SIGTERM (the service manager stopping the agent).
async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[allow(clippy::print_stdout)] // Reason: the command's results.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("info").init();
    let state = StateDir::new(&cli.state_dir.unwrap_or_else(StateDir::default_root));
    match cli.command {
        Command::Enroll { server, ca_fingerprint, token } => {
            if state.is_enrolled() {
                anyhow::bail!(
                    "this workstation is already enrolled; remove the state directory to enroll again"
                );
            }
            let enrollment = Enrollment {
                server: &server,
                ca_fingerprint: &ca_fingerprint,
                token: SecretString::from(token),
            };
            let identity = enroll(&state, enrollment).await.context("enrollment failed")?;
            println!(
                "Enrolled as workstation {} of office {}.",
                identity.workstation_id, identity.office
            );
        }
        Command::Run => {
            let agent = Agent::new(state, Arc::new(SystemClock));
            sesame_agent::run::run(agent, shutdown_signal()).await;
        }
        Command::Status => {
            let identity = state.load()?;
            println!("Workstation {} of office {}", identity.workstation_id, identity.office);
            println!("Server: {}", identity.server);
            if let Some(v) = validity(&identity.cert_pem) {
                println!("Certificate valid until {}", v.not_after);
            }
        }
    }
    Ok(())
}
