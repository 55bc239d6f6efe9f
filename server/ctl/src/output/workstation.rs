//! `sesamectl workstation show`: what one workstation holds (its mailboxes, its key, its readiness,
//! the last rotations of its mailboxes); as text, as one JSON object (`--output json`), or as CSV
//! (`--output csv`: one line per mailbox it holds).

use std::io::{self, Write};

use serde::Serialize;
use sesame_proto::v1 as pb;

use super::rows::{RotationRow, WorkstationRow, describe_key};
use super::{Format, Listing, print_csv, print_table, printable};

/// The workstation as one JSON object.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    workstation: WorkstationRow<'a>,
    mailboxes: &'a [String],
    ready: Option<bool>,
    blockers: &'a [String],
    owa_checked_at: &'a str,
    owa_problem: &'a str,
    rotations: Vec<RotationRow<'a>>,
}

/// One mailbox it holds, as a CSV line.
#[derive(Serialize, Default)]
struct HeldMailbox<'a> {
    workstation_id: &'a str,
    mailbox: &'a str,
}

/// Prints what a workstation holds.
pub(crate) fn print_workstation(
    out: &mut impl Write,
    format: Format,
    details: &pb::GetWorkstationResponse,
) -> io::Result<()> {
    let empty = pb::Workstation::default();
    let ws = details.workstation.as_ref().unwrap_or(&empty);
    let readiness = details.readiness.as_ref();
    let mailboxes: &[String] = readiness.map_or(&[], |r| r.mailboxes.as_slice());
    match format.kind() {
        Listing::Json => {
            let shown = Shown {
                workstation: WorkstationRow::from(ws),
                mailboxes,
                ready: readiness.map(|r| r.ready),
                blockers: readiness.map_or(&[], |r| r.blockers.as_slice()),
                owa_checked_at: readiness
                    .and_then(|r| r.owa.as_ref())
                    .map_or("", |o| o.checked_at.as_str()),
                owa_problem: readiness
                    .and_then(|r| r.owa.as_ref())
                    .map_or("", |o| o.problem.as_str()),
                rotations: details.rotations.iter().map(RotationRow::from).collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &shown).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => {
            let rows: Vec<HeldMailbox<'_>> = mailboxes
                .iter()
                .map(|m| HeldMailbox { workstation_id: &ws.id, mailbox: m })
                .collect();
            print_csv(out, format, &rows)
        }
        Listing::Table => {
            // Names an agent reported: shown escaped, like every table cell.
            let (id, hostname) = (printable(&ws.id), printable(&ws.hostname));
            writeln!(out, "Workstation: {id} ({hostname}, office {})", ws.office)?;
            let status = if ws.lock_reason.is_empty() {
                ws.status.clone()
            } else {
                format!("{}: {}", ws.status, printable(&ws.lock_reason))
            };
            writeln!(out, "Status:      {status}")?;
            let (version, os) = (printable(&ws.agent_version), printable(&ws.os));
            writeln!(out, "Agent:       {version} on {os}")?;
            writeln!(out, "Last seen:   {}", ws.last_seen_at)?;
            let key = describe_key(ws.key.as_ref());
            let key = if key.is_empty() { "not reported yet".to_owned() } else { printable(&key) };
            writeln!(out, "Key:         {key}")?;
            match readiness {
                Some(r) if r.ready => writeln!(out, "Readiness:   ready")?,
                Some(r) => {
                    writeln!(out, "Readiness:   not ready")?;
                    for blocker in &r.blockers {
                        writeln!(out, "  - {}", printable(blocker))?;
                    }
                }
                None => writeln!(out, "Readiness:   none (revoked)")?,
            }
            writeln!(out, "Mailboxes:   {}", mailboxes.len())?;
            for mailbox in mailboxes {
                writeln!(out, "  {mailbox}")?;
            }
            if details.rotations.is_empty() {
                return writeln!(out, "Last rotations: none");
            }
            writeln!(out, "Last rotations:")?;
            let cells: Vec<Vec<String>> = details
                .rotations
                .iter()
                .map(|r| {
                    let step = if r.failure.is_empty() {
                        r.last_step.clone()
                    } else {
                        format!("{} ({})", r.last_step, r.failure)
                    };
                    vec![
                        r.issued_at.clone(),
                        r.mailbox.clone(),
                        r.kind.clone(),
                        r.status.clone(),
                        step,
                    ]
                })
                .collect();
            print_table(out, &["ISSUED", "MAILBOX", "KIND", "STATUS", "LAST STEP"], &cells)
        }
    }
}
