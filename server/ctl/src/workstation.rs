//! `sesamectl workstation`: enrolled workstations (list, show, revoke, unlock) and the mailboxes
//! assigned to them.

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{WorkstationRow, print_rows, print_workstation};
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
    /// Shows what a workstation holds: its mailboxes, its key, its readiness and the last
    /// rotations of its mailboxes.
    Show {
        /// Its id, from `workstation list`.
        id: String,
        /// How many of the last rotations to list (at most 100).
        #[arg(long, default_value_t = 10)]
        rotations: u32,
    },
    /// Assigns mailboxes to a workstation of the same office, all or none: its agent receives
    /// their provisional passwords.
    Assign {
        /// The workstation's id.
        id: String,
        /// The mailboxes (one or more, at most 1,000).
        #[arg(required = true, num_args = 1..)]
        addresses: Vec<String>,
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
        WorkstationCommand::Show { id, rotations } => {
            let request = pb::GetWorkstationRequest { id, rotations };
            let details = client.get_workstation(request).await?.into_inner();
            print_workstation(out, *format, &details)?;
        }
        WorkstationCommand::Assign { id, mut addresses } => {
            // The first in `mailbox`, which every server reads; the others in `mailboxes`.
            let first = addresses.remove(0);
            let request = pb::AssignWorkstationRequest {
                workstation_id: id.clone(),
                mailbox: first.clone(),
                mailboxes: addresses.clone(),
            };
            client.assign_workstation(request).await?;
            if addresses.is_empty() {
                writeln!(out, "{first} assigned to workstation {id}.")?;
            } else {
                writeln!(out, "{} mailboxes assigned to workstation {id}:", addresses.len() + 1)?;
                for address in std::iter::once(&first).chain(&addresses) {
                    writeln!(out, "  {address}")?;
                }
            }
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
