//! `sesamectl`: parses the command line, runs [`sesamectl::run`], prints a one-line error and
//! exits non-zero when it fails.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sesamectl::{Cli, Terminal};

#[allow(clippy::print_stderr)] // Reason: the error is the command's output.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = std::io::stderr().is_terminal();
    let mut stdout = std::io::stdout().lock();
    match sesamectl::run(cli, Terminal { out: &mut stdout, progress }).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sesamectl: {error}");
            ExitCode::FAILURE
        }
    }
}
