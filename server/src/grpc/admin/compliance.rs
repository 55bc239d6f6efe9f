//! The AdminService RPCs about compliance: the policy (get, set) and the report. Authenticate,
//! parse, call `services::compliance`, convert back.

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::{Request, Response, Status};

use crate::domain::compliance::{
    CompliancePolicy, ComplianceState, MailboxStanding, OfficeCounts, StateCounts,
};
use crate::domain::rotation::FailureReason;
use crate::grpc::{AdminApi, parse, rfc3339};
use crate::services::Error;
use crate::services::compliance::{ComplianceReport, PolicyView, ReportDetail, ReportPageRequest};

fn policy_to_pb(policy: CompliancePolicy) -> pb::CompliancePolicy {
    let days = |n: i64| u32::try_from(n).unwrap_or_default();
    pb::CompliancePolicy {
        due_soon_days: days(policy.due_soon_days),
        limit_days: days(policy.limit_days),
        offline_days: days(policy.offline_days),
    }
}

fn view_to_pb(view: PolicyView) -> pb::GetCompliancePolicyResponse {
    pb::GetCompliancePolicyResponse {
        effective: Some(policy_to_pb(view.effective)),
        source: view.source.to_owned(),
        global: view.global.map(policy_to_pb),
        office: view.office.map(policy_to_pb),
    }
}

pub(crate) fn state_to_pb(state: ComplianceState) -> pb::ComplianceState {
    use pb::ComplianceState as P;
    match state {
        ComplianceState::Compliant => P::Compliant,
        ComplianceState::DueSoon => P::DueSoon,
        ComplianceState::Overdue => P::Overdue,
        ComplianceState::ProvisionalPending => P::ProvisionalPending,
        ComplianceState::ProvisionalExpired => P::ProvisionalExpired,
        ComplianceState::ChangeFailed(_) => P::ChangeFailed,
        ComplianceState::AgentOffline => P::AgentOffline,
        ComplianceState::NeverEnrolled => P::NeverEnrolled,
    }
}

fn counts_to_pb(counts: &StateCounts) -> Vec<pb::ComplianceCount> {
    counts
        .iter()
        .map(|(state, mailboxes)| pb::ComplianceCount {
            state: state_to_pb(state).into(),
            mailboxes,
        })
        .collect()
}

fn optional_time(at: Option<OffsetDateTime>) -> String {
    at.map(rfc3339).unwrap_or_default()
}

fn mailbox_to_pb(m: MailboxStanding) -> pb::MailboxCompliance {
    pb::MailboxCompliance {
        address: m.address.to_string(),
        display_name: m.display_name,
        state: state_to_pb(m.state).into(),
        reason: m.state.reason().map(FailureReason::as_str).unwrap_or_default().to_owned(),
        since: rfc3339(m.since),
        non_compliant_since: optional_time(m.non_compliant_since),
        last_verified_change_at: optional_time(m.last_verified_at),
    }
}

fn office_to_pb(office: OfficeCounts, mailboxes: Vec<MailboxStanding>) -> pb::OfficeCompliance {
    pb::OfficeCompliance {
        crpcen: office.crpcen.to_string(),
        name: office.name,
        mailboxes: office.counts.total(),
        compliant: office.counts.compliant(),
        counts: counts_to_pb(&office.counts),
        oldest_verified_change_at: optional_time(office.oldest_verified_change),
        never_changed: office.never_changed,
        late_since: optional_time(office.late_since),
        mailbox_states: mailboxes.into_iter().map(mailbox_to_pb).collect(),
    }
}

pub(super) async fn get_compliance_policy(
    api: &AdminApi,
    request: Request<pb::GetCompliancePolicyRequest>,
) -> Result<Response<pb::GetCompliancePolicyResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::optional_crpcen("office", &request.get_ref().office)?;
    let view = api.state.compliance_policy(&admin, office.as_ref()).await?;
    Ok(Response::new(view_to_pb(view)))
}

pub(super) async fn set_compliance_policy(
    api: &AdminApi,
    request: Request<pb::SetCompliancePolicyRequest>,
) -> Result<Response<pb::SetCompliancePolicyResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let office = parse::optional_crpcen("office", &req.office)?;
    let policy = match (&req.policy, req.inherit) {
        (_, true) => None,
        (Some(p), false) => Some(CompliancePolicy {
            due_soon_days: i64::from(p.due_soon_days),
            limit_days: i64::from(p.limit_days),
            offline_days: i64::from(p.offline_days),
        }),
        (None, false) => {
            return Err(Error::invalid("policy: required unless inherit is set").into());
        }
    };
    let view = api.state.set_compliance_policy(&admin, office.as_ref(), policy).await?;
    Ok(Response::new(pb::SetCompliancePolicyResponse { policy: Some(view_to_pb(view)) }))
}

pub(super) async fn get_compliance_report(
    api: &AdminApi,
    request: Request<pb::GetComplianceReportRequest>,
) -> Result<Response<pb::GetComplianceReportResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let office = parse::optional_crpcen("office", &req.office)?;
    let at = match req.at.trim() {
        "" => None,
        value => Some(OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
            Error::invalid("at: expected an RFC 3339 date, e.g. 2026-03-01T00:00:00Z")
        })?),
    };
    let cursor = parse::report_cursor("page_token", &req.page_token)?;
    let mailboxes = req.mailboxes || office.is_some();
    let summary = req.summary_only && !mailboxes;
    if !summary && (req.page_size != 0 || cursor.is_some()) {
        let page = ReportPageRequest { size: req.page_size, mailboxes, cursor };
        let page = api.state.compliance_report_page(&admin, office.as_ref(), at, &page).await?;
        let next = page.next.map(|cursor| cursor.token()).unwrap_or_default();
        return Ok(Response::new(report_to_pb(page.report, page.first, next)));
    }
    if cursor.is_some() {
        return Err(Error::invalid("page_token: a summary comes in one answer").into());
    }
    let detail = match (req.mailboxes, req.summary_only, office.is_some()) {
        (true, _, _) => ReportDetail::Mailboxes,
        (false, true, false) => ReportDetail::Summary,
        _ => ReportDetail::Offices,
    };
    let report = api.state.compliance_report(&admin, office.as_ref(), at, detail).await?;
    Ok(Response::new(report_to_pb(report, true, String::new())))
}

/// A report (or a page of one) as sent: the summary only when `summary` (the first page).
fn report_to_pb(
    report: ComplianceReport,
    summary: bool,
    next_page_token: String,
) -> pb::GetComplianceReportResponse {
    let offices = report.offices.into_iter().map(|(o, m)| office_to_pb(o, m)).collect();
    if !summary {
        return pb::GetComplianceReportResponse {
            at: rfc3339(report.at),
            offices,
            next_page_token,
            ..Default::default()
        };
    }
    let head = report.audit_head.as_ref();
    pb::GetComplianceReportResponse {
        at: rfc3339(report.at),
        generated_at: rfc3339(report.generated_at),
        mailboxes: report.fleet.total(),
        compliant: report.fleet.compliant(),
        counts: counts_to_pb(&report.fleet),
        offices_compliant: report.offices_compliant,
        offices_reported: report.offices_reported,
        oldest_verified_change_at: optional_time(report.oldest_verified_change),
        offices,
        audit_head_seq: head.map_or(0, |h| h.seq),
        audit_head_hash: head.map(|h| h.hash_hex()).unwrap_or_default(),
        audit_head_signed_at: head.map(|h| rfc3339(h.signed_at)).unwrap_or_default(),
        audit_head_key_id: head.map(|h| h.key_id.clone()).unwrap_or_default(),
        audit_head_signature: head.map(|h| h.signature_base64()).unwrap_or_default(),
        next_page_token,
    }
}
