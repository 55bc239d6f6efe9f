//! An office's page (`/offices/{crpcen}`): its compliance counts, its mailboxes with their state
//! and since when (filtered by state, a page at a time), its workstations (last check-in, the clé
//! REAL, the agent's version, readiness, the last rotation's outcome), its open rotations, and the
//! password policy in force (the rule and the strength checks its agents apply).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::Web;
use super::format::{
    datetime_fr, key_fr, maybe_datetime_fr, percent, state_fr, state_named, status_fr, step_fr,
};
use super::page::{self, Layout, Paging, Query, encode, render};
use super::session::Signed;
use crate::domain::compliance::ComplianceState;
use crate::domain::office::Crpcen;
use crate::domain::password::{MAX_SCORE, PasswordPolicy};
use crate::domain::rotation::{Rotation, RotationStatus};
use crate::services::compliance::ReportDetail;
use crate::services::rotations::RotationPageRequest;

/// The mailbox list's filter and page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: usize,
}

#[derive(Debug)]
struct CountLink {
    label: &'static str,
    class: &'static str,
    n: u64,
    href: String,
}

#[derive(Debug)]
struct MailboxRow {
    address: String,
    href: String,
    name: String,
    state: &'static str,
    class: &'static str,
    since: String,
    last_change: String,
}

#[derive(Debug)]
struct WorkstationRow {
    hostname: String,
    id: String,
    status: String,
    last_check_in: String,
    key: String,
    version: String,
    ready: bool,
    blockers: String,
    last_rotation: String,
    mailboxes: usize,
}

#[derive(Debug)]
struct RotationRow {
    address: String,
    href: String,
    status: &'static str,
    step: String,
    issued_at: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "office.html")]
struct OfficePage {
    layout: Layout,
    crpcen: String,
    name: String,
    compliance: String,
    counts: Vec<CountLink>,
    state: String,
    state_label: String,
    mailboxes: Vec<MailboxRow>,
    paging: Paging,
    query: String,
    workstations: Vec<WorkstationRow>,
    owa_url: String,
    rotations: Vec<RotationRow>,
    more_rotations: bool,
    policy: Vec<String>,
}

/// `GET /offices/{crpcen}`.
pub(crate) async fn page(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Query(filters): Query<Filters>,
) -> Response {
    let Ok(crpcen) = Crpcen::parse(&crpcen) else { return page::error(not_an_office()) };
    match build(&web, &signed, &crpcen, filters).await {
        Ok(page) => render(&page),
        Err(error) => page::error(error),
    }
}

fn not_an_office() -> crate::services::Error {
    crate::services::Error::NotFound("office".to_owned())
}

async fn build(
    web: &Web,
    signed: &Signed,
    crpcen: &Crpcen,
    filters: Filters,
) -> Result<OfficePage, crate::services::Error> {
    let services = &web.services;
    let admin = signed.admin();
    let office = services.get_office(admin, crpcen).await?;
    let report =
        services.compliance_report(admin, Some(crpcen), None, ReportDetail::Mailboxes).await?;
    let (counts, standings) = report
        .offices
        .into_iter()
        .next()
        .map(|(counts, standings)| (counts.counts, standings))
        .unwrap_or_default();
    let wanted = state_named(&filters.state);
    let mut standings: Vec<_> = standings
        .into_iter()
        .filter(|s| wanted.is_none_or(|w| w.as_str() == s.state.as_str()))
        .collect();
    standings.sort_by(|a, b| a.address.as_str().cmp(b.address.as_str()));
    let paging = Paging::new(filters.page, standings.len());
    let mailboxes = standings[paging.range()]
        .iter()
        .map(|s| MailboxRow {
            address: s.address.as_str().to_owned(),
            href: format!("/mailboxes/{}", encode(s.address.as_str())),
            name: s.display_name.clone(),
            state: state_fr(s.state),
            class: s.state.as_str(),
            since: datetime_fr(s.since),
            last_change: maybe_datetime_fr(s.last_verified_at),
        })
        .collect();
    let readiness = services.office_readiness(admin, crpcen).await?;
    let recent = services
        .list_rotations(admin, Some(crpcen), false, &RotationPageRequest { size: 200, after: None })
        .await?;
    let workstations = readiness
        .workstations
        .iter()
        .map(|w| {
            let ws = &w.workstation;
            let id = ws.id.as_str();
            let last = recent
                .rotations
                .iter()
                .find(|r| r.workstation_id.as_deref() == Some(id) && r.closed_at.is_some());
            WorkstationRow {
                hostname: ws.hostname.clone(),
                id: id.to_owned(),
                status: ws.status.as_str().to_owned(),
                last_check_in: datetime_fr(ws.last_seen_at),
                key: key_fr(w.check_in.as_ref().and_then(|c| c.key.as_ref())),
                version: ws.agent_version.clone(),
                ready: w.blockers.is_empty(),
                blockers: w.blockers.join(" ; "),
                last_rotation: last.map_or_else(|| "aucune".to_owned(), outcome),
                mailboxes: w.mailboxes.len(),
            }
        })
        .collect();
    let open = services
        .list_rotations(admin, Some(crpcen), true, &RotationPageRequest { size: 100, after: None })
        .await?;
    let rotations = open.rotations.iter().map(rotation_row).collect();
    let policy = policy_lines(&services.password_policy(admin, Some(crpcen)).await?);
    let counts_links = ComplianceState::ALL
        .iter()
        .map(|state| CountLink {
            label: state_fr(*state),
            class: state.as_str(),
            n: counts.get(*state),
            href: format!("/offices/{}?state={}", crpcen.as_str(), state.as_str()),
        })
        .collect();
    Ok(OfficePage {
        layout: signed.layout(&format!("Étude {}", office.name)),
        crpcen: crpcen.as_str().to_owned(),
        name: office.name,
        compliance: percent(counts.compliant(), counts.total()),
        counts: counts_links,
        state_label: wanted.map(state_fr).unwrap_or_default().to_owned(),
        state: filters.state.clone(),
        mailboxes,
        paging,
        query: format!("state={}", encode(&filters.state)),
        workstations,
        owa_url: readiness.owa_url.to_string(),
        rotations,
        more_rotations: open.next.is_some(),
        policy,
    })
}

/// The policy in force, in French, a line per rule: the length, the classes, each strength check.
fn policy_lines(policy: &PasswordPolicy) -> Vec<String> {
    let rule = &policy.rule;
    let classes: Vec<&str> = [
        (rule.require_lower, "une minuscule"),
        (rule.require_upper, "une majuscule"),
        (rule.require_digit, "un chiffre"),
        (rule.require_special, "un caractère spécial"),
    ]
    .into_iter()
    .filter_map(|(required, class)| required.then_some(class))
    .collect();
    let refused = |on: bool| if on { "refusés" } else { "acceptés" };
    let strength = &policy.strength;
    vec![
        format!("Au moins {} caractères.", rule.min_length),
        match classes.split_last() {
            None => "Aucun type de caractère exigé.".to_owned(),
            Some((last, [])) => format!("Au moins {last}."),
            Some((last, others)) => format!("Au moins {} et {last}.", others.join(", ")),
        },
        format!(
            "Mots personnels (nom et prénom, nom, ville et CRPCEN de l'étude, « mailnot », \
             « notaire », mot de passe provisoire) : {}.",
            refused(strength.personal_words)
        ),
        format!("Mots de passe courants : {}.", refused(strength.common_passwords)),
        if strength.min_score == 0 {
            "Solidité minimale : aucune.".to_owned()
        } else {
            format!("Solidité minimale : {} sur {MAX_SCORE}.", strength.min_score)
        },
        format!("Mots de passe provisoires de {} caractères.", policy.provisional_length),
    ]
}

/// "terminée le 07/12/2026 14:03 UTC".
fn outcome(rotation: &Rotation) -> String {
    let status = status_fr(rotation.status);
    match rotation.closed_at {
        Some(at) if rotation.status != RotationStatus::Issued => {
            format!("{status} le {}", datetime_fr(at))
        }
        _ => status.to_owned(),
    }
}

fn rotation_row(rotation: &Rotation) -> RotationRow {
    RotationRow {
        address: rotation.address.as_str().to_owned(),
        href: format!("/mailboxes/{}", encode(rotation.address.as_str())),
        status: status_fr(rotation.status),
        step: rotation.last_step.map_or_else(|| "—".to_owned(), step_fr),
        issued_at: datetime_fr(rotation.issued_at),
        expires_at: datetime_fr(rotation.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password::StrengthChecks;

    #[test]
    fn the_policy_reads_in_french_with_each_strength_check() {
        let lines = policy_lines(&PasswordPolicy::default());
        assert_eq!(lines[0], "Au moins 10 caractères.");
        assert_eq!(
            lines[1],
            "Au moins une minuscule, une majuscule, un chiffre et un caractère spécial."
        );
        assert!(lines[2].starts_with("Mots personnels (") && lines[2].ends_with(" : refusés."));
        assert_eq!(lines[3], "Mots de passe courants : refusés.");
        assert_eq!(lines[4], "Solidité minimale : 3 sur 4.");
        let lax = PasswordPolicy {
            strength: StrengthChecks {
                personal_words: false,
                common_passwords: false,
                min_score: 0,
            },
            ..PasswordPolicy::default()
        };
        let lines = policy_lines(&lax);
        assert!(lines[2].ends_with(" : acceptés."));
        assert_eq!(lines[3], "Mots de passe courants : acceptés.");
        assert_eq!(lines[4], "Solidité minimale : aucune.");
    }
}
