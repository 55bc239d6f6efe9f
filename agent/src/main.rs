//! `sesame-agent`: the workstation service's command line.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "sesame-agent", version = sesame_agent::VERSION, about = "The Sesame workstation agent")]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!(
        "this agent only answers --version for now; enrollment comes with the identity work"
    )
}
