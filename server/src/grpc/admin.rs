//! The AdminService implementation: authentication of administrators, proto ⇄ domain conversions,
//! and the import rules (line-numbered errors, all or nothing).

mod rotations;
mod workstations;

use std::collections::{BTreeMap, HashMap};
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
use crate::domain::{Crpcen, Mailbox, MailboxAddress, NewMailbox, NewOffice, Office, Text};
use crate::services::Services;
use crate::services::access;
use crate::store;
use crate::token::Token;

/// Most rows one import may hold.
pub(crate) const MAX_IMPORT_ROWS: usize = 100_000;
/// Most errors listed in one refusal; the rest are counted.
const MAX_LISTED_ERRORS: usize = 20;
/// Default and largest page of mailboxes.
const DEFAULT_PAGE: u32 = 1_000;
const MAX_PAGE: u32 = 5_000;

/// The AdminService handlers.
#[derive(Debug)]
pub(crate) struct AdminApi {
    pub(super) state: Arc<Services>,
}

impl AdminApi {
    pub(crate) fn new(state: Arc<Services>) -> AdminApi {
        AdminApi { state }
    }

    /// The administrator presenting the request's bearer token, if it may do `permission`. Every
    /// handler calls this first.
    pub(super) async fn authorize<T>(
        &self,
        request: &Request<T>,
        permission: Permission<'_>,
    ) -> Result<Admin, ApiError> {
        let admin = self.authenticate(request).await?;
        access::authorize(&admin, permission)?;
        Ok(admin)
    }

    /// The administrator presenting the request's bearer token.
    pub(super) async fn authenticate<T>(&self, request: &Request<T>) -> Result<Admin, ApiError> {
        let header = request.metadata().get("authorization").ok_or_else(access::unauthenticated)?;
        let value = header.to_str().map_err(|_| access::unauthenticated())?;
        let token = value.strip_prefix("Bearer ").ok_or_else(access::unauthenticated)?;
        let token = Token::from_secret(SecretString::from(token.trim().to_owned()));
        let admin = self.state.authenticate_admin(&token).await;
        if let Err(ApiError::Unauthenticated(_)) = &admin {
            let remote = request.extensions().get::<super::tls::PeerInfo>().map(|p| p.remote);
            tracing::warn!(?remote, "refused an administrator credential");
        }
        admin
    }
}

fn office_to_pb(office: Office) -> pb::Office {
    pb::Office {
        crpcen: office.crpcen.to_string(),
        name: office.name,
        city: office.city.unwrap_or_default(),
        mailbox_count: office.mailbox_count,
        created_at: rfc3339(office.created_at),
    }
}

fn mailbox_to_pb(mailbox: Mailbox) -> pb::Mailbox {
    pb::Mailbox {
        office: mailbox.address.office().to_string(),
        last_name: mailbox.address.last_name().to_owned(),
        first_name: mailbox.address.first_name().to_owned(),
        address: mailbox.address.to_string(),
        display_name: mailbox.display_name,
        created_at: rfc3339(mailbox.created_at),
    }
}

/// Rows of an import, parsed and checked, with the line each came from.
#[derive(Debug, Default)]
struct ImportBatch {
    rows: Vec<NewMailbox>,
    lines: Vec<u64>,
    first_line_of: HashMap<String, u64>,
    errors: Vec<String>,
    error_count: usize,
}

impl ImportBatch {
    fn error(&mut self, message: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(message);
        }
    }

    fn add(&mut self, row: pb::MailboxRow, domain: &crate::domain::MailDomain) {
        let line = row.line;
        let address = match MailboxAddress::parse(&row.address, domain) {
            Ok(address) => address,
            Err(e) => return self.error(format!("line {line}: {e}")),
        };
        let display_name = match Text::parse("display_name", &row.display_name) {
            Ok(name) => name,
            Err(e) => return self.error(format!("line {line}: {e}")),
        };
        if let Some(first) = self.first_line_of.get(address.as_str()) {
            return self.error(format!("line {line}: duplicate of line {first} ({address})"));
        }
        self.first_line_of.insert(address.to_string(), line);
        self.rows.push(NewMailbox { address, display_name });
        self.lines.push(line);
    }

    fn refusal(&self) -> String {
        let mut message = format!(
            "{} invalid line{}; nothing was imported",
            self.error_count,
            if self.error_count == 1 { "" } else { "s" }
        );
        for error in &self.errors {
            message.push('\n');
            message.push_str(error);
        }
        if self.error_count > self.errors.len() {
            message.push_str(&format!("\n… and {} more", self.error_count - self.errors.len()));
        }
        message
    }

    /// The refusal for offices that do not exist, naming the lines that use them.
    fn missing_offices(&self, missing: &[Crpcen]) -> String {
        let mut lines: BTreeMap<&Crpcen, Vec<u64>> = BTreeMap::new();
        for (row, line) in self.rows.iter().zip(&self.lines) {
            if missing.contains(row.address.office()) {
                lines.entry(row.address.office()).or_default().push(*line);
            }
        }
        let mut message = format!("{} unknown office(s); nothing was imported", missing.len());
        for (office, lines) in lines.into_iter().take(MAX_LISTED_ERRORS) {
            let shown: Vec<String> = lines.iter().take(5).map(u64::to_string).collect();
            let more = if lines.len() > 5 {
                format!(" and {} more", lines.len() - 5)
            } else {
                String::new()
            };
            message.push_str(&format!(
                "\nline {}{more}: office {office} does not exist (create it with `sesamectl office add {office}`)",
                shown.join(", ")
            ));
        }
        message
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        Ok(Response::new(pb::WhoAmIResponse {
            role: admin.role.as_str().to_owned(),
            offices: admin.offices.iter().map(ToString::to_string).collect(),
            admin_name: admin.name,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }

    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> Result<Response<pb::CreateOfficeResponse>, Status> {
        let admin = self.authorize(&request, Permission::Global).await?;
        let req = request.into_inner();
        let office = NewOffice {
            crpcen: parse::crpcen("crpcen", &req.crpcen)?,
            name: Text::parse("name", &req.name).map_err(|e| ApiError::invalid(e.to_string()))?,
            city: Text::parse_optional("city", &req.city)
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        };
        let created = match self
            .state
            .store
            .create_office(&office, &Actor::admin(&admin), self.state.clock.now())
            .await
        {
            Ok(created) => created,
            Err(store::Error::Conflict) => {
                return Err(ApiError::AlreadyExists(format!(
                    "office {} already exists",
                    office.crpcen
                ))
                .into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        tracing::info!(admin = %admin.name, crpcen = %created.crpcen, "office created");
        Ok(Response::new(pb::CreateOfficeResponse { office: Some(office_to_pb(created)) }))
    }

    async fn get_office(
        &self,
        request: Request<pb::GetOfficeRequest>,
    ) -> Result<Response<pb::GetOfficeResponse>, Status> {
        let crpcen = parse::crpcen("crpcen", &request.get_ref().crpcen)?;
        self.authorize(&request, Permission::Read(Some(&crpcen))).await?;
        let office = match self.state.store.get_office(&crpcen).await {
            Ok(office) => office,
            Err(store::Error::NotFound) => {
                return Err(ApiError::NotFound(format!("office {crpcen} does not exist")).into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        Ok(Response::new(pb::GetOfficeResponse { office: Some(office_to_pb(office)) }))
    }

    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Result<Response<pb::ListOfficesResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let mut offices = self.state.store.list_offices().await.map_err(ApiError::from)?;
        if let Some(scope) = admin.read_scope() {
            offices.retain(|o| scope.contains(&o.crpcen));
        }
        Ok(Response::new(pb::ListOfficesResponse {
            offices: offices.into_iter().map(office_to_pb).collect(),
        }))
    }

    async fn import_mailboxes(
        &self,
        request: Request<Streaming<pb::ImportMailboxesRequest>>,
    ) -> Result<Response<pb::ImportMailboxesResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        if admin.role == AdminRole::Auditor {
            return Err(access::denied(&Permission::Global).into());
        }
        let mut stream = request.into_inner();
        let mut batch = ImportBatch::default();
        let mut dry_run = false;
        let mut received = 0usize;
        while let Some(chunk) = stream.message().await? {
            dry_run |= chunk.dry_run;
            received += chunk.rows.len();
            if received > MAX_IMPORT_ROWS {
                return Err(ApiError::ResourceExhausted(format!(
                    "an import holds at most {MAX_IMPORT_ROWS} rows; split the file"
                ))
                .into());
            }
            for row in chunk.rows {
                batch.add(row, &self.state.mail_domain);
            }
        }
        if batch.error_count > 0 {
            return Err(ApiError::InvalidArgument(batch.refusal()).into());
        }
        if batch.rows.is_empty() {
            return Err(ApiError::invalid("the import holds no rows").into());
        }
        if let Some((row, line)) = batch
            .rows
            .iter()
            .zip(&batch.lines)
            .find(|(row, _)| !admin.may(Permission::Write(row.address.office())))
        {
            return Err(ApiError::denied(format!(
                "line {line}: office {} is not in your offices; nothing was imported",
                row.address.office()
            ))
            .into());
        }
        let actor = Actor::admin(&admin);
        let report = match self
            .state
            .store
            .import_mailboxes(&batch.rows, dry_run, &actor, self.state.clock.now())
            .await
        {
            Ok(report) => report,
            Err(store::Error::MissingOffices(missing)) => {
                return Err(ApiError::NotFound(batch.missing_offices(&missing)).into());
            }
            Err(store::Error::Conflict) => {
                // Another import registered the same address meanwhile; this one wrote nothing.
                return Err(Status::aborted(
                    "a concurrent import touched the same mailboxes; nothing was imported, retry",
                ));
            }
            Err(other) => return Err(ApiError::from(other).into()),
        };
        tracing::info!(
            admin = %admin.name,
            rows = batch.rows.len(),
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            dry_run,
            "mailboxes imported"
        );
        Ok(Response::new(pb::ImportMailboxesResponse {
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            dry_run,
        }))
    }

    async fn list_mailboxes(
        &self,
        request: Request<pb::ListMailboxesRequest>,
    ) -> Result<Response<pb::ListMailboxesResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let req = request.into_inner();
        let office = parse::optional_crpcen("office", &req.office)?;
        let scope = access::listing_scope(&admin, office.as_ref())?;
        if let Some(office) = &office {
            match self.state.store.get_office(office).await {
                Ok(_) => {}
                Err(store::Error::NotFound) => {
                    return Err(
                        ApiError::NotFound(format!("office {office} does not exist")).into()
                    );
                }
                Err(other) => return Err(ApiError::from(other).into()),
            }
        }
        let page_size = match req.page_size {
            0 => DEFAULT_PAGE,
            n if n <= MAX_PAGE => n,
            _ => return Err(ApiError::invalid(format!("page_size: at most {MAX_PAGE}")).into()),
        };
        let after = if req.page_token.is_empty() { None } else { Some(req.page_token.as_str()) };
        if after.is_some_and(|t| t.len() > crate::domain::MAX_ADDRESS_LEN) {
            return Err(ApiError::invalid("page_token: not a token this server issued").into());
        }
        let mut mailboxes = Vec::new();
        for office in &scope {
            let page = self
                .state
                .store
                .list_mailboxes(office.as_ref(), after, page_size)
                .await
                .map_err(ApiError::from)?;
            mailboxes.extend(page);
        }
        // Several offices: merge their pages and keep the first `page_size` addresses.
        mailboxes.sort_by(|a, b| a.address.as_str().cmp(b.address.as_str()));
        mailboxes.truncate(page_size as usize);
        let next_page_token = if mailboxes.len() == page_size as usize {
            mailboxes.last().map(|m| m.address.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListMailboxesResponse {
            mailboxes: mailboxes.into_iter().map(mailbox_to_pb).collect(),
            next_page_token,
        }))
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
        self.authorize(&request, Permission::Global).await?;
        let admins = self.state.store.list_admins().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListAdminsResponse {
            admins: admins
                .into_iter()
                .map(|a| pb::AdminInfo {
                    role: a.role.as_str().to_owned(),
                    offices: a.offices.iter().map(ToString::to_string).collect(),
                    created_at: rfc3339(a.created_at),
                    revoked: a.revoked_at.is_some(),
                    name: a.name,
                })
                .collect(),
        }))
    }

    async fn revoke_admin(
        &self,
        request: Request<pb::RevokeAdminRequest>,
    ) -> Result<Response<pb::RevokeAdminResponse>, Status> {
        let admin = self.authorize(&request, Permission::Global).await?;
        let name = request.into_inner().name;
        if name == admin.name {
            return Err(Status::failed_precondition("an administrator cannot revoke itself"));
        }
        match self
            .state
            .store
            .revoke_admin(&name, &Actor::admin(&admin), self.state.clock.now())
            .await
        {
            Ok(()) => {}
            Err(store::Error::NotFound) => {
                return Err(ApiError::NotFound(format!(
                    "no active administrator named {name:.60}"
                ))
                .into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        }
        tracing::info!(admin = %admin.name, revoked = %name, "administrator revoked");
        Ok(Response::new(pb::RevokeAdminResponse {}))
    }

    async fn get_password_policy(
        &self,
        request: Request<pb::GetPasswordPolicyRequest>,
    ) -> Result<Response<pb::GetPasswordPolicyResponse>, Status> {
        self.get_password_policy_impl(request).await
    }

    async fn set_password_policy(
        &self,
        request: Request<pb::SetPasswordPolicyRequest>,
    ) -> Result<Response<pb::SetPasswordPolicyResponse>, Status> {
        self.set_password_policy_impl(request).await
    }

    async fn issue_provisional(
        &self,
        request: Request<pb::IssueProvisionalRequest>,
    ) -> Result<Response<pb::IssueProvisionalResponse>, Status> {
        self.issue_provisional_impl(request).await
    }

    async fn cancel_provisional(
        &self,
        request: Request<pb::CancelProvisionalRequest>,
    ) -> Result<Response<pb::CancelProvisionalResponse>, Status> {
        self.cancel_provisional_impl(request).await
    }

    async fn reissue_provisional(
        &self,
        request: Request<pb::ReissueProvisionalRequest>,
    ) -> Result<Response<pb::ReissueProvisionalResponse>, Status> {
        self.reissue_provisional_impl(request).await
    }

    async fn list_rotations(
        &self,
        request: Request<pb::ListRotationsRequest>,
    ) -> Result<Response<pb::ListRotationsResponse>, Status> {
        self.list_rotations_impl(request).await
    }

    async fn disclose_provisional(
        &self,
        request: Request<pb::DiscloseProvisionalRequest>,
    ) -> Result<Response<pb::DiscloseProvisionalResponse>, Status> {
        self.disclose_provisional_impl(request).await
    }

    async fn assign_workstation(
        &self,
        request: Request<pb::AssignWorkstationRequest>,
    ) -> Result<Response<pb::AssignWorkstationResponse>, Status> {
        workstations::assign_workstation(self, request).await
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
        self.list_audit_records_impl(request).await
    }

    async fn verify_audit(
        &self,
        request: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        self.verify_audit_impl(request).await
    }
}
