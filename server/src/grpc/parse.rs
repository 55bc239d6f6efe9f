//! Request fields parsed into domain types at the edge, each error naming its field.

use crate::domain::identifier::{AdminName, IdentifierError, PageToken, WorkstationId};
use crate::domain::office::Crpcen;
use crate::domain::page::{ReportCursor, RotationCursor};
use crate::services::Error;

/// A required CRPCEN.
pub(super) fn crpcen(field: &str, value: &str) -> Result<Crpcen, Error> {
    Crpcen::parse(value).map_err(|e| Error::invalid(format!("{field}: {e}")))
}

/// A CRPCEN, or `None` for an empty field.
pub(super) fn optional_crpcen(field: &str, value: &str) -> Result<Option<Crpcen>, Error> {
    if value.trim().is_empty() { Ok(None) } else { crpcen(field, value).map(Some) }
}

fn invalid(e: IdentifierError) -> Error {
    Error::invalid(e.to_string())
}

/// A workstation id: no NUL, control or invisible character, bounded.
pub(super) fn workstation_id(field: &'static str, value: &str) -> Result<WorkstationId, Error> {
    WorkstationId::parse(field, value).map_err(invalid)
}

/// An administrator's name.
pub(super) fn admin_name(field: &'static str, value: &str) -> Result<AdminName, Error> {
    AdminName::parse(field, value).map_err(invalid)
}

/// A page token, or `None` for the first page.
pub(super) fn page_token(field: &'static str, value: &str) -> Result<Option<PageToken>, Error> {
    PageToken::parse_optional(field, value).map_err(invalid)
}

/// Where a page of rotations resumes, or `None` for the first page.
pub(super) fn rotation_cursor(
    field: &'static str,
    value: &str,
) -> Result<Option<RotationCursor>, Error> {
    RotationCursor::parse_optional(field, value).map_err(invalid)
}

/// Where a page of the compliance report resumes, or `None` for the first page.
pub(super) fn report_cursor(
    field: &'static str,
    value: &str,
) -> Result<Option<ReportCursor>, Error> {
    ReportCursor::parse_optional(field, value).map_err(invalid)
}
