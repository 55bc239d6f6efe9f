//! STUB until the documents crate lands.

use crate::domain::office::Office;
use crate::services::compliance::ComplianceReport;
use crate::services::rotations::Disclosed;

pub(crate) fn letters(_office: &Office, _disclosed: &Disclosed) -> Vec<u8> {
    Vec::new()
}

pub(crate) fn export_csv(_disclosed: &Disclosed) -> Vec<u8> {
    Vec::new()
}

pub(crate) fn report_csv(_report: &ComplianceReport) -> Vec<u8> {
    Vec::new()
}

pub(crate) fn report_pdf(_report: &ComplianceReport) -> Vec<u8> {
    Vec::new()
}
