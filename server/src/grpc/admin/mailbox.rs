//! `GetMailbox`: one mailbox with its rotations, the steps agents reported and its last verified
//! change: authenticate, parse, call `services::rotations`, convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use super::offices::mailbox_to_pb;
use super::rotations::rotation_to_pb;
use crate::domain::office::MailboxAddress;
use crate::domain::rotation::{KeyEvidence, RotationEvent, VerifiedChange};
use crate::grpc::rfc3339;
use crate::services::Error;

pub(super) async fn get_mailbox(
    api: &AdminApi,
    request: Request<pb::GetMailboxRequest>,
) -> Result<Response<pb::GetMailboxResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let address = MailboxAddress::parse(&request.get_ref().mailbox, &api.state.mail_domain)
        .map_err(|e| Error::invalid(format!("mailbox: {e}")))?;
    let (mailbox, history) = api.state.mailbox_detail(&admin, &address).await?;
    Ok(Response::new(pb::GetMailboxResponse {
        mailbox: Some(mailbox_to_pb(mailbox)),
        rotations: history.rotations.into_iter().map(rotation_to_pb).collect(),
        events: history.events.into_iter().map(event_to_pb).collect(),
        last_verified_change: history.last_verified_change.map(verified_to_pb),
        workstation_ids: history.workstations,
    }))
}

fn evidence_to_pb(evidence: KeyEvidence) -> pb::KeyEvidence {
    let kind = match evidence {
        KeyEvidence::ObservedAbsent { .. } => pb::key_evidence::Kind::ObservedAbsent,
        KeyEvidence::PersonConfirmed { .. } => pb::key_evidence::Kind::PersonConfirmed,
    };
    pb::KeyEvidence {
        kind: kind.into(),
        observed_at: rfc3339(evidence.at()),
        detail: evidence.detail().to_owned(),
    }
}

fn event_to_pb(e: RotationEvent) -> pb::RotationEvent {
    pb::RotationEvent {
        rotation_id: e.rotation_id,
        report_id: e.report_id,
        workstation_id: e.workstation_id,
        step: e.step.as_str().to_owned(),
        failure: e.step.failure().map(|f| f.as_str().to_owned()).unwrap_or_default(),
        occurred_at: rfc3339(e.occurred_at),
        received_at: rfc3339(e.received_at),
        key_evidence: e.key_evidence.map(evidence_to_pb),
        detail: e.detail,
    }
}

fn verified_to_pb(v: VerifiedChange) -> pb::VerifiedChange {
    pb::VerifiedChange {
        rotation_id: v.rotation_id,
        kind: v.kind.as_str().to_owned(),
        verified_at: rfc3339(v.verified_at),
        workstation_id: v.workstation_id,
        key_evidence: v.key_evidence.map(evidence_to_pb),
    }
}
