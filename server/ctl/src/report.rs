//! `sesamectl report`: the compliance report, of every office or one, now or at a past date, as a
//! table, CSV, JSON, or a dated PDF in French an auditor can file (`report_pdf`).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::output::{CsvOut, Format, Listing, Tabular, print_rows};
use crate::{Error, OutputFormat, Session};

/// The options of `sesamectl report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// One office (its mailboxes listed) instead of every office.
    #[arg(long)]
    pub office: Option<String>,
    /// The report as things stood at this date: `2026-03-01` (the end of that day, UTC) or an
    /// RFC 3339 time. Now when left out.
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// List each mailbox of every office (always done for one office, and in the PDF).
    #[arg(long, conflicts_with = "summary")]
    pub mailboxes: bool,
    /// The fleet's totals only, without a line per office.
    #[arg(long, conflicts_with = "office")]
    pub summary: bool,
    /// Where to write the PDF (`-o pdf`); `compliance-report.pdf` when left out.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The `--at` value as the server takes it: a bare date means the end of that day, UTC.
pub fn parse_at(value: &str) -> Result<String, Error> {
    let value = value.trim();
    let bare = value.len() == 10
        && value
            .char_indices()
            .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if bare {
        return Ok(format!("{value}T23:59:59.999999Z"));
    }
    if value.contains('T') && value.len() >= 20 {
        return Ok(value.to_owned());
    }
    Err(Error::Usage(format!(
        "--at {value:?}: expected a date like 2026-03-01 or an RFC 3339 time"
    )))
}

/// Runs `sesamectl report`.
pub(crate) async fn run<W: Write>(
    session: &mut Session<'_, W>,
    args: ReportArgs,
    output: OutputFormat,
) -> Result<(), Error> {
    let pdf = output == OutputFormat::Pdf;
    let list_mailboxes = args.office.is_some() || args.mailboxes;
    let request = pb::GetComplianceReportRequest {
        office: args.office.clone().unwrap_or_default(),
        at: args.at.as_deref().map(parse_at).transpose()?.unwrap_or_default(),
        mailboxes: args.mailboxes || pdf,
        summary_only: args.summary && !pdf,
        // Every line comes a page at a time; the summary in one answer.
        page_size: if args.summary && !pdf { 0 } else { session.page_size },
        page_token: String::new(),
    };
    if !pdf && !args.summary && session.format.kind() == Listing::Csv {
        return stream_csv(session, request, list_mailboxes).await;
    }
    let report = whole_report(session, request).await?;
    if pdf {
        let policy = session
            .client
            .get_compliance_policy(pb::GetCompliancePolicyRequest { office: String::new() })
            .await?
            .into_inner();
        let bytes = crate::report_pdf::render(&report, &policy, &session.server);
        let path = args.out.unwrap_or_else(|| PathBuf::from("compliance-report.pdf"));
        std::fs::write(&path, bytes)?;
        writeln!(
            session.out,
            "wrote the compliance report at {} ({} office(s), {} mailbox(es)) to {}",
            report.at,
            report.offices_reported,
            report.mailboxes,
            path.display()
        )?;
        return Ok(());
    }
    print_report(session.out, session.format, &report, list_mailboxes)?;
    Ok(())
}

/// The whole report, its pages (if it comes in pages) put together: an office repeated at the
/// top of a page gets its mailboxes appended to the one before.
async fn whole_report<W: Write>(
    session: &mut Session<'_, W>,
    mut request: pb::GetComplianceReportRequest,
) -> Result<pb::GetComplianceReportResponse, Error> {
    let mut report = session.client.get_compliance_report(request.clone()).await?.into_inner();
    while !report.next_page_token.is_empty() {
        request.page_token = std::mem::take(&mut report.next_page_token);
        let page = session.client.get_compliance_report(request.clone()).await?.into_inner();
        for office in page.offices {
            match report.offices.last_mut() {
                Some(last) if last.crpcen == office.crpcen => {
                    last.mailbox_states.extend(office.mailbox_states);
                }
                _ => report.offices.push(office),
            }
        }
        report.next_page_token = page.next_page_token;
    }
    Ok(report)
}

/// One CSV line per mailbox (or per office), written as each page arrives.
async fn stream_csv<W: Write>(
    session: &mut Session<'_, W>,
    mut request: pb::GetComplianceReportRequest,
    list_mailboxes: bool,
) -> Result<(), Error> {
    let mut csv = CsvOut::new(&mut *session.out);
    loop {
        let page = session.client.get_compliance_report(request.clone()).await?.into_inner();
        if list_mailboxes {
            for row in mailbox_rows(&page) {
                csv.serialize(&row)?;
            }
        } else {
            for office in &page.offices {
                csv.serialize(&OfficeRow::from(office))?;
            }
        }
        csv.flush()?;
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        request.page_token = page.next_page_token;
    }
}

/// The English name of a state, as printed.
pub(crate) fn state_name(state: i32) -> &'static str {
    use pb::ComplianceState as S;
    match S::try_from(state) {
        Ok(S::Compliant) => "compliant",
        Ok(S::DueSoon) => "due soon",
        Ok(S::Overdue) => "overdue",
        Ok(S::ProvisionalPending) => "provisional pending",
        Ok(S::ProvisionalExpired) => "provisional expired",
        Ok(S::ChangeFailed) => "change failed",
        Ok(S::AgentOffline) => "agent offline",
        Ok(S::NeverEnrolled) => "never enrolled",
        _ => "unknown",
    }
}

fn count(counts: &[pb::ComplianceCount], state: pb::ComplianceState) -> u64 {
    counts.iter().find(|c| c.state == state as i32).map_or(0, |c| c.mailboxes)
}

fn percent(compliant: u64, total: u64) -> String {
    if total == 0 {
        return "-".to_owned();
    }
    format!("{:.1}", compliant as f64 * 100.0 / total as f64)
}

/// One office, as listed.
#[derive(Debug, Serialize)]
struct OfficeRow<'a> {
    crpcen: &'a str,
    name: &'a str,
    mailboxes: u64,
    compliant: u64,
    percent_compliant: String,
    due_soon: u64,
    overdue: u64,
    provisional_pending: u64,
    provisional_expired: u64,
    change_failed: u64,
    agent_offline: u64,
    never_enrolled: u64,
    late_since: &'a str,
    oldest_verified_change_at: &'a str,
}

impl<'a> From<&'a pb::OfficeCompliance> for OfficeRow<'a> {
    fn from(o: &'a pb::OfficeCompliance) -> OfficeRow<'a> {
        use pb::ComplianceState as S;
        OfficeRow {
            crpcen: &o.crpcen,
            name: &o.name,
            mailboxes: o.mailboxes,
            compliant: o.compliant,
            percent_compliant: percent(o.compliant, o.mailboxes),
            due_soon: count(&o.counts, S::DueSoon),
            overdue: count(&o.counts, S::Overdue),
            provisional_pending: count(&o.counts, S::ProvisionalPending),
            provisional_expired: count(&o.counts, S::ProvisionalExpired),
            change_failed: count(&o.counts, S::ChangeFailed),
            agent_offline: count(&o.counts, S::AgentOffline),
            never_enrolled: count(&o.counts, S::NeverEnrolled),
            late_since: &o.late_since,
            oldest_verified_change_at: &o.oldest_verified_change_at,
        }
    }
}

impl Tabular for OfficeRow<'_> {
    const HEADER: &'static [&'static str] = &[
        "CRPCEN",
        "NAME",
        "MAILBOXES",
        "COMPLIANT",
        "%",
        "DUE SOON",
        "OVERDUE",
        "PROV. PENDING",
        "PROV. EXPIRED",
        "FAILED",
        "OFFLINE",
        "NOT ENROLLED",
        "LATE SINCE",
        "OLDEST CHANGE",
    ];
    const NOUN: &'static str = "office(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.crpcen.to_owned(),
            self.name.to_owned(),
            self.mailboxes.to_string(),
            self.compliant.to_string(),
            self.percent_compliant.clone(),
            self.due_soon.to_string(),
            self.overdue.to_string(),
            self.provisional_pending.to_string(),
            self.provisional_expired.to_string(),
            self.change_failed.to_string(),
            self.agent_offline.to_string(),
            self.never_enrolled.to_string(),
            self.late_since.to_owned(),
            self.oldest_verified_change_at.to_owned(),
        ]
    }
}

/// One mailbox, as listed.
#[derive(Debug, Serialize)]
struct MailboxRow<'a> {
    office: &'a str,
    address: &'a str,
    display_name: &'a str,
    state: &'static str,
    reason: &'a str,
    since: &'a str,
    non_compliant_since: &'a str,
    last_verified_change_at: &'a str,
}

impl Tabular for MailboxRow<'_> {
    const HEADER: &'static [&'static str] = &[
        "OFFICE",
        "ADDRESS",
        "NAME",
        "STATE",
        "REASON",
        "SINCE",
        "NON-COMPLIANT SINCE",
        "LAST CHANGE",
    ];
    const NOUN: &'static str = "mailbox(es)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.office.to_owned(),
            self.address.to_owned(),
            self.display_name.to_owned(),
            self.state.to_owned(),
            self.reason.to_owned(),
            self.since.to_owned(),
            self.non_compliant_since.to_owned(),
            self.last_verified_change_at.to_owned(),
        ]
    }
}

/// The whole report, as JSON.
#[derive(Debug, Serialize)]
struct ReportView<'a> {
    at: &'a str,
    generated_at: &'a str,
    mailboxes: u64,
    compliant: u64,
    percent_compliant: String,
    offices: u64,
    offices_compliant: u64,
    audit_head_seq: i64,
    audit_head_hash: &'a str,
    audit_head_signed_at: &'a str,
    audit_head_key_id: &'a str,
    audit_head_signature: &'a str,
    per_office: Vec<OfficeRow<'a>>,
    mailbox_states: Vec<MailboxRow<'a>>,
}

fn mailbox_rows(report: &pb::GetComplianceReportResponse) -> Vec<MailboxRow<'_>> {
    report
        .offices
        .iter()
        .flat_map(|o| {
            o.mailbox_states.iter().map(|m| MailboxRow {
                office: &o.crpcen,
                address: &m.address,
                display_name: &m.display_name,
                state: state_name(m.state),
                reason: &m.reason,
                since: &m.since,
                non_compliant_since: &m.non_compliant_since,
                last_verified_change_at: &m.last_verified_change_at,
            })
        })
        .collect()
}

/// Prints a report: the offices, or the mailboxes when `list_mailboxes`, in the chosen format.
pub(crate) fn print_report(
    out: &mut impl Write,
    format: Format,
    report: &pb::GetComplianceReportResponse,
    list_mailboxes: bool,
) -> io::Result<()> {
    let offices: Vec<OfficeRow<'_>> = report.offices.iter().map(Into::into).collect();
    match format.kind() {
        Listing::Json => {
            let view = ReportView {
                at: &report.at,
                generated_at: &report.generated_at,
                mailboxes: report.mailboxes,
                compliant: report.compliant,
                percent_compliant: percent(report.compliant, report.mailboxes),
                offices: report.offices_reported,
                offices_compliant: report.offices_compliant,
                audit_head_seq: report.audit_head_seq,
                audit_head_hash: &report.audit_head_hash,
                audit_head_signed_at: &report.audit_head_signed_at,
                audit_head_key_id: &report.audit_head_key_id,
                audit_head_signature: &report.audit_head_signature,
                per_office: offices,
                mailbox_states: mailbox_rows(report),
            };
            serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv if list_mailboxes => print_rows(out, format, &mailbox_rows(report)),
        Listing::Csv => print_rows(out, format, &offices),
        Listing::Table => {
            writeln!(out, "Compliance at {} (made {})", report.at, report.generated_at)?;
            writeln!(
                out,
                "{} mailbox(es) in {} office(s): {} compliant ({} %); {} office(s) fully compliant",
                report.mailboxes,
                report.offices_reported,
                report.compliant,
                percent(report.compliant, report.mailboxes),
                report.offices_compliant
            )?;
            let states: Vec<String> = report
                .counts
                .iter()
                .filter(|c| c.mailboxes > 0)
                .map(|c| format!("{} {}", state_name(c.state), c.mailboxes))
                .collect();
            if !states.is_empty() {
                writeln!(out, "{}", states.join(", "))?;
            }
            writeln!(
                out,
                "audit chain head: record {} {}",
                report.audit_head_seq, report.audit_head_hash
            )?;
            if offices.is_empty() {
                return Ok(());
            }
            writeln!(out)?;
            print_rows(out, format, &offices)?;
            if list_mailboxes {
                writeln!(out)?;
                print_rows(out, format, &mailbox_rows(report))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_end_of_their_day() {
        assert_eq!(parse_at("2026-03-01").unwrap(), "2026-03-01T23:59:59.999999Z");
        assert_eq!(parse_at("2026-03-01T08:00:00Z").unwrap(), "2026-03-01T08:00:00Z");
        assert!(parse_at("1er mars").is_err());
        assert!(parse_at("2026-3-1").is_err());
    }
}
