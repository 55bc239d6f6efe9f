//! Compliance reports (`/reports`): for any past date or now, of the fleet (one line per office,
//! with the overview's filters and sort) or of one office (one line per mailbox, with the office
//! page's state filter), as CSV or PDF. Each document names the signed audit head it was made
//! from, which ties it to the audit trail (`sesamectl audit verify` checks that head).

use askama::Template;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;

use super::audit::parse_day;
use super::fleet::{self, office_lines};
use super::format::state_named;
use super::page::{self, Layout, Query, encode, render};
use super::session::Signed;
use super::{Web, documents};
use crate::domain::office::Crpcen;
use crate::services::Error;
use crate::services::compliance::{ComplianceReport, ReportDetail};

/// What a report covers, as in its address.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Request {
    /// The day it describes (`AAAA-MM-JJ`, its end), or now when empty.
    #[serde(default)]
    at: String,
    /// One office, or the fleet.
    #[serde(default)]
    office: String,
    /// The overview's (or the office page's) filters and sort.
    #[serde(flatten)]
    filters: fleet::Filters,
}

impl Request {
    fn query(&self) -> String {
        format!(
            "at={}&office={}&{}",
            encode(self.at.trim()),
            encode(self.office.trim()),
            self.filters.query()
        )
    }
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    layout: Layout,
    at: String,
    office: String,
    filters: fleet::Filters,
    query: String,
}

/// `GET /reports`: the form, keeping the filters it was reached with.
pub(crate) async fn page(signed: Signed, Query(request): Query<Request>) -> Response {
    render(&ReportsPage {
        layout: signed.layout("Rapports de conformité"),
        at: request.at.trim().to_owned(),
        office: request.office.trim().to_owned(),
        query: request.query(),
        filters: request.filters,
    })
}

/// The report a request asks for, its lines filtered and sorted as asked.
async fn report(web: &Web, signed: &Signed, request: &Request) -> Result<ComplianceReport, Error> {
    let at = match request.at.trim() {
        "" => None,
        day => match parse_day(day) {
            // The end of the day asked; today's report is made now.
            Some(start) => {
                let end = start + time::Duration::days(1) - time::Duration::seconds(1);
                (end < web.services.clock.now()).then_some(end)
            }
            None => return Err(Error::invalid("la date doit s'écrire AAAA-MM-JJ")),
        },
    };
    let admin = signed.admin();
    match request.office.trim() {
        "" => {
            // Read afresh: a document states the time it describes.
            let offices = web.services.list_offices(admin).await?;
            let mut report =
                web.services.compliance_report(admin, None, at, ReportDetail::Offices).await?;
            let lines = office_lines(&offices, &report, &request.filters);
            report.offices = lines.into_iter().map(|line| (line.office, Vec::new())).collect();
            Ok(report)
        }
        text => {
            let office = Crpcen::parse(text).map_err(|_| {
                Error::invalid(format!("« {text} » n'est pas un numéro CRPCEN (cinq chiffres)"))
            })?;
            let mut report = web
                .services
                .compliance_report(admin, Some(&office), at, ReportDetail::Mailboxes)
                .await?;
            if let Some(wanted) = state_named(&request.filters.state) {
                for (_, standings) in &mut report.offices {
                    standings.retain(|s| s.state.as_str() == wanted.as_str());
                }
            }
            Ok(report)
        }
    }
}

/// `GET /reports/compliance.csv`: one line per office (the fleet) or per mailbox (an office).
pub(crate) async fn csv(
    State(web): State<Web>,
    signed: Signed,
    Query(request): Query<Request>,
) -> Response {
    match report(&web, &signed, &request).await {
        Ok(report) => {
            let body = documents::report_csv(&report, !request.office.trim().is_empty());
            stamped(body, "text/csv; charset=utf-8", &report, &request, "csv")
        }
        Err(error) => page::error(error),
    }
}

/// `GET /reports/compliance.pdf`: the French report, stating the compliance rule in force.
pub(crate) async fn pdf(
    State(web): State<Web>,
    signed: Signed,
    headers: HeaderMap,
    Query(request): Query<Request>,
) -> Response {
    let report = match report(&web, &signed, &request).await {
        Ok(report) => report,
        Err(error) => return page::error(error),
    };
    let office = Crpcen::parse(request.office.trim()).ok();
    let policy = match web.services.compliance_policy(signed.admin(), office.as_ref()).await {
        Ok(policy) => policy.effective,
        Err(error) => return page::error(error),
    };
    let server = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let body = documents::report_pdf(&report, policy, server);
    stamped(body, "application/pdf", &report, &request, "pdf")
}

/// A report to save, named after what it covers and the signed audit head it was made from,
/// which the `Sesame-Audit-Head` header also carries (`seq:hash`).
fn stamped(
    body: Vec<u8>,
    kind: &'static str,
    report: &ComplianceReport,
    request: &Request,
    extension: &str,
) -> Response {
    let stem = file_stem(request);
    let name = match &report.audit_head {
        Some(head) => format!("{}.{extension}", documents::head(head).file_stem(&stem)),
        None => format!("{stem}.{extension}"),
    };
    let mut answer = page::download(body, kind, &name);
    if let Some(head) = &report.audit_head
        && let Ok(value) = HeaderValue::from_str(&format!("{}:{}", head.seq, head.hash_hex()))
    {
        answer.headers_mut().insert("sesame-audit-head", value);
    }
    answer
}

/// "conformite-14032-2026-12-01", "conformite-flotte".
fn file_stem(request: &Request) -> String {
    let office = request.office.trim();
    let scope = if office.bytes().all(|b| b.is_ascii_digit()) && !office.is_empty() {
        office
    } else {
        "flotte"
    };
    let day = request.at.trim();
    let day = if day.len() == 10 && day.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        day
    } else {
        ""
    };
    if day.is_empty() { format!("conformite-{scope}") } else { format!("conformite-{scope}-{day}") }
}
