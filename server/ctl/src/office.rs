//! `sesamectl office`: register, list and show notarial offices, and their readiness for a rollout.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::import::{self, OfficeCsv, read_office_csv};
use crate::output::{print_office, print_offices};
use crate::readiness::print_readiness;
use crate::{Error, Session};

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
    /// Registers or updates offices from a CSV file (`crpcen,name,city`, or French Excel's
    /// `crpcen;nom;ville`), all or nothing: a wrong line is named and nothing is imported; an
    /// office already registered as in the file is left alone, another name or city updates it.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Checks the file against the server without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Lists offices.
    List,
    /// Shows one office.
    Show {
        /// Its CRPCEN.
        crpcen: String,
    },
    /// Shows, per workstation, whether a rotation can succeed there (from its agent's last look
    /// at OWA) and what stands in the way, before any provisional password is issued.
    Readiness {
        /// Its CRPCEN.
        crpcen: String,
    },
}

/// Reads what an office command needs from files, before connecting: the CSV file of an import,
/// so that a malformed file fails with its line and nothing sent.
pub(crate) fn read_before_connecting(command: &OfficeCommand) -> Result<Option<OfficeCsv>, Error> {
    match command {
        OfficeCommand::Import { file, .. } => Ok(Some(read_office_csv(file)?)),
        _ => Ok(None),
    }
}

/// Runs an office command; `csv` is what [`read_before_connecting`] read.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: OfficeCommand,
    csv: Option<OfficeCsv>,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match command {
        OfficeCommand::Import { dry_run, .. } => {
            let report = import::send_offices(client, csv.unwrap_or_default(), dry_run).await?;
            import::print_office_report(out, &report)?;
        }
        OfficeCommand::Add { crpcen, name, city } => {
            let request = pb::CreateOfficeRequest { crpcen, name, city: city.unwrap_or_default() };
            let office =
                client.create_office(request).await?.into_inner().office.unwrap_or_default();
            writeln!(out, "Office {} \"{}\" created.", office.crpcen, office.name)?;
        }
        OfficeCommand::List => {
            let offices =
                client.list_offices(pb::ListOfficesRequest {}).await?.into_inner().offices;
            print_offices(out, *format, &offices)?;
        }
        OfficeCommand::Show { crpcen } => {
            let office =
                client.get_office(pb::GetOfficeRequest { crpcen }).await?.into_inner().office;
            print_office(out, *format, &office.unwrap_or_default())?;
        }
        OfficeCommand::Readiness { crpcen } => {
            let request = pb::GetOfficeReadinessRequest { office: crpcen };
            let readiness = client.get_office_readiness(request).await?.into_inner();
            print_readiness(out, *format, &readiness)?;
        }
    }
    Ok(())
}
