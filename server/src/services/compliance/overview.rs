//! The fleet overview, the dashboard's first page: every office the administrator may read (name,
//! city) and the compliance report now with a line per office. It is the dashboard's busiest and
//! costliest read (two queries over every office and mailbox), so it is kept per scope (the
//! fleet, or an office administrator's offices) for at most `OVERVIEW_TTL`, and dropped by every
//! change this server makes or hears (`Caches::apply`), like the other caches; a report at a date,
//! an office's page and every export are always read afresh.

use std::sync::Arc;

use super::{ComplianceReport, ReportDetail};
use crate::domain::admin::Admin;
use crate::domain::office::{Crpcen, Office};
use crate::services::{Error, Services};

/// The offices an administrator may read and the report of their compliance now.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The offices, by CRPCEN.
    pub offices: Vec<Office>,
    /// The report, one line per office with mailboxes.
    pub report: ComplianceReport,
}

impl Services {
    /// The overview for `admin`, authorized as `list_offices` and `compliance_report` are (the
    /// offices it may read), from the cache when a fresh one is kept for its scope.
    pub async fn compliance_overview(&self, admin: &Admin) -> Result<Arc<Overview>, Error> {
        let key = match admin.read_scope() {
            None => "*".to_owned(),
            Some(offices) => offices.iter().map(Crpcen::as_str).collect::<Vec<_>>().join(","),
        };
        let caches = &self.caches;
        let live = caches.live();
        let now = self.clock.now();
        if live && let Some(kept) = caches.overviews.get(&key, now) {
            return Ok(kept);
        }
        let ticket = caches.overviews.ticket();
        let offices = self.list_offices(admin).await?;
        let report = self.compliance_report(admin, None, None, ReportDetail::Offices).await?;
        let overview = Arc::new(Overview { offices, report });
        if live {
            caches.overviews.insert(key, overview.clone(), now, ticket);
        }
        Ok(overview)
    }
}
