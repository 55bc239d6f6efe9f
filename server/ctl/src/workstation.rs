//! `sesamectl workstation`: enrolled workstations (list, revoke, unlock) and the mailboxes assigned
//! to them.

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{WorkstationRow, print_rows};
use crate::{Error, Session};

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

/// Runs a workstation command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: WorkstationCommand,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match command {
        WorkstationCommand::List { office } => {
            let request = pb::ListWorkstationsRequest { office: office.unwrap_or_default() };
            let workstations = client.list_workstations(request).await?.into_inner().workstations;
            let rows: Vec<WorkstationRow<'_>> =
                workstations.iter().map(WorkstationRow::from).collect();
            print_rows(out, *format, &rows)?;
        }
        WorkstationCommand::Revoke { id } => {
            client.revoke_workstation(pb::RevokeWorkstationRequest { id: id.clone() }).await?;
            writeln!(out, "Workstation {id} revoked.")?;
        }
        WorkstationCommand::Unlock { id } => {
            client.unlock_workstation(pb::UnlockWorkstationRequest { id: id.clone() }).await?;
            writeln!(out, "Workstation {id} unlocked.")?;
        }
        WorkstationCommand::Assign { id, address } => {
            let request = pb::AssignWorkstationRequest {
                workstation_id: id.clone(),
                mailbox: address.clone(),
            };
            client.assign_workstation(request).await?;
            writeln!(out, "{address} assigned to workstation {id}.")?;
        }
        WorkstationCommand::Unassign { id, address } => {
            let request = pb::UnassignWorkstationRequest {
                workstation_id: id.clone(),
                mailbox: address.clone(),
            };
            client.unassign_workstation(request).await?;
            writeln!(out, "{address} no longer assigned to workstation {id}.")?;
        }
    }
    Ok(())
}
