//! `sesamectl token`: workstation enrollment tokens (create, list, revoke).

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{TokenRow, print_rows};
use crate::{Error, Session};

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

/// Runs a token command.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: TokenCommand,
) -> Result<(), Error> {
    let Session { client, out, format, .. } = session;
    match command {
        TokenCommand::Create { office, uses, ttl } => {
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
        TokenCommand::List { office } => {
            let request = pb::ListEnrollmentTokensRequest { office: office.unwrap_or_default() };
            let tokens = client.list_enrollment_tokens(request).await?.into_inner().tokens;
            let rows: Vec<TokenRow<'_>> = tokens.iter().map(TokenRow::from).collect();
            print_rows(out, *format, &rows)?;
        }
        TokenCommand::Revoke { id } => {
            client.revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest { id }).await?;
            writeln!(out, "Token {id} revoked.")?;
        }
    }
    Ok(())
}
