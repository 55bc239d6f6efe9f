//! `GetMailbox`: one mailbox with its rotations, the steps agents reported (with the local account
//! that acted), its last verified change and its bound accounts; `SetMailboxAccount`: set or
//! reset a binding. Authenticate, parse, call `services::rotations` or `services::accounts`,
//! convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use super::offices::mailbox_to_pb;
use super::rotations::rotation_to_pb;
use crate::domain::account::{AccountBinding, BoundBy, LocalAccount};
use crate::domain::identifier::WorkstationId;
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
    let (defaults, bindings): (Vec<_>, Vec<_>) =
        history.accounts.into_iter().partition(|b| b.workstation_id.is_none());
    Ok(Response::new(pb::GetMailboxResponse {
        mailbox: Some(mailbox_to_pb(mailbox)),
        rotations: history.rotations.into_iter().map(rotation_to_pb).collect(),
        events: history.events.into_iter().map(event_to_pb).collect(),
        last_verified_change: history.last_verified_change.map(verified_to_pb),
        workstation_ids: history.workstations,
        default_account: defaults.into_iter().next().map(binding_to_pb),
        bindings: bindings.into_iter().map(binding_to_pb).collect(),
    }))
}

pub(super) async fn set_mailbox_account(
    api: &AdminApi,
    request: Request<pb::SetMailboxAccountRequest>,
) -> Result<Response<pb::SetMailboxAccountResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let address = MailboxAddress::parse(&req.mailbox, &api.state.mail_domain)
        .map_err(|e| Error::invalid(format!("mailbox: {e}")))?;
    let workstation = if req.workstation_id.is_empty() {
        None
    } else {
        Some(
            WorkstationId::parse("workstation_id", &req.workstation_id)
                .map_err(|e| Error::invalid(e.to_string()))?,
        )
    };
    let account = if req.account_id.is_empty() {
        None
    } else {
        Some(
            LocalAccount::parse(
                "account_id",
                &req.account_id,
                "account_detail",
                &req.account_detail,
            )
            .map_err(|e| Error::invalid(e.to_string()))?,
        )
    };
    api.state.set_mailbox_account(&admin, &address, workstation.as_ref(), account.as_ref()).await?;
    Ok(Response::new(pb::SetMailboxAccountResponse {}))
}

fn binding_to_pb(b: AccountBinding) -> pb::MailboxAccount {
    let (bound_by, rotation_id) = match &b.bound_by {
        BoundBy::Report { rotation_id } => (
            format!("workstation:{}", b.workstation_id.as_deref().unwrap_or_default()),
            rotation_id.to_string(),
        ),
        BoundBy::Admin(actor) | BoundBy::Import(actor) => (actor.clone(), String::new()),
    };
    pb::MailboxAccount {
        source: b.bound_by.source().to_owned(),
        workstation_id: b.workstation_id.unwrap_or_default(),
        account_id: b.account.id.as_str().to_owned(),
        account_detail: b.account.detail,
        bound_at: rfc3339(b.bound_at),
        bound_by,
        rotation_id,
    }
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
        rotation_id: e.rotation_id.to_string(),
        report_id: e.report_id.to_string(),
        workstation_id: e.workstation_id,
        step: e.step.as_str().to_owned(),
        failure: e.step.failure().map(|f| f.as_str().to_owned()).unwrap_or_default(),
        occurred_at: rfc3339(e.occurred_at),
        received_at: rfc3339(e.received_at),
        key_evidence: e.key_evidence.map(evidence_to_pb),
        detail: e.detail,
        local_account: e
            .local_account
            .as_ref()
            .map(|a| a.id.as_str().to_owned())
            .unwrap_or_default(),
        local_account_detail: e.local_account.map(|a| a.detail).unwrap_or_default(),
    }
}

fn verified_to_pb(v: VerifiedChange) -> pb::VerifiedChange {
    pb::VerifiedChange {
        rotation_id: v.rotation_id.to_string(),
        kind: v.kind.as_str().to_owned(),
        verified_at: rfc3339(v.verified_at),
        workstation_id: v.workstation_id,
        key_evidence: v.key_evidence.map(evidence_to_pb),
    }
}
