//! sesamectl, the administrators' command line, as a library: [`Cli`] is its grammar and [`run`]
//! executes one command against a server, writing to any `Write` so that tests can read it.
//! `src/bin/sesamectl.rs` only parses the arguments and sets the exit code.

mod client;
mod export;
mod import;
mod letters;
mod output;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use sesame_proto::v1 as pb;

pub use self::client::{AdminClient, connect};
pub use self::import::{CsvError, MailboxCsv, parse_mailbox_csv, read_mailbox_csv};
use self::output::{
    AdminRow, AuditRow, Format, RotationRow, TokenRow, WorkstationRow, print_mailboxes,
    print_office, print_offices, print_rows,
};
use sesame_base::credentials::Credentials;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credentials file was given or found.
    #[error(
        "no credentials: pass --credentials FILE or set SESAME_CREDENTIALS (on first start the server writes \
         DATA_DIR/admin.credentials)"
    )]
    NoCredentials,
    /// The credentials file could not be read.
    #[error(transparent)]
    Credentials(#[from] sesame_base::credentials::Error),
    /// The server could not be reached or its certificate was refused.
    #[error("cannot reach the server at {server}: {message}")]
    Connect {
        /// The server's URL.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The server refused the request.
    #[error("{}", describe_status(.0))]
    Rpc(#[from] tonic::Status),
    /// The CSV file is malformed; nothing was sent.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
    /// The audit chain is broken.
    #[error("the audit trail is BROKEN at record {seq}: {problem}")]
    AuditBroken {
        /// The first broken record.
        seq: i64,
        /// What is wrong with it.
        problem: String,
    },
}

fn describe_status(status: &tonic::Status) -> String {
    use tonic::Code;
    let what = match status.code() {
        Code::InvalidArgument => "invalid request",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::Unauthenticated => "not authenticated (is the credentials file current?)",
        Code::ResourceExhausted => "too large",
        Code::Unavailable => "server unavailable",
        Code::DeadlineExceeded => "timed out",
        Code::Aborted => "aborted",
        _ => "server error",
    };
    format!("{what}: {}", status.message())
}

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
    /// Shows which administrator the credentials belong to.
    Whoami,
}

/// Provisional password commands.
#[derive(Debug, Subcommand)]
pub enum ProvisionalCommand {
    /// Opens a rotation with a new provisional password for a mailbox, or for every mailbox of an
    /// office that has none open.
    Issue {
        /// One mailbox.
        #[arg(long, conflicts_with = "office", required_unless_present = "office")]
        mailbox: Option<String>,
        /// Every mailbox of an office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Cancels open rotations (the escrowed passwords are destroyed).
    Cancel {
        /// One mailbox.
        #[arg(long, conflicts_with = "office", required_unless_present = "office")]
        mailbox: Option<String>,
        /// Every mailbox of an office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Replaces a mailbox's provisional password by a new one.
    Reissue {
        /// The mailbox.
        #[arg(long)]
        mailbox: String,
    },
    /// Lists rotations (never the passwords).
    List {
        /// Only this office's.
        #[arg(long)]
        office: Option<String>,
        /// Only open rotations.
        #[arg(long)]
        open: bool,
    },
    /// Writes an office's provisional passwords for the mail administrator (mode 0600): CSV, or a
    /// PowerShell script setting each one with "change at next logon".
    Export {
        /// The office.
        #[arg(long)]
        office: String,
        /// csv or powershell.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes the letters of an office as a PDF, one page per person (mode 0600).
    Letters {
        /// The office.
        #[arg(long)]
        office: String,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// address,display_name,provisional_password,expires_at
    Csv,
    /// A script using Set-ADAccountPassword and Set-ADUser -ChangePasswordAtLogon $true.
    Powershell,
}

/// Password policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Shows the policy in force (of an office, or the global one).
    Show {
        /// The office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Sets the global policy, or an office's override. Unset options keep their current value.
    Set {
        /// The office (global policy without it).
        #[arg(long)]
        office: Option<String>,
        /// Minimum length (at least 10).
        #[arg(long)]
        min_length: Option<u32>,
        /// Require a lower-case letter.
        #[arg(long)]
        require_lower: Option<bool>,
        /// Require an upper-case letter.
        #[arg(long)]
        require_upper: Option<bool>,
        /// Require a digit.
        #[arg(long)]
        require_digit: Option<bool>,
        /// Require a special character.
        #[arg(long)]
        require_special: Option<bool>,
        /// Length of generated provisional passwords.
        #[arg(long)]
        provisional_length: Option<u32>,
    },
}

/// Audit trail commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Lists audit records.
    List {
        /// Only this office's.
        #[arg(long)]
        office: Option<String>,
        /// From this date (YYYY-MM-DD) or time (RFC 3339) on.
        #[arg(long)]
        since: Option<String>,
    },
    /// Verifies the hash chain and names the first broken record.
    Verify,
}

/// Enrollment token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token for an office's workstations and prints it (once: only its hash is kept).
    Create {
        /// The office (CRPCEN).
        #[arg(long)]
        office: String,
        /// How many workstations may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it lives: 90s, 30m, 24h, 7d (at most 30d).
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: u64,
    },
    /// Lists tokens (never the tokens themselves).
    List {
        /// Only this office's.
        #[arg(long)]
        office: Option<String>,
    },
    /// Revokes a token.
    Revoke {
        /// Its id, from `token list`.
        id: u64,
    },
}

/// Workstation commands.
#[derive(Debug, Subcommand)]
pub enum WorkstationCommand {
    /// Lists enrolled workstations.
    List {
        /// Only this office's.
        #[arg(long)]
        office: Option<String>,
    },
    /// Revokes a workstation: its next request is refused.
    Revoke {
        /// Its id, from `workstation list`.
        id: String,
    },
    /// Unlocks a workstation locked because its identity was used from two machines.
    Unlock {
        /// Its id.
        id: String,
    },
    /// Assigns a mailbox to a workstation of the same office: its agent receives the mailbox's
    /// provisional passwords.
    Assign {
        /// The workstation's id.
        id: String,
        /// The mailbox.
        address: String,
    },
    /// Removes an assignment.
    Unassign {
        /// The workstation's id.
        id: String,
        /// The mailbox.
        address: String,
    },
}

/// Administrator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Lists administrators.
    List,
    /// Revokes an administrator's credential.
    Revoke {
        /// Its name.
        name: String,
    },
}

/// Parses a duration such as `90s`, `30m`, `24h` or `7d` into seconds.
pub fn parse_ttl(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let (number, unit) =
        value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
    let n: u64 =
        number.parse().map_err(|_| format!("{value:?}: expected a number and s, m, h or d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{value:?}: expected a number and s, m, h or d")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{value:?} is too long"))
}

/// Office commands.
#[derive(Debug, Subcommand)]
pub enum OfficeCommand {
    /// Registers an office.
    Add {
        /// Its CRPCEN (5 digits).
        crpcen: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its city.
        #[arg(long)]
        city: Option<String>,
    },
    /// Lists offices.
    List,
    /// Shows one office.
    Show {
        /// Its CRPCEN.
        crpcen: String,
    },
}

/// Mailbox commands.
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Imports mailboxes from a CSV file with the header `address,display_name` (`;` also
    /// accepted). All or nothing: a bad line is reported and nothing is imported.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Checks the file against the server without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Lists mailboxes.
    List {
        /// Only the mailboxes of this office (CRPCEN).
        #[arg(long)]
        office: Option<String>,
    },
}

/// Where sesamectl writes: results to `out`, and a progress bar when `progress` is true.
#[derive(Debug)]
pub struct Terminal<'a, W: Write> {
    /// Results.
    pub out: &'a mut W,
    /// Whether to draw progress bars (standard error is a terminal).
    pub progress: bool,
}

fn resolve_credentials(cli: &Cli) -> Result<Credentials, Error> {
    let path = match &cli.credentials {
        Some(path) => path.clone(),
        None => {
            // The file a server started here with the default data directory wrote.
            let default = crate::data_dir::DataDir::at(&crate::Config::default().data_dir)
                .admin_credentials();
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
    let credentials = resolve_credentials(&cli)?;
    // Read and check a CSV file before connecting, so that a bad file fails without a round trip.
    let csv = match &cli.command {
        Command::Mailbox(MailboxCommand::Import { file, .. }) => Some(read_mailbox_csv(file)?),
        _ => None,
    };
    let mut client = connect(&credentials).await?;
    let format = Format::from(cli.output);
    let out = term.out;
    match cli.command {
        Command::Whoami => {
            let me = client.who_am_i(pb::WhoAmIRequest {}).await?.into_inner();
            writeln!(
                out,
                "{} (role {}) on {} (server {})",
                me.admin_name, me.role, credentials.server, me.server_version
            )?;
        }
        Command::Office(OfficeCommand::Add { crpcen, name, city }) => {
            let request = pb::CreateOfficeRequest { crpcen, name, city: city.unwrap_or_default() };
            let office =
                client.create_office(request).await?.into_inner().office.unwrap_or_default();
            writeln!(out, "Office {} \"{}\" created.", office.crpcen, office.name)?;
        }
        Command::Office(OfficeCommand::List) => {
            let offices =
                client.list_offices(pb::ListOfficesRequest {}).await?.into_inner().offices;
            print_offices(out, format, &offices)?;
        }
        Command::Office(OfficeCommand::Show { crpcen }) => {
            let office =
                client.get_office(pb::GetOfficeRequest { crpcen }).await?.into_inner().office;
            print_office(out, format, &office.unwrap_or_default())?;
        }
        Command::Mailbox(MailboxCommand::Import { dry_run, .. }) => {
            let csv = csv.unwrap_or_default();
            let report = import::send(&mut client, csv, dry_run, term.progress).await?;
            import::print_report(out, &report)?;
        }
        Command::Token(TokenCommand::Create { office, uses, ttl }) => {
            let request = pb::CreateEnrollmentTokenRequest { office, uses, ttl_seconds: ttl };
            let created = client.create_enrollment_token(request).await?.into_inner();
            let info = created.info.unwrap_or_default();
            writeln!(out, "{}", created.token)?;
            writeln!(
                out,
                "Token {} for office {}: {} enrollment(s) until {}. It is shown only now: give it to whoever installs the agents.",
                info.id, info.office, info.uses_left, info.expires_at
            )?;
        }
        Command::Token(TokenCommand::List { office }) => {
            let request = pb::ListEnrollmentTokensRequest { office: office.unwrap_or_default() };
            let tokens = client.list_enrollment_tokens(request).await?.into_inner().tokens;
            let rows: Vec<TokenRow<'_>> = tokens.iter().map(TokenRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            client.revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest { id }).await?;
            writeln!(out, "Token {id} revoked.")?;
        }
        Command::Workstation(WorkstationCommand::List { office }) => {
            let request = pb::ListWorkstationsRequest { office: office.unwrap_or_default() };
            let workstations = client.list_workstations(request).await?.into_inner().workstations;
            let rows: Vec<WorkstationRow<'_>> =
                workstations.iter().map(WorkstationRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Workstation(WorkstationCommand::Revoke { id }) => {
            client.revoke_workstation(pb::RevokeWorkstationRequest { id: id.clone() }).await?;
            writeln!(out, "Workstation {id} revoked.")?;
        }
        Command::Workstation(WorkstationCommand::Unlock { id }) => {
            client.unlock_workstation(pb::UnlockWorkstationRequest { id: id.clone() }).await?;
            writeln!(out, "Workstation {id} unlocked.")?;
        }
        Command::Admin(AdminCommand::List) => {
            let admins = client.list_admins(pb::ListAdminsRequest {}).await?.into_inner().admins;
            let rows: Vec<AdminRow<'_>> = admins.iter().map(AdminRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Admin(AdminCommand::Revoke { name }) => {
            client.revoke_admin(pb::RevokeAdminRequest { name: name.clone() }).await?;
            writeln!(out, "Administrator {name} revoked.")?;
        }
        Command::Workstation(WorkstationCommand::Assign { id, address }) => {
            client
                .assign_workstation(pb::AssignWorkstationRequest {
                    workstation_id: id.clone(),
                    mailbox: address.clone(),
                })
                .await?;
            writeln!(out, "{address} assigned to workstation {id}.")?;
        }
        Command::Workstation(WorkstationCommand::Unassign { id, address }) => {
            client
                .unassign_workstation(pb::UnassignWorkstationRequest {
                    workstation_id: id.clone(),
                    mailbox: address.clone(),
                })
                .await?;
            writeln!(out, "{address} no longer assigned to workstation {id}.")?;
        }
        Command::Provisional(ProvisionalCommand::Issue { mailbox, office }) => {
            let request = pb::IssueProvisionalRequest {
                mailbox: mailbox.unwrap_or_default(),
                office: office.unwrap_or_default(),
            };
            let response = client.issue_provisional(request).await?.into_inner();
            let rows: Vec<RotationRow<'_>> =
                response.issued.iter().map(RotationRow::from).collect();
            print_rows(out, format, &rows)?;
            if !response.skipped.is_empty() {
                writeln!(
                    out,
                    "{} mailbox(es) skipped: a rotation is already open.",
                    response.skipped.len()
                )?;
            }
        }
        Command::Provisional(ProvisionalCommand::Cancel { mailbox, office }) => {
            let request = pb::CancelProvisionalRequest {
                mailbox: mailbox.unwrap_or_default(),
                office: office.unwrap_or_default(),
            };
            let cancelled = client.cancel_provisional(request).await?.into_inner().cancelled;
            writeln!(
                out,
                "{cancelled} rotation(s) cancelled; their provisional passwords are destroyed."
            )?;
        }
        Command::Provisional(ProvisionalCommand::Reissue { mailbox }) => {
            let rotation = client
                .reissue_provisional(pb::ReissueProvisionalRequest { mailbox })
                .await?
                .into_inner()
                .rotation;
            let rows: Vec<RotationRow<'_>> = rotation.iter().map(RotationRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Provisional(ProvisionalCommand::List { office, open }) => {
            let request =
                pb::ListRotationsRequest { office: office.unwrap_or_default(), open_only: open };
            let rotations = client.list_rotations(request).await?.into_inner().rotations;
            let rows: Vec<RotationRow<'_>> = rotations.iter().map(RotationRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Provisional(ProvisionalCommand::Export {
            office,
            format: export_format,
            out: path,
        }) => {
            let request = pb::DiscloseProvisionalRequest {
                office: office.clone(),
                purpose: pb::DisclosurePurpose::Export.into(),
            };
            let disclosed = client.disclose_provisional(request).await?.into_inner();
            let contents = match export_format {
                ExportFormat::Csv => export::csv(&disclosed.passwords)?,
                ExportFormat::Powershell => export::powershell(&office, &disclosed.passwords),
            };
            sesame_base::private_file::write_private(&path, contents.as_bytes())?;
            writeln!(
                out,
                "{} provisional password(s) of office {office} written to {} (mode 0600). Delete the file once used.",
                disclosed.passwords.len(),
                path.display()
            )?;
        }
        Command::Provisional(ProvisionalCommand::Letters { office, out: path }) => {
            let request = pb::DiscloseProvisionalRequest {
                office: office.clone(),
                purpose: pb::DisclosurePurpose::Letters.into(),
            };
            let disclosed = client.disclose_provisional(request).await?.into_inner();
            let policy = disclosed.policy.unwrap_or_default();
            let pdf = letters::render(&office, &disclosed.passwords, &policy);
            sesame_base::private_file::write_private(&path, &pdf)?;
            writeln!(
                out,
                "{} letter(s) of office {office} written to {} (mode 0600).",
                disclosed.passwords.len(),
                path.display()
            )?;
        }
        Command::Policy(PolicyCommand::Show { office }) => {
            let request =
                pb::GetPasswordPolicyRequest { office: office.clone().unwrap_or_default() };
            let p =
                client.get_password_policy(request).await?.into_inner().policy.unwrap_or_default();
            let scope = office.map_or("global".to_owned(), |o| format!("office {o}"));
            writeln!(out, "Password policy ({scope}):")?;
            writeln!(out, "  minimum length:       {}", p.min_length)?;
            writeln!(out, "  lower-case letter:    {}", p.require_lower)?;
            writeln!(out, "  upper-case letter:    {}", p.require_upper)?;
            writeln!(out, "  digit:                {}", p.require_digit)?;
            writeln!(out, "  special character:    {}", p.require_special)?;
            writeln!(out, "  provisional length:   {}", p.provisional_length)?;
        }
        Command::Policy(PolicyCommand::Set {
            office,
            min_length,
            require_lower,
            require_upper,
            require_digit,
            require_special,
            provisional_length,
        }) => {
            let office = office.unwrap_or_default();
            let current = client
                .get_password_policy(pb::GetPasswordPolicyRequest { office: office.clone() })
                .await?
                .into_inner()
                .policy
                .unwrap_or_default();
            let policy = pb::PasswordPolicy {
                min_length: min_length.unwrap_or(current.min_length),
                require_lower: require_lower.unwrap_or(current.require_lower),
                require_upper: require_upper.unwrap_or(current.require_upper),
                require_digit: require_digit.unwrap_or(current.require_digit),
                require_special: require_special.unwrap_or(current.require_special),
                provisional_length: provisional_length.unwrap_or(current.provisional_length),
            };
            client
                .set_password_policy(pb::SetPasswordPolicyRequest {
                    office: office.clone(),
                    policy: Some(policy),
                })
                .await?;
            writeln!(
                out,
                "Password policy {} updated.",
                if office.is_empty() { "global".to_owned() } else { format!("of office {office}") }
            )?;
        }
        Command::Audit(AuditCommand::List { office, since }) => {
            let mut records = Vec::new();
            let mut after_seq = 0;
            loop {
                let request = pb::ListAuditRecordsRequest {
                    office: office.clone().unwrap_or_default(),
                    since: since.clone().unwrap_or_default(),
                    after_seq,
                    limit: 5_000,
                };
                let page = client.list_audit_records(request).await?.into_inner().records;
                let done = page.len() < 5_000;
                after_seq = page.last().map_or(after_seq, |r| r.seq);
                records.extend(page);
                if done {
                    break;
                }
            }
            let rows: Vec<AuditRow<'_>> = records.iter().map(AuditRow::from).collect();
            print_rows(out, format, &rows)?;
        }
        Command::Audit(AuditCommand::Verify) => {
            let result = client.verify_audit(pb::VerifyAuditRequest {}).await?.into_inner();
            if result.intact {
                writeln!(out, "The audit trail is intact: {} record(s) verified.", result.records)?;
            } else {
                return Err(Error::AuditBroken {
                    seq: result.first_broken_seq,
                    problem: result.problem,
                });
            }
        }
        Command::Mailbox(MailboxCommand::List { office }) => {
            let office = office.unwrap_or_default();
            let mut mailboxes = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = pb::ListMailboxesRequest {
                    office: office.clone(),
                    page_size: 5_000,
                    page_token,
                };
                let page = client.list_mailboxes(request).await?.into_inner();
                mailboxes.extend(page.mailboxes);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_mailboxes(out, format, &mailboxes)?;
        }
    }
    Ok(())
}
