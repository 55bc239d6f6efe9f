//! `sesamectl`: parses the command line, runs [`sesamectl::run`], prints a one-line error and
//! exits non-zero when it fails.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sesame_base::calendar::LocalCalendar;
use sesame_base::clock::{Clock, SystemClock};
use sesamectl::{Cli, Terminal};

#[allow(clippy::print_stderr)] // Reason: the error is the command's output.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = std::io::stderr().is_terminal();
    let mut stdout = std::io::stdout().lock();
    let calendar = LocalCalendar::new();
    let term = Terminal { out: &mut stdout, progress, now: SystemClock.now(), calendar: &calendar };
    match sesamectl::run(cli, term).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sesamectl: {error}");
            ExitCode::FAILURE
        }
    }
}
