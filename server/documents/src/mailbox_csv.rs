//! The office's mailbox CSV file, as an administrator exports it from a spreadsheet: read into plain
//! rows with their line numbers, its shape checked (header, columns, quoting). sesamectl reads it
//! from a file (`sesamectl mailbox import FILE`) and the dashboard from an upload; both then send
//! the rows to the import service, which checks addresses and offices and writes all or nothing.

use crate::csv_in::{CsvIn, LineError};

/// Largest mailbox CSV file a front end accepts (64 MiB, as its error message says).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a mailbox CSV text cannot be imported as it is; the message names the line.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header row is not `address,display_name`, optionally followed by `logon_name` and
    /// `local_account` (in any order).
    #[error(
        "line 1: expected the header address,display_name[,logon_name][,local_account], found {found:?}"
    )]
    Header {
        /// The header found.
        found: String,
    },
    /// A line does not have the header's columns, or the CSV quoting is broken.
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

/// One mailbox of the file. An optional column that is absent or empty is an empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxRow {
    /// The line number in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The mailbox's address, as written.
    pub address: String,
    /// The name shown for the mailbox.
    pub display_name: String,
    /// The Windows logon name (`DOMAIN\user`), or empty.
    pub logon_name: String,
    /// The mailbox's default local account, or empty.
    pub local_account: String,
}

/// The rows of a mailbox CSV file, in file order (at least one).
#[derive(Debug, Default)]
pub struct MailboxCsv {
    /// The rows.
    pub rows: Vec<MailboxRow>,
}

/// Parses the text of a mailbox CSV file: a byte-order mark is ignored, `,` or `;` separated,
/// header `address,display_name` (any case), optionally followed by `logon_name` (`DOMAIN\user`,
/// may be empty) and `local_account` (may be empty), in any order. Cells are trimmed; blank lines
/// are skipped.
pub fn parse(text: &str) -> Result<MailboxCsv, CsvError> {
    let csv = CsvIn::new(text).map_err(CsvError::from)?;
    let names = &csv.names;
    let bad_header = || CsvError::Header { found: csv.header_line.chars().take(80).collect() };
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
    let rows: Vec<MailboxRow> = csv
        .records()?
        .into_iter()
        .map(|(line, record)| {
            let column = |at: Option<usize>| at.map_or_else(String::new, |i| record[i].to_owned());
            MailboxRow {
                line,
                address: record[0].to_owned(),
                display_name: record[1].to_owned(),
                logon_name: column(logon_at),
                local_account: column(account_at),
            }
        })
        .collect();
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(MailboxCsv { rows })
}

impl From<LineError> for CsvError {
    fn from(error: LineError) -> CsvError {
        CsvError::Line { line: error.line, message: error.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_line_numbers() {
        let csv = parse(
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
            parse("\u{feff}Address;Display_Name\r\na.b@01234.mailnot.fr;Étienne B\r\n").unwrap();
        assert_eq!(csv.rows[0].display_name, "Étienne B");
    }

    #[test]
    fn the_logon_name_column_is_optional() {
        let csv = parse(
            "address,display_name,logon_name\na.b@01234.mailnot.fr,A B,ETUDE\\ab\nc.d@01234.mailnot.fr,C D,\n",
        )
        .unwrap();
        let names: Vec<&str> = csv.rows.iter().map(|r| r.logon_name.as_str()).collect();
        assert_eq!(names, ["ETUDE\\ab", ""]);
        let plain = parse("address,display_name\na.b@01234.mailnot.fr,A B\n").unwrap();
        assert_eq!(plain.rows[0].logon_name, "");
        let short = parse("address,display_name,logon_name\na.b@01234.mailnot.fr,A\n").unwrap_err();
        assert!(short.to_string().starts_with("line 2: expected 3 columns"), "{short}");
    }

    #[test]
    fn the_local_account_column_is_optional_and_may_come_first() {
        let csv = parse(
            "address,display_name,local_account,logon_name\na.b@01234.mailnot.fr,A B,jdupont,ETUDE\\ab\nc.d@01234.mailnot.fr,C D,,\n",
        )
        .unwrap();
        let accounts: Vec<&str> = csv.rows.iter().map(|r| r.local_account.as_str()).collect();
        assert_eq!(accounts, ["jdupont", ""]);
        assert_eq!(csv.rows[0].logon_name, "ETUDE\\ab");
        let twice = parse("address,display_name,local_account,local_account\na,b,c,d\n");
        assert!(twice.unwrap_err().to_string().starts_with("line 1:"));
    }

    /// Found by fuzzing (`fuzz::mailbox_csv_reads_any_text_without_panicking`, libFuzzer): lines
    /// ended by a lone `\r` were all numbered as the first line, and the header ran to the end.
    #[test]
    fn classic_mac_line_endings_number_their_lines() {
        let csv =
            parse("address;display_name\ra.b@01234.mailnot.fr;A, B\r\rc.d@01234.mailnot.fr;C\r")
                .unwrap();
        let lines: Vec<u64> = csv.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(csv.rows[0].display_name, "A, B");
        let short = parse("address,display_name\ra.b@01234.mailnot.fr,A\rc.d@01234.mailnot.fr\r")
            .unwrap_err();
        assert!(short.to_string().starts_with("line 3: expected 2 columns"), "{short}");
    }

    #[test]
    fn bad_files_name_their_line() {
        let header = parse("email,name\na,b\n").unwrap_err();
        assert!(header.to_string().starts_with("line 1:"), "{header}");
        let columns = parse("address,display_name\na.b@01234.mailnot.fr,A\nc.d@01234.mailnot.fr\n")
            .unwrap_err();
        assert!(columns.to_string().starts_with("line 3: expected 2 columns"), "{columns}");
        let quotes =
            parse("address,display_name\na.b@01234.mailnot.fr,A\n\"c.d@01234.mailnot.fr,D\n")
                .unwrap_err();
        assert!(quotes.to_string().contains("line 3"), "{quotes}");
        assert!(matches!(parse("address,display_name\n"), Err(CsvError::Empty)));
    }
}
