//! The AdminService RPCs about enrollment tokens, workstations and their mailbox assignments:
//! authenticate, parse, call `services::enrollment` or `services::workstations`, convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::rotations::rotation_to_pb;
use super::settings::workstation_to_pb as workstation_readiness_to_pb;
use crate::domain::check_in::KeyState;
use crate::domain::workstation::{EnrollmentToken, Workstation};
use crate::grpc::AdminApi;
use crate::grpc::check_in::key_to_pb;
use crate::grpc::parse;
use crate::grpc::rfc3339;
use crate::services::Error;
use crate::services::workstations::MAX_SHOWN_ROTATIONS;

/// Rotations `GetWorkstation` lists when not told how many.
const DEFAULT_SHOWN_ROTATIONS: usize = 10;

fn token_to_pb(token: EnrollmentToken) -> pb::EnrollmentToken {
    pb::EnrollmentToken {
        id: u64::try_from(token.id).unwrap_or(0),
        office: token.office.to_string(),
        uses_left: u32::try_from(token.uses_left).unwrap_or(0),
        expires_at: rfc3339(token.expires_at),
        last_used_at: token.last_used_at.map(rfc3339).unwrap_or_default(),
        revoked: token.revoked_at.is_some(),
        created_by: token.created_by,
        created_at: rfc3339(token.created_at),
    }
}

fn workstation_to_pb((ws, key): (Workstation, Option<KeyState>)) -> pb::Workstation {
    pb::Workstation {
        id: ws.id.into_string(),
        office: ws.office.to_string(),
        hostname: ws.hostname,
        os: ws.os,
        agent_version: ws.agent_version,
        status: ws.status.as_str().to_owned(),
        lock_reason: ws.lock_reason.unwrap_or_default(),
        generation: u64::try_from(ws.generation).unwrap_or(0),
        certificate_expires_at: rfc3339(ws.cert_not_after),
        last_seen_at: rfc3339(ws.last_seen_at),
        enrolled_at: rfc3339(ws.enrolled_at),
        key: key.as_ref().map(key_to_pb),
    }
}

/// Zero, the protobuf default, stands for "not said".
fn given<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

pub(super) async fn create_enrollment_token(
    api: &AdminApi,
    request: Request<pb::CreateEnrollmentTokenRequest>,
) -> Result<Response<pb::CreateEnrollmentTokenResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.into_inner();
    let office = parse::crpcen("office", &req.office)?;
    let created = api
        .state
        .create_enrollment_token(&admin, &office, given(req.uses), given(req.ttl_seconds))
        .await?;
    Ok(Response::new(pb::CreateEnrollmentTokenResponse {
        token: created.token.expose().to_owned(),
        info: Some(token_to_pb(created.info)),
    }))
}

pub(super) async fn list_enrollment_tokens(
    api: &AdminApi,
    request: Request<pb::ListEnrollmentTokensRequest>,
) -> Result<Response<pb::ListEnrollmentTokensResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::optional_crpcen("office", &request.get_ref().office)?;
    let tokens = api.state.list_enrollment_tokens(&admin, office.as_ref()).await?;
    Ok(Response::new(pb::ListEnrollmentTokensResponse {
        tokens: tokens.into_iter().map(token_to_pb).collect(),
    }))
}

pub(super) async fn revoke_enrollment_token(
    api: &AdminApi,
    request: Request<pb::RevokeEnrollmentTokenRequest>,
) -> Result<Response<pb::RevokeEnrollmentTokenResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    api.state.revoke_enrollment_token(&admin, request.get_ref().id).await?;
    Ok(Response::new(pb::RevokeEnrollmentTokenResponse {}))
}

pub(super) async fn list_workstations(
    api: &AdminApi,
    request: Request<pb::ListWorkstationsRequest>,
) -> Result<Response<pb::ListWorkstationsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::optional_crpcen("office", &request.get_ref().office)?;
    let workstations = api.state.list_workstations(&admin, office.as_ref()).await?;
    Ok(Response::new(pb::ListWorkstationsResponse {
        workstations: workstations.into_iter().map(workstation_to_pb).collect(),
    }))
}

pub(super) async fn revoke_workstation(
    api: &AdminApi,
    request: Request<pb::RevokeWorkstationRequest>,
) -> Result<Response<pb::RevokeWorkstationResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let id = parse::workstation_id("id", &request.get_ref().id)?;
    api.state.revoke_workstation(&admin, &id).await?;
    Ok(Response::new(pb::RevokeWorkstationResponse {}))
}

pub(super) async fn unlock_workstation(
    api: &AdminApi,
    request: Request<pb::UnlockWorkstationRequest>,
) -> Result<Response<pb::UnlockWorkstationResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let id = parse::workstation_id("id", &request.get_ref().id)?;
    api.state.unlock_workstation(&admin, &id).await?;
    Ok(Response::new(pb::UnlockWorkstationResponse {}))
}

pub(super) async fn assign_workstation(
    api: &AdminApi,
    request: Request<pb::AssignWorkstationRequest>,
) -> Result<Response<pb::AssignWorkstationResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let id = parse::workstation_id("workstation_id", &req.workstation_id)?;
    let mailboxes: Vec<&str> = std::iter::once(req.mailbox.as_str())
        .filter(|m| !m.is_empty() || req.mailboxes.is_empty())
        .chain(req.mailboxes.iter().map(String::as_str))
        .collect();
    api.state.assign_mailboxes(&admin, &id, &mailboxes).await?;
    Ok(Response::new(pb::AssignWorkstationResponse {}))
}

pub(super) async fn get_workstation(
    api: &AdminApi,
    request: Request<pb::GetWorkstationRequest>,
) -> Result<Response<pb::GetWorkstationResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let id = parse::workstation_id("id", &req.id)?;
    let rotations = match req.rotations {
        0 => DEFAULT_SHOWN_ROTATIONS,
        n if n as usize <= MAX_SHOWN_ROTATIONS => n as usize,
        _ => {
            return Err(Error::invalid(format!("rotations: at most {MAX_SHOWN_ROTATIONS}")).into());
        }
    };
    let details = api.state.workstation_details(&admin, &id, rotations).await?;
    Ok(Response::new(pb::GetWorkstationResponse {
        workstation: Some(workstation_to_pb((details.workstation, details.key))),
        readiness: details.readiness.map(workstation_readiness_to_pb),
        rotations: details.rotations.into_iter().map(rotation_to_pb).collect(),
    }))
}

pub(super) async fn unassign_workstation(
    api: &AdminApi,
    request: Request<pb::UnassignWorkstationRequest>,
) -> Result<Response<pb::UnassignWorkstationResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let id = parse::workstation_id("workstation_id", &req.workstation_id)?;
    api.state.unassign_mailbox(&admin, &id, &req.mailbox).await?;
    Ok(Response::new(pb::UnassignWorkstationResponse {}))
}
