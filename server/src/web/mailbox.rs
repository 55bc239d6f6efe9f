//! A mailbox's page (`/mailboxes/{address}`): who it is, its last verified change, its rotations
//! (newest first) and every step agents reported for them, each with its evidence (how the clé
//! REAL's absence was established, the workstation and the local account that acted).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::Web;
use super::format::{datetime_fr, maybe_datetime_fr, status_fr, step_fr};
use super::page::{self, Layout, render};
use super::session::Signed;
use crate::domain::office::MailboxAddress;
use crate::domain::rotation::KeyEvidence;

#[derive(Debug)]
struct RotationRow {
    id: String,
    kind: &'static str,
    status: &'static str,
    issued: String,
    closed: String,
    steps: Vec<StepRow>,
}

#[derive(Debug)]
struct StepRow {
    step: String,
    occurred: String,
    workstation: String,
    account: String,
    evidence: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    layout: Layout,
    address: String,
    name: String,
    crpcen: String,
    logon: String,
    created: String,
    last_change: String,
    last_change_evidence: String,
    workstations: Vec<String>,
    accounts: Vec<String>,
    rotations: Vec<RotationRow>,
}

/// How the key's absence was established, in French.
fn evidence_fr(evidence: Option<&KeyEvidence>) -> String {
    match evidence {
        None => "—".to_owned(),
        Some(KeyEvidence::ObservedAbsent { at }) => {
            format!("clé REAL vue absente par le poste ({})", datetime_fr(*at))
        }
        Some(KeyEvidence::PersonConfirmed { at, detail }) => format!(
            "retrait de la clé confirmé par la personne ({}), le poste ne voyait pas l'USB : {detail}",
            datetime_fr(*at)
        ),
    }
}

/// `GET /mailboxes/{address}`.
pub(crate) async fn page(
    State(web): State<Web>,
    signed: Signed,
    Path(address): Path<String>,
) -> Response {
    let Ok(address) = MailboxAddress::parse(&address, &web.services.mail_domain) else {
        return page::error(crate::services::Error::NotFound("mailbox".to_owned()));
    };
    let (mailbox, history) = match web.services.mailbox_detail(signed.admin(), &address).await {
        Ok(found) => found,
        Err(error) => return page::error(error),
    };
    let rotations = history
        .rotations
        .iter()
        .map(|rotation| RotationRow {
            id: rotation.id.to_string(),
            kind: rotation.kind.as_str(),
            status: status_fr(rotation.status),
            issued: datetime_fr(rotation.issued_at),
            closed: maybe_datetime_fr(rotation.closed_at),
            steps: history
                .events
                .iter()
                .filter(|event| event.rotation_id == rotation.id)
                .map(|event| StepRow {
                    step: step_fr(event.step),
                    occurred: datetime_fr(event.occurred_at),
                    workstation: event.workstation_id.clone(),
                    account: event
                        .local_account
                        .as_ref()
                        .map_or_else(|| "—".to_owned(), |a| a.id.to_string()),
                    evidence: evidence_fr(event.key_evidence.as_ref()),
                    detail: event.detail.clone(),
                })
                .collect(),
        })
        .collect();
    let last = history.last_verified_change.as_ref();
    let page = MailboxPage {
        layout: signed.layout(&format!("Boîte {}", mailbox.address.as_str())),
        address: mailbox.address.as_str().to_owned(),
        name: mailbox.display_name.clone(),
        crpcen: mailbox.address.office().as_str().to_owned(),
        logon: mailbox
            .logon_name
            .as_ref()
            .map_or_else(|| "—".to_owned(), |l| l.as_str().to_owned()),
        created: datetime_fr(mailbox.created_at),
        last_change: maybe_datetime_fr(last.map(|c| c.verified_at)),
        last_change_evidence: last.map_or_else(String::new, |c| {
            format!("poste {}, {}", c.workstation_id, evidence_fr(c.key_evidence.as_ref()))
        }),
        workstations: history.workstations.clone(),
        accounts: history
            .accounts
            .iter()
            .map(|b| match &b.workstation_id {
                Some(ws) => format!("{} sur le poste {ws}", b.account.id),
                None => format!("{} (compte par défaut)", b.account.id),
            })
            .collect(),
        rotations,
    };
    render(&page)
}
