//! `sesamectl audit`: list the audit trail and verify its hash chain.

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{AuditRow, print_rows};
use crate::{Error, Session};

/// Audit trail commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Lists audit records.
    List {
        /// Only this office's.
        #[arg(long)]
        office: Option<String>,
        /// From this date (YYYY-MM-DD) or time (RFC 3339) on.
        #[arg(long)]
        since: Option<String>,
    },
    /// Verifies the hash chain and its signed heads, and names the first broken record or head.
    Verify,
}

/// Largest page of records asked for.
const PAGE_SIZE: u32 = 5_000;

/// Runs an audit command; a broken chain is an error ([`Error::AuditBroken`]), and so are signed
/// heads that do not match it ([`Error::AuditHeadsBroken`]).
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    command: AuditCommand,
) -> Result<(), Error> {
    match command {
        AuditCommand::List { office, since } => {
            list(session, office.unwrap_or_default(), since.unwrap_or_default()).await
        }
        AuditCommand::Verify => verify(session).await,
    }
}

/// Lists the records, page after page.
async fn list<W: Write>(
    session: &mut Session<'_, W>,
    office: String,
    since: String,
) -> Result<(), Error> {
    let mut records = Vec::new();
    let mut after_seq = 0;
    loop {
        let request = pb::ListAuditRecordsRequest {
            office: office.clone(),
            since: since.clone(),
            after_seq,
            limit: PAGE_SIZE,
        };
        let page = session.client.list_audit_records(request).await?.into_inner().records;
        let done = page.len() < PAGE_SIZE as usize;
        after_seq = page.last().map_or(after_seq, |r| r.seq);
        records.extend(page);
        if done {
            break;
        }
    }
    let rows: Vec<AuditRow<'_>> = records.iter().map(AuditRow::from).collect();
    print_rows(session.out, session.format, &rows)?;
    Ok(())
}

async fn verify<W: Write>(session: &mut Session<'_, W>) -> Result<(), Error> {
    let result = session.client.verify_audit(pb::VerifyAuditRequest {}).await?.into_inner();
    if !result.problem.is_empty() {
        return Err(Error::AuditBroken { seq: result.first_broken_seq, problem: result.problem });
    }
    if !result.intact {
        return Err(Error::AuditHeadsBroken {
            seq: result.first_bad_head_seq,
            problem: result.head_problem,
        });
    }
    writeln!(session.out, "The audit trail is intact: {} record(s) verified.", result.records)?;
    let newest = if result.newest_head_seq == 0 {
        "none yet".to_owned()
    } else {
        format!("record {}, signed at {}", result.newest_head_seq, result.newest_head_signed_at)
    };
    writeln!(
        session.out,
        "Signed heads: {} verified with key {}; newest: {newest}.",
        result.heads, result.key_id
    )?;
    writeln!(
        session.out,
        "Audit signing public key (Ed25519, hex): {}",
        hex_encode(&result.public_key)
    )?;
    Ok(())
}

/// Lower-case hexadecimal.
fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
