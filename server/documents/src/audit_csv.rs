//! The audit trail as CSV: one line per record ([`AuditLine`]), every cell through [`CsvOut`],
//! actions under their current names (`sesame_base::audit_actions`). Each line names its record's
//! hash, so the last one is the chain's position the file was made at.

use std::io::{self, Write};

use serde::Serialize;
use time::OffsetDateTime;

use crate::{CsvOut, rfc3339};

/// One audit record, as the trail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// Its sequence number in the chain.
    pub seq: i64,
    /// When it was recorded.
    pub at: OffsetDateTime,
    /// Who acted.
    pub actor: String,
    /// What was done, under the name it was recorded with.
    pub action: String,
    /// The office concerned; empty when none.
    pub office: String,
    /// What it was done to.
    pub target: String,
    /// Its details, as recorded (JSON).
    pub details: String,
    /// Its hash in the chain, in hexadecimal.
    pub hash: String,
}

/// One record as written (the CSV's columns, in order).
#[derive(Debug, Default, Serialize)]
struct Row<'a> {
    seq: i64,
    at: String,
    actor: &'a str,
    action: &'a str,
    office: &'a str,
    target: &'a str,
    details: &'a str,
    hash: &'a str,
}

/// Writes these records on `csv` (the header first, when `csv` has written nothing yet); a trail read page
/// by page calls it for each page on the same writer.
pub fn write_lines<W: Write>(csv: &mut CsvOut<W>, lines: &[AuditLine]) -> io::Result<()> {
    csv.header_of::<Row<'_>>()?;
    for line in lines {
        csv.serialize(&Row {
            seq: line.seq,
            at: rfc3339(line.at),
            actor: &line.actor,
            // Records keep the name they were written with; people read the current one.
            action: sesame_base::audit_actions::current_name(&line.action),
            office: &line.office,
            target: &line.target,
            details: &line.details,
            hash: &line.hash,
        })?;
    }
    Ok(())
}

/// The records as a CSV file: `seq,at,actor,action,office,target,details,hash`.
pub fn write(out: impl Write, lines: &[AuditLine]) -> io::Result<()> {
    let mut csv = CsvOut::new(out);
    write_lines(&mut csv, lines)?;
    csv.flush()
}
