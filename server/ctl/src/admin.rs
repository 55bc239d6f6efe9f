//! `sesamectl admin`: list and revoke administrators (created on the server host with
//! `sesame-server admin create`), and `sesamectl whoami`; an administrator's own web sign-in and
//! the web sessions in `web`.

mod web;

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

pub use self::web::{SessionsArgs, SessionsCommand, TotpCommand};
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
    /// Sets your own web dashboard password (asked twice; read from standard input when it is
    /// not a terminal).
    WebPassword,
    /// Your own TOTP second factor for the web dashboard.
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Web dashboard sessions: listed, or revoked (`sessions revoke --id N | --all`).
    Sessions(SessionsArgs),
}

/// Runs an administrator command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: AdminCommand,
) -> Result<(), Error> {
    let command = match command {
        AdminCommand::WebPassword => return web::web_password(session).await,
        AdminCommand::Totp(command) => return web::totp(session, command).await,
        AdminCommand::Sessions(args) => return web::sessions(session, args).await,
        other => other,
    };
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
        AdminCommand::WebPassword | AdminCommand::Totp(_) | AdminCommand::Sessions(_) => {}
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
