//! The AdminService implementation: authentication of administrators by bearer token, and one
//! delegation per RPC to the file of its resource (`offices`, `admins`, `audit`, `rotations`),
//! where requests are converted and handed to the services.

mod admins;
mod audit;
mod offices;
mod rotations;

use std::sync::Arc;

use secrecy::SecretString;
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status, Streaming};

use super::parse;
use super::rfc3339;
use super::status::ApiError;
use crate::admin::{Admin, AdminRole, Permission};
use crate::audit::Actor;
use crate::domain::{Mailbox, MailboxAddress};
use crate::services::access;
use crate::services::{Error, Services};
use crate::store;
use crate::token::{Token, TokenKind};
use crate::workstation::{EnrollmentToken, NewEnrollmentToken, Workstation, WorkstationStatus};

/// The AdminService handlers.
#[derive(Debug)]
pub(crate) struct AdminApi {
    pub(super) state: Arc<Services>,
}

impl AdminApi {
    pub(crate) fn new(state: Arc<Services>) -> AdminApi {
        AdminApi { state }
    }

    /// The administrator presenting the request's bearer token, if it may do `permission` (for
    /// the RPCs that still authorize here rather than in their service).
    pub(super) async fn authorize<T>(
        &self,
        request: &Request<T>,
        permission: Permission<'_>,
    ) -> Result<Admin, Error> {
        let admin = self.authenticate(request).await?;
        access::authorize(&admin, permission)?;
        Ok(admin)
    }

    /// The administrator presenting the request's bearer token.
    pub(super) async fn authenticate<T>(&self, request: &Request<T>) -> Result<Admin, Error> {
        let header = request.metadata().get("authorization").ok_or_else(access::unauthenticated)?;
        let value = header.to_str().map_err(|_| access::unauthenticated())?;
        let token = value.strip_prefix("Bearer ").ok_or_else(access::unauthenticated)?;
        let token = Token::from_secret(SecretString::from(token.trim().to_owned()));
        let admin = self.state.authenticate_admin(&token).await;
        if let Err(Error::Unauthenticated(_)) = &admin {
            let remote = request.extensions().get::<super::tls::PeerInfo>().map(|p| p.remote);
            tracing::warn!(?remote, "refused an administrator credential");
        }
        admin
    }
}

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

fn workstation_to_pb(ws: Workstation) -> pb::Workstation {
    pb::Workstation {
        id: ws.id,
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
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        admins::who_am_i(self, request).await
    }

    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> Result<Response<pb::CreateOfficeResponse>, Status> {
        offices::create_office(self, request).await
    }

    async fn get_office(
        &self,
        request: Request<pb::GetOfficeRequest>,
    ) -> Result<Response<pb::GetOfficeResponse>, Status> {
        offices::get_office(self, request).await
    }

    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Result<Response<pb::ListOfficesResponse>, Status> {
        offices::list_offices(self, request).await
    }

    async fn import_mailboxes(
        &self,
        request: Request<Streaming<pb::ImportMailboxesRequest>>,
    ) -> Result<Response<pb::ImportMailboxesResponse>, Status> {
        offices::import_mailboxes(self, request).await
    }

    async fn list_mailboxes(
        &self,
        request: Request<pb::ListMailboxesRequest>,
    ) -> Result<Response<pb::ListMailboxesResponse>, Status> {
        offices::list_mailboxes(self, request).await
    }

    async fn create_enrollment_token(
        &self,
        request: Request<pb::CreateEnrollmentTokenRequest>,
    ) -> Result<Response<pb::CreateEnrollmentTokenResponse>, Status> {
        let office = parse::crpcen("office", &request.get_ref().office)?;
        let admin = self.authorize(&request, Permission::Write(&office)).await?;
        let req = request.into_inner();
        let uses = match req.uses {
            0 => 1,
            n @ 1..=1000 => n,
            _ => return Err(ApiError::invalid("uses: 1 to 1000").into()),
        };
        let ttl = match req.ttl_seconds {
            0 => time::Duration::hours(24),
            n @ 60..=2_592_000 => time::Duration::seconds(i64::try_from(n).unwrap_or(60)),
            _ => return Err(ApiError::invalid("ttl_seconds: 60 seconds to 30 days").into()),
        };
        let now = self.state.clock.now();
        let token = Token::generate(TokenKind::Enroll);
        let new = NewEnrollmentToken {
            token_hash: token.hash(),
            office: office.clone(),
            uses: i64::from(uses),
            expires_at: now + ttl,
        };
        let info = match self
            .state
            .store
            .create_enrollment_token(&new, &Actor::admin(&admin), now)
            .await
        {
            Ok(info) => info,
            Err(store::Error::MissingOffices(_)) => {
                return Err(ApiError::NotFound(format!("office {office} does not exist")).into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        tracing::info!(admin = %admin.name, office = %office, token_id = info.id, uses, "enrollment token created");
        Ok(Response::new(pb::CreateEnrollmentTokenResponse {
            token: token.expose().to_owned(),
            info: Some(token_to_pb(info)),
        }))
    }

    async fn list_enrollment_tokens(
        &self,
        request: Request<pb::ListEnrollmentTokensRequest>,
    ) -> Result<Response<pb::ListEnrollmentTokensResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let office = parse::optional_crpcen("office", &request.get_ref().office)?;
        let mut tokens = Vec::new();
        for office in access::listing_scope(&admin, office.as_ref())? {
            tokens.extend(
                self.state
                    .store
                    .list_enrollment_tokens(office.as_ref())
                    .await
                    .map_err(ApiError::from)?,
            );
        }
        tokens.sort_by_key(|t| t.id);
        Ok(Response::new(pb::ListEnrollmentTokensResponse {
            tokens: tokens.into_iter().map(token_to_pb).collect(),
        }))
    }

    async fn revoke_enrollment_token(
        &self,
        request: Request<pb::RevokeEnrollmentTokenRequest>,
    ) -> Result<Response<pb::RevokeEnrollmentTokenResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let id = request.get_ref().id;
        let outside =
            || Status::from(ApiError::denied(format!("token {id} is not in your offices")));
        let token =
            match self.state.store.get_enrollment_token(i64::try_from(id).unwrap_or(-1)).await {
                Ok(token) if admin.may(Permission::Write(&token.office)) => token,
                Ok(_) => return Err(outside()),
                Err(store::Error::NotFound) if admin.role == AdminRole::Global => {
                    return Err(ApiError::NotFound(format!("token {id} does not exist")).into());
                }
                Err(store::Error::NotFound) => return Err(outside()),
                Err(other) => return Err(ApiError::from(other).into()),
            };
        self.state
            .store
            .revoke_enrollment_token(token.id, &Actor::admin(&admin), self.state.clock.now())
            .await
            .map_err(ApiError::from)?;
        tracing::info!(admin = %admin.name, token_id = token.id, "enrollment token revoked");
        Ok(Response::new(pb::RevokeEnrollmentTokenResponse {}))
    }

    async fn list_workstations(
        &self,
        request: Request<pb::ListWorkstationsRequest>,
    ) -> Result<Response<pb::ListWorkstationsResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let office = parse::optional_crpcen("office", &request.get_ref().office)?;
        let mut workstations = Vec::new();
        for office in access::listing_scope(&admin, office.as_ref())? {
            workstations.extend(
                self.state
                    .store
                    .list_workstations(office.as_ref())
                    .await
                    .map_err(ApiError::from)?,
            );
        }
        Ok(Response::new(pb::ListWorkstationsResponse {
            workstations: workstations.into_iter().map(workstation_to_pb).collect(),
        }))
    }

    async fn revoke_workstation(
        &self,
        request: Request<pb::RevokeWorkstationRequest>,
    ) -> Result<Response<pb::RevokeWorkstationResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let ws = self.state.workstation_for_change(&admin, &request.get_ref().id).await?;
        if ws.status != WorkstationStatus::Revoked {
            self.state
                .store
                .set_workstation_status(
                    &ws.id,
                    WorkstationStatus::Revoked,
                    None,
                    &Actor::admin(&admin),
                    self.state.clock.now(),
                )
                .await
                .map_err(ApiError::from)?;
        }
        tracing::info!(admin = %admin.name, workstation = %ws.id, "workstation revoked");
        Ok(Response::new(pb::RevokeWorkstationResponse {}))
    }

    async fn unlock_workstation(
        &self,
        request: Request<pb::UnlockWorkstationRequest>,
    ) -> Result<Response<pb::UnlockWorkstationResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let ws = self.state.workstation_for_change(&admin, &request.get_ref().id).await?;
        if ws.status == WorkstationStatus::Revoked {
            return Err(Status::failed_precondition(
                "a revoked workstation cannot be unlocked; enroll it again",
            ));
        }
        self.state
            .store
            .set_workstation_status(
                &ws.id,
                WorkstationStatus::Active,
                None,
                &Actor::admin(&admin),
                self.state.clock.now(),
            )
            .await
            .map_err(ApiError::from)?;
        tracing::info!(admin = %admin.name, workstation = %ws.id, "workstation unlocked");
        Ok(Response::new(pb::UnlockWorkstationResponse {}))
    }

    async fn list_admins(
        &self,
        request: Request<pb::ListAdminsRequest>,
    ) -> Result<Response<pb::ListAdminsResponse>, Status> {
        admins::list_admins(self, request).await
    }

    async fn revoke_admin(
        &self,
        request: Request<pb::RevokeAdminRequest>,
    ) -> Result<Response<pb::RevokeAdminResponse>, Status> {
        admins::revoke_admin(self, request).await
    }

    async fn get_password_policy(
        &self,
        request: Request<pb::GetPasswordPolicyRequest>,
    ) -> Result<Response<pb::GetPasswordPolicyResponse>, Status> {
        rotations::get_password_policy(self, request).await
    }

    async fn set_password_policy(
        &self,
        request: Request<pb::SetPasswordPolicyRequest>,
    ) -> Result<Response<pb::SetPasswordPolicyResponse>, Status> {
        rotations::set_password_policy(self, request).await
    }

    async fn issue_provisional(
        &self,
        request: Request<pb::IssueProvisionalRequest>,
    ) -> Result<Response<pb::IssueProvisionalResponse>, Status> {
        rotations::issue_provisional(self, request).await
    }

    async fn cancel_provisional(
        &self,
        request: Request<pb::CancelProvisionalRequest>,
    ) -> Result<Response<pb::CancelProvisionalResponse>, Status> {
        rotations::cancel_provisional(self, request).await
    }

    async fn reissue_provisional(
        &self,
        request: Request<pb::ReissueProvisionalRequest>,
    ) -> Result<Response<pb::ReissueProvisionalResponse>, Status> {
        rotations::reissue_provisional(self, request).await
    }

    async fn list_rotations(
        &self,
        request: Request<pb::ListRotationsRequest>,
    ) -> Result<Response<pb::ListRotationsResponse>, Status> {
        rotations::list_rotations(self, request).await
    }

    async fn disclose_provisional(
        &self,
        request: Request<pb::DiscloseProvisionalRequest>,
    ) -> Result<Response<pb::DiscloseProvisionalResponse>, Status> {
        rotations::disclose_provisional(self, request).await
    }

    async fn assign_workstation(
        &self,
        request: Request<pb::AssignWorkstationRequest>,
    ) -> Result<Response<pb::AssignWorkstationResponse>, Status> {
        let (admin, ws, mailbox) = self
            .assignment(&request, &request.get_ref().workstation_id, &request.get_ref().mailbox)
            .await?;
        self.state
            .store
            .assign_mailbox(&ws.id, &mailbox, &Actor::admin(&admin), self.state.clock.now())
            .await
            .map_err(ApiError::from)?;
        tracing::info!(admin = %admin.name, workstation = %ws.id, mailbox = %mailbox.address, "mailbox assigned");
        Ok(Response::new(pb::AssignWorkstationResponse {}))
    }

    async fn unassign_workstation(
        &self,
        request: Request<pb::UnassignWorkstationRequest>,
    ) -> Result<Response<pb::UnassignWorkstationResponse>, Status> {
        let (admin, ws, mailbox) = self
            .assignment(&request, &request.get_ref().workstation_id, &request.get_ref().mailbox)
            .await?;
        match self
            .state
            .store
            .unassign_mailbox(&ws.id, &mailbox, &Actor::admin(&admin), self.state.clock.now())
            .await
        {
            Ok(()) => Ok(Response::new(pb::UnassignWorkstationResponse {})),
            Err(store::Error::NotFound) => {
                Err(ApiError::NotFound(format!("{} is not assigned to {}", mailbox.address, ws.id))
                    .into())
            }
            Err(other) => Err(ApiError::from(other).into()),
        }
    }

    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        audit::list_audit_records(self, request).await
    }

    async fn verify_audit(
        &self,
        request: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        audit::verify_audit(self, request).await
    }
}

/// The workstation assignment RPCs' lookups (`AssignWorkstation`, `UnassignWorkstation`).
impl AdminApi {
    fn parse_address(&self, value: &str) -> Result<MailboxAddress, ApiError> {
        MailboxAddress::parse(value, &self.state.mail_domain)
            .map_err(|e| ApiError::invalid(format!("mailbox: {e}")))
    }

    async fn mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, ApiError> {
        match self.state.store.get_mailbox(address).await {
            Ok(m) => Ok(m),
            Err(store::Error::NotFound) => {
                Err(ApiError::NotFound(format!("mailbox {address} does not exist")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The administrator, workstation and mailbox of an (un)assignment, all in one office the
    /// administrator may change.
    pub(super) async fn assignment<T>(
        &self,
        request: &Request<T>,
        workstation_id: &str,
        mailbox: &str,
    ) -> Result<(Admin, Workstation, Mailbox), ApiError> {
        let admin = self.authenticate(request).await?;
        let ws = self.state.workstation_for_change(&admin, workstation_id).await?;
        let address = self.parse_address(mailbox)?;
        if address.office() != &ws.office {
            return Err(ApiError::invalid(format!(
                "mailbox {address} belongs to office {}, workstation {} to office {}",
                address.office(),
                ws.id,
                ws.office
            )));
        }
        let mailbox = self.mailbox(&address).await?;
        Ok((admin, ws, mailbox))
    }
}
