//! `sesamectl admin`: list and revoke administrators (created on the server host with
//! `sesame-server admin create`), and `sesamectl whoami`.

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{AdminRow, print_rows};
use crate::{Error, Session};

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

/// Runs an administrator command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: AdminCommand,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match command {
        AdminCommand::List => {
            let admins = client.list_admins(pb::ListAdminsRequest {}).await?.into_inner().admins;
            let rows: Vec<AdminRow<'_>> = admins.iter().map(AdminRow::from).collect();
            print_rows(out, *format, &rows)?;
        }
        AdminCommand::Revoke { name } => {
            client.revoke_admin(pb::RevokeAdminRequest { name: name.clone() }).await?;
            writeln!(out, "Administrator {name} revoked.")?;
        }
    }
    Ok(())
}

/// `sesamectl whoami`: which administrator the credentials belong to, on which server.
pub(crate) async fn whoami<W: Write>(session: &mut Session<'_, W>) -> Result<(), Error> {
    let me = session.client.who_am_i(pb::WhoAmIRequest {}).await?.into_inner();
    writeln!(
        session.out,
        "{} (role {}) on {} (server {})",
        me.admin_name, me.role, session.server, me.server_version
    )?;
    Ok(())
}
