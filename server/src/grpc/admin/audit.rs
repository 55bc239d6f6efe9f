//! The AdminService RPCs about the audit trail: authenticate, convert, call `services::audit`,
//! convert back.

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::domain::audit::AuditRecord;
use crate::grpc::parse;
use crate::services::Error;
use crate::services::audit::AuditQuery;

pub(super) async fn list_audit_records(
    api: &AdminApi,
    request: Request<pb::ListAuditRecordsRequest>,
) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.into_inner();
    let query = AuditQuery {
        office: parse::optional_crpcen("office", &req.office)?,
        since: parse_since(&req.since)?,
        after_seq: req.after_seq,
        limit: (req.limit != 0).then_some(req.limit),
    };
    let records = api.state.list_audit_records(&admin, &query).await?;
    Ok(Response::new(pb::ListAuditRecordsResponse {
        records: records.into_iter().map(record_to_pb).collect(),
    }))
}

pub(super) async fn verify_audit(
    api: &AdminApi,
    request: Request<pb::VerifyAuditRequest>,
) -> Result<Response<pb::VerifyAuditResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let report = api.state.verify_audit(&admin).await?;
    Ok(Response::new(pb::VerifyAuditResponse {
        intact: report.intact(),
        records: report.records,
        first_broken_seq: report.first_broken_seq().unwrap_or(0),
        problem: report.broken.as_ref().map(ToString::to_string).unwrap_or_default(),
        heads: report.heads,
        first_bad_head_seq: report.head_problem.as_ref().map_or(0, |p| p.seq()),
        head_problem: report.head_problem.as_ref().map(ToString::to_string).unwrap_or_default(),
        newest_head_seq: report.newest_head.as_ref().map_or(0, |h| h.seq),
        newest_head_signed_at: report
            .newest_head
            .as_ref()
            .and_then(|h| h.signed_at.format(&Rfc3339).ok())
            .unwrap_or_default(),
        key_id: report.key_id,
        public_key: api.state.audit.key.public_key().to_vec(),
        problems: report
            .problems
            .iter()
            .map(|p| pb::AuditProblem {
                seq: p.seq(),
                kind: p.kind().to_owned(),
                description: p.to_string(),
            })
            .collect(),
        problem_count: report.problem_count,
        unverifiable_heads: report.unverifiable_heads,
        key_rotations: report.rotations,
    }))
}

/// Parses `since`: empty, an RFC 3339 time, or a date (midnight UTC).
fn parse_since(value: &str) -> Result<Option<OffsetDateTime>, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(Some(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| Error::invalid("since: expected YYYY-MM-DD or an RFC 3339 time"))
}

fn record_to_pb(r: AuditRecord) -> pb::AuditRecord {
    pb::AuditRecord {
        seq: r.seq,
        at: r.at.format(&Rfc3339).unwrap_or_default(),
        actor: r.actor,
        action: r.action,
        office: r.office.unwrap_or_default(),
        target: r.target,
        details: r.details,
        prev_hash: hex::encode(r.prev_hash),
        hash: hex::encode(r.hash),
    }
}
