//! `sesame-agent`: the workstation service's command line: `enroll`, `run`, the person's `change`
//! and `status` (over the local socket), `key-status`, the OWA client by hand: `owa-check`,
//! `owa-change`, and the administrator's `journal-recover`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use sesame_agent::config::AgentConfig;
use sesame_agent::console::ConsolePerson;
use sesame_agent::identity::{StateDir, validity};
use sesame_agent::key::usb::UsbKeyProbe;
use sesame_agent::key::{DEFAULT_POLL_INTERVAL_MS, KeyConfig, KeyProbe, KeyWatcher};
use sesame_agent::owa::cli::{
    self as owa_cli, LineInput, OwaServer, OwaTarget, SecretInput, TerminalInput,
};
use sesame_agent::service::ServiceOptions;
use sesame_agent::uplink::{Enrollment, enroll};
use sesame_base::calendar::LocalCalendar;
use sesame_base::clock::{OffsetClock, SharedClock, SystemClock};
use sesame_base::password_rule::PasswordRule;
use sesame_local::client::{self as local_client, ChangeOptions, PersonExit};
use sesame_local::transport::default_socket;

#[derive(Debug, Parser)]
#[command(name = "sesame-agent", version = sesame_agent::VERSION, about = "The Sesame workstation agent")]
struct Cli {
    /// Where the agent keeps its identity (key, certificate, server CA).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The service's local socket (named pipe on Windows), for `change` and `status`.
    #[arg(long, global = true, value_name = "PATH", env = "SESAME_AGENT_SOCKET")]
    socket: Option<PathBuf>,
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
    /// Runs the agent service until stopped (as root / LocalSystem).
    Run {
        /// The configuration file (TOML; see the README). Without it, the defaults.
        #[arg(long, value_name = "FILE", env = "SESAME_AGENT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Salvages a damaged rotations.journal or reports.outbox; run it with the service stopped.
    #[command(long_about = RECOVER_HELP)]
    JournalRecover {
        /// The configuration file, for its state_dir (--state-dir wins).
        #[arg(long, value_name = "FILE", env = "SESAME_AGENT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Shows, in French, the key state, the pending password changes and the last report (asks
    /// the service; shows the enrolled identity when the service does not answer).
    Status,
    /// Changes your mail password, as the letter describes, with the service's help: run it
    /// yourself, with the clé REAL unplugged.
    Change {
        /// The mailbox, when several are waiting for a change on this workstation.
        #[arg(long, value_name = "ADDRESS")]
        mailbox: Option<String>,
        /// Confirms that the clé REAL is unplugged, for when the service cannot see it and no
        /// one is at a terminal.
        #[arg(long)]
        key_unplugged: bool,
    },
    /// Says (in French) whether a clé REAL is plugged in: a listed USB id or any smart-card reader.
    KeyStatus {
        /// A VENDOR:PRODUCT id that is a REAL key (repeatable; replaces the default list).
        #[arg(long = "id", value_name = "VENDOR:PRODUCT")]
        ids: Vec<String>,
        /// Keeps watching, printing each change, until interrupted.
        #[arg(long)]
        watch: bool,
        /// With --watch: how often to look, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = DEFAULT_POLL_INTERVAL_MS)]
        poll_ms: u64,
    },
    /// Logs in to OWA once and reports what the server offers; changes nothing.
    OwaCheck(OwaArgs),
    /// Changes a mailbox password through OWA, as the letter describes, and verifies it.
    OwaChange(OwaArgs),
    /// Saves the logon and expired-password pages (French and English) as test fixtures; sends
    /// no credential.
    OwaCapture {
        #[command(flatten)]
        server: ServerArgs,
        /// The directory to write the pages to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Looks at the OWA server anonymously (no credential sent) and says whether a rotation can
    /// succeed there: reachable, certificate, forms-based, user name format, language.
    OwaReadiness {
        #[command(flatten)]
        server: ServerArgs,
        /// The language asked of Exchange's pages.
        #[arg(long, default_value = "fr-FR,fr;q=0.9")]
        accept_language: String,
    },
}

/// `journal-recover --help`.
const RECOVER_HELP: &str = "\
Salvages a damaged rotations.journal or reports.outbox in the state directory.

`sesame-agent run` refuses to start when one of them is damaged (not merely a last record cut
short by a crash, which it cuts by itself): it names the file and the byte offset and keeps a copy
of the file beside it (NAME.damaged-<time>). Stop the service (systemctl stop sesame-agent), then
run this command as root. For each damaged file it keeps that copy, keeps every record that can
be read (reading past the damage to the next valid record), writes a good file, and prints what
was lost (each range: offset, bytes, why) and what was read: the rotations as the kept records
leave them (those whose last record precedes lost bytes are flagged) and the reports still
waiting. Check those mailboxes on the server (sesamectl mailbox show ADDRESS), then start the
service. An intact file is left as it is. Exit status: 0 done (or nothing to do), 1 error.";

/// Which OWA server, and how to reach it.
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// The OWA address, e.g. https://mail.example.fr/owa.
    #[arg(long)]
    url: String,
    /// A PEM file of CA certificates to trust besides the system's (e.g. a test server's).
    /// Certificate checks cannot be turned off.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// The longest one request may take, body included, in seconds.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    /// An HTTP proxy to tunnel through, e.g. http://proxy.office.local:3128 (no authentication).
    #[arg(long)]
    proxy: Option<String>,
}

impl ServerArgs {
    fn server(self, accept_language: String) -> OwaServer {
        OwaServer {
            url: self.url,
            ca_file: self.ca_file,
            accept_language,
            timeout: Duration::from_secs(self.timeout.clamp(1, 600)),
            proxy: self.proxy,
        }
    }
}

/// Where and as whom the OWA commands connect. Passwords are read without echo from the terminal,
/// or one per line from standard input when it is not a terminal.
#[derive(Debug, clap::Args)]
struct OwaArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The mailbox address, Nom.Prenom@CRPCEN.mailnot.fr.
    #[arg(long)]
    user: String,
    /// The mailbox's logon name, 'DOMAIN\user', for servers that ask for DOMAIN\user names
    /// (without it, such a server gets no password at all).
    #[arg(long, value_name = "DOMAIN\\user")]
    logon_name: Option<String>,
    /// The language asked of Exchange's pages.
    #[arg(long, default_value = "fr-FR,fr;q=0.9")]
    accept_language: String,
}

impl OwaArgs {
    fn target(self) -> OwaTarget {
        OwaTarget {
            server: self.server.server(self.accept_language),
            user: self.user,
            logon_name: self.logon_name,
        }
    }
}

/// Passwords from the terminal without echo, or from standard input line by line.
fn secret_input() -> Box<dyn SecretInput> {
    if std::io::stdin().is_terminal() {
        Box::new(TerminalInput)
    } else {
        Box::new(LineInput(std::io::stdin().lock()))
    }
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

/// The clock every command reads: the system's, or, for the end-to-end tests that run the real
/// binary "a week later", the system's moved by `SESAME_AGENT_CLOCK_OFFSET_SECONDS` (read once
/// here, like the crash points; unset in production).
fn clock_from_env() -> SharedClock {
    match std::env::var("SESAME_AGENT_CLOCK_OFFSET_SECONDS").ok().and_then(|v| v.parse().ok()) {
        Some(seconds) => Arc::new(OffsetClock::new(time::Duration::seconds(seconds))),
        None => Arc::new(SystemClock),
    }
}

/// A time for an administrator reading the agent's own facts (English, always in UTC, said so).
fn utc(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_else(|_| at.to_string())
}

#[allow(clippy::print_stdout)] // Reason: the command's results.
#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("info").init();
    let clock = clock_from_env();
    let state = || StateDir::new(&cli.state_dir.clone().unwrap_or_else(StateDir::default_root));
    match cli.command {
        Command::OwaCheck(args) => {
            let target = args.target();
            let exit =
                owa_cli::owa_check(&target, &mut *secret_input(), &mut std::io::stdout(), clock)
                    .await;
            return Ok(ExitCode::from(exit.code()));
        }
        Command::OwaChange(args) => {
            let target = args.target();
            let rule = PasswordRule::default();
            let (mut input, mut out) = (secret_input(), std::io::stdout());
            let exit = owa_cli::owa_change(&target, &rule, &mut *input, &mut out, clock).await;
            return Ok(ExitCode::from(exit.code()));
        }
        Command::OwaCapture { server, out } => {
            let server = server.server(String::new());
            let exit = owa_cli::owa_capture(&server, &out, &mut std::io::stdout(), clock).await;
            return Ok(ExitCode::from(exit.code()));
        }
        Command::OwaReadiness { server, accept_language } => {
            let server = server.server(accept_language);
            let exit = owa_cli::owa_readiness(&server, &mut std::io::stdout(), clock).await;
            return Ok(ExitCode::from(exit.code()));
        }
        Command::Enroll { server, ca_fingerprint, token } => {
            let state = state();
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
        Command::Run { config } => {
            let config = match &config {
                Some(path) => AgentConfig::load(path)?,
                None => AgentConfig::default(),
            };
            let state_dir = cli
                .state_dir
                .clone()
                .or_else(|| config.state_dir.clone())
                .unwrap_or_else(StateDir::default_root);
            let socket =
                cli.socket.clone().or_else(|| config.socket.clone()).unwrap_or_else(default_socket);
            let options = ServiceOptions {
                state: StateDir::new(&state_dir),
                state_dir,
                socket,
                key_probe: Arc::new(UsbKeyProbe::new(config.key.matcher()?)),
                key_intervals: (config.key.poll_interval()?, config.key.idle_poll_interval()?),
                http: config.owa.http_settings()?,
                clock,
                lockout_threshold: config.owa.lockout_threshold,
            };
            sesame_agent::service::run(options, shutdown_signal()).await?;
        }
        Command::JournalRecover { config } => {
            let config = match &config {
                Some(path) => AgentConfig::load(path)?,
                None => AgentConfig::default(),
            };
            let socket =
                cli.socket.clone().or_else(|| config.socket.clone()).unwrap_or_else(default_socket);
            #[cfg(unix)]
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                anyhow::bail!(
                    "the agent service is running (it answers on {}): stop it first \
                     (systemctl stop sesame-agent)",
                    socket.display()
                );
            }
            let state_dir = cli
                .state_dir
                .clone()
                .or_else(|| config.state_dir.clone())
                .unwrap_or_else(StateDir::default_root);
            let recovery = sesame_agent::recovery::recover(&state_dir)
                .context("the recovery could not finish; the files are as they were")?;
            recovery.write_report(&mut std::io::stdout())?;
        }
        Command::Change { mailbox, key_unplugged } => {
            let socket = cli.socket.clone().unwrap_or_else(default_socket);
            let options = ChangeOptions { mailbox, key_unplugged };
            let mut person = ConsolePerson {
                input: secret_input(),
                interactive: std::io::stdin().is_terminal(),
            };
            let exit =
                local_client::change(&socket, &options, &mut person, &mut std::io::stdout()).await;
            return Ok(ExitCode::from(exit.code()));
        }
        Command::KeyStatus { ids, watch, poll_ms } => {
            let mut config = KeyConfig { poll_interval_ms: poll_ms, ..KeyConfig::default() };
            if !ids.is_empty() {
                config.ids = ids;
            }
            let probe = Arc::new(UsbKeyProbe::new(config.matcher()?));
            if !watch {
                println!("{}", probe.state().french());
                return Ok(ExitCode::SUCCESS);
            }
            let watcher = KeyWatcher::start(probe, config.poll_interval()?).await;
            let mut states = watcher.subscribe();
            let shutdown = shutdown_signal();
            tokio::pin!(shutdown);
            loop {
                println!("{}", states.borrow_and_update().french());
                tokio::select! {
                    changed = states.changed() => changed?,
                    () = &mut shutdown => break,
                }
            }
        }
        Command::Status => {
            let socket = cli.socket.clone().unwrap_or_else(default_socket);
            let exit =
                local_client::status(&socket, &LocalCalendar::new(), &mut std::io::stdout()).await;
            if exit != PersonExit::Unreachable {
                return Ok(ExitCode::from(exit.code()));
            }
            // The service is not running: what this workstation's files still tell (administrators).
            if let Ok(identity) = state().load() {
                println!("Workstation {} of office {}", identity.workstation_id, identity.office);
                println!("Server: {}", identity.server);
                if let Some(v) = validity(&identity.cert_pem) {
                    println!("Certificate valid until {}", utc(v.not_after));
                }
            }
            return Ok(ExitCode::from(exit.code()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
