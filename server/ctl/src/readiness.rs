//! `sesamectl office readiness CRPCEN`: per workstation, whether a rotation can succeed there (from
//! its agent's last anonymous look at OWA), and what stands in the way.

use std::io::{self, Write};

use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::output::Listing;
use crate::output::{Format, Tabular, describe_key, print_rows};

/// One workstation's readiness, as listed.
#[derive(Debug, Default, Serialize)]
struct ReadinessRow<'a> {
    workstation_id: &'a str,
    hostname: &'a str,
    last_seen_at: &'a str,
    ready: bool,
    blockers: &'a [String],
    key: String,
    mailboxes: &'a [String],
    owa_checked_at: &'a str,
    owa_url: &'a str,
    reachable: Option<bool>,
    certificate_valid: Option<bool>,
    forms_based: Option<bool>,
    logon_format: &'static str,
    language: &'a str,
    problem: &'a str,
}

impl<'a> From<&'a pb::WorkstationReadiness> for ReadinessRow<'a> {
    fn from(w: &'a pb::WorkstationReadiness) -> ReadinessRow<'a> {
        let owa = w.owa.as_ref();
        ReadinessRow {
            workstation_id: &w.workstation_id,
            hostname: &w.hostname,
            last_seen_at: &w.last_seen_at,
            ready: w.ready,
            blockers: &w.blockers,
            key: describe_key(w.key.as_ref()),
            mailboxes: &w.mailboxes,
            owa_checked_at: owa.map_or("", |o| o.checked_at.as_str()),
            owa_url: owa.map_or("", |o| o.owa_url.as_str()),
            reachable: owa.map(|o| o.reachable),
            certificate_valid: owa.map(|o| o.certificate_valid),
            forms_based: owa.map(|o| o.forms_based),
            logon_format: owa.map_or("", |o| logon_format(o.logon_format)),
            language: owa.map_or("", |o| o.language.as_str()),
            problem: owa.map_or("", |o| o.problem.as_str()),
        }
    }
}

fn logon_format(value: i32) -> &'static str {
    use pb::owa_readiness::LogonFormat;
    match LogonFormat::try_from(value) {
        Ok(LogonFormat::Email) => "email",
        Ok(LogonFormat::DomainUser) => "domain\\user",
        Ok(LogonFormat::UserName) => "user name",
        Ok(LogonFormat::Unspecified) | Err(_) => "unknown",
    }
}

impl Tabular for ReadinessRow<'_> {
    const HEADER: &'static [&'static str] =
        &["WORKSTATION", "HOSTNAME", "LAST SEEN", "KEY", "READY", "BLOCKERS"];
    const NOUN: &'static str = "workstation(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.workstation_id.to_owned(),
            self.hostname.to_owned(),
            self.last_seen_at.to_owned(),
            self.key.clone(),
            if self.ready { "yes" } else { "no" }.to_owned(),
            self.blockers.join("; "),
        ]
    }
}

/// What `--output json` prints: the office, its address and the workstations.
#[derive(Serialize)]
struct ReadinessView<'a> {
    office: &'a str,
    owa_url: &'a str,
    ready: bool,
    workstations: Vec<ReadinessRow<'a>>,
}

/// Prints an office's readiness.
pub(crate) fn print_readiness(
    out: &mut impl Write,
    format: Format,
    readiness: &pb::GetOfficeReadinessResponse,
) -> io::Result<()> {
    let rows: Vec<ReadinessRow<'_>> = readiness.workstations.iter().map(Into::into).collect();
    let ready = !rows.is_empty() && rows.iter().all(|r| r.ready);
    match format.kind() {
        Listing::Json => {
            let view = ReadinessView {
                office: &readiness.office,
                owa_url: &readiness.owa_url,
                ready,
                workstations: rows,
            };
            serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => {
            // Blockers and mailboxes are lists: CSV gets the table's cells, lists joined.
            let mut writer = format.csv(out);
            writer.record(ReadinessRow::HEADER)?;
            for row in &rows {
                writer.record(row.cells())?;
            }
            writer.flush()
        }
        Listing::Table => {
            writeln!(out, "Office {}, OWA address {}", readiness.office, readiness.owa_url)?;
            print_rows(out, format, &rows)
        }
    }
}
