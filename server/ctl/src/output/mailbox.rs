//! `sesamectl mailbox show`: one mailbox, the state of its open rotation, its history (rotations
//! and the steps agents reported) and its last verified change with the key evidence; as text, or
//! as one JSON object (`--output json`; `--output csv` prints the rotation history).

use std::io::{self, Write};

use serde_json::{Value, json};
use sesame_proto::v1 as pb;

use super::{Format, print_csv, print_table};
use crate::output::Listing;

/// Prints a mailbox's detail.
pub(crate) fn print_mailbox_detail(
    out: &mut impl Write,
    format: Format,
    detail: &pb::GetMailboxResponse,
) -> io::Result<()> {
    match format.0 {
        Listing::Json => {
            serde_json::to_writer_pretty(&mut *out, &to_json(detail)).map_err(io::Error::other)?;
            writeln!(out)
        }
        Listing::Csv => {
            let rows: Vec<Value> = detail.rotations.iter().map(rotation_json).collect();
            if rows.is_empty() {
                // No rotation yet: the header alone, the columns a rotation would fill.
                let header = flat(&rotation_json(&pb::RotationInfo::default()));
                let mut csv = format.csv(out);
                csv.record(header.keys())?;
                return csv.flush();
            }
            print_csv(out, format, &rows.iter().map(flat).collect::<Vec<_>>())
        }
        Listing::Table => print_text(out, detail),
    }
}

fn flat(value: &Value) -> std::collections::BTreeMap<String, String> {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default()
}

fn open(detail: &pb::GetMailboxResponse) -> Option<&pb::RotationInfo> {
    detail.rotations.iter().find(|r| r.status == "issued" || r.status == "delivered")
}

fn evidence_json(e: &pb::KeyEvidence) -> Value {
    let kind = match pb::key_evidence::Kind::try_from(e.kind) {
        Ok(pb::key_evidence::Kind::ObservedAbsent) => "observed_absent",
        Ok(pb::key_evidence::Kind::PersonConfirmed) => "person_confirmed",
        _ => "unknown",
    };
    json!({ "kind": kind, "observed_at": e.observed_at, "detail": e.detail })
}

fn evidence_text(e: Option<&pb::KeyEvidence>) -> String {
    match e {
        None => "none".to_owned(),
        Some(e) => {
            let value = evidence_json(e);
            let kind = value["kind"].as_str().unwrap_or_default().replace('_', " ");
            if e.detail.is_empty() {
                format!("key {kind} at {}", e.observed_at)
            } else {
                format!("key {kind} at {} ({})", e.observed_at, e.detail)
            }
        }
    }
}

fn rotation_json(r: &pb::RotationInfo) -> Value {
    json!({
        "id": r.id, "kind": r.kind, "status": r.status, "issued_by": r.issued_by,
        "issued_at": r.issued_at, "expires_at": r.expires_at, "delivered_at": r.delivered_at,
        "closed_at": r.closed_at, "last_step": r.last_step, "last_step_at": r.last_step_at,
        "workstation_id": r.workstation_id, "failure": r.failure,
    })
}

fn to_json(detail: &pb::GetMailboxResponse) -> Value {
    let mailbox = detail.mailbox.as_ref().map(|m| {
        json!({
            "address": m.address, "office": m.office, "display_name": m.display_name,
            "logon_name": m.logon_name, "created_at": m.created_at,
            "last_verified_change_at": m.last_verified_change_at,
        })
    });
    let events: Vec<Value> = detail
        .events
        .iter()
        .map(|e| {
            json!({
                "rotation_id": e.rotation_id, "report_id": e.report_id,
                "workstation_id": e.workstation_id, "step": e.step, "failure": e.failure,
                "occurred_at": e.occurred_at, "received_at": e.received_at,
                "key_evidence": e.key_evidence.as_ref().map(evidence_json), "detail": e.detail,
                "local_account": e.local_account, "local_account_detail": e.local_account_detail,
            })
        })
        .collect();
    let verified = detail.last_verified_change.as_ref().map(|v| {
        json!({
            "rotation_id": v.rotation_id, "kind": v.kind, "verified_at": v.verified_at,
            "workstation_id": v.workstation_id,
            "key_evidence": v.key_evidence.as_ref().map(evidence_json),
        })
    });
    json!({
        "mailbox": mailbox,
        "workstations": detail.workstation_ids,
        "open_rotation": open(detail).map(rotation_json),
        "rotations": detail.rotations.iter().map(rotation_json).collect::<Vec<_>>(),
        "events": events,
        "last_verified_change": verified,
        "default_account": detail.default_account.as_ref().map(account_json),
        "bindings": detail.bindings.iter().map(account_json).collect::<Vec<_>>(),
    })
}

fn account_json(a: &pb::MailboxAccount) -> Value {
    json!({
        "workstation_id": a.workstation_id, "account_id": a.account_id,
        "account_detail": a.account_detail, "bound_at": a.bound_at, "source": a.source,
        "bound_by": a.bound_by, "rotation_id": a.rotation_id,
    })
}

/// An account as one line: id (detail), since when, how.
fn account_text(a: &pb::MailboxAccount) -> String {
    let detail = if a.account_detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", super::printable(&a.account_detail))
    };
    let how = match a.source.as_str() {
        "report" => format!("bound by the verified change of rotation {}", a.rotation_id),
        "import" => format!("set by an import of {}", super::printable(&a.bound_by)),
        _ => format!("set by {}", super::printable(&a.bound_by)),
    };
    format!("{}{detail}, since {}, {how}", super::printable(&a.account_id), a.bound_at)
}

/// Who acted at a step: the account's id, and its detail when given.
fn acted_text(e: &pb::RotationEvent) -> String {
    match (e.local_account.as_str(), e.local_account_detail.as_str()) {
        ("", _) => "-".to_owned(),
        (id, "") => super::printable(id),
        (id, detail) => format!("{} ({})", super::printable(id), super::printable(detail)),
    }
}

fn or_dash(value: &str) -> String {
    if value.is_empty() { "-".to_owned() } else { value.to_owned() }
}

fn print_text(out: &mut impl Write, detail: &pb::GetMailboxResponse) -> io::Result<()> {
    if let Some(m) = &detail.mailbox {
        writeln!(out, "Mailbox:        {} ({})", m.address, super::printable(&m.display_name))?;
        writeln!(out, "Office:         {}", m.office)?;
        if !m.logon_name.is_empty() {
            writeln!(out, "Logon name:     {}", super::printable(&m.logon_name))?;
        }
    }
    let workstations = if detail.workstation_ids.is_empty() {
        "none".to_owned()
    } else {
        detail.workstation_ids.join(", ")
    };
    writeln!(out, "Workstations:   {workstations}")?;
    match &detail.default_account {
        None => writeln!(out, "Default account: none")?,
        Some(a) => writeln!(out, "Default account: {}", account_text(a))?,
    }
    for ws in &detail.workstation_ids {
        match detail.bindings.iter().find(|b| &b.workstation_id == ws) {
            Some(b) => writeln!(out, "Account on {ws}: {}", account_text(b))?,
            None if detail.default_account.is_some() => {
                writeln!(out, "Account on {ws}: the default account")?
            }
            None => writeln!(
                out,
                "Account on {ws}: none (the next verified provisional change binds its account)"
            )?,
        }
    }
    for b in detail.bindings.iter().filter(|b| !detail.workstation_ids.contains(&b.workstation_id))
    {
        writeln!(out, "Account on {} (not assigned): {}", b.workstation_id, account_text(b))?;
    }
    match open(detail) {
        None => writeln!(out, "Open rotation:  none")?,
        Some(r) => {
            let step = match (r.last_step.as_str(), r.failure.as_str()) {
                ("", _) => "no step reported yet".to_owned(),
                (step, "") => {
                    format!("last step {step} at {} on {}", r.last_step_at, r.workstation_id)
                }
                (step, failure) => format!(
                    "last step {step} ({failure}) at {} on {}",
                    r.last_step_at, r.workstation_id
                ),
            };
            writeln!(
                out,
                "Open rotation:  {} ({}), {}, expires {}; {step}",
                r.id, r.kind, r.status, r.expires_at
            )?;
        }
    }
    match &detail.last_verified_change {
        None => writeln!(out, "Last verified change: never")?,
        Some(v) => writeln!(
            out,
            "Last verified change: {} on {} (rotation {}, {}); {}",
            v.verified_at,
            v.workstation_id,
            v.rotation_id,
            v.kind,
            evidence_text(v.key_evidence.as_ref())
        )?,
    }
    writeln!(out)?;
    writeln!(out, "Rotations (newest first)")?;
    let rows: Vec<Vec<String>> = detail
        .rotations
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.kind.clone(),
                r.status.clone(),
                r.issued_at.clone(),
                or_dash(&r.closed_at),
                or_dash(&r.last_step),
                or_dash(&r.failure),
            ]
        })
        .collect();
    print_table(
        out,
        &["ROTATION", "KIND", "STATUS", "ISSUED", "CLOSED", "LAST STEP", "FAILURE"],
        &rows,
    )?;
    writeln!(out)?;
    writeln!(out, "Steps (oldest first)")?;
    let rows: Vec<Vec<String>> = detail
        .events
        .iter()
        .map(|e| {
            let step = if e.failure.is_empty() {
                e.step.clone()
            } else {
                format!("{} ({})", e.step, e.failure)
            };
            let evidence =
                e.key_evidence.as_ref().map_or_else(|| "-".to_owned(), |k| evidence_text(Some(k)));
            vec![
                e.rotation_id.clone(),
                step,
                e.workstation_id.clone(),
                e.occurred_at.clone(),
                e.received_at.clone(),
                acted_text(e),
                evidence,
                or_dash(&e.detail),
            ]
        })
        .collect();
    print_table(
        out,
        &["ROTATION", "STEP", "WORKSTATION", "OCCURRED", "RECEIVED", "ACCOUNT", "KEY", "DETAIL"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_show_the_open_rotation_and_the_evidence() {
        let detail = pb::GetMailboxResponse {
            mailbox: Some(pb::Mailbox {
                address: "a.b@01234.mailnot.fr".into(),
                office: "01234".into(),
                display_name: "A B".into(),
                ..Default::default()
            }),
            rotations: vec![pb::RotationInfo {
                id: "rot-1".into(),
                kind: "provisional".into(),
                status: "completed".into(),
                last_step: "verified".into(),
                ..Default::default()
            }],
            events: vec![],
            last_verified_change: Some(pb::VerifiedChange {
                rotation_id: "rot-1".into(),
                kind: "provisional".into(),
                verified_at: "2026-11-25T09:30:00Z".into(),
                workstation_id: "ws-1".into(),
                key_evidence: Some(pb::KeyEvidence {
                    kind: pb::key_evidence::Kind::ObservedAbsent.into(),
                    observed_at: "2026-11-25T09:29:00Z".into(),
                    detail: String::new(),
                }),
            }),
            workstation_ids: vec!["ws-1".into()],
            default_account: None,
            bindings: vec![pb::MailboxAccount {
                workstation_id: "ws-1".into(),
                account_id: "jdupont".into(),
                account_detail: "uid 1001".into(),
                bound_at: "2026-11-25T09:30:00Z".into(),
                source: "report".into(),
                bound_by: "workstation:ws-1".into(),
                rotation_id: "rot-1".into(),
            }],
        };
        let mut text = Vec::new();
        print_mailbox_detail(&mut text, Format::from(crate::OutputFormat::Table), &detail).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("Open rotation:  none"), "{text}");
        assert!(text.contains("key observed absent at 2026-11-25T09:29:00Z"), "{text}");
        assert!(text.contains("Default account: none"), "{text}");
        assert!(
            text.contains("Account on ws-1: jdupont (uid 1001), since 2026-11-25T09:30:00Z, bound by the verified change of rotation rot-1"),
            "{text}"
        );
        let mut json = Vec::new();
        print_mailbox_detail(&mut json, Format::from(crate::OutputFormat::Json), &detail).unwrap();
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["last_verified_change"]["key_evidence"]["kind"], "observed_absent");
        assert_eq!(value["rotations"][0]["status"], "completed");
        assert_eq!(value["bindings"][0]["account_id"], "jdupont");
    }
}
