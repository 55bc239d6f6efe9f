//! How sesamectl prints offices and mailboxes: an aligned table, JSON, or CSV.

use std::io::{self, Write};

use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::OutputFormat;

/// The chosen format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Format(OutputFormat);

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        Format(format)
    }
}

#[derive(Serialize)]
struct OfficeRow<'a> {
    crpcen: &'a str,
    name: &'a str,
    city: &'a str,
    mailboxes: u64,
    created_at: &'a str,
}

impl<'a> From<&'a pb::Office> for OfficeRow<'a> {
    fn from(o: &'a pb::Office) -> OfficeRow<'a> {
        OfficeRow {
            crpcen: &o.crpcen,
            name: &o.name,
            city: &o.city,
            mailboxes: o.mailbox_count,
            created_at: &o.created_at,
        }
    }
}

#[derive(Serialize)]
struct MailboxRow<'a> {
    address: &'a str,
    office: &'a str,
    display_name: &'a str,
    last_name: &'a str,
    first_name: &'a str,
    created_at: &'a str,
}

impl<'a> From<&'a pb::Mailbox> for MailboxRow<'a> {
    fn from(m: &'a pb::Mailbox) -> MailboxRow<'a> {
        MailboxRow {
            address: &m.address,
            office: &m.office,
            display_name: &m.display_name,
            last_name: &m.last_name,
            first_name: &m.first_name,
            created_at: &m.created_at,
        }
    }
}

/// A row that can be printed as a table line.
pub(crate) trait Tabular: Serialize {
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
        OutputFormat::Json => print_json(out, rows),
        OutputFormat::Csv => print_csv(out, rows),
        OutputFormat::Table => {
            let cells: Vec<Vec<String>> = rows.iter().map(Tabular::cells).collect();
            print_table(out, T::HEADER, &cells)?;
            writeln!(out, "{} {}", rows.len(), T::NOUN)
        }
    }
}

impl Tabular for OfficeRow<'_> {
    const HEADER: &'static [&'static str] = &["CRPCEN", "NAME", "CITY", "MAILBOXES"];
    const NOUN: &'static str = "office(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.crpcen.to_owned(),
            self.name.to_owned(),
            self.city.to_owned(),
            self.mailboxes.to_string(),
        ]
    }
}

impl Tabular for MailboxRow<'_> {
    const HEADER: &'static [&'static str] = &["ADDRESS", "OFFICE", "DISPLAY NAME"];
    const NOUN: &'static str = "mailbox(es)";

    fn cells(&self) -> Vec<String> {
        vec![self.address.to_owned(), self.office.to_owned(), self.display_name.to_owned()]
    }
}

#[derive(Serialize)]
pub(crate) struct TokenRow<'a> {
    id: u64,
    office: &'a str,
    uses_left: u32,
    expires_at: &'a str,
    last_used_at: &'a str,
    revoked: bool,
    created_by: &'a str,
    created_at: &'a str,
}

impl<'a> From<&'a pb::EnrollmentToken> for TokenRow<'a> {
    fn from(t: &'a pb::EnrollmentToken) -> TokenRow<'a> {
        TokenRow {
            id: t.id,
            office: &t.office,
            uses_left: t.uses_left,
            expires_at: &t.expires_at,
            last_used_at: &t.last_used_at,
            revoked: t.revoked,
            created_by: &t.created_by,
            created_at: &t.created_at,
        }
    }
}

impl Tabular for TokenRow<'_> {
    const HEADER: &'static [&'static str] =
        &["ID", "OFFICE", "USES LEFT", "EXPIRES", "LAST USED", "STATE"];
    const NOUN: &'static str = "token(s)";

    fn cells(&self) -> Vec<String> {
        let state = if self.revoked {
            "revoked"
        } else if self.uses_left == 0 {
            "used up"
        } else {
            "active"
        };
        let last_used = if self.last_used_at.is_empty() { "never" } else { self.last_used_at };
        vec![
            self.id.to_string(),
            self.office.to_owned(),
            self.uses_left.to_string(),
            self.expires_at.to_owned(),
            last_used.to_owned(),
            state.to_owned(),
        ]
    }
}

#[derive(Serialize)]
pub(crate) struct WorkstationRow<'a> {
    id: &'a str,
    office: &'a str,
    hostname: &'a str,
    os: &'a str,
    agent_version: &'a str,
    status: &'a str,
    lock_reason: &'a str,
    generation: u64,
    certificate_expires_at: &'a str,
    last_seen_at: &'a str,
    enrolled_at: &'a str,
}

impl<'a> From<&'a pb::Workstation> for WorkstationRow<'a> {
    fn from(w: &'a pb::Workstation) -> WorkstationRow<'a> {
        WorkstationRow {
            id: &w.id,
            office: &w.office,
            hostname: &w.hostname,
            os: &w.os,
            agent_version: &w.agent_version,
            status: &w.status,
            lock_reason: &w.lock_reason,
            generation: w.generation,
            certificate_expires_at: &w.certificate_expires_at,
            last_seen_at: &w.last_seen_at,
            enrolled_at: &w.enrolled_at,
        }
    }
}

impl Tabular for WorkstationRow<'_> {
    const HEADER: &'static [&'static str] =
        &["ID", "OFFICE", "HOSTNAME", "STATUS", "AGENT", "CERT EXPIRES", "LAST SEEN"];
    const NOUN: &'static str = "workstation(s)";

    fn cells(&self) -> Vec<String> {
        [
            self.id,
            self.office,
            self.hostname,
            self.status,
            self.agent_version,
            self.certificate_expires_at,
            self.last_seen_at,
        ]
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
    }
}

#[derive(Serialize)]
pub(crate) struct AdminRow<'a> {
    name: &'a str,
    role: &'a str,
    offices: String,
    created_at: &'a str,
    revoked: bool,
}

impl<'a> From<&'a pb::AdminInfo> for AdminRow<'a> {
    fn from(a: &'a pb::AdminInfo) -> AdminRow<'a> {
        AdminRow {
            name: &a.name,
            role: &a.role,
            offices: a.offices.join(" "),
            created_at: &a.created_at,
            revoked: a.revoked,
        }
    }
}

impl Tabular for AdminRow<'_> {
    const HEADER: &'static [&'static str] = &["NAME", "ROLE", "OFFICES", "CREATED", "STATE"];
    const NOUN: &'static str = "administrator(s)";

    fn cells(&self) -> Vec<String> {
        let state = if self.revoked { "revoked" } else { "active" };
        vec![
            self.name.to_owned(),
            self.role.to_owned(),
            self.offices.clone(),
            self.created_at.to_owned(),
            state.to_owned(),
        ]
    }
}

#[derive(Serialize)]
pub(crate) struct RotationRow<'a> {
    id: &'a str,
    mailbox: &'a str,
    office: &'a str,
    display_name: &'a str,
    status: &'a str,
    issued_by: &'a str,
    issued_at: &'a str,
    expires_at: &'a str,
    delivered_at: &'a str,
    closed_at: &'a str,
}

impl<'a> From<&'a pb::RotationInfo> for RotationRow<'a> {
    fn from(r: &'a pb::RotationInfo) -> RotationRow<'a> {
        RotationRow {
            id: &r.id,
            mailbox: &r.mailbox,
            office: &r.office,
            display_name: &r.display_name,
            status: &r.status,
            issued_by: &r.issued_by,
            issued_at: &r.issued_at,
            expires_at: &r.expires_at,
            delivered_at: &r.delivered_at,
            closed_at: &r.closed_at,
        }
    }
}

impl Tabular for RotationRow<'_> {
    const HEADER: &'static [&'static str] = &["ROTATION", "MAILBOX", "STATUS", "EXPIRES"];
    const NOUN: &'static str = "rotation(s)";

    fn cells(&self) -> Vec<String> {
        [self.id, self.mailbox, self.status, self.expires_at]
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }
}

#[derive(Serialize)]
pub(crate) struct AuditRow<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    office: &'a str,
    target: &'a str,
    details: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a pb::AuditRecord> for AuditRow<'a> {
    fn from(r: &'a pb::AuditRecord) -> AuditRow<'a> {
        AuditRow {
            seq: r.seq,
            at: &r.at,
            actor: &r.actor,
            action: &r.action,
            office: &r.office,
            target: &r.target,
            details: &r.details,
            hash: &r.hash,
        }
    }
}

impl Tabular for AuditRow<'_> {
    const HEADER: &'static [&'static str] = &["SEQ", "AT", "ACTOR", "ACTION", "OFFICE", "TARGET"];
    const NOUN: &'static str = "record(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            self.at.to_owned(),
            self.actor.to_owned(),
            self.action.to_owned(),
            self.office.to_owned(),
            self.target.to_owned(),
        ]
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
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &row).map_err(io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Csv => print_csv(out, std::slice::from_ref(&row)),
        OutputFormat::Table => {
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

fn print_csv<T: Serialize>(out: &mut impl Write, rows: &[T]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    for row in rows {
        writer.serialize(row).map_err(io::Error::other)?;
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
            Format(OutputFormat::Table),
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
        print_offices(&mut json, Format(OutputFormat::Json), &[office("01234", "A")]).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[0]["crpcen"], "01234");
        assert_eq!(parsed[0]["name"], "A");
        let mut csv = Vec::new();
        print_offices(&mut csv, Format(OutputFormat::Csv), &[office("01234", "A, B")]).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "crpcen,name,city,mailboxes,created_at\n01234,\"A, B\",Lyon,3,t\n"
        );
    }
}
