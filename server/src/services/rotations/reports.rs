//! What agents report about their rotations (recorded once each, audited; a verified change
//! closes its rotation and destroys the escrow), and a mailbox's history as administrators read
//! it. The rules are `domain::rotation::transition`; the store applies them in one transaction
//! per report.

use crate::domain::admin::{Admin, Permission};
use crate::domain::office::{Mailbox, MailboxAddress};
use crate::domain::rotation::{MailboxHistory, ReportOutcome, Step, StepReport};
use crate::domain::workstation::Workstation;
use crate::services::access::authorize;
use crate::services::{Error, Services, failpoint};
use crate::store::Change;

impl Services {
    /// Records an authenticated workstation's step reports, in order; one outcome per report.
    pub async fn report_steps(
        &self,
        workstation: &Workstation,
        reports: &[StepReport],
    ) -> Result<Vec<ReportOutcome>, Error> {
        let outcomes =
            self.store.record_reports(&workstation.id, reports, self.clock.now()).await?;
        let recorded = |step: Step| {
            reports
                .iter()
                .zip(&outcomes)
                .any(|(r, o)| r.step == step && matches!(o, ReportOutcome::Recorded))
        };
        if recorded(Step::Verified) {
            failpoint("report:confirmed")?;
        }
        failpoint("report:committed")?;
        if outcomes.iter().any(|o| matches!(o, ReportOutcome::Recorded)) {
            // A rotation may have closed, a mailbox's last verified change moved.
            self.changed(Change::Rotations(workstation.office.clone())).await;
        }
        for (report, outcome) in reports.iter().zip(&outcomes) {
            match outcome {
                ReportOutcome::Recorded => {
                    tracing::info!(workstation = %workstation.id, rotation = %report.rotation_id, step = report.step.as_str(), "step recorded")
                }
                ReportOutcome::Duplicate => {}
                ReportOutcome::Rejected(reason) => {
                    tracing::info!(workstation = %workstation.id, rotation = %report.rotation_id, step = report.step.as_str(), %reason, "step rejected")
                }
            }
        }
        Ok(outcomes)
    }

    /// One mailbox and its history, for whoever may read its office.
    pub async fn mailbox_detail(
        &self,
        admin: &Admin,
        address: &MailboxAddress,
    ) -> Result<(Mailbox, MailboxHistory), Error> {
        authorize(admin, Permission::Read(Some(address.office())))?;
        let mailbox = self.existing_mailbox(address).await?;
        let history = self.store.mailbox_history(mailbox.id).await?;
        Ok((mailbox, history))
    }
}
