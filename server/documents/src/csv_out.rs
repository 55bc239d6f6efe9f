//! Every CSV file or listing Sesame writes (sesamectl's, the dashboard's) goes through [`CsvOut`],
//! which makes it safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! written with a single quote in front (OWASP, "CSV Injection"), so that Excel or LibreOffice
//! shows it as text instead of running it as a formula. The one exception is the export for
//! Exchange's provisional passwords, which a script consumes (see `export`).
//!
//! A file always starts with its header, rows or not ([`CsvOut::header_of`]), so that an empty
//! listing still says what it would hold. Two dialects: [`CsvDialect::Plain`] (`,`, UTF-8, as
//! RFC 4180 and every program reads it) and [`CsvDialect::Excel`] for a French Excel, which
//! splits lines on `;` (the list separator of a French Windows) and reads a file as UTF-8 only
//! when it starts with a byte-order mark (without one, accented names come out garbled).

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

/// The characters that make a spreadsheet read a cell as a formula (OWASP).
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as a spreadsheet must read it: with a leading `'` when it starts with a formula
/// character, unchanged otherwise.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_LEADS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The UTF-8 byte-order mark that tells Excel the file is UTF-8.
pub const BOM: &str = "\u{feff}";

/// Which spreadsheet a CSV file is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDialect {
    /// `,` between cells, UTF-8 without a byte-order mark: what programs and LibreOffice read.
    #[default]
    Plain,
    /// `;` between cells and a byte-order mark first: what a French Excel opens as is.
    Excel,
}

/// A CSV writer whose every cell is neutralised; rows are written (and flushed by the caller) as
/// they come, so a listing read page by page streams.
#[derive(Debug)]
pub struct CsvOut<W: Write> {
    writer: csv::Writer<MarkFirst<W>>,
    header_written: bool,
}

/// The output, with the byte-order mark written before its first bytes when one is pending.
#[derive(Debug)]
struct MarkFirst<W: Write> {
    out: W,
    mark_pending: bool,
}

impl<W: Write> Write for MarkFirst<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.mark_pending {
            self.out.write_all(BOM.as_bytes())?;
            self.mark_pending = false;
        }
        self.out.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> CsvOut<W> {
    /// A plain writer on `out`; nothing is written until the first row or header.
    pub fn new(out: W) -> CsvOut<W> {
        CsvOut::with_dialect(out, CsvDialect::Plain)
    }

    /// A writer on `out` for `dialect`; nothing is written until the first row or header.
    pub fn with_dialect(out: W, dialect: CsvDialect) -> CsvOut<W> {
        let delimiter = match dialect {
            CsvDialect::Plain => b',',
            CsvDialect::Excel => b';',
        };
        CsvOut {
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .delimiter(delimiter)
                .from_writer(MarkFirst { out, mark_pending: dialect == CsvDialect::Excel }),
            header_written: false,
        }
    }

    /// Writes the header of rows of type `T` (the field names [`CsvOut::serialize`] would write
    /// before the first `T`), unless a line was written already: called before the rows, it makes
    /// a file with no row still hold its header.
    pub fn header_of<T: Serialize + Default>(&mut self) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        let (header, _) = split(&T::default())?;
        self.record(&header)
    }

    /// Writes one record, every cell neutralised.
    pub fn record<I, S>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.record_keeping(cells, &[])
    }

    /// Writes one record, every cell neutralised except those at the `verbatim` indexes, which
    /// are written exactly as given (only for values a program reads back, never a name).
    pub fn record_keeping<I, S>(&mut self, cells: I, verbatim: &[usize]) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<S> = cells.into_iter().collect();
        let record = cells.iter().enumerate().map(|(i, cell)| {
            if verbatim.contains(&i) {
                Cow::Borrowed(cell.as_ref())
            } else {
                neutralise(cell.as_ref())
            }
        });
        self.writer.write_record(record.map(|c| c.into_owned())).map_err(io::Error::other)?;
        self.header_written = true;
        Ok(())
    }

    /// Writes a row of named fields (a struct or a map): the field names as the header before
    /// the first row, then its values, neutralised.
    pub fn serialize<T: Serialize>(&mut self, row: &T) -> io::Result<()> {
        let (header, values) = split(row)?;
        if !self.header_written {
            self.record(&header)?;
        }
        self.record(&values)
    }

    /// Flushes what was written to the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A row's header and values. The csv crate knows how to flatten a row into both; it does so into
/// a buffer, read back as cells, so that every value passes `neutralise` whatever its type.
fn split<T: Serialize>(row: &T) -> io::Result<(csv::StringRecord, csv::StringRecord)> {
    let mut buffer = csv::Writer::from_writer(Vec::new());
    buffer.serialize(row).map_err(io::Error::other)?;
    let bytes = buffer.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..]);
    let mut records = reader.records();
    let header = records.next().transpose().map_err(io::Error::other)?.unwrap_or_default();
    let values = records.next().transpose().map_err(io::Error::other)?.unwrap_or_default();
    Ok((header, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Row<'a> {
        name: &'a str,
        n: u64,
    }

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        let hostile =
            ["=HYPERLINK(\"http://x\",\"y\")", "+33 1 23", "-2+3", "@SUM(A1)", "\tTab", "\rCR"];
        for cell in hostile {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        for cell in ["Jean Dupont", "", "a=b", " =x", "'quoted", "2026-03-01T00:00:00Z"] {
            assert_eq!(neutralise(cell), cell);
        }
    }

    #[test]
    fn rows_keep_their_header_and_quote_what_csv_needs() {
        let mut out = Vec::new();
        let mut csv = CsvOut::new(&mut out);
        csv.serialize(&Row { name: "=1+1", n: 3 }).unwrap();
        csv.serialize(&Row { name: "Martin, \"Paul\"", n: 4 }).unwrap();
        csv.record_keeping(["-abc", "-abc"], &[1]).unwrap();
        csv.flush().unwrap();
        drop(csv);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name,n\n'=1+1,3\n\"Martin, \"\"Paul\"\"\",4\n'-abc,-abc\n"
        );
    }

    #[test]
    fn an_empty_listing_keeps_its_header() {
        let mut out = Vec::new();
        let mut csv = CsvOut::new(&mut out);
        csv.header_of::<Row<'_>>().unwrap();
        csv.header_of::<Row<'_>>().unwrap();
        csv.flush().unwrap();
        drop(csv);
        assert_eq!(String::from_utf8(out).unwrap(), "name,n\n");
        let mut out = Vec::new();
        let mut csv = CsvOut::new(&mut out);
        csv.header_of::<Row<'_>>().unwrap();
        csv.serialize(&Row { name: "a", n: 1 }).unwrap();
        csv.flush().unwrap();
        drop(csv);
        assert_eq!(String::from_utf8(out).unwrap(), "name,n\na,1\n");
    }

    #[test]
    fn excel_gets_a_byte_order_mark_and_semicolons() {
        let mut out = Vec::new();
        let mut csv = CsvOut::with_dialect(&mut out, CsvDialect::Excel);
        csv.header_of::<Row<'_>>().unwrap();
        csv.serialize(&Row { name: "Hélène; Dupont", n: 2 }).unwrap();
        csv.serialize(&Row { name: "=cmd", n: 3 }).unwrap();
        csv.flush().unwrap();
        drop(csv);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "\u{feff}name;n\n\"Hélène; Dupont\";2\n'=cmd;3\n");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.trim_start_matches(BOM).as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][0], "Hélène; Dupont");
    }

    #[test]
    fn no_row_writes_nothing() {
        let mut out = Vec::new();
        CsvOut::new(&mut out).flush().unwrap();
        assert!(out.is_empty());
    }
}
