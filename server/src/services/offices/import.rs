//! The mailbox import's rules, whichever edge reads the file: every row is checked before anything
//! is written (errors name their line, duplicates inside the file included), an import holds at
//! most [`MAX_IMPORT_ROWS`] rows, an administrator imports only into its offices, a dry run only
//! counts, and any error writes nothing.

use std::collections::{BTreeMap, HashMap};

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::LocalAccountId;
use crate::domain::office::{Crpcen, ImportReport, MailDomain, MailboxAddress, NewMailbox, Text};
use crate::domain::settings::LogonName;
use crate::services::access::authorize;
use crate::services::{Error, Services, failpoint};
use crate::store;

/// Most rows one import may hold.
pub const MAX_IMPORT_ROWS: usize = 100_000;
/// Most errors listed in one refusal; the rest are counted.
const MAX_LISTED_ERRORS: usize = 20;

/// A row as read from the file: its fields' text and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMailboxRow {
    /// The line of the file (for messages).
    pub line: u64,
    /// The mailbox address, as written.
    pub address: String,
    /// The person's name, as written.
    pub display_name: String,
    /// The logon name (`DOMAIN\user`), as written; empty when the file has none.
    pub logon_name: String,
    /// The mailbox's default local account, as written; empty when the file has none.
    pub local_account: String,
}

/// An import being received: the rows parsed and checked so far, with the line each came from.
/// Made by [`Services::begin_import`], fed with [`MailboxImport::add_rows`], written (or refused)
/// by [`Services::import_mailboxes`].
#[derive(Debug)]
pub struct MailboxImport {
    domain: MailDomain,
    received: usize,
    rows: Vec<NewMailbox>,
    lines: Vec<u64>,
    first_line_of: HashMap<String, u64>,
    errors: LineErrors,
}

/// The invalid lines of an import: the first [`MAX_LISTED_ERRORS`] listed, the rest counted.
#[derive(Debug, Default)]
pub(super) struct LineErrors {
    /// The first ones' messages.
    pub(super) listed: Vec<String>,
    /// How many.
    pub(super) count: usize,
}

impl LineErrors {
    /// Notes one invalid line (its message names it).
    pub(super) fn add(&mut self, message: String) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED_ERRORS {
            self.listed.push(message);
        }
    }

    /// Whether no line was invalid.
    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The refusal: how many lines are invalid, then the listed ones.
    pub(super) fn refusal(&self) -> String {
        let mut message = format!(
            "{} invalid line{}; nothing was imported",
            self.count,
            if self.count == 1 { "" } else { "s" }
        );
        for error in &self.listed {
            message.push('\n');
            message.push_str(error);
        }
        if self.count > self.listed.len() {
            message.push_str(&format!("\n… and {} more", self.count - self.listed.len()));
        }
        message
    }
}

impl Services {
    /// Starts an import for an administrator who may change offices (auditors may not).
    pub fn begin_import(&self, admin: &Admin) -> Result<MailboxImport, Error> {
        authorize(admin, Permission::WriteSome)?;
        Ok(MailboxImport::new(self.mail_domain.clone()))
    }

    /// Writes the import in one transaction (or, with `dry_run`, only counts), if every row was
    /// valid and every office is the administrator's and exists; otherwise writes nothing.
    pub async fn import_mailboxes(
        &self,
        admin: &Admin,
        import: MailboxImport,
        dry_run: bool,
    ) -> Result<ImportReport, Error> {
        if !import.errors.is_empty() {
            return Err(Error::InvalidArgument(import.errors.refusal()));
        }
        if import.rows.is_empty() {
            return Err(Error::invalid("the import holds no rows"));
        }
        if let Some((row, line)) = import
            .rows
            .iter()
            .zip(&import.lines)
            .find(|(row, _)| !admin.may(Permission::Write(row.address.office())))
        {
            return Err(Error::denied(format!(
                "line {line}: office {} is not in your offices; nothing was imported",
                row.address.office()
            )));
        }
        let actor = Actor::admin(admin);
        let report = match self
            .store
            .import_mailboxes(&import.rows, dry_run, &actor, self.clock.now())
            .await
        {
            Ok(report) => report,
            Err(store::Error::MissingOffices(missing)) => {
                return Err(Error::NotFound(import.missing_offices(&missing)));
            }
            Err(store::Error::Conflict) => {
                // Another import registered the same address meanwhile; this one wrote nothing.
                return Err(Error::Aborted(
                    "a concurrent import touched the same mailboxes; nothing was imported, retry"
                        .to_owned(),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        if !dry_run {
            failpoint("import:committed")?;
        }
        tracing::info!(
            admin = %admin.name,
            rows = import.rows.len(),
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            dry_run,
            "mailboxes imported"
        );
        if !dry_run {
            self.caches.overviews.clear();
        }
        Ok(report)
    }
}

impl MailboxImport {
    /// An import of nothing yet, for addresses in `domain`.
    fn new(domain: MailDomain) -> MailboxImport {
        MailboxImport {
            domain,
            received: 0,
            rows: Vec::new(),
            lines: Vec::new(),
            first_line_of: HashMap::new(),
            errors: LineErrors::default(),
        }
    }

    /// Adds rows as they arrive; [`Error::ResourceExhausted`] once the import holds more than
    /// [`MAX_IMPORT_ROWS`]. Invalid rows are remembered, not refused at once, so that the refusal
    /// lists them all.
    pub fn add_rows(&mut self, rows: Vec<RawMailboxRow>) -> Result<(), Error> {
        self.received += rows.len();
        if self.received > MAX_IMPORT_ROWS {
            return Err(Error::ResourceExhausted(format!(
                "an import holds at most {MAX_IMPORT_ROWS} rows; split the file"
            )));
        }
        for row in rows {
            self.add(row);
        }
        Ok(())
    }

    fn error(&mut self, message: String) {
        self.errors.add(message);
    }

    fn add(&mut self, row: RawMailboxRow) {
        let line = row.line;
        let address = match MailboxAddress::parse(&row.address, &self.domain) {
            Ok(address) => address,
            Err(e) => return self.error(format!("line {line}: {e}")),
        };
        let display_name = match Text::parse("display_name", &row.display_name) {
            Ok(name) => name,
            Err(e) => return self.error(format!("line {line}: {e}")),
        };
        let logon_name = if row.logon_name.trim().is_empty() {
            None
        } else {
            match LogonName::parse(&row.logon_name) {
                Ok(name) => Some(name),
                Err(e) => return self.error(format!("line {line}: {e}")),
            }
        };
        let local_account = if row.local_account.trim().is_empty() {
            None
        } else {
            match LocalAccountId::parse("local_account", row.local_account.trim()) {
                Ok(account) => Some(account),
                Err(e) => return self.error(format!("line {line}: {e}")),
            }
        };
        if let Some(first) = self.first_line_of.get(address.as_str()) {
            return self.error(format!("line {line}: duplicate of line {first} ({address})"));
        }
        self.first_line_of.insert(address.to_string(), line);
        self.rows.push(NewMailbox { address, display_name, logon_name, local_account });
        self.lines.push(line);
    }

    /// The refusal for offices that do not exist, naming the lines that use them.
    fn missing_offices(&self, missing: &[Crpcen]) -> String {
        let mut lines: BTreeMap<&Crpcen, Vec<u64>> = BTreeMap::new();
        for (row, line) in self.rows.iter().zip(&self.lines) {
            if missing.contains(row.address.office()) {
                lines.entry(row.address.office()).or_default().push(*line);
            }
        }
        let mut message = format!("{} unknown office(s); nothing was imported", missing.len());
        for (office, lines) in lines.into_iter().take(MAX_LISTED_ERRORS) {
            let shown: Vec<String> = lines.iter().take(5).map(u64::to_string).collect();
            let more = if lines.len() > 5 {
                format!(" and {} more", lines.len() - 5)
            } else {
                String::new()
            };
            message.push_str(&format!(
                "\nline {}{more}: office {office} does not exist (create it with `sesamectl office add {office}`)",
                shown.join(", ")
            ));
        }
        message
    }
}

#[cfg(test)]
mod fuzz;
