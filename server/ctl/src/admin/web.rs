//! `sesamectl admin web-password`, `admin totp enrol` and `admin sessions`: an administrator's own
//! web sign-in (password, TOTP second factor shown as an `otpauth://` URI and a QR code drawn in
//! the terminal) and the web sessions (listed; revoked one by one or all at once, "sign out
//! everywhere").

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use secrecy::{ExposeSecret, SecretString};
use sesame_proto::v1 as pb;

use crate::output::{WebSessionRow, print_rows};
use crate::{Error, Session};

/// `sesamectl admin totp …`.
#[derive(Debug, Subcommand)]
pub enum TotpCommand {
    /// Enrols a new TOTP second factor: shows its QR code, then asks for a code of it to confirm.
    /// The factor in use (if any) stays until the new one is confirmed.
    Enrol,
}

/// `sesamectl admin sessions [--admin NAME] [revoke …]`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Only this administrator's sessions (another's: global administrators only). Without it,
    /// a global administrator sees everyone's, the others their own.
    #[arg(long, value_name = "NAME")]
    pub admin: Option<String>,
    /// What to do with them (default: list).
    #[command(subcommand)]
    pub command: Option<SessionsCommand>,
}

/// `sesamectl admin sessions revoke …`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revokes one web session (`--id`), or all of an administrator's (`--all`: sign out
    /// everywhere; your own without `--admin`).
    Revoke {
        /// The session's id, as listed.
        #[arg(long, value_name = "N", conflicts_with = "all", required_unless_present = "all")]
        id: Option<u64>,
        /// Every session of the administrator.
        #[arg(long)]
        all: bool,
        /// Whose sessions, with `--all` (global administrators only for another's).
        #[arg(long, value_name = "NAME", conflicts_with = "id")]
        admin: Option<String>,
    },
}

/// Sets the caller's web password, asked twice at a terminal, else read from standard input's
/// first line.
pub(crate) async fn web_password<W: Write>(session: &mut Session<'_, W>) -> Result<(), Error> {
    let password = if std::io::stdin().is_terminal() {
        let first = SecretString::from(rpassword::prompt_password("New web password: ")?);
        let again = SecretString::from(rpassword::prompt_password("Again: ")?);
        if first.expose_secret() != again.expose_secret() {
            return Err(Error::Usage("the two passwords differ; nothing was changed".to_owned()));
        }
        first
    } else {
        SecretString::from(read_line()?)
    };
    let request = pb::SetWebPasswordRequest { password: password.expose_secret().to_owned() };
    session.client.set_web_password(request).await?;
    writeln!(session.out, "Web password set.")?;
    Ok(())
}

/// Enrols a TOTP second factor: prints its URI and QR code, reads a code, confirms.
pub(crate) async fn totp<W: Write>(
    session: &mut Session<'_, W>,
    command: TotpCommand,
) -> Result<(), Error> {
    match command {
        TotpCommand::Enrol => {
            let enrolment = session
                .client
                .begin_totp_enrolment(pb::BeginTotpEnrolmentRequest {})
                .await?
                .into_inner();
            let uri = SecretString::from(enrolment.otpauth_uri);
            writeln!(session.out, "Scan this QR code with an authenticator app:\n")?;
            write!(session.out, "{}", qr_code(uri.expose_secret())?)?;
            writeln!(session.out, "\nor enter this key: {}", enrolment.secret_base32)?;
            writeln!(session.out, "({})\n", uri.expose_secret())?;
            write!(session.out, "Then type the 6-digit code it shows: ")?;
            session.out.flush()?;
            let code = read_line()?;
            session.client.confirm_totp(pb::ConfirmTotpRequest { code }).await?;
            writeln!(session.out, "Second factor confirmed: web sign-in now asks for its codes.")?;
        }
    }
    Ok(())
}

/// Lists web sessions, or revokes some.
pub(crate) async fn sessions<W: Write>(
    session: &mut Session<'_, W>,
    args: SessionsArgs,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match args.command {
        None => {
            let request = pb::ListWebSessionsRequest { admin: args.admin.unwrap_or_default() };
            let sessions = client.list_web_sessions(request).await?.into_inner().sessions;
            let rows: Vec<WebSessionRow<'_>> = sessions.iter().map(WebSessionRow::from).collect();
            print_rows(out, *format, &rows)?;
        }
        Some(SessionsCommand::Revoke { id, all, admin }) => {
            let request = pb::RevokeWebSessionsRequest {
                id: id.unwrap_or_default(),
                all,
                admin: admin.or(args.admin).unwrap_or_default(),
            };
            let revoked = client.revoke_web_sessions(request).await?.into_inner().revoked;
            writeln!(out, "{revoked} web session(s) revoked.")?;
        }
    }
    Ok(())
}

/// `text` as a QR code in Unicode half blocks (two modules a character), light on dark.
pub(crate) fn qr_code(text: &str) -> Result<String, Error> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| Error::Usage(format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build()
        + "\n")
}

/// One line of standard input, without its line end.
fn read_line() -> Result<String, Error> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{AdminCommand, Cli, Command};

    fn sessions(args: &[&str]) -> Result<SessionsArgs, clap::Error> {
        let argv = ["sesamectl", "admin", "sessions"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Admin(AdminCommand::Sessions(args)) => Ok(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sessions_are_listed_or_revoked_by_id_or_all() {
        assert!(sessions(&[]).unwrap().command.is_none());
        assert_eq!(sessions(&["--admin", "marie"]).unwrap().admin.as_deref(), Some("marie"));
        let by_id = sessions(&["revoke", "--id", "3"]).unwrap().command;
        assert!(matches!(by_id, Some(SessionsCommand::Revoke { id: Some(3), all: false, .. })));
        let all = sessions(&["revoke", "--all", "--admin", "marie"]).unwrap().command;
        assert!(
            matches!(all, Some(SessionsCommand::Revoke { id: None, all: true, admin: Some(a) }) if a == "marie")
        );
        for bad in [
            &["revoke"][..],
            &["revoke", "--id", "3", "--all"],
            &["revoke", "--id", "3", "--admin", "x"],
        ] {
            assert!(sessions(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_qr_code_is_drawn_in_half_blocks_with_a_quiet_zone() {
        let drawn = qr_code("otpauth://totp/Sesame:marie?secret=GEZDGNBVGY3TQOJQ").unwrap();
        let lines: Vec<&str> = drawn.lines().collect();
        assert!(lines.len() > 10);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
        assert!(drawn.chars().all(|c| matches!(c, ' ' | '█' | '▀' | '▄' | '\n')), "{drawn}");
        assert!(lines[0].chars().all(|c| c == '█'), "a light quiet zone");
    }
}
