//! Reading a CSV file an administrator saved from a spreadsheet, whichever table it holds (the
//! mailbox file, the office file): a byte-order mark ignored, `,` or `;` separated (French Excel
//! writes `;`), records ended by `\n`, `\r\n` or a lone `\r`, cells trimmed, blank lines skipped,
//! and every record numbered by its line in the file, so that a message can name it.

/// A line that cannot be read: its number (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    /// The line number, from 1.
    pub(crate) line: u64,
    /// What is wrong.
    pub(crate) message: String,
}

/// A CSV text being read: its header, then its records one by one.
pub(crate) struct CsvIn<'t> {
    reader: csv::Reader<&'t [u8]>,
    bytes: &'t [u8],
    /// Where each line ends: `\n`, or a `\r` not followed by `\n`.
    newlines: Vec<usize>,
    /// The header's first line as written (up to its end), for messages.
    pub(crate) header_line: &'t str,
    /// The header's names, lowercased.
    pub(crate) names: Vec<String>,
}

impl<'t> CsvIn<'t> {
    /// Reads the header of `text`; the separator is `;` when the header has `;` and no `,`.
    pub(crate) fn new(text: &'t str) -> Result<CsvIn<'t>, LineError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // A record ends at `\n`, `\r\n` or a lone `\r` (the csv crate's rule; Excel for Mac's "CSV
        // (Macintosh)" ends lines with `\r`): so do the header and the line numbers.
        let header_line = text.split(['\r', '\n']).next().unwrap_or("");
        let delimiter =
            if header_line.contains(';') && !header_line.contains(',') { b';' } else { b',' };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header =
            reader.headers().map_err(|e| LineError { line: 1, message: e.to_string() })?.clone();
        let names = header.iter().map(str::to_ascii_lowercase).collect();
        // The csv crate does not count blank lines, so line numbers come from byte offsets.
        let bytes = text.as_bytes();
        let newlines = (0..bytes.len())
            .filter(|&i| bytes[i] == b'\n' || bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
            .collect();
        Ok(CsvIn { reader, bytes, newlines, header_line, names })
    }

    /// The line a record starts on. A record's position may point at the blank lines before it:
    /// they are skipped.
    fn line_at(&self, position: Option<&csv::Position>) -> u64 {
        let bytes = self.bytes;
        position.map_or(0, |p| {
            let mut start = usize::try_from(p.byte()).unwrap_or(usize::MAX).min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            self.newlines.partition_point(|&nl| nl < start) as u64 + 1
        })
    }

    /// Every record that is not blank, with its line, each as wide as the header; the first line
    /// that is not stops the reading.
    pub(crate) fn records(mut self) -> Result<Vec<(u64, csv::StringRecord)>, LineError> {
        let columns = self.names.len();
        let mut records = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = self.reader.read_record(&mut record).map_err(|e| LineError {
                line: self.line_at(e.position()),
                message: "malformed CSV (check the quotes)".to_owned(),
            })?;
            if !more {
                return Ok(records);
            }
            let line = self.line_at(record.position());
            if record.iter().all(str::is_empty) {
                continue;
            }
            if record.len() != columns {
                return Err(LineError {
                    line,
                    message: format!(
                        "expected {columns} columns ({}), found {}",
                        self.names.join(", "),
                        record.len()
                    ),
                });
            }
            records.push((line, record.clone()));
        }
    }
}
