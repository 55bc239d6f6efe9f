//! The AdminService implementation: authentication of administrators, proto ⇄ domain conversions,
//! and the import rules (line-numbered errors, all or nothing).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use secrecy::SecretString;
use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status, Streaming};

use super::status::ApiError;
use super::{AppState, rfc3339};
use crate::admin::{Admin, AdminToken};
use crate::audit::Actor;
use crate::domain::{Crpcen, Mailbox, MailboxAddress, NewMailbox, NewOffice, Office, Text};
use crate::store;

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
    state: Arc<AppState>,
}

impl AdminApi {
    pub(crate) fn new(state: Arc<AppState>) -> AdminApi {
        AdminApi { state }
    }

    /// The administrator presenting the request's bearer token. Every handler calls this first.
    async fn authenticate<T>(&self, request: &Request<T>) -> Result<Admin, ApiError> {
        let header = request.metadata().get("authorization").ok_or(ApiError::Unauthenticated)?;
        let value = header.to_str().map_err(|_| ApiError::Unauthenticated)?;
        let token = value.strip_prefix("Bearer ").ok_or(ApiError::Unauthenticated)?;
        let token = AdminToken::from_secret(SecretString::from(token.trim().to_owned()));
        match self.state.store.admin_by_token(&token.hash()).await {
            Ok(admin) => Ok(admin),
            Err(store::Error::NotFound) => {
                tracing::warn!(remote = ?request.remote_addr(), "refused an administrator credential");
                Err(ApiError::Unauthenticated)
            }
            Err(other) => Err(other.into()),
        }
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

fn parse_crpcen(field: &str, value: &str) -> Result<Crpcen, ApiError> {
    Crpcen::parse(value).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
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
            admin_name: admin.name,
            role: admin.role.as_str().to_owned(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }

    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> Result<Response<pb::CreateOfficeResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let req = request.into_inner();
        let office = NewOffice {
            crpcen: parse_crpcen("crpcen", &req.crpcen)?,
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
        self.authenticate(&request).await?;
        let crpcen = parse_crpcen("crpcen", &request.get_ref().crpcen)?;
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
        self.authenticate(&request).await?;
        let offices = self.state.store.list_offices().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListOfficesResponse {
            offices: offices.into_iter().map(office_to_pb).collect(),
        }))
    }

    async fn import_mailboxes(
        &self,
        request: Request<Streaming<pb::ImportMailboxesRequest>>,
    ) -> Result<Response<pb::ImportMailboxesResponse>, Status> {
        let admin = self.authenticate(&request).await?;
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
        self.authenticate(&request).await?;
        let req = request.into_inner();
        let office = if req.office.trim().is_empty() {
            None
        } else {
            Some(parse_crpcen("office", &req.office)?)
        };
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
        let mailboxes = self
            .state
            .store
            .list_mailboxes(office.as_ref(), after, page_size)
            .await
            .map_err(ApiError::from)?;
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
}
