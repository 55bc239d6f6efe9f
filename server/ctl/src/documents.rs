//! The server's answers as the documents take them: `sesame_documents` renders the letters, the
//! export for Exchange, the compliance report and the audit trail from plain inputs (the same
//! functions the server's dashboard calls); this module converts the contract's types into them.

use secrecy::SecretString;
use sesame_base::password_rule::PasswordRule;
use sesame_documents::audit_csv::AuditLine;
use sesame_documents::letters::LetterOffice;
use sesame_documents::report::{MailboxLine, OfficeLine, Rule, State, StateCount};
use sesame_documents::{ComplianceReportDoc, HeadStamp, Letter};
use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// A time the server sent (RFC 3339).
fn time(field: &str, value: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| Error::Response(format!("{field}: {value:?} is not an RFC 3339 time")))
}

/// A time the server may leave empty.
fn optional_time(field: &str, value: &str) -> Result<Option<OffsetDateTime>, Error> {
    match value {
        "" => Ok(None),
        value => time(field, value).map(Some),
    }
}

/// The disclosed passwords, as letters (or the export) take them.
pub(crate) fn letters(passwords: &[pb::ProvisionalPassword]) -> Result<Vec<Letter>, Error> {
    passwords
        .iter()
        .map(|p| {
            Ok(Letter {
                address: p.mailbox.clone(),
                display_name: p.display_name.clone(),
                first_name: p.first_name.clone(),
                last_name: p.last_name.clone(),
                password: SecretString::from(p.provisional_password.as_str()),
                expires_at: time("expires_at", &p.expires_at)?,
            })
        })
        .collect()
}

/// The office as its letters name it; `crpcen` as asked when the server leaves it out.
pub(crate) fn letter_office(crpcen: &str, office: &pb::Office) -> LetterOffice {
    LetterOffice {
        crpcen: if office.crpcen.is_empty() { crpcen.to_owned() } else { office.crpcen.clone() },
        name: office.name.clone(),
        city: office.city.clone(),
    }
}

/// The rule a personal password follows, as the letters state it.
pub(crate) fn password_rule(policy: &pb::PasswordPolicy) -> PasswordRule {
    PasswordRule {
        min_length: policy.min_length,
        require_lower: policy.require_lower,
        require_upper: policy.require_upper,
        require_digit: policy.require_digit,
        require_special: policy.require_special,
    }
}

/// A state from the contract; `Unknown` for one this version does not know.
pub(crate) fn state(state: i32) -> State {
    use pb::ComplianceState as S;
    match S::try_from(state) {
        Ok(S::Compliant) => State::Compliant,
        Ok(S::DueSoon) => State::DueSoon,
        Ok(S::Overdue) => State::Overdue,
        Ok(S::ProvisionalPending) => State::ProvisionalPending,
        Ok(S::ProvisionalExpired) => State::ProvisionalExpired,
        Ok(S::ChangeFailed) => State::ChangeFailed,
        Ok(S::AgentOffline) => State::AgentOffline,
        Ok(S::NeverEnrolled) => State::NeverEnrolled,
        _ => State::Unknown,
    }
}

fn counts(counts: &[pb::ComplianceCount]) -> Vec<StateCount> {
    counts.iter().map(|c| StateCount { state: state(c.state), mailboxes: c.mailboxes }).collect()
}

fn mailbox_line(m: &pb::MailboxCompliance) -> Result<MailboxLine, Error> {
    Ok(MailboxLine {
        address: m.address.clone(),
        display_name: m.display_name.clone(),
        state: state(m.state),
        reason: m.reason.clone(),
        since: optional_time("since", &m.since)?,
        non_compliant_since: optional_time("non_compliant_since", &m.non_compliant_since)?,
        last_verified_change_at: optional_time(
            "last_verified_change_at",
            &m.last_verified_change_at,
        )?,
    })
}

/// The offices of a report (or of one of its pages).
pub(crate) fn office_lines(offices: &[pb::OfficeCompliance]) -> Result<Vec<OfficeLine>, Error> {
    offices
        .iter()
        .map(|o| {
            Ok(OfficeLine {
                crpcen: o.crpcen.clone(),
                name: o.name.clone(),
                mailboxes: o.mailboxes,
                compliant: o.compliant,
                counts: counts(&o.counts),
                oldest_verified_change_at: optional_time(
                    "oldest_verified_change_at",
                    &o.oldest_verified_change_at,
                )?,
                never_changed: o.never_changed,
                late_since: optional_time("late_since", &o.late_since)?,
                mailbox_states: o
                    .mailbox_states
                    .iter()
                    .map(mailbox_line)
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// A whole report (its pages put together).
pub(crate) fn report(
    report: &pb::GetComplianceReportResponse,
) -> Result<ComplianceReportDoc, Error> {
    let head = if report.audit_head_seq == 0 && report.audit_head_hash.is_empty() {
        None
    } else {
        Some(HeadStamp {
            seq: report.audit_head_seq,
            hash: report.audit_head_hash.clone(),
            signed_at: time("audit_head_signed_at", &report.audit_head_signed_at)?,
            key_id: report.audit_head_key_id.clone(),
            signature: report.audit_head_signature.clone(),
        })
    };
    Ok(ComplianceReportDoc {
        at: time("at", &report.at)?,
        generated_at: optional_time("generated_at", &report.generated_at)?,
        mailboxes: report.mailboxes,
        compliant: report.compliant,
        counts: counts(&report.counts),
        offices_compliant: report.offices_compliant,
        offices_reported: report.offices_reported,
        oldest_verified_change_at: optional_time(
            "oldest_verified_change_at",
            &report.oldest_verified_change_at,
        )?,
        offices: office_lines(&report.offices)?,
        head,
    })
}

/// The compliance rule a report states.
pub(crate) fn compliance_rule(policy: &pb::GetCompliancePolicyResponse) -> Rule {
    let rule = policy.effective.unwrap_or_default();
    Rule {
        due_soon_days: rule.due_soon_days,
        limit_days: rule.limit_days,
        offline_days: rule.offline_days,
    }
}

/// Audit records, as the trail's CSV lists them.
pub(crate) fn audit_lines(records: &[pb::AuditRecord]) -> Result<Vec<AuditLine>, Error> {
    records
        .iter()
        .map(|r| {
            Ok(AuditLine {
                seq: r.seq,
                at: time("at", &r.at)?,
                actor: r.actor.clone(),
                action: r.action.clone(),
                office: r.office.clone(),
                target: r.target.clone(),
                details: r.details.clone(),
                hash: r.hash.clone(),
            })
        })
        .collect()
}
