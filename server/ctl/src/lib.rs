//! sesamectl, the administrators' command line, as a library: [`Cli`] is its grammar and [`run`]
//! executes one command against a server, writing to any `Write` so that tests can read it.
//! `main.rs` only parses the arguments and sets the exit code.
//!
//! It is a client of the server's `AdminService` and nothing more: it links neither the server nor
//! its database or certificate-authority crates. One file per command group (`office`, `mailbox`,
//! `token`, `workstation`, `admin`, `provisional`, `policy`, `audit`, `owa_url`, `compliance`,
//! `report`), each holding its
//! subcommands and what they do; beside them the connection (`client`), the listings (`output`),
//! the CSV import (`import`), and `documents`, which turns the server's answers into the inputs of
//! `sesame_documents` (the letters, the export for Exchange, the compliance report's PDF and CSV,
//! the audit trail's CSV; shared with the server's dashboard).

mod admin;
mod audit;
mod client;
mod compliance;
mod documents;
mod error;
mod import;
mod mailbox;
mod office;
mod output;
mod owa_url;
mod policy;
mod provisional;
mod readiness;
mod report;
mod token;
mod workstation;

#[cfg(test)]
mod documents_golden;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use sesame_base::calendar::Calendar;
use sesame_base::credentials::{self, Credentials};
use time::OffsetDateTime;

pub use crate::admin::{AdminCommand, SessionsArgs, SessionsCommand, TotpCommand};
pub use crate::audit::AuditCommand;
pub use crate::client::{AdminClient, BearerToken, connect};
pub use crate::compliance::{ComplianceCommand, CompliancePolicyCommand};
pub use crate::error::Error;
pub use crate::import::{
    CsvError, MailboxCsv, OfficeCsv, parse_mailbox_csv, read_mailbox_csv, read_office_csv,
};
pub use crate::mailbox::MailboxCommand;
pub use crate::office::OfficeCommand;
use crate::output::Format;
pub use crate::owa_url::OwaUrlCommand;
pub use crate::policy::{PolicyChanges, PolicyCommand};
pub use crate::provisional::{ExportFormat, ProvisionalCommand};
pub use crate::report::{ReportArgs, parse_at};
pub use crate::token::{TokenCommand, parse_ttl};
pub use crate::workstation::WorkstationCommand;

/// The server's default data directory, where a server started in the current directory with no
/// configuration writes the bootstrap administrator's credentials.
pub const DEFAULT_DATA_DIR: &str = "./sesame-data";

/// sesamectl's command line.
#[derive(Debug, Parser)]
#[command(name = "sesamectl", version, about = "Administer a Sesame server")]
pub struct Cli {
    /// The credentials file (server address, CA certificate, administrator token). Defaults to
    /// ./sesame-data/admin.credentials when that file exists.
    #[arg(long, global = true, env = "SESAME_CREDENTIALS", value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Overrides the server address of the credentials file, e.g. https://sesame.example:7443.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// How listings are printed.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// CSV for a French Excel: `;` between cells and a byte-order mark, so that double-clicking
    /// the file shows accented names and columns right. Implies `--output csv`.
    #[arg(long, global = true, env = "SESAMECTL_EXCEL")]
    pub excel: bool,
    /// How many records each request asks for when a listing comes in pages (mailboxes,
    /// rotations, the report's mailboxes): 1 to 5,000.
    #[arg(long, global = true, default_value_t = 1_000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=5_000))]
    pub page_size: u32,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How listings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for people.
    Table,
    /// A JSON array of objects.
    Json,
    /// CSV with a header row.
    Csv,
    /// A PDF document (`sesamectl report` only).
    Pdf,
}

/// sesamectl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Notarial offices.
    #[command(subcommand)]
    Office(OfficeCommand),
    /// MAILNOT mailboxes.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Workstation enrollment tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Enrolled workstations.
    #[command(subcommand)]
    Workstation(WorkstationCommand),
    /// Administrators (global administrators only; create them with `sesame-server admin create`).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Provisional passwords: issue, export for Exchange, print letters.
    #[command(subcommand)]
    Provisional(ProvisionalCommand),
    /// Password policy (global, or per office).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Where agents find OWA (global address, per-office overrides).
    #[command(subcommand)]
    OwaUrl(OwaUrlCommand),
    /// Compliance policy (when mailboxes are due soon, overdue, offline).
    #[command(subcommand)]
    Compliance(ComplianceCommand),
    /// The compliance report: per office, now or at a past date (table, CSV, JSON or PDF).
    Report(ReportArgs),
    /// Shows which administrator the credentials belong to.
    Whoami,
}

/// Where sesamectl writes: results to `out`, and a progress bar when `progress` is true; and when
/// and where it runs (time is a parameter): the letters are dated `now` in `calendar`.
#[derive(Debug)]
pub struct Terminal<'a, W: Write> {
    /// Results.
    pub out: &'a mut W,
    /// Whether to draw progress bars (standard error is a terminal).
    pub progress: bool,
    /// When the command runs.
    pub now: OffsetDateTime,
    /// The administrator's calendar (this machine's time zone), for the dates people read.
    pub calendar: &'a dyn Calendar,
}

/// What a command runs with: the connected client, the server it reaches, and where and how it
/// writes.
#[derive(Debug)]
pub(crate) struct Session<'a, W: Write> {
    pub(crate) client: AdminClient,
    pub(crate) server: String,
    pub(crate) out: &'a mut W,
    pub(crate) format: Format,
    pub(crate) progress: bool,
    /// What each request of a paged listing asks for (`--page-size`).
    pub(crate) page_size: u32,
    /// When the command runs.
    pub(crate) now: OffsetDateTime,
    /// The administrator's calendar.
    pub(crate) calendar: &'a dyn Calendar,
}

/// The credentials file a server started here with the default data directory wrote.
pub fn default_credentials() -> PathBuf {
    Path::new(DEFAULT_DATA_DIR).join(credentials::FILE_NAME)
}

fn resolve_credentials(cli: &Cli) -> Result<Credentials, Error> {
    let path = match &cli.credentials {
        Some(path) => path.clone(),
        None => {
            let default = default_credentials();
            if default.exists() { default } else { return Err(Error::NoCredentials) }
        }
    };
    let mut credentials = Credentials::read(&path)?;
    if let Some(server) = &cli.server {
        credentials.server = server.clone();
    }
    Ok(credentials)
}

/// Runs one command.
pub async fn run<W: Write>(cli: Cli, term: Terminal<'_, W>) -> Result<(), Error> {
    if cli.output == OutputFormat::Pdf && !matches!(cli.command, Command::Report(_)) {
        return Err(Error::Usage("--output pdf applies to `sesamectl report` only".to_owned()));
    }
    let format = match (cli.excel, cli.output) {
        (false, output) => Format::from(output),
        (true, OutputFormat::Table | OutputFormat::Csv) => Format::from(OutputFormat::Csv).excel(),
        (true, other) => {
            return Err(Error::Usage(format!(
                "--excel writes CSV: it cannot be combined with --output {}",
                other.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
            )));
        }
    };
    let credentials = resolve_credentials(&cli)?;
    let csv = match &cli.command {
        Command::Mailbox(command) => mailbox::read_before_connecting(command)?,
        _ => None,
    };
    let offices = match &cli.command {
        Command::Office(command) => office::read_before_connecting(command)?,
        _ => None,
    };
    let client = connect(&credentials).await?;
    let mut session = Session {
        client,
        server: credentials.server,
        out: term.out,
        format,
        progress: term.progress,
        page_size: cli.page_size,
        now: term.now,
        calendar: term.calendar,
    };
    let session = &mut session;
    match cli.command {
        Command::Office(command) => office::run(session, command, offices).await,
        Command::Mailbox(command) => mailbox::run(session, command, csv).await,
        Command::Token(command) => token::run(session, command).await,
        Command::Workstation(command) => workstation::run(session, command).await,
        Command::Admin(command) => admin::run(session, command).await,
        Command::Provisional(command) => provisional::run(session, command).await,
        Command::Policy(command) => policy::run(session, command).await,
        Command::Audit(command) => audit::run(session, command).await,
        Command::OwaUrl(command) => owa_url::run(session, command).await,
        Command::Compliance(command) => compliance::run(session, command).await,
        Command::Report(args) => report::run(session, args, cli.output).await,
        Command::Whoami => admin::whoami(session).await,
    }
}
