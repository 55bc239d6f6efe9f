//! How sesamectl prints listings: an aligned table, JSON, or CSV. The rows themselves, one type
//! per kind of record, are in `output::rows`.

mod mailbox;
mod rows;
mod workstation;

use std::io::{self, Write};

use serde::Serialize;
use sesame_proto::v1 as pb;

pub(crate) use self::mailbox::print_mailbox_detail;
use self::rows::OfficeRow;
pub(crate) use self::rows::{
    AdminRow, AuditRow, MailboxRow, RotationRow, TokenRow, WebSessionRow, WorkstationRow,
    describe_key,
};
pub(crate) use self::workstation::print_workstation;
use crate::OutputFormat;
use sesame_documents::CsvDialect;
pub(crate) use sesame_documents::CsvOut;

/// A listing read page by page: as CSV, each page is written (and flushed) as it arrives; in any
/// other format the items are kept for one print at the end ([`PagedListing::finish`]).
pub(crate) struct PagedListing<W: Write, T> {
    csv: Option<CsvOut<W>>,
    kept: Vec<T>,
}

impl<W: Write, T> PagedListing<W, T> {
    /// A listing on `out` in `format`, whose CSV lines are `R` rows: as CSV, their header is
    /// written at once, so that a listing with nothing in it still has it.
    pub(crate) fn new<R: Serialize + Default>(
        out: W,
        format: Format,
    ) -> io::Result<PagedListing<W, T>> {
        let csv = match format.kind() {
            Listing::Csv => {
                let mut csv = format.csv(out);
                csv.header_of::<R>()?;
                Some(csv)
            }
            _ => None,
        };
        Ok(PagedListing { csv, kept: Vec::new() })
    }

    /// One page: written at once as CSV (`write_row` for each item), else kept.
    pub(crate) fn page(
        &mut self,
        items: Vec<T>,
        write_row: impl Fn(&mut CsvOut<W>, &T) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.csv.as_mut() {
            Some(csv) => {
                for item in &items {
                    write_row(csv, item)?;
                }
                csv.flush()
            }
            None => {
                self.kept.extend(items);
                Ok(())
            }
        }
    }

    /// The items kept for printing, or `None` when they were written as CSV already.
    pub(crate) fn finish(self) -> Option<Vec<T>> {
        self.csv.is_none().then_some(self.kept)
    }
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// An aligned table.
    Table,
    /// JSON.
    Json,
    /// CSV with a header line.
    Csv,
}

/// The chosen format, and for CSV the spreadsheet it is written for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Format(Listing, CsvDialect);

impl Format {
    /// Which format was chosen.
    pub(crate) fn kind(self) -> Listing {
        self.0
    }

    /// The same format with CSV written for a French Excel (`--excel`).
    pub(crate) fn excel(self) -> Format {
        Format(self.0, CsvDialect::Excel)
    }

    /// A CSV writer on `out` in the chosen dialect.
    pub(crate) fn csv<W: Write>(self, out: W) -> CsvOut<W> {
        CsvOut::with_dialect(out, self.1)
    }
}

impl From<OutputFormat> for Format {
    /// `pdf` is for the compliance report only (`sesamectl` refuses it elsewhere); listings print
    /// it as a table.
    fn from(format: OutputFormat) -> Format {
        let listing = match format {
            OutputFormat::Table | OutputFormat::Pdf => Listing::Table,
            OutputFormat::Json => Listing::Json,
            OutputFormat::Csv => Listing::Csv,
        };
        Format(listing, CsvDialect::Plain)
    }
}

/// A row that can be printed as a table line. Its `Default` (empty cells) gives the CSV header
/// of a listing with no row.
pub(crate) trait Tabular: Serialize + Default {
    /// Column titles.
    const HEADER: &'static [&'static str];
    /// What the table's last line counts, e.g. "office(s)".
    const NOUN: &'static str;
    /// The cells, in the order of [`Tabular::HEADER`].
    fn cells(&self) -> Vec<String>;
}

/// Prints rows in the chosen format.
pub(crate) fn print_rows<T: Tabular>(
    out: &mut impl Write,
    format: Format,
    rows: &[T],
) -> io::Result<()> {
    match format.0 {
        Listing::Json => print_json(out, rows),
        Listing::Csv => print_csv(out, format, rows),
        Listing::Table => {
            let cells: Vec<Vec<String>> = rows.iter().map(Tabular::cells).collect();
            print_table(out, T::HEADER, &cells)?;
            writeln!(out, "{} {}", rows.len(), T::NOUN)
        }
    }
}

/// Prints offices.
pub(crate) fn print_offices(
    out: &mut impl Write,
    format: Format,
    offices: &[pb::Office],
) -> io::Result<()> {
    let rows: Vec<OfficeRow<'_>> = offices.iter().map(OfficeRow::from).collect();
    print_rows(out, format, &rows)
}

/// Prints one office.
pub(crate) fn print_office(
    out: &mut impl Write,
    format: Format,
    office: &pb::Office,
) -> io::Result<()> {
    let row = OfficeRow::from(office);
    match format.0 {
        Listing::Json => {
            serde_json::to_writer_pretty(&mut *out, &row).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => print_csv(out, format, std::slice::from_ref(&row)),
        Listing::Table => {
            writeln!(out, "CRPCEN:     {}", row.crpcen)?;
            writeln!(out, "Name:       {}", row.name)?;
            writeln!(out, "City:       {}", row.city)?;
            writeln!(out, "Mailboxes:  {}", row.mailboxes)?;
            writeln!(out, "Registered: {}", row.created_at)
        }
    }
}

/// Prints mailboxes.
pub(crate) fn print_mailboxes(
    out: &mut impl Write,
    format: Format,
    mailboxes: &[pb::Mailbox],
) -> io::Result<()> {
    let rows: Vec<MailboxRow<'_>> = mailboxes.iter().map(MailboxRow::from).collect();
    print_rows(out, format, &rows)
}

fn print_json<T: Serialize>(out: &mut impl Write, rows: &[T]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, rows).map_err(io::Error::other)?;
    writeln!(out)
}

/// Rows as CSV, the header first even when there is no row.
fn print_csv<T: Serialize + Default>(
    out: &mut impl Write,
    format: Format,
    rows: &[T],
) -> io::Result<()> {
    let mut writer = format.csv(out);
    writer.header_of::<T>()?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()
}

/// Characters that would let a stored name move the cursor or recolour the terminal are shown
/// escaped.
fn printable(cell: &str) -> String {
    cell.chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

fn print_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(crpcen: &str, name: &str) -> pb::Office {
        pb::Office {
            crpcen: crpcen.into(),
            name: name.into(),
            city: "Lyon".into(),
            mailbox_count: 3,
            created_at: "t".into(),
        }
    }

    #[test]
    fn tables_align_accented_names_and_escape_control_characters() {
        let mut out = Vec::new();
        print_offices(
            &mut out,
            Format::from(OutputFormat::Table),
            &[office("01234", "Étude"), office("75001", "A\u{1b}[2J")],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CRPCEN  NAME        CITY  MAILBOXES");
        assert_eq!(lines[1], "01234   Étude       Lyon  3");
        assert!(lines[2].contains("A\\u{1b}[2J"), "{text}");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn json_and_csv_keep_leading_zeros() {
        let mut json = Vec::new();
        print_offices(&mut json, Format::from(OutputFormat::Json), &[office("01234", "A")])
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[0]["crpcen"], "01234");
        assert_eq!(parsed[0]["name"], "A");
        let mut csv = Vec::new();
        print_offices(&mut csv, Format::from(OutputFormat::Csv), &[office("01234", "A, B")])
            .unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "crpcen,name,city,mailboxes,created_at\n01234,\"A, B\",Lyon,3,t\n"
        );
    }

    #[test]
    fn csv_has_its_header_with_no_row_and_excel_gets_its_dialect() {
        let mut csv = Vec::new();
        print_offices(&mut csv, Format::from(OutputFormat::Csv), &[]).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "crpcen,name,city,mailboxes,created_at\n");
        let mut excel = Vec::new();
        let format = Format::from(OutputFormat::Csv).excel();
        print_offices(&mut excel, format, &[office("01234", "Étude")]).unwrap();
        assert_eq!(
            String::from_utf8(excel).unwrap(),
            "\u{feff}crpcen;name;city;mailboxes;created_at\n01234;Étude;Lyon;3;t\n"
        );
    }
}
