//! The AdminService implementation: authentication of administrators by bearer token, and one
//! delegation per RPC to the file of its resource (`offices`, `admins`, `audit`, `rotations`,
//! `workstations`, `web_access`), where requests are converted and handed to the services.

mod admins;
mod audit;
mod compliance;
mod mailbox;
mod offices;
#[cfg(test)]
mod page_bounds;
mod rotations;
mod settings;
mod web_access;
mod workstations;

use std::sync::Arc;

use secrecy::SecretString;
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status, Streaming};

use crate::domain::admin::Admin;
use crate::domain::token::Token;
use crate::services::access;
use crate::services::{Error, Services};

/// The AdminService handlers.
#[derive(Debug)]
pub(crate) struct AdminApi {
    pub(super) state: Arc<Services>,
}

impl AdminApi {
    pub(crate) fn new(state: Arc<Services>) -> AdminApi {
        AdminApi { state }
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

    async fn import_offices(
        &self,
        request: Request<Streaming<pb::ImportOfficesRequest>>,
    ) -> Result<Response<pb::ImportOfficesResponse>, Status> {
        offices::import_offices(self, request).await
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
        workstations::create_enrollment_token(self, request).await
    }

    async fn list_enrollment_tokens(
        &self,
        request: Request<pb::ListEnrollmentTokensRequest>,
    ) -> Result<Response<pb::ListEnrollmentTokensResponse>, Status> {
        workstations::list_enrollment_tokens(self, request).await
    }

    async fn revoke_enrollment_token(
        &self,
        request: Request<pb::RevokeEnrollmentTokenRequest>,
    ) -> Result<Response<pb::RevokeEnrollmentTokenResponse>, Status> {
        workstations::revoke_enrollment_token(self, request).await
    }

    async fn list_workstations(
        &self,
        request: Request<pb::ListWorkstationsRequest>,
    ) -> Result<Response<pb::ListWorkstationsResponse>, Status> {
        workstations::list_workstations(self, request).await
    }

    async fn revoke_workstation(
        &self,
        request: Request<pb::RevokeWorkstationRequest>,
    ) -> Result<Response<pb::RevokeWorkstationResponse>, Status> {
        workstations::revoke_workstation(self, request).await
    }

    async fn unlock_workstation(
        &self,
        request: Request<pb::UnlockWorkstationRequest>,
    ) -> Result<Response<pb::UnlockWorkstationResponse>, Status> {
        workstations::unlock_workstation(self, request).await
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

    async fn set_web_password(
        &self,
        request: Request<pb::SetWebPasswordRequest>,
    ) -> Result<Response<pb::SetWebPasswordResponse>, Status> {
        web_access::set_web_password(self, request).await
    }

    async fn begin_totp_enrolment(
        &self,
        request: Request<pb::BeginTotpEnrolmentRequest>,
    ) -> Result<Response<pb::BeginTotpEnrolmentResponse>, Status> {
        web_access::begin_totp_enrolment(self, request).await
    }

    async fn confirm_totp(
        &self,
        request: Request<pb::ConfirmTotpRequest>,
    ) -> Result<Response<pb::ConfirmTotpResponse>, Status> {
        web_access::confirm_totp(self, request).await
    }

    async fn list_web_sessions(
        &self,
        request: Request<pb::ListWebSessionsRequest>,
    ) -> Result<Response<pb::ListWebSessionsResponse>, Status> {
        web_access::list_web_sessions(self, request).await
    }

    async fn revoke_web_sessions(
        &self,
        request: Request<pb::RevokeWebSessionsRequest>,
    ) -> Result<Response<pb::RevokeWebSessionsResponse>, Status> {
        web_access::revoke_web_sessions(self, request).await
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
        workstations::assign_workstation(self, request).await
    }

    async fn get_workstation(
        &self,
        request: Request<pb::GetWorkstationRequest>,
    ) -> Result<Response<pb::GetWorkstationResponse>, Status> {
        workstations::get_workstation(self, request).await
    }

    async fn unassign_workstation(
        &self,
        request: Request<pb::UnassignWorkstationRequest>,
    ) -> Result<Response<pb::UnassignWorkstationResponse>, Status> {
        workstations::unassign_workstation(self, request).await
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

    async fn get_owa_url(
        &self,
        request: Request<pb::GetOwaUrlRequest>,
    ) -> Result<Response<pb::GetOwaUrlResponse>, Status> {
        settings::get_owa_url(self, request).await
    }

    async fn set_owa_url(
        &self,
        request: Request<pb::SetOwaUrlRequest>,
    ) -> Result<Response<pb::SetOwaUrlResponse>, Status> {
        settings::set_owa_url(self, request).await
    }

    async fn set_mailbox_logon(
        &self,
        request: Request<pb::SetMailboxLogonRequest>,
    ) -> Result<Response<pb::SetMailboxLogonResponse>, Status> {
        settings::set_mailbox_logon(self, request).await
    }

    async fn set_mailbox_account(
        &self,
        request: Request<pb::SetMailboxAccountRequest>,
    ) -> Result<Response<pb::SetMailboxAccountResponse>, Status> {
        mailbox::set_mailbox_account(self, request).await
    }

    async fn get_mailbox(
        &self,
        request: Request<pb::GetMailboxRequest>,
    ) -> Result<Response<pb::GetMailboxResponse>, Status> {
        mailbox::get_mailbox(self, request).await
    }

    async fn get_office_readiness(
        &self,
        request: Request<pb::GetOfficeReadinessRequest>,
    ) -> Result<Response<pb::GetOfficeReadinessResponse>, Status> {
        settings::get_office_readiness(self, request).await
    }

    async fn get_compliance_policy(
        &self,
        request: Request<pb::GetCompliancePolicyRequest>,
    ) -> Result<Response<pb::GetCompliancePolicyResponse>, Status> {
        compliance::get_compliance_policy(self, request).await
    }

    async fn set_compliance_policy(
        &self,
        request: Request<pb::SetCompliancePolicyRequest>,
    ) -> Result<Response<pb::SetCompliancePolicyResponse>, Status> {
        compliance::set_compliance_policy(self, request).await
    }

    async fn get_compliance_report(
        &self,
        request: Request<pb::GetComplianceReportRequest>,
    ) -> Result<Response<pb::GetComplianceReportResponse>, Status> {
        compliance::get_compliance_report(self, request).await
    }
}
