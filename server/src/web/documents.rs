//! The dashboard's downloads, rendered by `sesame_documents` (the same code as sesamectl's): the
//! compliance report (CSV, PDF), the letters (PDF), the export for the mail administrator (CSV)
//! and the audit trail (CSV). This module converts the services' types into the documents'
//! inputs. A report's signed audit head is in its PDF's text and, for both formats, in the file's
//! name and the `Sesame-Audit-Head` header of the answer.

use sesame_documents::audit_csv::{self, AuditLine};
use sesame_documents::letters::{LetterOffice, Printing};
use sesame_documents::report::{MailboxLine, OfficeLine, Rule, State, StateCount};
use sesame_documents::{
    ComplianceReportDoc, HeadStamp, Letter, export, letters, report_csv, report_pdf,
};

use crate::domain::audit::{AuditRecord, SignedHead};
use crate::domain::compliance::{
    CompliancePolicy, ComplianceState, MailboxStanding, OfficeCounts, StateCounts,
};
use crate::domain::office::Office;
use crate::services::compliance::ComplianceReport;
use crate::services::rotations::Disclosed;

/// A compliance state as the documents name it.
pub(crate) fn state(state: ComplianceState) -> State {
    match state {
        ComplianceState::Compliant => State::Compliant,
        ComplianceState::DueSoon => State::DueSoon,
        ComplianceState::Overdue => State::Overdue,
        ComplianceState::ProvisionalPending => State::ProvisionalPending,
        ComplianceState::ProvisionalExpired => State::ProvisionalExpired,
        ComplianceState::ChangeFailed(_) => State::ChangeFailed,
        ComplianceState::AgentOffline => State::AgentOffline,
        ComplianceState::NeverEnrolled => State::NeverEnrolled,
    }
}

/// The stamp of a signed head.
pub(crate) fn head(head: &SignedHead) -> HeadStamp {
    HeadStamp {
        seq: head.seq,
        hash: head.hash_hex(),
        signed_at: head.signed_at,
        key_id: head.key_id.clone(),
        signature: head.signature_base64(),
    }
}

fn counts(counts: &StateCounts) -> Vec<StateCount> {
    ComplianceState::ALL
        .iter()
        .map(|s| StateCount { state: state(*s), mailboxes: counts.get(*s) })
        .filter(|c| c.mailboxes > 0)
        .collect()
}

fn mailbox(standing: &MailboxStanding) -> MailboxLine {
    MailboxLine {
        address: standing.address.as_str().to_owned(),
        display_name: standing.display_name.clone(),
        state: state(standing.state),
        reason: standing.state.reason().map(|r| r.as_str().to_owned()).unwrap_or_default(),
        since: Some(standing.since),
        non_compliant_since: standing.non_compliant_since,
        last_verified_change_at: standing.last_verified_at,
    }
}

fn office(office: &OfficeCounts, mailboxes: &[MailboxStanding]) -> OfficeLine {
    OfficeLine {
        crpcen: office.crpcen.as_str().to_owned(),
        name: office.name.clone(),
        mailboxes: office.counts.total(),
        compliant: office.counts.compliant(),
        counts: counts(&office.counts),
        oldest_verified_change_at: office.oldest_verified_change,
        never_changed: office.never_changed,
        late_since: office.late_since,
        mailbox_states: mailboxes.iter().map(mailbox).collect(),
    }
}

/// A report as the documents take it.
pub(crate) fn report(report: &ComplianceReport) -> ComplianceReportDoc {
    ComplianceReportDoc {
        at: report.at,
        generated_at: Some(report.generated_at),
        mailboxes: report.fleet.total(),
        compliant: report.fleet.compliant(),
        counts: counts(&report.fleet),
        offices_compliant: report.offices_compliant,
        offices_reported: report.offices_reported,
        oldest_verified_change_at: report.oldest_verified_change,
        offices: report.offices.iter().map(|(o, m)| office(o, m)).collect(),
        head: report.audit_head.as_ref().map(head),
    }
}

/// The report as CSV: one line per mailbox when it lists them, else per office.
pub(crate) fn report_csv(report: &ComplianceReport, mailboxes: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(error) = report_csv::write(&mut out, &self::report(report), mailboxes) {
        tracing::error!(%error, "dashboard: cannot write a report");
    }
    out
}

/// The report as PDF, stating `policy` and made by the server `server`.
pub(crate) fn report_pdf(
    report: &ComplianceReport,
    policy: CompliancePolicy,
    server: &str,
) -> Vec<u8> {
    let rule = Rule {
        due_soon_days: u32::try_from(policy.due_soon_days).unwrap_or(0),
        limit_days: u32::try_from(policy.limit_days).unwrap_or(0),
        offline_days: u32::try_from(policy.offline_days).unwrap_or(0),
    };
    report_pdf::render(&self::report(report), &rule, server)
}

fn letters_of(disclosed: &Disclosed) -> Vec<Letter> {
    disclosed
        .passwords
        .iter()
        .map(|(rotation, password)| Letter {
            address: rotation.address.as_str().to_owned(),
            display_name: rotation.display_name.clone(),
            first_name: rotation.address.first_name().to_owned(),
            last_name: rotation.address.last_name().to_owned(),
            password: password.clone(),
            expires_at: rotation.expires_at,
        })
        .collect()
}

/// The letters of an office's open rotations, headed by its name and city, printed `printing`
/// (the server's clock, in the server's time zone).
pub(crate) fn letters(office: &Office, disclosed: &Disclosed, printing: Printing<'_>) -> Vec<u8> {
    let heading = LetterOffice {
        crpcen: office.crpcen.as_str().to_owned(),
        name: office.name.clone(),
        city: office.city.clone().unwrap_or_default(),
    };
    letters::render(&heading, &letters_of(disclosed), &disclosed.policy.rule, printing)
}

/// The export for the mail administrator.
pub(crate) fn export_csv(disclosed: &Disclosed) -> Vec<u8> {
    match export::csv(&letters_of(disclosed)) {
        Ok(text) => text.into_bytes(),
        Err(error) => {
            tracing::error!(%error, "dashboard: cannot write an export");
            Vec::new()
        }
    }
}

/// Audit records as CSV.
pub(crate) fn audit_csv(records: &[AuditRecord]) -> Vec<u8> {
    let lines: Vec<AuditLine> = records
        .iter()
        .map(|r| AuditLine {
            seq: r.seq,
            at: r.at,
            actor: r.actor.clone(),
            action: r.action.clone(),
            office: r.office.clone().unwrap_or_default(),
            target: r.target.clone(),
            details: r.details.clone(),
            hash: hex::encode(r.hash),
        })
        .collect();
    let mut out = Vec::new();
    if let Err(error) = audit_csv::write(&mut out, &lines) {
        tracing::error!(%error, "dashboard: cannot write the audit trail");
    }
    out
}
