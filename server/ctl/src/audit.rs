//! `sesamectl audit`: list the audit trail and verify its hash chain.

use std::io::Write;

use clap::Subcommand;
use sesame_proto::v1 as pb;

use crate::output::{AuditRow, Listing, print_rows};
use crate::{Error, Session, documents};

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
    /// Verifies the hash chain and its signed heads, and names every broken record or head.
    Verify,
}

/// Largest page of records asked for.
const PAGE_SIZE: u32 = 5_000;

/// Runs an audit command; any problem with the chain or its signed heads is an error
/// ([`Error::AuditProblems`], listing them all; from a server that names only the first,
/// [`Error::AuditBroken`] or [`Error::AuditHeadsBroken`]).
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
    if session.format.kind() == Listing::Csv {
        // The trail's CSV is the one the dashboard offers too.
        let mut csv = session.format.csv(&mut *session.out);
        sesame_documents::audit_csv::write_lines(&mut csv, &documents::audit_lines(&records)?)?;
        return Ok(csv.flush()?);
    }
    let rows: Vec<AuditRow<'_>> = records.iter().map(AuditRow::from).collect();
    print_rows(session.out, session.format, &rows)?;
    Ok(())
}

async fn verify<W: Write>(session: &mut Session<'_, W>) -> Result<(), Error> {
    let result = session.client.verify_audit(pb::VerifyAuditRequest {}).await?.into_inner();
    if result.problem_count > 0 {
        return Err(Error::AuditProblems(describe_problems(&result)));
    }
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
    if result.key_rotations > 0 {
        writeln!(
            session.out,
            "Key rotations recorded in the trail: {} (sesamectl audit list shows the \
             audit.key.rotate records).",
            result.key_rotations
        )?;
    }
    if result.unverifiable_heads > 0 {
        writeln!(
            session.out,
            "Signed heads whose key was recorded lost at a rotation (signatures not checkable): {}.",
            result.unverifiable_heads
        )?;
    }
    writeln!(
        session.out,
        "Audit signing public key (Ed25519, hex): {}",
        hex_encode(&result.public_key)
    )?;
    Ok(())
}

/// The first problem as older versions said it, then how many there are and each one.
fn describe_problems(result: &pb::VerifyAuditResponse) -> String {
    let first = if result.problem.is_empty() {
        format!(
            "the audit trail's signed heads do NOT match, at head {}: {}",
            result.first_bad_head_seq, result.head_problem
        )
    } else {
        format!(
            "the audit trail is BROKEN at record {}: {}",
            result.first_broken_seq, result.problem
        )
    };
    let listed = result.problems.len() as u64;
    let shown =
        if listed < result.problem_count { format!(" ({listed} listed)") } else { String::new() };
    let mut text = format!(
        "{first}\n{} problem(s) found in the audit trail{shown} after checking {} record(s) and \
         {} signed head(s):",
        result.problem_count, result.records, result.heads
    );
    let lines: Vec<String> =
        result.problems.iter().map(|p| format!("\n  - {}", p.description)).collect();
    text.push_str(&lines.concat());
    text
}

/// Lower-case hexadecimal.
fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
