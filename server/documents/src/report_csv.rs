//! The compliance report as CSV: one line per office ([`OfficeRow`]) or per mailbox
//! ([`MailboxRow`]), every cell through [`CsvOut`]; and the report's stamp
//! ([`write_stamp`]): its date, totals and signed audit head, in a one-line CSV of its own that
//! goes with the table (why beside it and not in it: the crate's docs).

use std::io::{self, Write};

use serde::Serialize;

use crate::report::{ComplianceReportDoc, OfficeLine, State, count_of};
use crate::{CsvOut, optional_rfc3339, rfc3339};

/// The share of compliant mailboxes, one decimal: "33.3"; "-" for none.
pub fn percent(compliant: u64, total: u64) -> String {
    if total == 0 {
        return "-".to_owned();
    }
    format!("{:.1}", compliant as f64 * 100.0 / total as f64)
}

/// One office, as listed (the CSV's columns, in order).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OfficeRow {
    /// CRPCEN.
    pub crpcen: String,
    /// Name.
    pub name: String,
    /// Mailboxes.
    pub mailboxes: u64,
    /// Compliant mailboxes.
    pub compliant: u64,
    /// Their share, [`percent`].
    pub percent_compliant: String,
    /// Due soon.
    pub due_soon: u64,
    /// Overdue.
    pub overdue: u64,
    /// Provisional pending.
    pub provisional_pending: u64,
    /// Provisional expired.
    pub provisional_expired: u64,
    /// Change failed.
    pub change_failed: u64,
    /// Agent offline.
    pub agent_offline: u64,
    /// Never enrolled.
    pub never_enrolled: u64,
    /// RFC 3339, empty when every mailbox complies.
    pub late_since: String,
    /// RFC 3339, empty if none.
    pub oldest_verified_change_at: String,
}

impl From<&OfficeLine> for OfficeRow {
    fn from(o: &OfficeLine) -> OfficeRow {
        OfficeRow {
            crpcen: o.crpcen.clone(),
            name: o.name.clone(),
            mailboxes: o.mailboxes,
            compliant: o.compliant,
            percent_compliant: percent(o.compliant, o.mailboxes),
            due_soon: count_of(&o.counts, State::DueSoon),
            overdue: count_of(&o.counts, State::Overdue),
            provisional_pending: count_of(&o.counts, State::ProvisionalPending),
            provisional_expired: count_of(&o.counts, State::ProvisionalExpired),
            change_failed: count_of(&o.counts, State::ChangeFailed),
            agent_offline: count_of(&o.counts, State::AgentOffline),
            never_enrolled: count_of(&o.counts, State::NeverEnrolled),
            late_since: optional_rfc3339(o.late_since),
            oldest_verified_change_at: optional_rfc3339(o.oldest_verified_change_at),
        }
    }
}

/// One mailbox, as listed (the CSV's columns, in order).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailboxRow {
    /// Its office's CRPCEN.
    pub office: String,
    /// Address.
    pub address: String,
    /// The person's name.
    pub display_name: String,
    /// The state's English name.
    pub state: &'static str,
    /// Why a change failed; empty otherwise.
    pub reason: String,
    /// RFC 3339.
    pub since: String,
    /// RFC 3339, empty when compliant.
    pub non_compliant_since: String,
    /// RFC 3339, empty if never.
    pub last_verified_change_at: String,
}

/// Every mailbox of these offices, as listed.
pub fn mailbox_rows(offices: &[OfficeLine]) -> Vec<MailboxRow> {
    offices
        .iter()
        .flat_map(|o| {
            o.mailbox_states.iter().map(|m| MailboxRow {
                office: o.crpcen.clone(),
                address: m.address.clone(),
                display_name: m.display_name.clone(),
                state: m.state.name(),
                reason: m.reason.clone(),
                since: optional_rfc3339(m.since),
                non_compliant_since: optional_rfc3339(m.non_compliant_since),
                last_verified_change_at: optional_rfc3339(m.last_verified_change_at),
            })
        })
        .collect()
}

/// Writes one line per office (the header first, when `csv` has written nothing yet, lines or
/// not); a report read page by page calls it for each page on the same writer.
pub fn write_offices<W: Write>(csv: &mut CsvOut<W>, offices: &[OfficeLine]) -> io::Result<()> {
    csv.header_of::<OfficeRow>()?;
    for office in offices {
        csv.serialize(&OfficeRow::from(office))?;
    }
    Ok(())
}

/// Writes one line per mailbox of these offices, as [`write_offices`] does.
pub fn write_mailboxes<W: Write>(csv: &mut CsvOut<W>, offices: &[OfficeLine]) -> io::Result<()> {
    csv.header_of::<MailboxRow>()?;
    for row in mailbox_rows(offices) {
        csv.serialize(&row)?;
    }
    Ok(())
}

/// The whole report as CSV: one line per mailbox when `mailboxes`, else per office.
pub fn write(out: impl Write, report: &ComplianceReportDoc, mailboxes: bool) -> io::Result<()> {
    let mut csv = CsvOut::new(out);
    if mailboxes {
        write_mailboxes(&mut csv, &report.offices)?;
    } else {
        write_offices(&mut csv, &report.offices)?;
    }
    csv.flush()
}

/// The report's stamp, machine-readable: what it describes and the signed audit head it was made
/// from (its columns, in order).
#[derive(Debug, Clone, Serialize)]
struct Stamp {
    at: String,
    generated_at: String,
    offices: u64,
    mailboxes: u64,
    compliant: u64,
    audit_head_seq: i64,
    audit_head_hash: String,
    audit_head_signed_at: String,
    audit_head_key_id: String,
    audit_head_signature: String,
}

/// Writes the report's stamp as a CSV of one header line and one line: `at, generated_at,
/// offices, mailboxes, compliant, audit_head_seq, audit_head_hash, audit_head_signed_at,
/// audit_head_key_id, audit_head_signature` (the head's cells empty, its number 0, while the audit
/// log is empty).
pub fn write_stamp(out: impl Write, report: &ComplianceReportDoc) -> io::Result<()> {
    let head = report.head.as_ref();
    let stamp = Stamp {
        at: rfc3339(report.at),
        generated_at: optional_rfc3339(report.generated_at),
        offices: report.offices_reported,
        mailboxes: report.mailboxes,
        compliant: report.compliant,
        audit_head_seq: head.map_or(0, |h| h.seq),
        audit_head_hash: head.map(|h| h.hash.clone()).unwrap_or_default(),
        audit_head_signed_at: optional_rfc3339(head.map(|h| h.signed_at)),
        audit_head_key_id: head.map(|h| h.key_id.clone()).unwrap_or_default(),
        audit_head_signature: head.map(|h| h.signature.clone()).unwrap_or_default(),
    };
    let mut csv = CsvOut::new(out);
    csv.serialize(&stamp)?;
    csv.flush()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::HeadStamp;

    #[test]
    fn the_stamp_names_the_signed_head_in_one_line() {
        let report = ComplianceReportDoc {
            at: datetime!(2026-03-01 23:59:59.999999 UTC),
            generated_at: Some(datetime!(2026-03-02 10:00 UTC)),
            mailboxes: 3,
            compliant: 1,
            counts: Vec::new(),
            offices_compliant: 0,
            offices_reported: 2,
            oldest_verified_change_at: None,
            offices: Vec::new(),
            head: Some(HeadStamp {
                seq: 1234,
                hash: "ab".repeat(32),
                signed_at: datetime!(2026-03-02 10:00 UTC),
                key_id: "key-7".into(),
                signature: "+c2ln".into(),
            }),
        };
        let mut out = Vec::new();
        write_stamp(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[0], "2026-03-01T23:59:59.999999Z");
        assert_eq!(&row[5], "1234");
        assert_eq!(&row[6], "ab".repeat(32));
        assert_eq!(&row[9], "'+c2ln", "neutralised like every cell");
        assert_eq!(text.lines().count(), 2);
        assert_eq!(percent(1, 3), "33.3");
    }
}
