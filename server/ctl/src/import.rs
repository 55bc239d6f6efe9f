//! `sesamectl mailbox import` and `sesamectl office import`: reads the CSV file, checks its shape
//! locally (header, columns) with line numbers (`sesame_documents::mailbox_csv`, which the
//! dashboard's upload uses too, and `office_csv`), then streams it to the server in chunks, each
//! under the request size limit; the server checks every row and writes all or nothing.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use prost::Message;
use sesame_documents::{mailbox_csv, office_csv};
use sesame_proto::limits::MAX_ADMIN_REQUEST_BYTES;
use sesame_proto::v1 as pb;

use crate::{AdminClient, Error};

/// Rows per streamed chunk.
const CHUNK_ROWS: usize = 1_000;

/// A CSV file that cannot be imported as it is. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than an import may be.
    #[error("{path} is larger than {max_mib} MiB; split it")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit, in MiB.
        max_mib: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (save it as \"CSV UTF-8\")")]
    Encoding {
        /// The file.
        path: String,
    },
    /// The text is not a mailbox CSV file (header, columns, quoting, no rows); the message names
    /// the line.
    #[error(transparent)]
    Parse(#[from] mailbox_csv::CsvError),
    /// The text is not an office CSV file (header, columns, quoting, no rows); the message names
    /// the line.
    #[error(transparent)]
    Offices(#[from] office_csv::CsvError),
}

/// The rows of a mailbox CSV file, each with its line number.
#[derive(Debug, Default)]
pub struct MailboxCsv {
    /// The rows.
    pub rows: Vec<pb::MailboxRow>,
}

/// Reads a mailbox CSV file: UTF-8, at most 64 MiB, then as [`mailbox_csv::parse`] reads it (a
/// byte-order mark is ignored, `,` or `;` separated, header `address,display_name`, optionally
/// followed by `logon_name` and `local_account` in any order, blank lines skipped).
pub fn read_mailbox_csv(path: &Path) -> Result<MailboxCsv, CsvError> {
    parse_mailbox_csv(&read_text(path, mailbox_csv::MAX_FILE_BYTES)?)
}

/// The text of a CSV file: UTF-8, at most `max` bytes.
fn read_text(path: &Path, max: u64) -> Result<String, CsvError> {
    let name = path.display().to_string();
    let read_err = |source| CsvError::Read { path: name.clone(), source };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > max {
        return Err(CsvError::TooLarge { path: name, max_mib: max / (1024 * 1024) });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    String::from_utf8(bytes).map_err(|_| CsvError::Encoding { path: name.clone() })
}

/// The rows of an office CSV file, each with its line number.
#[derive(Debug, Default)]
pub struct OfficeCsv {
    /// The rows.
    pub rows: Vec<pb::OfficeRow>,
}

/// Reads an office CSV file: UTF-8, at most 16 MiB, then as [`office_csv::parse`] reads it (a
/// byte-order mark is ignored, `,` or `;` separated, header `crpcen,name` optionally followed by
/// `city`, or `crpcen;nom;ville`, blank lines skipped).
pub fn read_office_csv(path: &Path) -> Result<OfficeCsv, CsvError> {
    let csv = office_csv::parse(&read_text(path, office_csv::MAX_FILE_BYTES)?)?;
    let rows = csv
        .rows
        .into_iter()
        .map(|r| pb::OfficeRow { line: r.line, crpcen: r.crpcen, name: r.name, city: r.city })
        .collect();
    Ok(OfficeCsv { rows })
}

/// The rows in chunks of at most [`CHUNK_ROWS`], each chunk's message under half the request
/// size limit (a row is far smaller than that).
fn chunks<R: Message>(rows: Vec<R>) -> Vec<Vec<R>> {
    let budget = MAX_ADMIN_REQUEST_BYTES / 2;
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut size = 0;
    for row in rows {
        // A field's key and length prefix: at most 1 + 10 bytes.
        let row_size = row.encoded_len() + 11;
        if !chunk.is_empty() && (chunk.len() == CHUNK_ROWS || size + row_size > budget) {
            chunks.push(std::mem::take(&mut chunk));
            size = 0;
        }
        size += row_size;
        chunk.push(row);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// Streams the office rows to the server and returns its report.
pub(crate) async fn send_offices(
    client: &mut AdminClient,
    csv: OfficeCsv,
    dry_run: bool,
) -> Result<pb::ImportOfficesResponse, Error> {
    let requests: Vec<pb::ImportOfficesRequest> = chunks(csv.rows)
        .into_iter()
        .map(|rows| pb::ImportOfficesRequest { rows, dry_run })
        .collect();
    Ok(client.import_offices(tokio_stream::iter(requests)).await?.into_inner())
}

/// Prints what an office import did.
pub(crate) fn print_office_report(
    out: &mut impl Write,
    report: &pb::ImportOfficesResponse,
) -> std::io::Result<()> {
    let counts = [report.created, report.updated, report.unchanged];
    print_counts(out, "offices", report.dry_run, counts)
}

/// What an import did, `[created, updated, unchanged]` records of `noun`.
fn print_counts(
    out: &mut impl Write,
    noun: &str,
    dry_run: bool,
    [created, updated, unchanged]: [u64; 3],
) -> std::io::Result<()> {
    let total = created + updated + unchanged;
    let prefix = if dry_run { "Dry run, nothing written: would import" } else { "Imported" };
    if created == 0 && updated == 0 {
        writeln!(
            out,
            "Nothing to change: all {total} {noun} are already registered as in the file."
        )
    } else {
        writeln!(
            out,
            "{prefix} {total} {noun}: {created} created, {updated} updated, {unchanged} unchanged."
        )
    }
}

/// Parses the text of a mailbox CSV file ([`mailbox_csv::parse`]) into the rows the server takes.
pub fn parse_mailbox_csv(text: &str) -> Result<MailboxCsv, CsvError> {
    let csv = mailbox_csv::parse(text)?;
    Ok(MailboxCsv { rows: csv.rows.into_iter().map(row).collect() })
}

/// A row as the server takes it.
fn row(row: mailbox_csv::MailboxRow) -> pb::MailboxRow {
    pb::MailboxRow {
        line: row.line,
        address: row.address,
        display_name: row.display_name,
        logon_name: row.logon_name,
        local_account: row.local_account,
    }
}

/// Streams the rows to the server and returns its report.
pub(crate) async fn send(
    client: &mut AdminClient,
    csv: MailboxCsv,
    dry_run: bool,
    progress: bool,
) -> Result<pb::ImportMailboxesResponse, Error> {
    let total = csv.rows.len() as u64;
    let bar = if progress && total > CHUNK_ROWS as u64 {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message("sending");
        bar
    } else {
        ProgressBar::hidden()
    };
    let chunks: Vec<pb::ImportMailboxesRequest> = chunks(csv.rows)
        .into_iter()
        .map(|rows| pb::ImportMailboxesRequest { rows, dry_run })
        .collect();
    let sent = bar.clone();
    let stream = tokio_stream::iter(
        chunks.into_iter().inspect(move |chunk| sent.inc(chunk.rows.len() as u64)),
    );
    let bar_done = bar.clone();
    let result = client.import_mailboxes(stream).await;
    bar_done.finish_and_clear();
    Ok(result?.into_inner())
}

/// Prints what the import did.
pub(crate) fn print_report(
    out: &mut impl Write,
    report: &pb::ImportMailboxesResponse,
) -> std::io::Result<()> {
    let counts = [report.created, report.updated, report.unchanged];
    print_counts(out, "mailboxes", report.dry_run, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_reach_the_server_with_their_line_and_columns() {
        let csv = parse_mailbox_csv(
            "address,display_name,local_account,logon_name\n\na.b@01234.mailnot.fr,A B,jdupont,ETUDE\\ab\n",
        )
        .unwrap();
        assert_eq!(
            csv.rows,
            [pb::MailboxRow {
                line: 3,
                address: "a.b@01234.mailnot.fr".to_owned(),
                display_name: "A B".to_owned(),
                logon_name: "ETUDE\\ab".to_owned(),
                local_account: "jdupont".to_owned(),
            }]
        );
    }

    #[test]
    fn bad_files_fail_before_sending_with_the_same_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "address,display_name\na.b@01234.mailnot.fr\n").unwrap();
        let columns = read_mailbox_csv(&path).unwrap_err();
        assert_eq!(
            columns.to_string(),
            "line 2: expected 2 columns (address, display_name), found 1; nothing was imported"
        );
        std::fs::write(&path, b"address,display_name\n\xff,A\n").unwrap();
        let encoding = read_mailbox_csv(&path).unwrap_err();
        assert!(matches!(encoding, CsvError::Encoding { .. }), "{encoding}");
        let missing = read_mailbox_csv(&dir.path().join("missing.csv")).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read "), "{missing}");
    }
}
