//! The AdminService RPCs about settings and readiness: the OWA address, mailboxes' logon names and
//! an office's readiness for a rollout. Authenticate, parse, call `services::settings` or
//! `services::workstations::check_in`, convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::office::MailboxAddress;
use crate::domain::settings::{LogonName, OwaUrl};
use crate::grpc::check_in::{key_to_pb, readiness_to_pb};
use crate::grpc::{AdminApi, parse, rfc3339};
use crate::services::Error;
use crate::services::workstations::check_in::WorkstationReadiness;

pub(super) async fn get_owa_url(
    api: &AdminApi,
    request: Request<pb::GetOwaUrlRequest>,
) -> Result<Response<pb::GetOwaUrlResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::optional_crpcen("office", &request.get_ref().office)?;
    let setting = api.state.get_owa_url(&admin, office.as_ref()).await?;
    Ok(Response::new(pb::GetOwaUrlResponse {
        global_url: setting.global.to_string(),
        office_url: setting.office.as_ref().map(ToString::to_string).unwrap_or_default(),
        effective_url: setting.effective().to_string(),
    }))
}

pub(super) async fn set_owa_url(
    api: &AdminApi,
    request: Request<pb::SetOwaUrlRequest>,
) -> Result<Response<pb::SetOwaUrlResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let office = parse::optional_crpcen("office", &req.office)?;
    let url = if req.url.trim().is_empty() {
        None
    } else {
        Some(OwaUrl::parse(&req.url).map_err(|e| Error::invalid(format!("url: {e}")))?)
    };
    api.state.set_owa_url(&admin, office.as_ref(), url.as_ref()).await?;
    Ok(Response::new(pb::SetOwaUrlResponse {}))
}

pub(super) async fn set_mailbox_logon(
    api: &AdminApi,
    request: Request<pb::SetMailboxLogonRequest>,
) -> Result<Response<pb::SetMailboxLogonResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let address = MailboxAddress::parse(&req.mailbox, &api.state.mail_domain)
        .map_err(|e| Error::invalid(format!("mailbox: {e}")))?;
    let logon = if req.logon_name.trim().is_empty() {
        None
    } else {
        Some(
            LogonName::parse(&req.logon_name)
                .map_err(|e| Error::invalid(format!("logon_name: {e}")))?,
        )
    };
    api.state.set_mailbox_logon(&admin, &address, logon.as_ref()).await?;
    Ok(Response::new(pb::SetMailboxLogonResponse {}))
}

pub(super) async fn get_office_readiness(
    api: &AdminApi,
    request: Request<pb::GetOfficeReadinessRequest>,
) -> Result<Response<pb::GetOfficeReadinessResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::crpcen("office", &request.get_ref().office)?;
    let readiness = api.state.office_readiness(&admin, &office).await?;
    Ok(Response::new(pb::GetOfficeReadinessResponse {
        office: readiness.office.to_string(),
        owa_url: readiness.owa_url.to_string(),
        workstations: readiness.workstations.into_iter().map(workstation_to_pb).collect(),
    }))
}

pub(super) fn workstation_to_pb(ws: WorkstationReadiness) -> pb::WorkstationReadiness {
    let check_in = ws.check_in.as_ref();
    pb::WorkstationReadiness {
        workstation_id: ws.workstation.id.to_string(),
        hostname: ws.workstation.hostname,
        last_seen_at: rfc3339(ws.workstation.last_seen_at),
        owa: check_in.and_then(|c| c.readiness.as_ref()).map(readiness_to_pb),
        key: check_in.and_then(|c| c.key.as_ref()).map(key_to_pb),
        ready: ws.blockers.is_empty(),
        blockers: ws.blockers,
        mailboxes: ws.mailboxes.into_iter().map(|m| m.address).collect(),
    }
}
