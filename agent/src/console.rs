//! [`ConsolePerson`]: the person at the console for `sesame-agent change`, the
//! [`Person`] the local channel's client (`sesame_local::client`) asks: passwords through a
//! [`SecretInput`] (the terminal without echo, or lines on standard input), answers from standard
//! input.

use std::io::{self, Write};

use secrecy::SecretString;
use sesame_local::client::Person;

use crate::owa::cli::SecretInput;

/// The person at the console.
pub struct ConsolePerson {
    /// Where passwords come from (the terminal without echo, or lines).
    pub input: Box<dyn SecretInput>,
    /// Whether standard input is a terminal.
    pub interactive: bool,
}

impl std::fmt::Debug for ConsolePerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsolePerson")
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

impl Person for ConsolePerson {
    fn is_interactive(&self) -> bool {
        self.interactive
    }

    fn secret(&mut self, label: &str) -> io::Result<SecretString> {
        self.input.read(label)
    }

    #[allow(clippy::print_stdout)] // Reason: the question, on the terminal.
    fn answer(&mut self, label: &str) -> io::Result<String> {
        print!("{label}");
        io::stdout().flush()?;
        let mut line = String::new();
        io::stdin().read_line(&mut line)?;
        Ok(line.trim().to_owned())
    }
}
