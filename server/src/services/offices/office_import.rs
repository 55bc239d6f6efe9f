//! The office import's rules, whichever edge reads the file: every row is checked before anything
//! is written (errors name their line, a CRPCEN twice in the file included), an import holds at
//! most [`MAX_IMPORT_ROWS`] rows, only a global administrator imports, a dry run only counts, and
//! any error writes nothing. A registered office with the same name and city is left alone;
//! another name or city updates it (an empty city leaves it as it is).

use std::collections::HashMap;

use super::MAX_IMPORT_ROWS;
use super::import::LineErrors;
use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, ImportReport, NewOffice, Text};
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store;

/// A row as read from the file: its fields' text and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOfficeRow {
    /// The line of the file (for messages).
    pub line: u64,
    /// The CRPCEN, as written.
    pub crpcen: String,
    /// The office's name, as written.
    pub name: String,
    /// Its city, as written; empty when the file has none.
    pub city: String,
}

/// An office import being received: the rows parsed and checked so far. Made by
/// [`Services::begin_office_import`], fed with [`OfficeImport::add_rows`], written (or refused)
/// by [`Services::import_offices`].
#[derive(Debug, Default)]
pub struct OfficeImport {
    received: usize,
    rows: Vec<NewOffice>,
    first_line_of: HashMap<String, u64>,
    errors: LineErrors,
}

impl Services {
    /// Starts an office import, for a global administrator.
    pub fn begin_office_import(&self, admin: &Admin) -> Result<OfficeImport, Error> {
        authorize(admin, Permission::Global)?;
        Ok(OfficeImport::default())
    }

    /// Writes the import in one transaction (or, with `dry_run`, only counts), if every row was
    /// valid; otherwise writes nothing.
    pub async fn import_offices(
        &self,
        admin: &Admin,
        import: OfficeImport,
        dry_run: bool,
    ) -> Result<ImportReport, Error> {
        authorize(admin, Permission::Global)?;
        if !import.errors.is_empty() {
            return Err(Error::InvalidArgument(import.errors.refusal()));
        }
        if import.rows.is_empty() {
            return Err(Error::invalid("the import holds no rows"));
        }
        let actor = Actor::admin(admin);
        let report = match self
            .store
            .import_offices(&import.rows, dry_run, &actor, self.clock.now())
            .await
        {
            Ok(report) => report,
            Err(store::Error::Conflict) => {
                return Err(Error::Aborted(
                    "a concurrent change registered one of these offices; nothing was imported, \
                     retry"
                        .to_owned(),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        tracing::info!(
            admin = %admin.name,
            rows = import.rows.len(),
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            dry_run,
            "offices imported"
        );
        if !dry_run {
            // No notice to other servers: their overviews catch up within `OVERVIEW_TTL`.
            self.caches.overviews.clear();
        }
        Ok(report)
    }
}

impl OfficeImport {
    /// Adds rows as they arrive; [`Error::ResourceExhausted`] once the import holds more than
    /// [`MAX_IMPORT_ROWS`]. Invalid rows are remembered, not refused at once, so that the refusal
    /// lists them all.
    pub fn add_rows(&mut self, rows: Vec<RawOfficeRow>) -> Result<(), Error> {
        self.received += rows.len();
        if self.received > MAX_IMPORT_ROWS {
            return Err(Error::ResourceExhausted(format!(
                "an import holds at most {MAX_IMPORT_ROWS} rows; split the file"
            )));
        }
        for row in rows {
            if let Err(message) = self.add(row) {
                self.errors.add(message);
            }
        }
        Ok(())
    }

    fn add(&mut self, row: RawOfficeRow) -> Result<(), String> {
        let line = row.line;
        let crpcen = Crpcen::parse(&row.crpcen).map_err(|e| format!("line {line}: {e}"))?;
        let name = Text::parse("name", &row.name).map_err(|e| format!("line {line}: {e}"))?;
        let city =
            Text::parse_optional("city", &row.city).map_err(|e| format!("line {line}: {e}"))?;
        if let Some(first) = self.first_line_of.get(crpcen.as_str()) {
            return Err(format!("line {line}: duplicate of line {first} ({crpcen})"));
        }
        self.first_line_of.insert(crpcen.to_string(), line);
        self.rows.push(NewOffice { crpcen, name, city });
        Ok(())
    }
}
