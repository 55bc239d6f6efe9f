//! The largest answer of each listing read a page at a time stays below the response cap
//! (`sesame_proto::limits::MAX_RESPONSE_BYTES`), whatever the fleet: a full page of the longest
//! lines the domain allows (addresses of 254 bytes, names of 200 four-byte characters, every
//! optional field set), each mailbox line under an office of its own.

use prost::Message;
use sesame_proto::limits::MAX_RESPONSE_BYTES;
use sesame_proto::v1 as pb;

use crate::domain::identifier::{MAX_ADMIN_NAME_LEN, WorkstationId};
use crate::domain::office::{MAX_ADDRESS_LEN, MAX_TEXT_CHARS};
use crate::domain::page::{MAX_PAGE, MAX_PAGE_TOKEN_LEN};

/// A time as the server writes it, with microseconds.
const TIME: &str = "2026-11-25T09:30:00.123456Z";

fn longest_name() -> String {
    "𝔸".repeat(MAX_TEXT_CHARS)
}

fn longest_address() -> String {
    let domain = "@01234.mailnot.fr";
    let local = MAX_ADDRESS_LEN - domain.len();
    format!("{}.{}{domain}", "a".repeat(local / 2), "b".repeat(local - local / 2 - 1))
}

/// Asserts that `page` fits.
fn assert_fits(what: &str, page: usize) {
    assert!(page < MAX_RESPONSE_BYTES, "{what}: {page} bytes for a full page");
}

#[test]
fn a_full_page_of_rotations_fits_in_one_answer() {
    let rotation = pb::RotationInfo {
        id: "rot-0123456789abcdef".into(),
        mailbox: longest_address(),
        office: "01234".into(),
        display_name: longest_name(),
        status: "cancelled".into(),
        issued_by: format!("admin:{}", "a".repeat(MAX_ADMIN_NAME_LEN)),
        issued_at: TIME.into(),
        expires_at: TIME.into(),
        delivered_at: TIME.into(),
        closed_at: TIME.into(),
        kind: "provisional".into(),
        last_step: "completed".into(),
        last_step_at: TIME.into(),
        workstation_id: "w".repeat(WorkstationId::MAX_LEN),
        failure: "current_password_refused".into(),
    };
    let page = pb::ListRotationsResponse {
        rotations: vec![rotation; MAX_PAGE as usize],
        next_page_token: "t".repeat(MAX_PAGE_TOKEN_LEN),
    };
    assert_fits("ListRotations", page.encoded_len());
}

#[test]
fn a_full_page_of_the_report_fits_in_one_answer() {
    let counts: Vec<pb::ComplianceCount> =
        (1..=8).map(|state| pb::ComplianceCount { state, mailboxes: u64::MAX }).collect();
    let mailbox = pb::MailboxCompliance {
        address: longest_address(),
        display_name: longest_name(),
        state: pb::ComplianceState::ChangeFailed.into(),
        reason: "current_password_refused".into(),
        since: TIME.into(),
        non_compliant_since: TIME.into(),
        last_verified_change_at: TIME.into(),
    };
    let office = pb::OfficeCompliance {
        crpcen: "01234".into(),
        name: longest_name(),
        mailboxes: u64::MAX,
        compliant: u64::MAX,
        counts: counts.clone(),
        oldest_verified_change_at: TIME.into(),
        never_changed: u64::MAX,
        mailbox_states: vec![mailbox],
        late_since: TIME.into(),
    };
    let page = pb::GetComplianceReportResponse {
        at: TIME.into(),
        generated_at: TIME.into(),
        offices: vec![office; MAX_PAGE as usize],
        mailboxes: u64::MAX,
        compliant: u64::MAX,
        counts,
        offices_compliant: u64::MAX,
        offices_reported: u64::MAX,
        oldest_verified_change_at: TIME.into(),
        audit_head_seq: i64::MAX,
        audit_head_hash: "f".repeat(64),
        audit_head_signed_at: TIME.into(),
        audit_head_key_id: "k".repeat(16),
        audit_head_signature: "s".repeat(88),
        next_page_token: "t".repeat(MAX_PAGE_TOKEN_LEN),
    };
    assert_fits("GetComplianceReport", page.encoded_len());
}
