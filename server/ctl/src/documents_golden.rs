//! Golden files of the documents sesamectl writes (the letters, the export for Exchange, the
//! compliance report as PDF and CSV, the audit trail as CSV): the same fixed answers of the server
//! must give the same bytes, whichever crate renders them. `SESAME_UPDATE_GOLDEN=1` rewrites the
//! files under `server/ctl/tests/golden/` (review the diff: a change is a change for every reader).

use std::path::PathBuf;

use sesame_base::calendar::FixedCalendar;
use sesame_documents::{audit_csv, export, letters, report_pdf};
use sesame_proto::v1 as pb;

use crate::documents;

fn golden(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("SESAME_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap();
    assert!(expected == bytes, "{name} differs from its golden file (SESAME_UPDATE_GOLDEN=1)");
}

fn passwords() -> Vec<pb::ProvisionalPassword> {
    vec![
        pb::ProvisionalPassword {
            rotation_id: "rot-1".into(),
            mailbox: "dupont.jean@01234.mailnot.fr".into(),
            display_name: "Jean O'Dupont".into(),
            last_name: "O'Dupont".into(),
            first_name: "Jean".into(),
            provisional_password: "-aB3#xy'zPQRS7k".into(),
            expires_at: "2026-12-09T10:00:00Z".into(),
        },
        pb::ProvisionalPassword {
            rotation_id: "rot-2".into(),
            mailbox: "martin.eloise@01234.mailnot.fr".into(),
            display_name: "=Éloïse Martin, « clé »".into(),
            last_name: "Martin".into(),
            first_name: "Éloïse".into(),
            provisional_password: "Zx9!qwertyUIOP".into(),
            expires_at: "2026-12-10T23:59:59.5Z".into(),
        },
    ]
}

fn password_policy() -> pb::PasswordPolicy {
    pb::PasswordPolicy {
        min_length: 12,
        require_lower: true,
        require_upper: true,
        require_digit: true,
        require_special: true,
        provisional_length: 14,
        ..Default::default()
    }
}

fn count(state: pb::ComplianceState, mailboxes: u64) -> pb::ComplianceCount {
    pb::ComplianceCount { state: state as i32, mailboxes }
}

fn report() -> pb::GetComplianceReportResponse {
    use pb::ComplianceState as S;
    let late = pb::MailboxCompliance {
        address: "dupont.jean@01234.mailnot.fr".into(),
        display_name: "Jean Dupont".into(),
        state: S::ChangeFailed as i32,
        reason: "current_password_refused".into(),
        since: "2026-02-01T08:30:00Z".into(),
        non_compliant_since: "2026-01-15T00:00:00.123456Z".into(),
        last_verified_change_at: "2025-10-01T09:00:00Z".into(),
    };
    let fine = pb::MailboxCompliance {
        address: "martin.eloise@01234.mailnot.fr".into(),
        display_name: "@Éloïse Martin".into(),
        state: S::DueSoon as i32,
        reason: String::new(),
        since: "2026-02-20T00:00:00Z".into(),
        non_compliant_since: String::new(),
        last_verified_change_at: String::new(),
    };
    let odd =
        pb::MailboxCompliance { state: 42, address: "x.y@75001.mailnot.fr".into(), ..fine.clone() };
    let office = pb::OfficeCompliance {
        crpcen: "01234".into(),
        name: "Étude Dupont, Martin & associés".into(),
        mailboxes: 2,
        compliant: 1,
        counts: vec![count(S::Compliant, 0), count(S::DueSoon, 1), count(S::ChangeFailed, 1)],
        oldest_verified_change_at: "2025-10-01T09:00:00Z".into(),
        never_changed: 1,
        late_since: "2026-01-15T00:00:00.123456Z".into(),
        mailbox_states: vec![late, fine],
    };
    let other = pb::OfficeCompliance {
        crpcen: "75001".into(),
        name: "+Office".into(),
        mailboxes: 1,
        compliant: 0,
        counts: vec![count(S::Compliant, 0)],
        oldest_verified_change_at: String::new(),
        never_changed: 1,
        late_since: String::new(),
        mailbox_states: vec![odd],
    };
    pb::GetComplianceReportResponse {
        at: "2026-03-01T23:59:59.999999Z".into(),
        generated_at: "2026-03-02T10:11:12Z".into(),
        offices: vec![office, other],
        mailboxes: 3,
        compliant: 1,
        counts: vec![count(S::DueSoon, 1), count(S::ChangeFailed, 1), count(S::Overdue, 0)],
        offices_compliant: 0,
        offices_reported: 2,
        oldest_verified_change_at: "2025-10-01T09:00:00Z".into(),
        audit_head_seq: 1234,
        audit_head_hash: "ab".repeat(32),
        audit_head_signed_at: "2026-03-02T10:11:12.5Z".into(),
        audit_head_key_id: "key-7".into(),
        audit_head_signature: "c2lnbmF0dXJl".into(),
        next_page_token: String::new(),
    }
}

fn compliance_policy() -> pb::GetCompliancePolicyResponse {
    pb::GetCompliancePolicyResponse {
        effective: Some(pb::CompliancePolicy {
            due_soon_days: 14,
            limit_days: 90,
            offline_days: 10,
        }),
        source: "global".into(),
        global: None,
        office: None,
    }
}

fn audit_records() -> Vec<pb::AuditRecord> {
    vec![
        pb::AuditRecord {
            seq: 1,
            at: "2026-03-01T08:00:00Z".into(),
            actor: "admin:root".into(),
            action: "office.create".into(),
            office: "01234".into(),
            target: "01234".into(),
            details: "{\"name\":\"=cmd|' /C calc'!A0\"}".into(),
            prev_hash: String::new(),
            hash: "01".repeat(32),
        },
        pb::AuditRecord {
            seq: 2,
            at: "2026-03-01T08:00:01.25Z".into(),
            actor: "-workstation:ws-1".into(),
            action: "rotation.open".into(),
            office: String::new(),
            target: "dupont.jean@01234.mailnot.fr".into(),
            details: "{}".into(),
            prev_hash: "01".repeat(32),
            hash: "02".repeat(32),
        },
    ]
}

#[test]
fn the_documents_are_the_bytes_they_were() {
    let passwords = documents::letters(&passwords()).unwrap();
    let rule = documents::password_rule(&password_policy());
    // Printed at 23:30 UTC on 7 December: the 8th in Paris, the calendar the letters are dated in.
    let office = pb::Office {
        crpcen: "01234".into(),
        name: "Office notarial Dupont & Associés".into(),
        city: "Lyon".into(),
        ..Default::default()
    };
    let printing = letters::Printing {
        at: time::macros::datetime!(2026-12-07 23:30 UTC),
        calendar: &FixedCalendar(time::macros::offset!(+1)),
    };
    let heading = documents::letter_office("01234", &office);
    golden("letters.pdf", &letters::render(&heading, &passwords, &rule, printing));
    golden("export.csv", export::csv(&passwords).unwrap().as_bytes());
    golden("export.ps1", export::powershell("01234", &passwords).as_bytes());
    let pdf = report_pdf::render(
        &documents::report(&report()).unwrap(),
        &documents::compliance_rule(&compliance_policy()),
        "https://sesame.example:7443",
    );
    golden("report.pdf", &pdf);
    let csv = crate::output::Format::from(crate::OutputFormat::Csv);
    let mut offices = Vec::new();
    crate::report::print_report(&mut offices, csv, &report(), false).unwrap();
    golden("report-offices.csv", &offices);
    let mut mailboxes = Vec::new();
    crate::report::print_report(&mut mailboxes, csv, &report(), true).unwrap();
    golden("report-mailboxes.csv", &mailboxes);
    let mut audit = Vec::new();
    audit_csv::write(&mut audit, &documents::audit_lines(&audit_records()).unwrap()).unwrap();
    golden("audit.csv", &audit);
}
