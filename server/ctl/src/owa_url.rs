//! `sesamectl owa-url`: where agents find OWA: the global address (the letter's by default) and
//! offices' overrides; show, set, and remove an override.

use std::io::{self, Write};

use clap::Subcommand;
use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::output::Format;
use crate::output::Listing;
use crate::{Error, Session};

/// OWA address commands.
#[derive(Debug, Subcommand)]
pub enum OwaUrlCommand {
    /// Shows the global address and, with --office, the office's override and the address its
    /// agents use.
    Show {
        /// The office (CRPCEN).
        #[arg(long)]
        office: Option<String>,
    },
    /// Sets the global address (global administrators) or, with --office, an office's override.
    /// https:// only, with a host, without user, query or fragment.
    Set {
        /// The address, e.g. https://mail.authentic-connect.fr/owa.
        url: String,
        /// The office (CRPCEN).
        #[arg(long)]
        office: Option<String>,
    },
    /// Removes an office's override: its agents use the global address again.
    Unset {
        /// The office (CRPCEN).
        #[arg(long)]
        office: String,
    },
}

/// What `owa-url show` prints.
#[derive(Debug, Serialize)]
struct OwaUrlView<'a> {
    office: &'a str,
    global_url: &'a str,
    office_url: &'a str,
    effective_url: &'a str,
}

/// Runs an OWA address command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: OwaUrlCommand,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match command {
        OwaUrlCommand::Show { office } => {
            let office = office.unwrap_or_default();
            let request = pb::GetOwaUrlRequest { office: office.clone() };
            let answer = client.get_owa_url(request).await?.into_inner();
            let view = OwaUrlView {
                office: &office,
                global_url: &answer.global_url,
                office_url: &answer.office_url,
                effective_url: &answer.effective_url,
            };
            print(out, *format, &view)?;
        }
        OwaUrlCommand::Set { url, office } => {
            let office = office.unwrap_or_default();
            let request = pb::SetOwaUrlRequest { office: office.clone(), url: url.clone() };
            client.set_owa_url(request).await?;
            if office.is_empty() {
                writeln!(out, "Global OWA address set to {url}.")?;
            } else {
                writeln!(out, "OWA address of office {office} set to {url}.")?;
            }
        }
        OwaUrlCommand::Unset { office } => {
            let request = pb::SetOwaUrlRequest { office: office.clone(), url: String::new() };
            client.set_owa_url(request).await?;
            writeln!(out, "Office {office} uses the global OWA address again.")?;
        }
    }
    Ok(())
}

fn print(out: &mut impl Write, format: Format, view: &OwaUrlView<'_>) -> io::Result<()> {
    match format.kind() {
        Listing::Json => {
            serde_json::to_writer_pretty(&mut *out, view).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => {
            let mut writer = format.csv(out);
            writer.serialize(view)?;
            writer.flush()
        }
        Listing::Table => {
            writeln!(out, "Global:    {}", view.global_url)?;
            if !view.office.is_empty() {
                let own = if view.office_url.is_empty() { "(none)" } else { view.office_url };
                writeln!(out, "Office {}: {own}", view.office)?;
                writeln!(out, "Effective: {}", view.effective_url)?;
            }
            Ok(())
        }
    }
}
