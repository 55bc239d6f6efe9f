//! The compliance report a page at a time, so that no answer grows with the fleet. The first page
//! carries the summary (the fleet's totals, the audit head) as the whole report does; every page
//! carries at most `size` lines: mailbox lines, each under its office's counts, or (a report of
//! every office without its mailboxes) office lines.
//! Every page describes the same time: a report "now" is fixed at the first page's time, which
//! its cursor carries, and read from the compliance history (complete up to then: the first page
//! sweeps first), so a change between two pages shows in neither.

use time::OffsetDateTime;

use super::{ComplianceReport, ReportDetail};
use crate::domain::admin::{Admin, Permission};
use crate::domain::compliance::{MailboxStanding, OfficeCounts, StateCounts};
use crate::domain::office::{Crpcen, MailboxAddress};
use crate::domain::page::{self, ReportCursor, ReportLine};
use crate::services::access::authorize;
use crate::services::{Error, Services};

/// Which page of a report to make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportPageRequest {
    /// At most this many lines (0: [`page::DEFAULT_PAGE`]; at most [`page::MAX_PAGE`]).
    pub size: u32,
    /// Lines per mailbox (always for one office), else per office.
    pub mailboxes: bool,
    /// Where the previous page ended, if this is not the first.
    pub cursor: Option<ReportCursor>,
}

/// A page of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPage {
    /// On the first page, the report's summary and the offices of its lines; on the others, only
    /// `at` and the offices of their lines (the totals left at zero, no audit head).
    pub report: ComplianceReport,
    /// Whether this is the first page, the one with the summary.
    pub first: bool,
    /// Where the next page starts; `None` on the last one.
    pub next: Option<ReportCursor>,
}

fn foreign_token() -> Error {
    Error::invalid(
        "page_token: not a token of this report (send the same office, mailboxes and at)",
    )
}

impl Services {
    /// A page of the compliance report of one office or of every office the administrator may
    /// read, with each mailbox's standing, now (`at` = `None`) or at a past date.
    pub async fn compliance_report_page(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        at: Option<OffsetDateTime>,
        request: &ReportPageRequest,
    ) -> Result<ReportPage, Error> {
        let size = page::page_size(request.size).map_err(|e| Error::invalid(e.to_string()))?;
        let mailboxes = request.mailboxes || office.is_some();
        let (report, after) = match &request.cursor {
            // The summary, as the whole report gives it; its time is every page's.
            None => (self.compliance_report(admin, office, at, ReportDetail::Summary).await?, None),
            Some(cursor) => {
                let foreign_office = match &cursor.after {
                    ReportLine::Mailbox(after) => office.is_some_and(|o| o != after.office()),
                    ReportLine::Office(_) => office.is_some(),
                };
                let foreign_kind = matches!(cursor.after, ReportLine::Mailbox(_)) != mailboxes;
                // The token keeps microseconds, the precision of every stored time.
                let micros = |t: OffsetDateTime| t.unix_timestamp_nanos() / 1_000;
                let foreign_time = at.is_some_and(|at| micros(at) != micros(cursor.at));
                if foreign_office || foreign_kind || foreign_time {
                    return Err(foreign_token());
                }
                if cursor.at > self.clock.now() {
                    return Err(Error::invalid("page_token: not a token this server issued"));
                }
                // Authorized as the first page was; nothing else is recomputed.
                if let Some(office) = office {
                    authorize(admin, Permission::Read(Some(office)))?;
                    self.known_office(office).await?;
                }
                (later_page(cursor.at), Some(cursor.after.clone()))
            }
        };
        let at = report.at;
        let (offices, next) = if mailboxes {
            let after = match &after {
                Some(ReportLine::Mailbox(address)) => Some(address),
                _ => None,
            };
            let lines = self.report_lines(admin, office, at, after, size).await?;
            let next = match lines.last() {
                Some(last) if lines.len() == size as usize => {
                    Some(ReportLine::Mailbox(last.address.clone()))
                }
                _ => None,
            };
            (self.with_office_counts(lines, at).await?, next)
        } else {
            let after = match &after {
                Some(ReportLine::Office(crpcen)) => Some(crpcen),
                _ => None,
            };
            let lines = self.office_lines(admin, at, after, size).await?;
            let next = match lines.last() {
                Some(last) if lines.len() == size as usize => {
                    Some(ReportLine::Office(last.crpcen.clone()))
                }
                _ => None,
            };
            (lines.into_iter().map(|counts| (counts, Vec::new())).collect(), next)
        };
        Ok(ReportPage {
            first: request.cursor.is_none(),
            report: ComplianceReport { offices, ..report },
            next: next.map(|after| ReportCursor { at, after }),
        })
    }

    /// At most `size` office lines at `at`, by CRPCEN, after `after`, of the offices the
    /// administrator may read.
    async fn office_lines(
        &self,
        admin: &Admin,
        at: OffsetDateTime,
        after: Option<&Crpcen>,
        size: u32,
    ) -> Result<Vec<OfficeCounts>, Error> {
        let Some(scope) = admin.read_scope() else {
            return Ok(self.store.compliance_office_page(at, after, size).await?);
        };
        let mut scope = scope.to_vec();
        scope.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut lines = Vec::new();
        for office in scope.iter().filter(|o| after.is_none_or(|a| o.as_str() > a.as_str())) {
            if lines.len() == size as usize {
                break;
            }
            lines.extend(self.store.compliance_counts_between(office, office, at).await?);
        }
        Ok(lines)
    }

    /// At most `size` mailbox lines at `at`, in report order, after `after`, of the office or
    /// of those the administrator may read.
    async fn report_lines(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        at: OffsetDateTime,
        after: Option<&MailboxAddress>,
        size: u32,
    ) -> Result<Vec<MailboxStanding>, Error> {
        let scope: Vec<Crpcen> = match (office, admin.read_scope()) {
            (Some(office), _) => vec![office.clone()],
            (None, Some(offices)) => offices.to_vec(),
            (None, None) => {
                return Ok(self.store.compliance_mailbox_page(None, at, after, size).await?);
            }
        };
        let mut scope = scope;
        scope.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut lines = Vec::new();
        for office in &scope {
            let remaining = size - lines.len() as u32;
            if remaining == 0 {
                break;
            }
            let resume = match after {
                Some(after) if after.office().as_str() > office.as_str() => continue,
                Some(after) if after.office() == office => Some(after),
                _ => None,
            };
            lines.extend(
                self.store.compliance_mailbox_page(Some(office), at, resume, remaining).await?,
            );
        }
        Ok(lines)
    }

    /// The lines grouped under their offices, each with its counts at `at`.
    async fn with_office_counts(
        &self,
        lines: Vec<MailboxStanding>,
        at: OffsetDateTime,
    ) -> Result<Vec<(OfficeCounts, Vec<MailboxStanding>)>, Error> {
        let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
            return Ok(Vec::new());
        };
        let counts = self
            .store
            .compliance_counts_between(first.address.office(), last.address.office(), at)
            .await?;
        let mut offices: Vec<(OfficeCounts, Vec<MailboxStanding>)> = Vec::new();
        for line in lines {
            if offices.last().is_none_or(|(o, _)| &o.crpcen != line.address.office()) {
                let Some(counts) = counts.iter().find(|c| &c.crpcen == line.address.office())
                else {
                    // A line always has a history row at `at`, hence its office's counts.
                    return Err(Error::Internal(
                        "compliance counts missing for a listed office".into(),
                    ));
                };
                offices.push((counts.clone(), Vec::new()));
            }
            if let Some((_, mailboxes)) = offices.last_mut() {
                mailboxes.push(line);
            }
        }
        Ok(offices)
    }
}

/// A later page's report: its time, no summary.
fn later_page(at: OffsetDateTime) -> ComplianceReport {
    ComplianceReport {
        at,
        generated_at: at,
        offices: Vec::new(),
        offices_reported: 0,
        fleet: StateCounts::default(),
        offices_compliant: 0,
        oldest_verified_change: None,
        audit_head: None,
    }
}
