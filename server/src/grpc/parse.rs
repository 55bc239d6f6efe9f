//! Request fields parsed into domain types at the edge, each error naming its field.

use crate::domain::office::Crpcen;
use crate::services::Error;

/// A required CRPCEN.
pub(super) fn crpcen(field: &str, value: &str) -> Result<Crpcen, Error> {
    Crpcen::parse(value).map_err(|e| Error::invalid(format!("{field}: {e}")))
}

/// A CRPCEN, or `None` for an empty field.
pub(super) fn optional_crpcen(field: &str, value: &str) -> Result<Option<Crpcen>, Error> {
    if value.trim().is_empty() { Ok(None) } else { crpcen(field, value).map(Some) }
}
