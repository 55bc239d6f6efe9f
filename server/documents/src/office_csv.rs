//! The offices' CSV file, as an administrator exports it from a spreadsheet (CRPCEN, name, city):
//! read into plain rows with their line numbers, its shape checked (header, columns, quoting).
//! sesamectl reads it from a file (`sesamectl office import FILE`) and sends the rows to the
//! server, which checks each CRPCEN, name and city and writes all or nothing.

use crate::csv_in::{CsvIn, LineError};

/// Largest office CSV file a front end accepts (16 MiB, as its error message says).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why an office CSV text cannot be imported as it is; the message names the line.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header row is not `crpcen,name`, optionally followed by `city`.
    #[error(
        "line 1: expected the header crpcen,name[,city] (or crpcen;nom;ville), found {found:?}"
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
    #[error("the file holds no offices")]
    Empty,
}

impl From<LineError> for CsvError {
    fn from(error: LineError) -> CsvError {
        CsvError::Line { line: error.line, message: error.message }
    }
}

/// One office of the file. The city is an empty string when the column is absent or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficeRow {
    /// The line number in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The office's CRPCEN, as written.
    pub crpcen: String,
    /// The office's name, as written.
    pub name: String,
    /// Its city, or empty.
    pub city: String,
}

/// The rows of an office CSV file, in file order (at least one).
#[derive(Debug, Default)]
pub struct OfficeCsv {
    /// The rows.
    pub rows: Vec<OfficeRow>,
}

/// Parses the text of an office CSV file: a byte-order mark is ignored, `,` or `;` separated,
/// header `crpcen,name` optionally followed by `city` (any case; `nom` and `ville` in French).
/// Cells are trimmed; blank lines are skipped.
pub fn parse(text: &str) -> Result<OfficeCsv, CsvError> {
    let csv = CsvIn::new(text)?;
    let names: Vec<&str> = csv
        .names
        .iter()
        .map(|n| match n.as_str() {
            "nom" => "name",
            "ville" => "city",
            other => other,
        })
        .collect();
    if !matches!(names.as_slice(), ["crpcen", "name"] | ["crpcen", "name", "city"]) {
        return Err(CsvError::Header { found: csv.header_line.chars().take(80).collect() });
    }
    let rows: Vec<OfficeRow> = csv
        .records()?
        .into_iter()
        .map(|(line, record)| OfficeRow {
            line,
            crpcen: record[0].to_owned(),
            name: record[1].to_owned(),
            city: record.get(2).unwrap_or_default().to_owned(),
        })
        .collect();
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(OfficeCsv { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_line_numbers_and_the_city_is_optional() {
        let csv = parse("crpcen,name,city\n01234,Étude Dupont,Lyon\n\n75001,\"Martin, Durand\",\n")
            .unwrap();
        let lines: Vec<u64> = csv.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(csv.rows[1].name, "Martin, Durand");
        assert_eq!(csv.rows[1].city, "");
        let plain = parse("CRPCEN,Name\n01234,A\n").unwrap();
        assert_eq!(plain.rows[0].city, "");
    }

    #[test]
    fn french_excel_files_are_read() {
        let csv =
            parse("\u{feff}CRPCEN;Nom;Ville\r\n01234;Étude d'Élodie;Saint-Étienne\r\n").unwrap();
        assert_eq!(
            csv.rows,
            [OfficeRow {
                line: 2,
                crpcen: "01234".to_owned(),
                name: "Étude d'Élodie".to_owned(),
                city: "Saint-Étienne".to_owned(),
            }]
        );
    }

    #[test]
    fn bad_files_name_their_line() {
        let header = parse("crpcen,city\n01234,Lyon\n").unwrap_err();
        assert!(header.to_string().starts_with("line 1: expected the header"), "{header}");
        let columns = parse("crpcen,name,city\n01234,A,Lyon\n75001,B\n").unwrap_err();
        assert_eq!(
            columns.to_string(),
            "line 3: expected 3 columns (crpcen, name, city), found 2; nothing was imported"
        );
        let quotes = parse("crpcen,name\n01234,A\n\"75001,B\n").unwrap_err();
        assert!(quotes.to_string().starts_with("line 3: "), "{quotes}");
        assert!(matches!(parse("crpcen,name\n\n"), Err(CsvError::Empty)));
    }
}
