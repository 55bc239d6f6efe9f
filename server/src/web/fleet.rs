//! The fleet overview (`/`): compliance per office, sortable, filtered by text or by a state, a
//! page at a time; every count links to the list behind it (a fleet total to the offices that
//! have mailboxes in that state, an office's count to its mailboxes in that state); the chart of
//! compliance over the last 30 days.

use std::cmp::Ordering;
use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::Web;
use super::chart::{self, Day};
use super::format::{datetime_fr, head_fr, maybe_datetime_fr, percent, state_fr, state_named};
use super::page::{self, Layout, Paging, Query, encode, render};
use super::session::Signed;
use crate::domain::compliance::{ComplianceState, OfficeCounts, StateCounts};
use crate::domain::office::Office;
use crate::services::compliance::ComplianceReport;

/// Days in the chart.
const CHART_DAYS: u32 = 30;

/// The overview's filters, sort and page, as in its address (and its exports').
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Filters {
    /// Text found in the office's name, city or CRPCEN.
    #[serde(default)]
    pub(crate) q: String,
    /// Only offices with mailboxes in this state (a stored state name), or `non_compliant`.
    #[serde(default)]
    pub(crate) state: String,
    /// The column: `crpcen`, `name`, `mailboxes`, `compliance` (the default) or `late`.
    #[serde(default)]
    pub(crate) sort: String,
    /// `asc` (the default) or `desc`.
    #[serde(default)]
    pub(crate) dir: String,
    /// The page, from 1.
    #[serde(default)]
    pub(crate) page: usize,
}

impl Filters {
    /// The query string of these filters and sort (no page), for links and exports.
    pub(crate) fn query(&self) -> String {
        format!(
            "q={}&state={}&sort={}&dir={}",
            encode(&self.q),
            encode(&self.state),
            encode(&self.sort),
            encode(&self.dir)
        )
    }

    fn descending(&self) -> bool {
        self.dir == "desc"
    }
}

/// One office's line: its counts (zero when it has no mailbox yet) and its city.
#[derive(Debug, Clone)]
pub(crate) struct OfficeLine {
    pub(crate) office: OfficeCounts,
    pub(crate) city: String,
}

impl OfficeLine {
    fn total(&self) -> u64 {
        self.office.counts.total()
    }

    fn share(&self) -> f64 {
        let counts = &self.office.counts;
        if counts.total() == 0 { 1.0 } else { counts.compliant() as f64 / counts.total() as f64 }
    }

    /// Whether it has mailboxes in the filter's state.
    fn has(&self, state: &str) -> bool {
        let counts = &self.office.counts;
        match state {
            "" => true,
            "non_compliant" => counts.compliant() < counts.total(),
            name => state_named(name).is_some_and(|s| counts.get(s) > 0),
        }
    }

    fn late(&self) -> i64 {
        self.office.late_since.map_or(i64::MAX, |t| t.unix_timestamp())
    }
}

/// The offices of `offices` with their counts in `report` (zero for an office without mailboxes),
/// filtered and sorted as `filters` say (the overview, and its exports).
pub(crate) fn office_lines(
    offices: &[Office],
    report: &ComplianceReport,
    filters: &Filters,
) -> Vec<OfficeLine> {
    let counts: HashMap<&str, &OfficeCounts> =
        report.offices.iter().map(|(c, _)| (c.crpcen.as_str(), c)).collect();
    let needle = filters.q.trim().to_lowercase();
    let mut lines: Vec<OfficeLine> = offices
        .iter()
        .filter(|office| {
            needle.is_empty()
                || office.crpcen.as_str().contains(&needle)
                || office.name.to_lowercase().contains(&needle)
                || office.city.as_deref().is_some_and(|c| c.to_lowercase().contains(&needle))
        })
        .map(|office| OfficeLine {
            office: counts.get(office.crpcen.as_str()).map_or_else(
                || OfficeCounts {
                    crpcen: office.crpcen.clone(),
                    name: office.name.clone(),
                    counts: StateCounts::default(),
                    oldest_verified_change: None,
                    never_changed: 0,
                    late_since: None,
                },
                |c| (*c).clone(),
            ),
            city: office.city.clone().unwrap_or_default(),
        })
        .filter(|line| line.has(&filters.state))
        .collect();
    let order = |a: &OfficeLine, b: &OfficeLine| -> Ordering {
        match filters.sort.as_str() {
            "crpcen" => a.office.crpcen.as_str().cmp(b.office.crpcen.as_str()),
            "name" => a.office.name.to_lowercase().cmp(&b.office.name.to_lowercase()),
            "mailboxes" => a.total().cmp(&b.total()),
            // The longest late first when ascending: the most urgent.
            "late" => a.late().cmp(&b.late()),
            _ => a.share().total_cmp(&b.share()),
        }
        .then_with(|| a.office.crpcen.as_str().cmp(b.office.crpcen.as_str()))
    };
    lines.sort_by(|a, b| if filters.descending() { order(b, a) } else { order(a, b) });
    lines
}

/// A column header that sorts.
#[derive(Debug)]
struct SortLink {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    aria: &'static str,
    numeric: bool,
}

/// A count that links to its list.
#[derive(Debug)]
struct Count {
    n: u64,
    href: String,
}

/// A fleet total.
#[derive(Debug)]
struct Total {
    label: &'static str,
    class: &'static str,
    n: u64,
    href: String,
}

/// A choice of the state filter.
#[derive(Debug)]
struct StateOption {
    key: &'static str,
    label: &'static str,
    selected: bool,
}

/// A line as shown.
#[derive(Debug)]
struct Row {
    crpcen: String,
    name: String,
    city: String,
    mailboxes: u64,
    compliance: String,
    counts: Vec<Count>,
    late_since: String,
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    layout: Layout,
    filters: Filters,
    totals: Vec<Total>,
    mailboxes: u64,
    compliance: String,
    offices_compliant: u64,
    offices_reported: u64,
    at: String,
    head: String,
    chart: String,
    columns: Vec<SortLink>,
    state_columns: Vec<&'static str>,
    rows: Vec<Row>,
    paging: Paging,
    query: String,
    states: Vec<StateOption>,
}

/// `GET /`.
pub(crate) async fn overview(
    State(web): State<Web>,
    signed: Signed,
    Query(filters): Query<Filters>,
) -> Response {
    let overview = match web.services.compliance_overview(signed.admin()).await {
        Ok(overview) => overview,
        Err(error) => return page::error(error),
    };
    let report = &overview.report;
    let lines = office_lines(&overview.offices, report, &filters);
    let trend = match web.services.compliance_trend(signed.admin(), None, CHART_DAYS).await {
        Ok(points) => points,
        Err(error) => return page::error(error),
    };
    let mut days: Vec<Day> =
        trend.iter().map(|p| Day { at: p.at, compliant: p.compliant, total: p.total }).collect();
    // Today's point is the overview's own, fresher than a kept chart (both count the offices
    // with mailboxes).
    if let Some(today) = days.last_mut() {
        *today =
            Day { at: report.at, compliant: report.fleet.compliant(), total: report.fleet.total() };
    }
    let paging = Paging::new(filters.page, lines.len());
    let rows = lines[paging.range()]
        .iter()
        .map(|line| Row {
            crpcen: line.office.crpcen.as_str().to_owned(),
            name: line.office.name.clone(),
            city: line.city.clone(),
            mailboxes: line.total(),
            compliance: percent(line.office.counts.compliant(), line.total()),
            counts: ComplianceState::ALL
                .iter()
                .map(|state| Count {
                    n: line.office.counts.get(*state),
                    href: format!(
                        "/offices/{}?state={}",
                        line.office.crpcen.as_str(),
                        state.as_str()
                    ),
                })
                .collect(),
            late_since: maybe_datetime_fr(line.office.late_since),
        })
        .collect();
    let totals = ComplianceState::ALL
        .iter()
        .map(|state| Total {
            label: state_fr(*state),
            class: state.as_str(),
            n: report.fleet.get(*state),
            href: format!("/?state={}", state.as_str()),
        })
        .collect();
    let base = format!("q={}&state={}", encode(&filters.q), encode(&filters.state));
    let column = |key: &'static str, label: &'static str, numeric: bool| {
        let current = filters.sort == key || (filters.sort.is_empty() && key == "compliance");
        let dir = if current && !filters.descending() { "desc" } else { "asc" };
        SortLink {
            label,
            href: format!("/?{base}&sort={key}&dir={dir}"),
            aria: match (current, filters.descending()) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
            numeric,
        }
    };
    let page = FleetPage {
        layout: signed.layout("Vue d'ensemble"),
        totals,
        mailboxes: report.fleet.total(),
        compliance: percent(report.fleet.compliant(), report.fleet.total()),
        offices_compliant: report.offices_compliant,
        offices_reported: report.offices_reported,
        at: datetime_fr(report.at),
        head: report.audit_head.as_ref().map_or_else(String::new, head_fr),
        chart: chart::compliance_svg(&days),
        columns: vec![
            column("crpcen", "CRPCEN", false),
            column("name", "Étude", false),
            column("mailboxes", "Boîtes", true),
            column("compliance", "Conformité", true),
            column("late", "En défaut depuis", false),
        ],
        state_columns: ComplianceState::ALL.iter().map(|s| state_fr(*s)).collect(),
        rows,
        paging,
        query: filters.query(),
        states: ComplianceState::ALL
            .iter()
            .map(|s| StateOption {
                key: s.as_str(),
                label: state_fr(*s),
                selected: filters.state == s.as_str(),
            })
            .collect(),
        filters,
    };
    render(&page)
}
