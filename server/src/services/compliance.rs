//! Compliance for administrators and auditors: the policy (shown, set per office or globally) and
//! the reports, now or at a past date (a page at a time: `pages`), the trend over the last days
//! (`trend`); and the sweep that records deadlines as they pass. The rule itself is
//! `domain::compliance`; the store keeps every mailbox's standing and history.

mod overview;
mod pages;
mod trend;

pub use self::overview::Overview;
pub use self::pages::{ReportPage, ReportPageRequest};

use time::OffsetDateTime;

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::{Actor, SignedHead};
use crate::domain::compliance::{
    CompliancePolicy, MailboxStanding, OfficeCounts, StateCounts, earliest,
};
use crate::domain::office::Crpcen;
use crate::domain::page;
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store::{self, Change, PolicyScope};

/// The compliance policy as it applies to one office (or globally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// What applies.
    pub effective: CompliancePolicy,
    /// Where it comes from: "office", "global" or "default" (the server's configuration).
    pub source: &'static str,
    /// The global policy an administrator set, if any.
    pub global: Option<CompliancePolicy>,
    /// The office's own, when an office was asked and it has one.
    pub office: Option<CompliancePolicy>,
}

/// A compliance report: each office's counts (and, when asked, each mailbox's standing), and the
/// fleet's totals, at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceReport {
    /// The time the report describes.
    pub at: OffsetDateTime,
    /// When it was made.
    pub generated_at: OffsetDateTime,
    /// Each office, by CRPCEN, with its mailboxes when asked (none for a summary).
    pub offices: Vec<(OfficeCounts, Vec<MailboxStanding>)>,
    /// How many offices the report covers (with at least one mailbox).
    pub offices_reported: u64,
    /// The totals over the offices reported.
    pub fleet: StateCounts,
    /// How many of the offices reported have every mailbox compliant.
    pub offices_compliant: u64,
    /// The oldest verified change over the offices reported.
    pub oldest_verified_change: Option<OffsetDateTime>,
    /// The audit chain's head when the report was made, signed with the server's audit key:
    /// it ties the report to the audit log (`None` while the log is empty).
    pub audit_head: Option<SignedHead>,
}

/// How much a report says beyond the fleet's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDetail {
    /// The totals only (the fastest: no per-office rows).
    Summary,
    /// Each office's counts.
    Offices,
    /// Each office's counts and each mailbox's standing.
    Mailboxes,
}

impl Services {
    /// The compliance policy for an office (its readers) or the global one (anyone).
    pub async fn compliance_policy(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
    ) -> Result<PolicyView, Error> {
        if let Some(office) = office {
            authorize(admin, Permission::Read(Some(office)))?;
            self.known_office(office).await?;
        }
        let policies = self.store.compliance_policies().await?;
        let own = office.and_then(|o| policies.offices.get(o.as_str()).copied());
        let source = match (own, policies.global, policies.default) {
            (Some(_), _, _) => "office",
            (None, Some(_), _) => "global",
            _ => "default",
        };
        Ok(PolicyView {
            effective: policies.effective(office.map_or("", Crpcen::as_str)),
            source,
            global: policies.global,
            office: own,
        })
    }

    /// Sets the global policy (global administrators) or an office's own (its administrators);
    /// `None` removes it (an office then follows the global policy, the global one the
    /// configuration's default). Every mailbox governed is reassessed at once.
    pub async fn set_compliance_policy(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        policy: Option<CompliancePolicy>,
    ) -> Result<PolicyView, Error> {
        match office {
            Some(office) => authorize(admin, Permission::Write(office))?,
            None => authorize(admin, Permission::Global)?,
        }
        let policy = policy
            .map(CompliancePolicy::validate)
            .transpose()
            .map_err(|e| Error::invalid(e.to_string()))?;
        let scope = office.map_or(PolicyScope::Global, PolicyScope::Office);
        let actor = Actor::admin(admin);
        match self.store.set_compliance_policy(scope, policy, &actor, self.clock.now()).await {
            Ok(_) => self.changed(Change::AllRotations).await,
            Err(store::Error::NotFound) => return Err(Error::office_not_found(office)),
            Err(other) => return Err(other.into()),
        }
        self.compliance_policy(admin, office).await
    }

    /// Applies the configuration's rotation period as the default policy (under any global or
    /// office policy an administrator set); at start-up. Changing it reassesses every mailbox.
    pub async fn apply_default_compliance_policy(&self) -> Result<(), store::Error> {
        let policy = CompliancePolicy::with_limit(self.rotation_period);
        self.store
            .set_compliance_policy(
                PolicyScope::Default,
                Some(policy),
                &Actor::system(),
                self.clock.now(),
            )
            .await?;
        self.changed(Change::AllRotations).await;
        Ok(())
    }

    /// The compliance report of one office or of every office the administrator may read, now
    /// (`at` = `None`) or at a past date, with each mailbox's standing when `detail` asks for it
    /// (always for one office). INVALID_ARGUMENT for a date in the future.
    pub async fn compliance_report(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        at: Option<OffsetDateTime>,
        detail: ReportDetail,
    ) -> Result<ComplianceReport, Error> {
        let mailboxes = detail == ReportDetail::Mailboxes;
        // Without an office: every office the administrator may read (`read_scope` below).
        if let Some(office) = office {
            authorize(admin, Permission::Read(Some(office)))?;
            self.known_office(office).await?;
        }
        let now = self.clock.now();
        if let Some(at) = at.filter(|at| *at > now) {
            return Err(Error::invalid(format!(
                "at: {} is later than the server's time ({}): a report describes the past or \
                 now; leave `at` empty for now",
                stamp(at),
                stamp(now)
            )));
        }
        // The check-ins answered so far are written, and deadlines passed since the last sweep
        // are recorded, at their own time, so that the history is complete up to now, past dates
        // included.
        self.settle_check_ins().await?;
        self.sweep_compliance_until_done(now).await?;
        let at = at.filter(|at| *at < now);
        let audit_head = match self.sign_audit_head(now).await {
            Ok(head) => Some(head),
            Err(Error::FailedPrecondition(_)) => None,
            Err(other) => return Err(other),
        };
        if detail == ReportDetail::Summary && office.is_none() && admin.read_scope().is_none() {
            let summary = self.store.compliance_summary(at).await?;
            return Ok(ComplianceReport {
                at: at.unwrap_or(now),
                generated_at: now,
                offices: Vec::new(),
                fleet: summary.counts,
                offices_reported: summary.offices,
                offices_compliant: summary.offices_compliant,
                oldest_verified_change: summary.oldest_verified_change,
                audit_head,
            });
        }
        let mut counts = self.store.compliance_counts(office, at).await?;
        if let Some(scope) = admin.read_scope() {
            counts.retain(|o| scope.contains(&o.crpcen));
        }
        let listing = detail != ReportDetail::Summary && (mailboxes || office.is_some());
        let lines: u64 = counts.iter().map(|o| o.counts.total()).sum();
        if listing && lines > u64::from(page::MAX_PAGE) {
            return Err(Error::FailedPrecondition(format!(
                "the report lists {lines} mailboxes, more than {} in one answer: ask for it a \
                 page at a time (page_size; sesamectl does)",
                page::MAX_PAGE
            )));
        }
        let mut report = ComplianceReport {
            at: at.unwrap_or(now),
            generated_at: now,
            offices: Vec::with_capacity(counts.len()),
            fleet: StateCounts::default(),
            offices_compliant: 0,
            oldest_verified_change: None,
            offices_reported: counts.len() as u64,
            audit_head,
        };
        for office_counts in counts {
            report.fleet.add_all(&office_counts.counts);
            if office_counts.counts.compliant() == office_counts.counts.total() {
                report.offices_compliant += 1;
            }
            report.oldest_verified_change =
                earliest(report.oldest_verified_change, office_counts.oldest_verified_change);
            let standings = if detail != ReportDetail::Summary && (mailboxes || office.is_some()) {
                self.store.compliance_mailboxes(&office_counts.crpcen, at).await?
            } else {
                Vec::new()
            };
            if detail != ReportDetail::Summary {
                report.offices.push((office_counts, standings));
            }
        }
        Ok(report)
    }

    /// Records every deadline passed by `now`, batch after batch.
    async fn sweep_compliance_until_done(&self, now: OffsetDateTime) -> Result<(), store::Error> {
        while self.store.sweep_compliance(now).await? > 0 {}
        Ok(())
    }

    /// One sweep of passed deadlines, for the server's sweeper; failures are logged (the next
    /// sweep tries again).
    pub async fn sweep_compliance(&self) {
        if let Err(error) = self.sweep_compliance_until_done(self.clock.now()).await {
            tracing::warn!(error = %sesame_base::error_chain::chain(&error), "cannot sweep compliance");
        }
    }

    async fn known_office(&self, office: &Crpcen) -> Result<(), Error> {
        match self.store.get_office(office).await {
            Ok(_) => Ok(()),
            Err(store::Error::NotFound) => Err(Error::office_not_found(Some(office))),
            Err(other) => Err(other.into()),
        }
    }
}

/// A time as the messages show it (RFC 3339, UTC).
fn stamp(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests;
