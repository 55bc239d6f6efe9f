//! The AdminService RPCs about administrators: authenticate, convert, call `services::admins`,
//! convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::domain::admin::Admin;
use crate::grpc::{parse, rfc3339};

pub(super) async fn who_am_i(
    api: &AdminApi,
    request: Request<pb::WhoAmIRequest>,
) -> Result<Response<pb::WhoAmIResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let me = api.state.who_am_i(&admin);
    Ok(Response::new(pb::WhoAmIResponse {
        role: me.admin.role.as_str().to_owned(),
        offices: me.admin.offices.iter().map(ToString::to_string).collect(),
        admin_name: me.admin.name,
        server_version: me.server_version.to_owned(),
    }))
}

pub(super) async fn list_admins(
    api: &AdminApi,
    request: Request<pb::ListAdminsRequest>,
) -> Result<Response<pb::ListAdminsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let admins = api.state.list_admins(&admin).await?;
    Ok(Response::new(pb::ListAdminsResponse {
        admins: admins.into_iter().map(admin_to_pb).collect(),
    }))
}

pub(super) async fn revoke_admin(
    api: &AdminApi,
    request: Request<pb::RevokeAdminRequest>,
) -> Result<Response<pb::RevokeAdminResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let name = parse::admin_name("name", &request.get_ref().name)?;
    api.state.revoke_admin(&admin, &name).await?;
    Ok(Response::new(pb::RevokeAdminResponse {}))
}

fn admin_to_pb(admin: Admin) -> pb::AdminInfo {
    pb::AdminInfo {
        role: admin.role.as_str().to_owned(),
        offices: admin.offices.iter().map(ToString::to_string).collect(),
        created_at: rfc3339(admin.created_at),
        revoked: admin.revoked_at.is_some(),
        name: admin.name,
    }
}
