//! `sesamectl mailbox`: import MAILNOT mailboxes from a CSV file (all or nothing), list them,
//! show one with its rotation history and bound accounts, set the name one logs on to OWA with,
//! and set or reset the local account bound to it.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::import::{self, MailboxCsv, read_mailbox_csv};
use crate::output::{MailboxRow, PagedListing, print_mailbox_detail, print_mailboxes};
use crate::{Error, Session};

/// Mailbox commands.
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Imports mailboxes from a CSV file with the header `address,display_name` and optionally
    /// `logon_name` and `local_account` (`;` also accepted). All or nothing: a bad line is
    /// reported and nothing is imported.
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
    /// Shows one mailbox: the state of its open rotation, its history (rotations and the steps
    /// agents reported) and its last verified password change with its evidence.
    Show {
        /// The mailbox address.
        address: String,
    },
    /// Sets the name a mailbox logs on to OWA with when OWA asks for DOMAIN\user (quote it:
    /// 'DOMAIN\user'), or clears it with --clear.
    SetLogon {
        /// The mailbox.
        address: String,
        /// DOMAIN\user.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        logon_name: Option<String>,
        /// Clears the logon name: the mailbox logs on with its address.
        #[arg(long)]
        clear: bool,
    },
    /// The local account bound to a mailbox: only its sessions may see or change the mailbox's
    /// rotations on the workstation.
    #[command(subcommand)]
    Account(AccountCommand),
}

/// `sesamectl mailbox account` commands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Binds an account to the mailbox on one workstation (--workstation), or sets its default
    /// account (all its workstations without a binding of their own).
    Set {
        /// The mailbox.
        address: String,
        /// The account: the Linux user name, or the Windows SID (S-1-5-…).
        account: String,
        /// The workstation (ws-…); without it, the mailbox's default account.
        #[arg(long)]
        workstation: Option<String>,
        /// Evidence for people, e.g. "uid 1001".
        #[arg(long)]
        detail: Option<String>,
    },
    /// Removes the mailbox's binding on one workstation (--workstation), or its default account:
    /// the next rotation there must again be proven by a letter's provisional password.
    Reset {
        /// The mailbox.
        address: String,
        /// The workstation (ws-…); without it, the mailbox's default account.
        #[arg(long)]
        workstation: Option<String>,
    },
}

/// Reads and checks the CSV file of an import, before connecting, so that a bad file fails without
/// a round trip.
pub(crate) fn read_before_connecting(
    command: &MailboxCommand,
) -> Result<Option<MailboxCsv>, Error> {
    match command {
        MailboxCommand::Import { file, .. } => Ok(Some(read_mailbox_csv(file)?)),
        MailboxCommand::List { .. }
        | MailboxCommand::Show { .. }
        | MailboxCommand::SetLogon { .. }
        | MailboxCommand::Account(_) => Ok(None),
    }
}

/// Runs a mailbox command; `csv` is what [`read_before_connecting`] read.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: MailboxCommand,
    csv: Option<MailboxCsv>,
) -> Result<(), Error> {
    match command {
        MailboxCommand::Import { dry_run, .. } => {
            let csv = csv.unwrap_or_default();
            let report = import::send(&mut session.client, csv, dry_run, session.progress).await?;
            import::print_report(session.out, &report)?;
        }
        MailboxCommand::List { office } => list(session, office.unwrap_or_default()).await?,
        MailboxCommand::Show { address } => {
            let request = pb::GetMailboxRequest { mailbox: address };
            let detail = session.client.get_mailbox(request).await?.into_inner();
            print_mailbox_detail(session.out, session.format, &detail)?;
        }
        MailboxCommand::SetLogon { address, logon_name, .. } => {
            let logon_name = logon_name.unwrap_or_default();
            let request = pb::SetMailboxLogonRequest {
                mailbox: address.clone(),
                logon_name: logon_name.clone(),
            };
            session.client.set_mailbox_logon(request).await?;
            if logon_name.is_empty() {
                writeln!(session.out, "{address} logs on with its address.")?;
            } else {
                writeln!(session.out, "{address} logs on as {logon_name}.")?;
            }
        }
        MailboxCommand::Account(command) => account(session, command).await?,
    }
    Ok(())
}

/// Sets or resets a mailbox's bound account.
async fn account<W: Write>(
    session: &mut Session<'_, W>,
    command: AccountCommand,
) -> Result<(), Error> {
    let (address, account, workstation, detail) = match command {
        AccountCommand::Set { address, account, workstation, detail } => {
            (address, account, workstation, detail)
        }
        AccountCommand::Reset { address, workstation } => {
            (address, String::new(), workstation, None)
        }
    };
    let request = pb::SetMailboxAccountRequest {
        mailbox: address.clone(),
        workstation_id: workstation.clone().unwrap_or_default(),
        account_id: account.clone(),
        account_detail: detail.unwrap_or_default(),
    };
    session.client.set_mailbox_account(request).await?;
    let place = match &workstation {
        Some(ws) => format!("on {ws}"),
        None => "by default".to_owned(),
    };
    if account.is_empty() {
        writeln!(
            session.out,
            "{address}: no account bound {place} any more; the next rotation there must be \
             proven with a letter's provisional password."
        )?;
    } else {
        writeln!(session.out, "{address}: bound to the account {account} {place}.")?;
    }
    Ok(())
}

/// Lists an office's mailboxes (every mailbox for an empty office), page after page; CSV is
/// written as each page arrives.
async fn list<W: Write>(session: &mut Session<'_, W>, office: String) -> Result<(), Error> {
    let mut listing = PagedListing::new::<MailboxRow<'_>>(&mut *session.out, session.format)?;
    let mut page_token = String::new();
    loop {
        let request = pb::ListMailboxesRequest {
            office: office.clone(),
            page_size: session.page_size,
            page_token,
        };
        let page = session.client.list_mailboxes(request).await?.into_inner();
        listing.page(page.mailboxes, |csv, m| csv.serialize(&MailboxRow::from(m)))?;
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(mailboxes) = listing.finish() {
        print_mailboxes(session.out, session.format, &mailboxes)?;
    }
    Ok(())
}
