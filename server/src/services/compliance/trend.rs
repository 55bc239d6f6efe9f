//! The compliance trend for the dashboard's chart: how many mailboxes complied at the end of each
//! of the last days, of one office or of every office the administrator may read, from the
//! compliance history in one query (`store::ComplianceTrendStore`), not one report per day.

use crate::domain::admin::{Admin, Permission};
use crate::domain::compliance::{MAX_TREND_POINTS, TrendPoint, trend_times};
use crate::domain::office::Crpcen;
use crate::services::access::authorize;
use crate::services::{Error, Services};

impl Services {
    /// One point per day for the last `points` days (1 to [`MAX_TREND_POINTS`]), oldest first:
    /// the counts at the end of each past day and, for today, now; of one office (its readers) or
    /// of every office the administrator may read, authorized as compliance reports are. Kept for
    /// a few minutes per scope (`Caches::trends`): the last point may be that old.
    pub async fn compliance_trend(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        points: u32,
    ) -> Result<Vec<TrendPoint>, Error> {
        // Without an office: every office the administrator may read (`read_scope` below).
        if let Some(office) = office {
            authorize(admin, Permission::Read(Some(office)))?;
            self.known_office(office).await?;
        }
        if points == 0 || points > MAX_TREND_POINTS {
            return Err(Error::invalid(format!(
                "points: from 1 to {MAX_TREND_POINTS} days, not {points}"
            )));
        }
        let now = self.clock.now();
        let offices: Option<Vec<Crpcen>> = match office {
            Some(office) => Some(vec![office.clone()]),
            None => admin.read_scope().map(<[Crpcen]>::to_vec),
        };
        let key = match &offices {
            None => format!("{points}:*"),
            Some(offices) => {
                let names: Vec<&str> = offices.iter().map(Crpcen::as_str).collect();
                format!("{points}:{}", names.join(","))
            }
        };
        let caches = &self.caches;
        if caches.enabled()
            && let Some(kept) = caches.trends.get(&key, now)
        {
            return Ok(kept.as_ref().clone());
        }
        let ticket = caches.trends.ticket();
        // The history complete up to now, as for a report.
        self.settle_check_ins().await?;
        self.sweep_compliance_until_done(now).await?;
        let times = trend_times(now, points);
        let counts = self.store.compliance_trend(offices.as_deref(), &times).await?;
        let trend: Vec<TrendPoint> = times
            .into_iter()
            .zip(counts)
            .map(|(at, (compliant, total))| TrendPoint { at, compliant, total })
            .collect();
        if caches.enabled() {
            caches.trends.insert(key, std::sync::Arc::new(trend.clone()), now, ticket);
        }
        Ok(trend)
    }
}
