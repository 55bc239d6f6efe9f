//! `sesamectl mailbox import`: reads the CSV file, checks its shape locally (header, columns) with
//! line numbers, then streams it to the server in chunks; the server checks addresses and offices
//! and writes all or nothing.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use sesame_proto::v1 as pb;

use crate::{AdminClient, Error};

/// Rows per streamed chunk.
const CHUNK_ROWS: usize = 1_000;
/// Largest CSV file accepted.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

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
    #[error("{path} is larger than 64 MiB; split it")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (save it as \"CSV UTF-8\")")]
    Encoding {
        /// The file.
        path: String,
    },
    /// The header row is not `address,display_name`, optionally followed by `logon_name` and
    /// `local_account` (in any order).
    #[error(
        "line 1: expected the header address,display_name[,logon_name][,local_account], found {found:?}"
    )]
    Header {
        /// The header found.
        found: String,
    },
    /// A line does not have the two columns, or the CSV quoting is broken.
    #[error("line {line}: {message}; nothing was imported")]
    Line {
        /// The line number, from 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The file holds a header and no rows.
    #[error("the file holds no mailboxes")]
    Empty,
}

/// The rows of a mailbox CSV file, each with its line number.
#[derive(Debug, Default)]
pub struct MailboxCsv {
    /// The rows.
    pub rows: Vec<pb::MailboxRow>,
}

/// Reads a mailbox CSV file: UTF-8 (a byte-order mark is ignored), `,` or `;` separated, header
/// `address,display_name`, optionally followed by `logon_name` (`DOMAIN\user`, may be empty)
/// and `local_account` (the mailbox's default account, may be empty), in any order. Blank lines
/// are skipped.
pub fn read_mailbox_csv(path: &Path) -> Result<MailboxCsv, CsvError> {
    let name = path.display().to_string();
    let read_err = |source| CsvError::Read { path: name.clone(), source };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(CsvError::TooLarge { path: name });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let text = String::from_utf8(bytes).map_err(|_| CsvError::Encoding { path: name.clone() })?;
    parse_mailbox_csv(&text)
}

/// Parses the text of a mailbox CSV file.
pub fn parse_mailbox_csv(text: &str) -> Result<MailboxCsv, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().next().unwrap_or("");
    let delimiter =
        if header_line.contains(';') && !header_line.contains(',') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header =
        reader.headers().map_err(|e| CsvError::Line { line: 1, message: e.to_string() })?.clone();
    let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
    let bad_header = || CsvError::Header { found: header_line.chars().take(80).collect() };
    if names.len() < 2 || names[0] != "address" || names[1] != "display_name" {
        return Err(bad_header());
    }
    let optional = &names[2..];
    let position = |name: &str| optional.iter().position(|n| n == name).map(|i| i + 2);
    let logon_at = position("logon_name");
    let account_at = position("local_account");
    if optional.len() != usize::from(logon_at.is_some()) + usize::from(account_at.is_some())
        || logon_at == account_at && logon_at.is_some()
    {
        return Err(bad_header());
    }
    let columns = names.len();
    // The csv crate does not count blank lines, so line numbers come from byte offsets.
    let newlines: Vec<usize> =
        text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect();
    // A record's position may point at the blank lines before it: skip them.
    let bytes = text.as_bytes();
    let line_at = |position: Option<&csv::Position>| {
        position.map_or(0, |p| {
            let mut start = usize::try_from(p.byte()).unwrap_or(usize::MAX).min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            newlines.partition_point(|&nl| nl < start) as u64 + 1
        })
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| CsvError::Line {
            line: line_at(e.position()),
            message: "malformed CSV (check the quotes)".to_owned(),
        })?;
        let line = line_at(record.position());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != columns {
            return Err(CsvError::Line {
                line,
                message: format!(
                    "expected {columns} columns ({}), found {}",
                    names.join(", "),
                    record.len()
                ),
            });
        }
        let column = |at: Option<usize>| at.map_or_else(String::new, |i| record[i].to_owned());
        rows.push(pb::MailboxRow {
            line,
            address: record[0].to_owned(),
            display_name: record[1].to_owned(),
            logon_name: column(logon_at),
            local_account: column(account_at),
        });
    }
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(MailboxCsv { rows })
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
    let mut chunks: Vec<pb::ImportMailboxesRequest> = Vec::new();
    let mut rows = csv.rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunks.push(pb::ImportMailboxesRequest {
            rows: rows.by_ref().take(CHUNK_ROWS).collect(),
            dry_run,
        });
    }
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
    let total = report.created + report.updated + report.unchanged;
    let prefix = if report.dry_run { "Dry run, nothing written: would import" } else { "Imported" };
    if report.created == 0 && report.updated == 0 {
        writeln!(
            out,
            "Nothing to change: all {total} mailboxes are already registered as in the file."
        )
    } else {
        writeln!(
            out,
            "{prefix} {total} mailboxes: {} created, {} updated, {} unchanged.",
            report.created, report.updated, report.unchanged
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_line_numbers() {
        let csv = parse_mailbox_csv(
            "address,display_name\nA.B@01234.mailnot.fr,A B\n\n\"c.d@01234.mailnot.fr\",\"D, C\"\n",
        )
        .unwrap();
        let lines: Vec<u64> = csv.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(csv.rows[1].display_name, "D, C");
    }

    #[test]
    fn excel_exports_with_bom_and_semicolons_are_read() {
        let csv =
            parse_mailbox_csv("\u{feff}Address;Display_Name\r\na.b@01234.mailnot.fr;Étienne B\r\n")
                .unwrap();
        assert_eq!(csv.rows[0].display_name, "Étienne B");
    }

    #[test]
    fn the_logon_name_column_is_optional() {
        let csv = parse_mailbox_csv(
            "address,display_name,logon_name\na.b@01234.mailnot.fr,A B,ETUDE\\ab\nc.d@01234.mailnot.fr,C D,\n",
        )
        .unwrap();
        let names: Vec<&str> = csv.rows.iter().map(|r| r.logon_name.as_str()).collect();
        assert_eq!(names, ["ETUDE\\ab", ""]);
        let plain = parse_mailbox_csv("address,display_name\na.b@01234.mailnot.fr,A B\n").unwrap();
        assert_eq!(plain.rows[0].logon_name, "");
        let short = parse_mailbox_csv("address,display_name,logon_name\na.b@01234.mailnot.fr,A\n")
            .unwrap_err();
        assert!(short.to_string().starts_with("line 2: expected 3 columns"), "{short}");
    }

    #[test]
    fn the_local_account_column_is_optional_and_may_come_first() {
        let csv = parse_mailbox_csv(
            "address,display_name,local_account,logon_name\na.b@01234.mailnot.fr,A B,jdupont,ETUDE\\ab\nc.d@01234.mailnot.fr,C D,,\n",
        )
        .unwrap();
        let accounts: Vec<&str> = csv.rows.iter().map(|r| r.local_account.as_str()).collect();
        assert_eq!(accounts, ["jdupont", ""]);
        assert_eq!(csv.rows[0].logon_name, "ETUDE\\ab");
        let twice =
            parse_mailbox_csv("address,display_name,local_account,local_account\na,b,c,d\n");
        assert!(twice.unwrap_err().to_string().starts_with("line 1:"));
    }

    #[test]
    fn bad_files_name_their_line() {
        let header = parse_mailbox_csv("email,name\na,b\n").unwrap_err();
        assert!(header.to_string().starts_with("line 1:"), "{header}");
        let columns = parse_mailbox_csv(
            "address,display_name\na.b@01234.mailnot.fr,A\nc.d@01234.mailnot.fr\n",
        )
        .unwrap_err();
        assert!(columns.to_string().starts_with("line 3: expected 2 columns"), "{columns}");
        let quotes = parse_mailbox_csv(
            "address,display_name\na.b@01234.mailnot.fr,A\n\"c.d@01234.mailnot.fr,D\n",
        )
        .unwrap_err();
        assert!(quotes.to_string().contains("line 3"), "{quotes}");
        assert!(matches!(parse_mailbox_csv("address,display_name\n"), Err(CsvError::Empty)));
    }
}
