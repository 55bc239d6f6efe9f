//! The documents Sesame hands to people, rendered from plain inputs so that every front end makes
//! the same bytes: sesamectl (from the gRPC answers) and the server's web dashboard (from its
//! services) convert what they hold into these types and call the same functions. The crate knows
//! neither the wire contract nor the database: it depends on `pdf-writer`, `csv`, `time`,
//! `secrecy`, `serde`, `thiserror` and `sesame-base` only (tidy and `.ci/run` check it).
//!
//! - [`letters`]: the provisional-password letters (PDF, one page per person, in French);
//! - [`export`]: the files for the mail administrator (CSV and PowerShell);
//! - [`report`]: the compliance report's input ([`ComplianceReportDoc`]), rendered by
//!   [`report_pdf`] (the dated French PDF an auditor files) and [`report_csv`];
//! - [`audit_csv`]: the audit trail as CSV;
//! - [`mailbox_csv`] and [`office_csv`]: the files read, not written: the office's mailbox CSV
//!   file (sesamectl's `mailbox import` and the dashboard's upload) and the offices' CSV file
//!   (`office import`), parsed into plain rows with their line numbers (`csv_in`, shared);
//! - [`csv_out`]: [`CsvOut`], the CSV writer every CSV goes through (formula cells neutralised);
//!   `pdf`: the PDF primitives (standard fonts, WinAnsi).
//!
//! # Which signed audit head a document was made from
//!
//! A compliance report is made at one position of the audit chain, signed by the server's audit
//! key ([`HeadStamp`]); `sesamectl audit verify` checks the chain up to it.
//! - The PDF states it in its text: record number, SHA-256, when and by which key it was signed,
//!   and the signature.
//! - The CSV files stay plain tables (one header line, then one line per office, mailbox or
//!   record), byte for byte what they were, so that the spreadsheets and scripts that read them
//!   keep working: a comment line breaks readers that take the first line as the header, a
//!   trailing row breaks counts and sums, an extra column repeats the head on every line and
//!   breaks readers with a fixed column list. The head travels beside the table instead, in two
//!   machine-readable ways: the file's name ([`HeadStamp::file_stem`], e.g.
//!   `compliance-report-2026-03-01-head-1234-abababababab.csv`) and a one-line CSV of its own,
//!   [`report_csv::write_stamp`] (the report's date and totals and the whole signed head), which
//!   the dashboard offers with the table (and may also send in a response header).
//! - The audit trail's CSV names each record's hash: its last line is the chain's position.
//! - The letters and the export carry provisional passwords, not a report: their disclosure is
//!   itself audited before they are made.

pub mod audit_csv;
mod csv_in;
pub mod csv_out;
pub mod export;
mod head;
pub mod letters;
pub mod mailbox_csv;
pub mod office_csv;
mod pdf;
pub mod report;
pub mod report_csv;
pub mod report_pdf;

#[cfg(test)]
mod fuzz;

pub use crate::csv_out::{CsvDialect, CsvOut};
pub use crate::head::HeadStamp;
pub use crate::letters::Letter;
pub use crate::report::ComplianceReportDoc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A time as every document writes it: RFC 3339, as the server sends it (UTC, `Z`, the fraction of
/// a second only when there is one).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// An optional time: empty when there is none.
pub(crate) fn optional_rfc3339(at: Option<OffsetDateTime>) -> String {
    at.map(rfc3339).unwrap_or_default()
}
