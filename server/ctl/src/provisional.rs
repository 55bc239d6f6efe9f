//! `sesamectl provisional`: open, cancel, reissue and list rotations, and disclose an office's
//! provisional passwords as an export for Exchange or as letters (files written mode 0600).

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use sesame_base::private_file::write_private;
use sesame_documents::{export, letters};
use sesame_proto::v1 as pb;

use crate::output::{PagedListing, RotationRow, print_rows};
use crate::{Error, Session, documents};

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

/// Runs a provisional password command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: ProvisionalCommand,
) -> Result<(), Error> {
    match command {
        ProvisionalCommand::Issue { mailbox, office } => issue(session, mailbox, office).await,
        ProvisionalCommand::Cancel { mailbox, office } => cancel(session, mailbox, office).await,
        ProvisionalCommand::Reissue { mailbox } => reissue(session, mailbox).await,
        ProvisionalCommand::List { office, open } => list(session, office, open).await,
        ProvisionalCommand::Export { office, format, out } => {
            write_export(session, office, format, out).await
        }
        ProvisionalCommand::Letters { office, out } => write_letters(session, office, out).await,
    }
}

async fn issue<W: Write>(
    session: &mut Session<'_, W>,
    mailbox: Option<String>,
    office: Option<String>,
) -> Result<(), Error> {
    let request = pb::IssueProvisionalRequest {
        mailbox: mailbox.unwrap_or_default(),
        office: office.unwrap_or_default(),
    };
    let response = session.client.issue_provisional(request).await?.into_inner();
    let rows: Vec<RotationRow<'_>> = response.issued.iter().map(RotationRow::from).collect();
    print_rows(session.out, session.format, &rows)?;
    if !response.skipped.is_empty() {
        writeln!(
            session.out,
            "{} mailbox(es) skipped: a rotation is already open.",
            response.skipped.len()
        )?;
    }
    Ok(())
}

async fn cancel<W: Write>(
    session: &mut Session<'_, W>,
    mailbox: Option<String>,
    office: Option<String>,
) -> Result<(), Error> {
    let request = pb::CancelProvisionalRequest {
        mailbox: mailbox.unwrap_or_default(),
        office: office.unwrap_or_default(),
    };
    let cancelled = session.client.cancel_provisional(request).await?.into_inner().cancelled;
    writeln!(
        session.out,
        "{cancelled} rotation(s) cancelled; their provisional passwords are destroyed."
    )?;
    Ok(())
}

async fn reissue<W: Write>(session: &mut Session<'_, W>, mailbox: String) -> Result<(), Error> {
    let rotation = session
        .client
        .reissue_provisional(pb::ReissueProvisionalRequest { mailbox })
        .await?
        .into_inner()
        .rotation;
    let rows: Vec<RotationRow<'_>> = rotation.iter().map(RotationRow::from).collect();
    print_rows(session.out, session.format, &rows)?;
    Ok(())
}

/// Lists rotations page after page; CSV is written as each page arrives.
async fn list<W: Write>(
    session: &mut Session<'_, W>,
    office: Option<String>,
    open: bool,
) -> Result<(), Error> {
    let mut listing = PagedListing::new::<RotationRow<'_>>(&mut *session.out, session.format)?;
    let mut page_token = String::new();
    loop {
        let request = pb::ListRotationsRequest {
            office: office.clone().unwrap_or_default(),
            open_only: open,
            page_size: session.page_size,
            page_token,
        };
        let page = session.client.list_rotations(request).await?.into_inner();
        listing.page(page.rotations, |csv, r| csv.serialize(&RotationRow::from(r)))?;
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(rotations) = listing.finish() {
        let rows: Vec<RotationRow<'_>> = rotations.iter().map(RotationRow::from).collect();
        print_rows(session.out, session.format, &rows)?;
    }
    Ok(())
}

/// Asks the server for an office's provisional passwords, for `purpose` (audited by the server
/// before it answers).
async fn disclose<W: Write>(
    session: &mut Session<'_, W>,
    office: &str,
    purpose: pb::DisclosurePurpose,
) -> Result<pb::DiscloseProvisionalResponse, Error> {
    let request =
        pb::DiscloseProvisionalRequest { office: office.to_owned(), purpose: purpose.into() };
    Ok(session.client.disclose_provisional(request).await?.into_inner())
}

/// Writes the export file (mode 0600).
async fn write_export<W: Write>(
    session: &mut Session<'_, W>,
    office: String,
    format: ExportFormat,
    path: PathBuf,
) -> Result<(), Error> {
    let disclosed = disclose(session, &office, pb::DisclosurePurpose::Export).await?;
    let people = documents::letters(&disclosed.passwords)?;
    let contents = match format {
        ExportFormat::Csv => export::csv(&people)?,
        ExportFormat::Powershell => export::powershell(&office, &people),
    };
    write_private(&path, contents.as_bytes())?;
    writeln!(
        session.out,
        "{} provisional password(s) of office {office} written to {} (mode 0600). Delete the file once used.",
        disclosed.passwords.len(),
        path.display()
    )?;
    Ok(())
}

/// Writes the letters' PDF (mode 0600), headed by the office's name and city and dated the day
/// the command runs, in this machine's calendar.
async fn write_letters<W: Write>(
    session: &mut Session<'_, W>,
    office: String,
    path: PathBuf,
) -> Result<(), Error> {
    // The office's name and city head each letter: read before anything is disclosed.
    let request = pb::GetOfficeRequest { crpcen: office.clone() };
    let record = session.client.get_office(request).await?.into_inner().office.unwrap_or_default();
    let heading = documents::letter_office(&office, &record);
    let disclosed = disclose(session, &office, pb::DisclosurePurpose::Letters).await?;
    let policy = documents::password_rule(&disclosed.policy.unwrap_or_default());
    let printing = letters::Printing { at: session.now, calendar: session.calendar };
    let people = documents::letters(&disclosed.passwords)?;
    let pdf = letters::render(&heading, &people, &policy, printing);
    write_private(&path, &pdf)?;
    writeln!(
        session.out,
        "{} letter(s) of office {office} written to {} (mode 0600).",
        disclosed.passwords.len(),
        path.display()
    )?;
    Ok(())
}
