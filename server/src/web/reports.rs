//! Compliance reports (`/reports`): for any past date or now, of the fleet (one line per office,
//! with the overview's filters and sort) or of one office (one line per mailbox, with the office
//! page's state filter), as CSV or PDF. Each document names the signed audit head it was made
//! from, which ties it to the audit trail (`sesamectl audit verify` checks that head).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::Web;
use super::audit::parse_day;
use super::fleet::{self, office_lines};
use super::format::state_named;
use super::page::{self, Layout, encode, render};
use super::rollout::download;
use super::session::Signed;
use crate::domain::office::Crpcen;
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
async fn report(
    web: &Web,
    signed: &Signed,
    request: &Request,
) -> Result<ComplianceReport, Response> {
    let at = match request.at.trim() {
        "" => None,
        day => match parse_day(day) {
            // The end of the day asked; today's report is made now.
            Some(start) => {
                let end = start + time::Duration::days(1) - time::Duration::seconds(1);
                (end < web.services.clock.now()).then_some(end)
            }
            None => return Err(page::bad_request("La date doit s'écrire AAAA-MM-JJ.")),
        },
    };
    let admin = signed.admin();
    match request.office.trim() {
        "" => {
            let (lines, mut report) =
                office_lines(web, signed, &request.filters, at).await.map_err(page::error)?;
            report.offices = lines.into_iter().map(|line| (line.office, Vec::new())).collect();
            Ok(report)
        }
        text => {
            let office = Crpcen::parse(text).map_err(|_| {
                page::bad_request(&format!(
                    "« {text} » n'est pas un numéro CRPCEN (cinq chiffres)."
                ))
            })?;
            let mut report = web
                .services
                .compliance_report(admin, Some(&office), at, ReportDetail::Mailboxes)
                .await
                .map_err(page::error)?;
            if let Some(wanted) = state_named(&request.filters.state) {
                for (_, standings) in &mut report.offices {
                    standings.retain(|s| s.state.as_str() == wanted.as_str());
                }
            }
            Ok(report)
        }
    }
}

/// `GET /reports/compliance.csv`.
pub(crate) async fn csv(
    State(web): State<Web>,
    signed: Signed,
    Query(request): Query<Request>,
) -> Response {
    match report(&web, &signed, &request).await {
        Ok(report) => download(
            super::documents::report_csv(&report),
            "text/csv; charset=utf-8",
            &file_name(&request, "csv"),
        ),
        Err(refused) => refused,
    }
}

/// `GET /reports/compliance.pdf`.
pub(crate) async fn pdf(
    State(web): State<Web>,
    signed: Signed,
    Query(request): Query<Request>,
) -> Response {
    match report(&web, &signed, &request).await {
        Ok(report) => download(
            super::documents::report_pdf(&report),
            "application/pdf",
            &file_name(&request, "pdf"),
        ),
        Err(refused) => refused,
    }
}

/// "conformite-14032-2026-12-01.csv", "conformite-flotte.pdf".
fn file_name(request: &Request, extension: &str) -> String {
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
    if day.is_empty() {
        format!("conformite-{scope}.{extension}")
    } else {
        format!("conformite-{scope}-{day}.{extension}")
    }
}
