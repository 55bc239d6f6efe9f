//! STUB, replaced by the documents branch.

use time::OffsetDateTime;

use crate::domain::admin::Admin;
use crate::domain::office::Crpcen;
use crate::services::{Error, Services};

/// A day.
#[derive(Debug, Clone, Copy)]
pub struct TrendPoint {
    /// When.
    pub at: OffsetDateTime,
    /// Compliant.
    pub compliant: u64,
    /// All.
    pub total: u64,
}

impl Services {
    /// Stub.
    pub async fn compliance_trend(
        &self,
        _admin: &Admin,
        _office: Option<&Crpcen>,
        _points: u32,
    ) -> Result<Vec<TrendPoint>, Error> {
        Ok(Vec::new())
    }
}
