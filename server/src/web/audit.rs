//! The audit trail (`/audit`): its records, filtered by office and date, a page at a time
//! (oldest first, as the chain runs); its verification on request (the whole chain and every
//! signed head, as `sesamectl audit verify` does) with the newest signed head; and its export as
//! CSV with the same filters, for auditors.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use time::OffsetDateTime;

use super::format::{datetime_fr, head_fr};
use super::page::{self, Layout, Query, encode, render};
use super::session::Signed;
use super::{Web, documents};
use crate::domain::office::Crpcen;
use crate::services::audit::AuditQuery;

/// Records per page.
const RECORDS_PER_PAGE: u32 = 50;

/// The trail's filters, as in its address.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    /// One office (CRPCEN), or every office the administrator may read.
    #[serde(default)]
    pub(crate) office: String,
    /// Only records on or after this day (`AAAA-MM-JJ`).
    #[serde(default)]
    pub(crate) since: String,
    /// Only records after this sequence number.
    #[serde(default)]
    pub(crate) after: i64,
    /// Verify the chain.
    #[serde(default)]
    verify: String,
}

impl Filters {
    /// The service's query, or the French reason the filters are wrong.
    pub(crate) fn query(&self, limit: u32) -> Result<AuditQuery, String> {
        let office =
            match self.office.trim() {
                "" => None,
                text => Some(Crpcen::parse(text).map_err(|_| {
                    format!("« {text} » n'est pas un numéro CRPCEN (cinq chiffres).")
                })?),
            };
        let since = match self.since.trim() {
            "" => None,
            text => Some(parse_day(text).ok_or_else(|| {
                "La date doit s'écrire AAAA-MM-JJ, par exemple 2026-12-01.".to_owned()
            })?),
        };
        Ok(AuditQuery { office, since, after_seq: self.after.max(0), limit: Some(limit) })
    }

    fn without_cursor(&self) -> String {
        format!("office={}&since={}", encode(self.office.trim()), encode(self.since.trim()))
    }
}

/// "2026-12-01" → the start of that day, UTC.
pub(crate) fn parse_day(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok().map(|d| d.midnight().assume_utc())
}

#[derive(Debug)]
struct RecordRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    office: String,
    target: String,
    details: String,
}

#[derive(Debug)]
struct Verification {
    intact: bool,
    records: u64,
    heads: u64,
    problems: Vec<String>,
    newest_head: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    office: String,
    since: String,
    records: Vec<RecordRow>,
    next: Option<String>,
    export: String,
    verification: Option<Verification>,
    verify_href: String,
}

/// `GET /audit`.
pub(crate) async fn page(
    State(web): State<Web>,
    signed: Signed,
    Query(filters): Query<Filters>,
) -> Response {
    let query = match filters.query(RECORDS_PER_PAGE) {
        Ok(query) => query,
        Err(reason) => return page::bad_request(&reason),
    };
    let admin = signed.admin();
    let records = match web.services.list_audit_records(admin, &query).await {
        Ok(records) => records,
        Err(error) => return page::error(error),
    };
    let verification = if filters.verify.is_empty() {
        None
    } else {
        match web.services.verify_audit(admin).await {
            Ok(report) => Some(Verification {
                intact: report.intact(),
                records: report.records,
                heads: report.heads,
                problems: report
                    .problems
                    .iter()
                    .map(|p| format!("n° {} : {}", p.seq(), p.kind()))
                    .collect(),
                newest_head: report.newest_head.as_ref().map_or_else(String::new, head_fr),
            }),
            Err(error) => return page::error(error),
        }
    };
    let base = filters.without_cursor();
    let next = (records.len() == RECORDS_PER_PAGE as usize)
        .then(|| records.last().map(|r| format!("/audit?{base}&after={}", r.seq)))
        .flatten();
    let page = AuditPage {
        layout: signed.layout("Journal d'audit"),
        office: filters.office.trim().to_owned(),
        since: filters.since.trim().to_owned(),
        records: records
            .iter()
            .map(|r| RecordRow {
                seq: r.seq,
                at: datetime_fr(r.at),
                actor: r.actor.clone(),
                action: sesame_base::audit_actions::current_name(&r.action).to_owned(),
                office: r.office.clone().unwrap_or_default(),
                target: r.target.clone(),
                details: r.details.clone(),
            })
            .collect(),
        next,
        export: format!("/audit.csv?{base}"),
        verify_href: format!("/audit?{base}&after={}&verify=1", filters.after.max(0)),
        verification,
    };
    render(&page)
}

/// The most records one export holds; beyond it, the export says where to go on.
const MAX_EXPORT_RECORDS: usize = 100_000;

/// `GET /audit.csv`: the records the filters select (from `after`), oldest first, for auditors.
pub(crate) async fn csv(
    State(web): State<Web>,
    signed: Signed,
    Query(filters): Query<Filters>,
) -> Response {
    let page_size = crate::services::audit::MAX_AUDIT_PAGE;
    let mut query = match filters.query(page_size) {
        Ok(query) => query,
        Err(reason) => return page::bad_request(&reason),
    };
    let mut records = Vec::new();
    loop {
        let page = match web.services.list_audit_records(signed.admin(), &query).await {
            Ok(page) => page,
            Err(error) => return page::error(error),
        };
        let full = page.len() == page_size as usize;
        if let Some(last) = page.last() {
            query.after_seq = last.seq;
        }
        records.extend(page);
        if !full || records.len() >= MAX_EXPORT_RECORDS {
            break;
        }
    }
    let name = match (records.first(), records.last()) {
        (Some(first), Some(last)) => format!("journal-audit-{}-{}.csv", first.seq, last.seq),
        _ => "journal-audit-vide.csv".to_owned(),
    };
    page::download(documents::audit_csv(&records), "text/csv; charset=utf-8", &name)
}
