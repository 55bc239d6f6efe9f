//! The rows sesamectl lists, one type per kind of record: which fields each shows, under which
//! titles, and what its table's last line counts. The row borrows from the message it shows.

use serde::Serialize;
use sesame_proto::v1 as pb;

use crate::output::Tabular;

/// An office.
#[derive(Serialize, Default)]
pub(crate) struct OfficeRow<'a> {
    pub(crate) crpcen: &'a str,
    pub(crate) name: &'a str,
    pub(crate) city: &'a str,
    pub(crate) mailboxes: u64,
    pub(crate) created_at: &'a str,
}

impl<'a> From<&'a pb::Office> for OfficeRow<'a> {
    fn from(o: &'a pb::Office) -> OfficeRow<'a> {
        OfficeRow {
            crpcen: &o.crpcen,
            name: &o.name,
            city: &o.city,
            mailboxes: o.mailbox_count,
            created_at: &o.created_at,
        }
    }
}

/// A mailbox.
#[derive(Serialize, Default)]
pub(crate) struct MailboxRow<'a> {
    address: &'a str,
    office: &'a str,
    display_name: &'a str,
    last_name: &'a str,
    first_name: &'a str,
    logon_name: &'a str,
    created_at: &'a str,
}

impl<'a> From<&'a pb::Mailbox> for MailboxRow<'a> {
    fn from(m: &'a pb::Mailbox) -> MailboxRow<'a> {
        MailboxRow {
            address: &m.address,
            office: &m.office,
            display_name: &m.display_name,
            last_name: &m.last_name,
            first_name: &m.first_name,
            logon_name: &m.logon_name,
            created_at: &m.created_at,
        }
    }
}

impl Tabular for OfficeRow<'_> {
    const HEADER: &'static [&'static str] = &["CRPCEN", "NAME", "CITY", "MAILBOXES"];
    const NOUN: &'static str = "office(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.crpcen.to_owned(),
            self.name.to_owned(),
            self.city.to_owned(),
            self.mailboxes.to_string(),
        ]
    }
}

impl Tabular for MailboxRow<'_> {
    const HEADER: &'static [&'static str] = &["ADDRESS", "OFFICE", "DISPLAY NAME", "LOGON NAME"];
    const NOUN: &'static str = "mailbox(es)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.address.to_owned(),
            self.office.to_owned(),
            self.display_name.to_owned(),
            self.logon_name.to_owned(),
        ]
    }
}

/// An enrollment token (never the token itself).
#[derive(Serialize, Default)]
pub(crate) struct TokenRow<'a> {
    id: u64,
    office: &'a str,
    uses_left: u32,
    expires_at: &'a str,
    last_used_at: &'a str,
    revoked: bool,
    created_by: &'a str,
    created_at: &'a str,
}

impl<'a> From<&'a pb::EnrollmentToken> for TokenRow<'a> {
    fn from(t: &'a pb::EnrollmentToken) -> TokenRow<'a> {
        TokenRow {
            id: t.id,
            office: &t.office,
            uses_left: t.uses_left,
            expires_at: &t.expires_at,
            last_used_at: &t.last_used_at,
            revoked: t.revoked,
            created_by: &t.created_by,
            created_at: &t.created_at,
        }
    }
}

impl Tabular for TokenRow<'_> {
    const HEADER: &'static [&'static str] =
        &["ID", "OFFICE", "USES LEFT", "EXPIRES", "LAST USED", "STATE"];
    const NOUN: &'static str = "token(s)";

    fn cells(&self) -> Vec<String> {
        let state = if self.revoked {
            "revoked"
        } else if self.uses_left == 0 {
            "used up"
        } else {
            "active"
        };
        let last_used = if self.last_used_at.is_empty() { "never" } else { self.last_used_at };
        vec![
            self.id.to_string(),
            self.office.to_owned(),
            self.uses_left.to_string(),
            self.expires_at.to_owned(),
            last_used.to_owned(),
            state.to_owned(),
        ]
    }
}

/// The clé REAL as an administrator reads it: "present 08e6:3437", "absent", "unknown: no USB
/// access"; empty before the first check-in that reported it.
pub(crate) fn describe_key(key: Option<&pb::KeyState>) -> String {
    use pb::key_state::Presence;
    let Some(key) = key else { return String::new() };
    match Presence::try_from(key.presence) {
        Ok(Presence::Present) if key.device.is_empty() => "present".to_owned(),
        Ok(Presence::Present) => format!("present {}", key.device),
        Ok(Presence::Absent) => "absent".to_owned(),
        Ok(Presence::Unknown) if key.reason.is_empty() => "unknown".to_owned(),
        Ok(Presence::Unknown) => format!("unknown: {}", key.reason),
        Ok(Presence::Unspecified) | Err(_) => "unknown".to_owned(),
    }
}

/// An enrolled workstation.
#[derive(Serialize, Default)]
pub(crate) struct WorkstationRow<'a> {
    id: &'a str,
    office: &'a str,
    hostname: &'a str,
    os: &'a str,
    agent_version: &'a str,
    status: &'a str,
    lock_reason: &'a str,
    generation: u64,
    certificate_expires_at: &'a str,
    last_seen_at: &'a str,
    enrolled_at: &'a str,
    key: String,
    key_since: &'a str,
}

impl<'a> From<&'a pb::Workstation> for WorkstationRow<'a> {
    fn from(w: &'a pb::Workstation) -> WorkstationRow<'a> {
        WorkstationRow {
            id: &w.id,
            office: &w.office,
            hostname: &w.hostname,
            os: &w.os,
            agent_version: &w.agent_version,
            status: &w.status,
            lock_reason: &w.lock_reason,
            generation: w.generation,
            certificate_expires_at: &w.certificate_expires_at,
            last_seen_at: &w.last_seen_at,
            enrolled_at: &w.enrolled_at,
            key: describe_key(w.key.as_ref()),
            key_since: w.key.as_ref().map_or("", |k| k.since.as_str()),
        }
    }
}

impl Tabular for WorkstationRow<'_> {
    const HEADER: &'static [&'static str] =
        &["ID", "OFFICE", "HOSTNAME", "STATUS", "AGENT", "CERT EXPIRES", "LAST SEEN", "KEY"];
    const NOUN: &'static str = "workstation(s)";

    fn cells(&self) -> Vec<String> {
        [
            self.id,
            self.office,
            self.hostname,
            self.status,
            self.agent_version,
            self.certificate_expires_at,
            self.last_seen_at,
            &self.key,
        ]
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
    }
}

/// An administrator.
#[derive(Serialize, Default)]
pub(crate) struct AdminRow<'a> {
    name: &'a str,
    role: &'a str,
    offices: String,
    created_at: &'a str,
    revoked: bool,
}

impl<'a> From<&'a pb::AdminInfo> for AdminRow<'a> {
    fn from(a: &'a pb::AdminInfo) -> AdminRow<'a> {
        AdminRow {
            name: &a.name,
            role: &a.role,
            offices: a.offices.join(" "),
            created_at: &a.created_at,
            revoked: a.revoked,
        }
    }
}

impl Tabular for AdminRow<'_> {
    const HEADER: &'static [&'static str] = &["NAME", "ROLE", "OFFICES", "CREATED", "STATE"];
    const NOUN: &'static str = "administrator(s)";

    fn cells(&self) -> Vec<String> {
        let state = if self.revoked { "revoked" } else { "active" };
        vec![
            self.name.to_owned(),
            self.role.to_owned(),
            self.offices.clone(),
            self.created_at.to_owned(),
            state.to_owned(),
        ]
    }
}

/// A rotation (never its password).
#[derive(Serialize, Default)]
pub(crate) struct RotationRow<'a> {
    id: &'a str,
    mailbox: &'a str,
    office: &'a str,
    display_name: &'a str,
    status: &'a str,
    issued_by: &'a str,
    issued_at: &'a str,
    expires_at: &'a str,
    delivered_at: &'a str,
    closed_at: &'a str,
}

impl<'a> From<&'a pb::RotationInfo> for RotationRow<'a> {
    fn from(r: &'a pb::RotationInfo) -> RotationRow<'a> {
        RotationRow {
            id: &r.id,
            mailbox: &r.mailbox,
            office: &r.office,
            display_name: &r.display_name,
            status: &r.status,
            issued_by: &r.issued_by,
            issued_at: &r.issued_at,
            expires_at: &r.expires_at,
            delivered_at: &r.delivered_at,
            closed_at: &r.closed_at,
        }
    }
}

impl Tabular for RotationRow<'_> {
    const HEADER: &'static [&'static str] = &["ROTATION", "MAILBOX", "STATUS", "EXPIRES"];
    const NOUN: &'static str = "rotation(s)";

    fn cells(&self) -> Vec<String> {
        [self.id, self.mailbox, self.status, self.expires_at]
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }
}

/// An audit record.
#[derive(Serialize, Default)]
pub(crate) struct AuditRow<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    office: &'a str,
    target: &'a str,
    details: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a pb::AuditRecord> for AuditRow<'a> {
    fn from(r: &'a pb::AuditRecord) -> AuditRow<'a> {
        AuditRow {
            seq: r.seq,
            at: &r.at,
            actor: &r.actor,
            // Records keep the name they were written with; people read the current one.
            action: sesame_base::audit_actions::current_name(&r.action),
            office: &r.office,
            target: &r.target,
            details: &r.details,
            hash: &r.hash,
        }
    }
}

impl Tabular for AuditRow<'_> {
    const HEADER: &'static [&'static str] = &["SEQ", "AT", "ACTOR", "ACTION", "OFFICE", "TARGET"];
    const NOUN: &'static str = "record(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            self.at.to_owned(),
            self.actor.to_owned(),
            self.action.to_owned(),
            self.office.to_owned(),
            self.target.to_owned(),
        ]
    }
}

/// A web session (never its token).
#[derive(Serialize, Default)]
pub(crate) struct WebSessionRow<'a> {
    id: u64,
    admin: &'a str,
    created_at: &'a str,
    last_seen_at: &'a str,
    expires_at: &'a str,
    remote_address: &'a str,
    user_agent: &'a str,
}

impl<'a> From<&'a pb::WebSessionInfo> for WebSessionRow<'a> {
    fn from(s: &'a pb::WebSessionInfo) -> WebSessionRow<'a> {
        WebSessionRow {
            id: s.id,
            admin: &s.admin,
            created_at: &s.created_at,
            last_seen_at: &s.last_seen_at,
            expires_at: &s.expires_at,
            remote_address: &s.remote_address,
            user_agent: &s.user_agent,
        }
    }
}

impl Tabular for WebSessionRow<'_> {
    const HEADER: &'static [&'static str] =
        &["ID", "ADMIN", "SIGNED IN", "LAST SEEN", "EXPIRES", "FROM", "BROWSER"];
    const NOUN: &'static str = "web session(s)";

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.admin.to_owned(),
            self.created_at.to_owned(),
            self.last_seen_at.to_owned(),
            self.expires_at.to_owned(),
            self.remote_address.to_owned(),
            self.user_agent.chars().take(60).collect(),
        ]
    }
}
