//! The AdminService RPCs about offices and mailboxes, the import stream included: authenticate,
//! convert, call `services::offices`, convert back.

use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status, Streaming};

use super::AdminApi;
use crate::domain::office::{Mailbox, NewOffice, Office, Text};
use crate::grpc::{parse, rfc3339};
use crate::services::Error;
use crate::services::offices::{MailboxPageRequest, RawMailboxRow, RawOfficeRow};

pub(super) async fn create_office(
    api: &AdminApi,
    request: Request<pb::CreateOfficeRequest>,
) -> Result<Response<pb::CreateOfficeResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.into_inner();
    let office = NewOffice {
        crpcen: parse::crpcen("crpcen", &req.crpcen)?,
        name: Text::parse("name", &req.name).map_err(|e| Error::invalid(e.to_string()))?,
        city: Text::parse_optional("city", &req.city).map_err(|e| Error::invalid(e.to_string()))?,
    };
    let created = api.state.create_office(&admin, &office).await?;
    Ok(Response::new(pb::CreateOfficeResponse { office: Some(office_to_pb(created)) }))
}

pub(super) async fn get_office(
    api: &AdminApi,
    request: Request<pb::GetOfficeRequest>,
) -> Result<Response<pb::GetOfficeResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let crpcen = parse::crpcen("crpcen", &request.get_ref().crpcen)?;
    let office = api.state.get_office(&admin, &crpcen).await?;
    Ok(Response::new(pb::GetOfficeResponse { office: Some(office_to_pb(office)) }))
}

pub(super) async fn list_offices(
    api: &AdminApi,
    request: Request<pb::ListOfficesRequest>,
) -> Result<Response<pb::ListOfficesResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let offices = api.state.list_offices(&admin).await?;
    Ok(Response::new(pb::ListOfficesResponse {
        offices: offices.into_iter().map(office_to_pb).collect(),
    }))
}

pub(super) async fn import_mailboxes(
    api: &AdminApi,
    request: Request<Streaming<pb::ImportMailboxesRequest>>,
) -> Result<Response<pb::ImportMailboxesResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let mut import = api.state.begin_import(&admin)?;
    let mut stream = request.into_inner();
    let mut dry_run = false;
    while let Some(chunk) = stream.message().await? {
        dry_run |= chunk.dry_run;
        import.add_rows(chunk.rows.into_iter().map(row_from_pb).collect())?;
    }
    let report = api.state.import_mailboxes(&admin, import, dry_run).await?;
    Ok(Response::new(pb::ImportMailboxesResponse {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        dry_run,
    }))
}

pub(super) async fn import_offices(
    api: &AdminApi,
    request: Request<Streaming<pb::ImportOfficesRequest>>,
) -> Result<Response<pb::ImportOfficesResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let mut import = api.state.begin_office_import(&admin)?;
    let mut stream = request.into_inner();
    let mut dry_run = false;
    while let Some(chunk) = stream.message().await? {
        dry_run |= chunk.dry_run;
        import.add_rows(
            chunk
                .rows
                .into_iter()
                .map(|row| RawOfficeRow {
                    line: row.line,
                    crpcen: row.crpcen,
                    name: row.name,
                    city: row.city,
                })
                .collect(),
        )?;
    }
    let report = api.state.import_offices(&admin, import, dry_run).await?;
    Ok(Response::new(pb::ImportOfficesResponse {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        dry_run,
    }))
}

pub(super) async fn list_mailboxes(
    api: &AdminApi,
    request: Request<pb::ListMailboxesRequest>,
) -> Result<Response<pb::ListMailboxesResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.into_inner();
    let office = parse::optional_crpcen("office", &req.office)?;
    let page = MailboxPageRequest {
        size: (req.page_size != 0).then_some(req.page_size),
        after: parse::page_token("page_token", &req.page_token)?,
    };
    let page = api.state.list_mailboxes(&admin, office.as_ref(), &page).await?;
    Ok(Response::new(pb::ListMailboxesResponse {
        mailboxes: page.mailboxes.into_iter().map(mailbox_to_pb).collect(),
        next_page_token: page.next.unwrap_or_default(),
    }))
}

fn row_from_pb(row: pb::MailboxRow) -> RawMailboxRow {
    RawMailboxRow {
        line: row.line,
        address: row.address,
        display_name: row.display_name,
        logon_name: row.logon_name,
        local_account: row.local_account,
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

/// A mailbox for administrators.
pub(super) fn mailbox_to_pb(mailbox: Mailbox) -> pb::Mailbox {
    pb::Mailbox {
        office: mailbox.address.office().to_string(),
        last_name: mailbox.address.last_name().to_owned(),
        first_name: mailbox.address.first_name().to_owned(),
        address: mailbox.address.to_string(),
        display_name: mailbox.display_name,
        created_at: rfc3339(mailbox.created_at),
        last_verified_change_at: mailbox.last_verified_change_at.map(rfc3339).unwrap_or_default(),
        logon_name: mailbox.logon_name.map(|n| n.to_string()).unwrap_or_default(),
    }
}
