//! `sesamectl report`: the compliance report, of every office or one, now or at a past date, as a
//! table, CSV, JSON, or a dated PDF in French an auditor can file; the PDF and the CSV are
//! rendered by `sesame_documents` (`report_pdf`, `report_csv`) from the answer, converted by
//! `documents`.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use sesame_documents::report_csv::{self, MailboxRow, OfficeRow, mailbox_rows, percent};
use sesame_documents::report_pdf;
use sesame_proto::v1 as pb;

use crate::output::{Format, Listing, Tabular, print_rows};
use crate::{Error, OutputFormat, Session, documents};

/// The options of `sesamectl report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// One office (its mailboxes listed) instead of every office.
    #[arg(long)]
    pub office: Option<String>,
    /// The report as things stood at this date: `2026-03-01` (the end of that day, UTC; today's
    /// date means now) or an RFC 3339 time. Now when left out.
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

/// The `--at` value as the server takes it, `today` being the administrator's date
/// (`YYYY-MM-DD`): a bare date of a past day means the end of that day, UTC; today means now (an
/// empty value: the report as things stand); a day to come is refused.
pub fn parse_at(value: &str, today: &str) -> Result<String, Error> {
    let value = value.trim();
    let bare = value.len() == 10
        && value
            .char_indices()
            .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if bare {
        // ISO dates compare as text.
        return match value.cmp(today) {
            std::cmp::Ordering::Less => Ok(format!("{value}T23:59:59.999999Z")),
            std::cmp::Ordering::Equal => Ok(String::new()),
            std::cmp::Ordering::Greater => Err(Error::Usage(format!(
                "--at {value}: a day to come (today is {today}); a report describes a past day \
                 or now (leave --at out)"
            ))),
        };
    }
    if value.contains('T') && value.len() >= 20 {
        return Ok(value.to_owned());
    }
    Err(Error::Usage(format!(
        "--at {value:?}: expected a date like 2026-03-01 or an RFC 3339 time"
    )))
}

/// The administrator's date, `YYYY-MM-DD`, in this machine's time zone.
fn today() -> String {
    use sesame_base::clock::Clock as _;
    let now = sesame_base::clock::SystemClock.now();
    jiff::Timestamp::from_second(now.unix_timestamp())
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).date().to_string())
        .unwrap_or_else(|_| now.date().to_string())
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
        at: args.at.as_deref().map(|at| parse_at(at, &today())).transpose()?.unwrap_or_default(),
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
        let bytes = report_pdf::render(
            &documents::report(&report)?,
            &documents::compliance_rule(&policy),
            &session.server,
        );
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
    let mut csv = session.format.csv(&mut *session.out);
    loop {
        let page = session.client.get_compliance_report(request.clone()).await?.into_inner();
        let offices = documents::office_lines(&page.offices)?;
        if list_mailboxes {
            report_csv::write_mailboxes(&mut csv, &offices)?;
        } else {
            report_csv::write_offices(&mut csv, &offices)?;
        }
        csv.flush()?;
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        request.page_token = page.next_page_token;
    }
}

impl Tabular for OfficeRow {
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
            self.crpcen.clone(),
            self.name.clone(),
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
            self.late_since.clone(),
            self.oldest_verified_change_at.clone(),
        ]
    }
}

impl Tabular for MailboxRow {
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
            self.office.clone(),
            self.address.clone(),
            self.display_name.clone(),
            self.state.to_owned(),
            self.reason.clone(),
            self.since.clone(),
            self.non_compliant_since.clone(),
            self.last_verified_change_at.clone(),
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
    per_office: Vec<OfficeRow>,
    mailbox_states: Vec<MailboxRow>,
}

/// Prints a report: the offices, or the mailboxes when `list_mailboxes`, in the chosen format.
pub(crate) fn print_report(
    out: &mut impl Write,
    format: Format,
    report: &pb::GetComplianceReportResponse,
    list_mailboxes: bool,
) -> Result<(), Error> {
    let lines = documents::office_lines(&report.offices)?;
    if format.kind() == Listing::Csv {
        let mut csv = format.csv(out);
        if list_mailboxes {
            report_csv::write_mailboxes(&mut csv, &lines)?;
        } else {
            report_csv::write_offices(&mut csv, &lines)?;
        }
        return Ok(csv.flush()?);
    }
    let offices: Vec<OfficeRow> = lines.iter().map(Into::into).collect();
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
                mailbox_states: mailbox_rows(&lines),
            };
            serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::other)?;
            Ok(writeln!(out)?)
        }
        Listing::Csv => Ok(()),
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
                .map(|c| format!("{} {}", documents::state(c.state).name(), c.mailboxes))
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
                print_rows(out, format, &mailbox_rows(&lines))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_end_of_their_day_and_today_is_now() {
        let today = "2026-12-08";
        assert_eq!(parse_at("2026-03-01", today).unwrap(), "2026-03-01T23:59:59.999999Z");
        assert_eq!(parse_at("2026-12-07", today).unwrap(), "2026-12-07T23:59:59.999999Z");
        assert_eq!(parse_at("2026-12-08", today).unwrap(), "", "today: the report as things stand");
        let Err(Error::Usage(later)) = parse_at("2026-12-09", today) else { panic!("refused") };
        assert!(later.contains("a day to come (today is 2026-12-08)"), "{later}");
        assert_eq!(parse_at("2026-03-01T08:00:00Z", today).unwrap(), "2026-03-01T08:00:00Z");
        assert!(parse_at("1er mars", today).is_err());
        assert!(parse_at("2026-3-1", today).is_err());
    }
}
