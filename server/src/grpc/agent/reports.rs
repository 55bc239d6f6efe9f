//! `ReportSteps` on the wire: the request checked and turned into domain [`StepReport`]s, with the
//! local account that acted (every error names the field and the report's index, and nothing is
//! recorded then), and the outcomes turned back.

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::account::LocalAccount;
use crate::domain::identifier::{ReportId, RotationId};
use crate::domain::rotation::{
    FailureReason, KeyEvidence, MAX_DETAIL_LEN, MAX_REPORTS, ReportOutcome, Step, StepReport,
};
use crate::services::Error;

/// Checks a whole request: 1 to [`MAX_REPORTS`] reports, each well-formed.
pub(in crate::grpc) fn parse_reports(
    request: pb::ReportStepsRequest,
) -> Result<Vec<StepReport>, Error> {
    if request.reports.is_empty() || request.reports.len() > MAX_REPORTS {
        return Err(Error::invalid(format!("reports: expected 1 to {MAX_REPORTS} reports")));
    }
    request.reports.into_iter().enumerate().map(|(i, report)| parse_report(i, report)).collect()
}

fn parse_report(i: usize, report: pb::StepReport) -> Result<StepReport, Error> {
    let field = |name: &str| format!("reports[{i}].{name}");
    let invalid = |name: &str, why: &str| Error::invalid(format!("{}: {why}", field(name)));
    let step = match pb::RotationStep::try_from(report.step) {
        Ok(pb::RotationStep::Pending) => Step::Pending,
        Ok(pb::RotationStep::Started) => Step::Started,
        Ok(pb::RotationStep::Changed) => Step::Changed,
        Ok(pb::RotationStep::Verified) => Step::Verified,
        Ok(pb::RotationStep::Completed) => Step::Completed,
        Ok(pb::RotationStep::Failed) => Step::Failed(failure(report.failure).ok_or_else(|| {
            invalid("failure", "expected a known failure reason on a failed step")
        })?),
        _ => return Err(invalid("step", "expected a known step")),
    };
    if report.failure != 0 && pb::FailureReason::try_from(report.failure).is_err() {
        return Err(invalid("failure", "expected a known failure reason"));
    }
    let key_evidence = match report.key_evidence {
        Some(evidence) => Some(
            parse_evidence(evidence)
                .map_err(|why| Error::invalid(format!("{}.{why}", field("key_evidence"))))?,
        ),
        None if step == Step::Started => {
            return Err(invalid("key_evidence", "required on a started step"));
        }
        None => None,
    };
    let local_account = match report.local_account {
        Some(account) => Some(
            LocalAccount::parse(
                "local_account.id",
                &account.id,
                "local_account.detail",
                &account.detail,
            )
            .map_err(|e| invalid(e.field, e.reason))?,
        ),
        None => None,
    };
    Ok(StepReport {
        report_id: ReportId::parse("report_id", &report.report_id)
            .map_err(|e| invalid(e.field, e.reason))?,
        rotation_id: RotationId::parse("rotation_id", &report.rotation_id)
            .map_err(|e| invalid(e.field, e.reason))?,
        step,
        occurred_at: time(&report.occurred_at).map_err(|why| invalid("occurred_at", why))?,
        key_evidence,
        detail: detail(&report.detail).map_err(|why| invalid("detail", why))?,
        local_account,
    })
}

fn failure(value: i32) -> Option<FailureReason> {
    Some(match pb::FailureReason::try_from(value).ok()? {
        pb::FailureReason::Unspecified => return None,
        pb::FailureReason::KeyPresent => FailureReason::KeyPresent,
        pb::FailureReason::NewPasswordRefused => FailureReason::NewPasswordRefused,
        pb::FailureReason::CurrentPasswordRefused => FailureReason::CurrentPasswordRefused,
        pb::FailureReason::OwaUnreachable => FailureReason::OwaUnreachable,
        pb::FailureReason::OwaUntrusted => FailureReason::OwaUntrusted,
        pb::FailureReason::OwaUnexpected => FailureReason::OwaUnexpected,
        pb::FailureReason::LogonNameMissing => FailureReason::LogonNameMissing,
        pb::FailureReason::NeedsHuman => FailureReason::NeedsHuman,
        pb::FailureReason::LocalStorage => FailureReason::LocalStorage,
        pb::FailureReason::Cancelled => FailureReason::Cancelled,
    })
}

fn parse_evidence(evidence: pb::KeyEvidence) -> Result<KeyEvidence, String> {
    let at = time(&evidence.observed_at).map_err(|why| format!("observed_at: {why}"))?;
    let detail = detail(&evidence.detail).map_err(|why| format!("detail: {why}"))?;
    match pb::key_evidence::Kind::try_from(evidence.kind) {
        Ok(pb::key_evidence::Kind::ObservedAbsent) => Ok(KeyEvidence::ObservedAbsent { at }),
        Ok(pb::key_evidence::Kind::PersonConfirmed) => {
            Ok(KeyEvidence::PersonConfirmed { at, detail })
        }
        _ => Err("kind: expected observed_absent or person_confirmed".to_owned()),
    }
}

/// Plain words: at most 500 characters, no control character.
fn detail(value: &str) -> Result<String, &'static str> {
    if value.chars().count() > MAX_DETAIL_LEN {
        return Err("at most 500 characters");
    }
    if value.chars().any(char::is_control) {
        return Err("no control characters");
    }
    Ok(value.to_owned())
}

/// An RFC 3339 time, kept in UTC: one past year 9999 in UTC (`9999-12-31T23:59:59-01:00`) is
/// refused, since no store nor page could read it back.
fn time(value: &str) -> Result<OffsetDateTime, &'static str> {
    if value.len() > 64 {
        return Err("expected an RFC 3339 time");
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| "expected an RFC 3339 time")?
        .checked_to_offset(time::UtcOffset::UTC)
        .ok_or("after year 9999 in UTC")
}

/// One result per report, in order.
pub(super) fn results_to_pb(
    reports: &[StepReport],
    outcomes: Vec<ReportOutcome>,
) -> pb::ReportStepsResponse {
    use pb::report_result::Outcome;
    let results = reports
        .iter()
        .zip(outcomes)
        .map(|(report, outcome)| {
            let (outcome, reason) = match outcome {
                ReportOutcome::Recorded => (Outcome::Recorded, String::new()),
                ReportOutcome::Duplicate => (Outcome::Duplicate, String::new()),
                ReportOutcome::Rejected(reason) => (Outcome::Rejected, reason),
            };
            pb::ReportResult {
                report_id: report.report_id.clone().to_string(),
                outcome: outcome.into(),
                reason,
            }
        })
        .collect();
    pb::ReportStepsResponse { results }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: pb::RotationStep) -> pb::StepReport {
        pb::StepReport {
            report_id: "r-1".into(),
            rotation_id: "rot-0011223344556677".into(),
            step: step.into(),
            occurred_at: "2026-11-25T09:30:00Z".into(),
            failure: 0,
            key_evidence: None,
            detail: String::new(),
            local_account: None,
        }
    }

    fn error(reports: Vec<pb::StepReport>) -> String {
        match parse_reports(pb::ReportStepsRequest { reports }) {
            Err(Error::InvalidArgument(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_reports_name_their_field_and_index() {
        assert!(error(vec![]).starts_with("reports:"));
        assert!(error(vec![report(pb::RotationStep::Pending); 101]).starts_with("reports:"));
        let mut bad = report(pb::RotationStep::Changed);
        bad.report_id = "x".repeat(65);
        assert!(
            error(vec![report(pb::RotationStep::Pending), bad]).starts_with("reports[1].report_id")
        );
        let mut bad = report(pb::RotationStep::Changed);
        bad.detail = "a\nb".into();
        assert!(error(vec![bad]).starts_with("reports[0].detail"));
        let mut bad = report(pb::RotationStep::Changed);
        bad.occurred_at = "yesterday".into();
        assert!(error(vec![bad]).starts_with("reports[0].occurred_at"));
        // Found by fuzzing (`grpc::fuzz`): past year 9999 once in UTC, refused rather than kept.
        let mut bad = report(pb::RotationStep::Changed);
        bad.occurred_at = "9999-12-31T23:59:59.000000000-18:08".into();
        assert_eq!(error(vec![bad]), "reports[0].occurred_at: after year 9999 in UTC");
        assert!(
            error(vec![report(pb::RotationStep::Started)]).starts_with("reports[0].key_evidence")
        );
        assert!(error(vec![report(pb::RotationStep::Failed)]).starts_with("reports[0].failure"));
        let mut bad = report(pb::RotationStep::Changed);
        bad.local_account = Some(pb::LocalAccount { id: String::new(), detail: String::new() });
        assert!(error(vec![bad]).starts_with("reports[0].local_account.id"));
        let mut bad = report(pb::RotationStep::Changed);
        bad.local_account = Some(pb::LocalAccount { id: "jdupont".into(), detail: "\0".into() });
        assert!(error(vec![bad]).starts_with("reports[0].local_account.detail"));
        let mut bad = report(pb::RotationStep::Changed);
        bad.step = 42;
        assert!(error(vec![bad]).starts_with("reports[0].step"));
        let mut ok = report(pb::RotationStep::Started);
        ok.key_evidence = Some(pb::KeyEvidence {
            kind: pb::key_evidence::Kind::PersonConfirmed.into(),
            observed_at: "2026-11-25T09:29:00Z".into(),
            detail: "pas d'accès USB".into(),
        });
        let parsed = parse_reports(pb::ReportStepsRequest { reports: vec![ok] }).unwrap();
        assert_eq!(parsed[0].key_evidence.as_ref().unwrap().kind(), "person_confirmed");
    }

    #[test]
    fn report_times_are_kept_in_utc() {
        let mut paris = report(pb::RotationStep::Changed);
        paris.occurred_at = "2026-11-25T10:30:00+01:00".into();
        let parsed = parse_reports(pb::ReportStepsRequest { reports: vec![paris] }).unwrap();
        assert_eq!(parsed[0].occurred_at, time::macros::datetime!(2026-11-25 09:30 UTC));
        assert!(parsed[0].occurred_at.offset().is_utc());
    }
}
