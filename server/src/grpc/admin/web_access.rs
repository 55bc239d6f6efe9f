//! The AdminService RPCs about web sign-in: each administrator's own web password and TOTP second
//! factor, and web sessions (listed, revoked); authenticate, convert, call
//! `services::web_access`, convert back.

use secrecy::{ExposeSecret, SecretString};
use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::grpc::{parse, rfc3339};
use crate::services::Error;
use crate::services::web_access::{SessionRevocation, WebSessionInfo};

pub(super) async fn set_web_password(
    api: &AdminApi,
    request: Request<pb::SetWebPasswordRequest>,
) -> Result<Response<pb::SetWebPasswordResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let password = SecretString::from(request.into_inner().password);
    api.state.set_web_password(&admin, password).await?;
    Ok(Response::new(pb::SetWebPasswordResponse {}))
}

pub(super) async fn begin_totp_enrolment(
    api: &AdminApi,
    request: Request<pb::BeginTotpEnrolmentRequest>,
) -> Result<Response<pb::BeginTotpEnrolmentResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let enrolment = api.state.begin_totp_enrolment(&admin).await?;
    Ok(Response::new(pb::BeginTotpEnrolmentResponse {
        otpauth_uri: enrolment.uri.expose_secret().to_owned(),
        secret_base32: enrolment.secret_base32.expose_secret().to_owned(),
    }))
}

pub(super) async fn confirm_totp(
    api: &AdminApi,
    request: Request<pb::ConfirmTotpRequest>,
) -> Result<Response<pb::ConfirmTotpResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    api.state.confirm_totp(&admin, &request.get_ref().code).await?;
    Ok(Response::new(pb::ConfirmTotpResponse {}))
}

pub(super) async fn list_web_sessions(
    api: &AdminApi,
    request: Request<pb::ListWebSessionsRequest>,
) -> Result<Response<pb::ListWebSessionsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let of = optional_admin_name(&request.get_ref().admin)?;
    let sessions = api.state.list_web_sessions(&admin, of.as_ref()).await?;
    Ok(Response::new(pb::ListWebSessionsResponse {
        sessions: sessions.into_iter().map(session_to_pb).collect(),
    }))
}

pub(super) async fn revoke_web_sessions(
    api: &AdminApi,
    request: Request<pb::RevokeWebSessionsRequest>,
) -> Result<Response<pb::RevokeWebSessionsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let body = request.get_ref();
    let which = match (body.id, body.all) {
        (0, true) => SessionRevocation::AllOf(optional_admin_name(&body.admin)?),
        (id, false) if id > 0 && body.admin.is_empty() => SessionRevocation::One(
            i64::try_from(id).map_err(|_| Error::invalid("id: no such web session"))?,
        ),
        _ => {
            return Err(Error::invalid(
                "give either a session id, or `all` (with an administrator's name or none)",
            )
            .into());
        }
    };
    let revoked = api.state.revoke_web_sessions(&admin, which).await?;
    Ok(Response::new(pb::RevokeWebSessionsResponse { revoked }))
}

fn optional_admin_name(value: &str) -> Result<Option<crate::domain::identifier::AdminName>, Error> {
    if value.is_empty() { Ok(None) } else { parse::admin_name("admin", value).map(Some) }
}

fn session_to_pb(session: WebSessionInfo) -> pb::WebSessionInfo {
    pb::WebSessionInfo {
        id: u64::try_from(session.id).unwrap_or_default(),
        admin: session.admin_name,
        created_at: rfc3339(session.created_at),
        last_seen_at: rfc3339(session.last_seen_at),
        expires_at: rfc3339(session.expires_at),
        remote_address: session.remote_address.unwrap_or_default(),
        user_agent: session.user_agent,
    }
}
