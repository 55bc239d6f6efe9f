//! An office's rollout from the browser (`/offices/{crpcen}/rollout`), for administrators who may
//! change it, in the README's order: its people (imported, `setup`), its OWA address (`setup`),
//! enrollment tokens (listed; a new one shown once), assignments (`setup`), provisional passwords
//! issued (the rotations opened, for the office or one mailbox), the letters (PDF) and the export
//! for the mail administrator (CSV). The disclosure rules are sesamectl's: a secret is shown once,
//! in an answer no cache keeps, and a provisional password leaves the server only after its
//! disclosure's audit record is committed (`Services::disclose_provisional`). Every action is a
//! form with the session's token.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sesame_base::calendar::LocalCalendar;
use sesame_documents::letters::Printing;

use super::Web;
use super::format::{datetime_fr, maybe_datetime_fr, status_fr, step_fr};
use super::page::{self, Form, Layout, encode, render};
use super::session::{BadForm, Signed};
use crate::domain::office::{Crpcen, MailboxAddress};
use crate::services::Error;
use crate::services::offices::MailboxPageRequest;
use crate::services::rotations::{DisclosurePurpose, RotationPageRequest, Target};

#[derive(Debug)]
struct TokenRow {
    id: i64,
    uses_left: i64,
    expires: String,
    state: &'static str,
    created_by: String,
}

#[derive(Debug)]
struct RotationRow {
    address: String,
    href: String,
    name: String,
    status: &'static str,
    step: String,
    expires: String,
    delivered: String,
}

/// What an action just did, shown above the page.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// A sentence.
    message: String,
    /// A secret shown once (an enrollment token), if any.
    secret: String,
}

impl Outcome {
    /// A sentence alone.
    pub(crate) fn said(message: String) -> Outcome {
        Outcome { message, secret: String::new() }
    }
}

/// A workstation of the office and the mailboxes it changes.
#[derive(Debug)]
struct Station {
    id: String,
    hostname: String,
    mailboxes: String,
}

#[derive(Template)]
#[template(path = "rollout.html")]
struct RolloutPage {
    layout: Layout,
    crpcen: String,
    name: String,
    outcome: Outcome,
    tokens: Vec<TokenRow>,
    rotations: Vec<RotationRow>,
    more_rotations: bool,
    mailboxes: Vec<String>,
    more_mailboxes: bool,
    stations: Vec<Station>,
    owa_url: String,
    max_import_mib: usize,
}

/// The office named in an address.
pub(crate) fn office_of(crpcen: &str) -> Result<Crpcen, Error> {
    Crpcen::parse(crpcen).map_err(|_| Error::NotFound("office".to_owned()))
}

/// Why an action on an office is refused before it starts.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Its form does not carry the session's token.
    Form(BadForm),
    /// The address names no office.
    Office(Error),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Form(refused) => refused.into_response(),
            Refused::Office(error) => page::error(error),
        }
    }
}

/// The office an action names, once its form is known to carry the session's token.
pub(crate) fn action_office(signed: &Signed, csrf: &str, crpcen: &str) -> Result<Crpcen, Refused> {
    signed.check_form(csrf).map_err(Refused::Form)?;
    office_of(crpcen).map_err(Refused::Office)
}

async fn build(
    web: &Web,
    signed: &Signed,
    crpcen: &Crpcen,
    outcome: Outcome,
) -> Result<RolloutPage, Error> {
    let services = &web.services;
    let admin = signed.admin();
    // The rollout changes the office: a reader (auditor) is refused here, not only on submission.
    crate::services::access::authorize(admin, crate::domain::admin::Permission::Write(crpcen))?;
    let office = services.get_office(admin, crpcen).await?;
    let now = services.clock.now();
    let tokens = services
        .list_enrollment_tokens(admin, Some(crpcen))
        .await?
        .into_iter()
        .rev()
        .take(page::PAGE_SIZE)
        .map(|t| TokenRow {
            id: t.id,
            uses_left: t.uses_left,
            expires: datetime_fr(t.expires_at),
            state: if t.revoked_at.is_some() {
                "révoqué"
            } else if t.expires_at <= now {
                "expiré"
            } else if t.uses_left <= 0 {
                "épuisé"
            } else {
                "valide"
            },
            created_by: t.created_by,
        })
        .collect();
    let open = services
        .list_rotations(admin, Some(crpcen), true, &RotationPageRequest { size: 100, after: None })
        .await?;
    let rotations = open
        .rotations
        .iter()
        .map(|r| RotationRow {
            address: r.address.as_str().to_owned(),
            href: format!("/mailboxes/{}", encode(r.address.as_str())),
            name: r.display_name.clone(),
            status: status_fr(r.status),
            step: r.last_step.map_or_else(|| "—".to_owned(), step_fr),
            expires: datetime_fr(r.expires_at),
            delivered: maybe_datetime_fr(r.delivered_at),
        })
        .collect();
    let listed = services
        .list_mailboxes(admin, Some(crpcen), &MailboxPageRequest { size: Some(1_000), after: None })
        .await?;
    let readiness = services.office_readiness(admin, crpcen).await?;
    let stations = readiness
        .workstations
        .iter()
        .map(|w| Station {
            id: w.workstation.id.as_str().to_owned(),
            hostname: w.workstation.hostname.clone(),
            mailboxes: w
                .mailboxes
                .iter()
                .map(|m| m.address.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    Ok(RolloutPage {
        mailboxes: listed.mailboxes.iter().map(|m| m.address.as_str().to_owned()).collect(),
        more_mailboxes: listed.next.is_some(),
        stations,
        owa_url: readiness.owa_url.to_string(),
        max_import_mib: super::setup::MAX_IMPORT_BYTES / (1024 * 1024),
        layout: signed.layout(&format!("Déploiement de l'étude {}", office.name)),
        crpcen: crpcen.as_str().to_owned(),
        name: office.name,
        outcome,
        tokens,
        rotations,
        more_rotations: open.next.is_some(),
    })
}

/// The rollout page, with what an action just did.
pub(crate) async fn show(
    web: &Web,
    signed: &Signed,
    crpcen: &Crpcen,
    outcome: Outcome,
) -> Response {
    match build(web, signed, crpcen, outcome).await {
        Ok(page) => render(&page),
        Err(error) => page::error(error),
    }
}

/// `GET /offices/{crpcen}/rollout`.
pub(crate) async fn page(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
) -> Response {
    match office_of(&crpcen) {
        Ok(crpcen) => show(&web, &signed, &crpcen, Outcome::default()).await,
        Err(error) => page::error(error),
    }
}

/// A form with only the session's token.
#[derive(Debug, Deserialize)]
pub(crate) struct Plain {
    #[serde(default)]
    csrf: String,
}

/// The enrollment token form.
#[derive(Debug, Deserialize)]
pub(crate) struct NewToken {
    #[serde(default)]
    csrf: String,
    uses: u32,
    hours: u64,
}

/// `POST /offices/{crpcen}/enrollment-tokens`: creates a token and shows it once.
pub(crate) async fn create_token(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<NewToken>,
) -> Response {
    let crpcen = match action_office(&signed, &form.csrf, &crpcen) {
        Ok(crpcen) => crpcen,
        Err(refused) => return refused.into_response(),
    };
    let ttl = form.hours.saturating_mul(3600);
    match web
        .services
        .create_enrollment_token(signed.admin(), &crpcen, Some(form.uses), Some(ttl))
        .await
    {
        Ok(created) => {
            let outcome = Outcome {
                message: format!(
                    "Jeton n° {} créé : {} enrôlement(s), valable jusqu'au {}. Il n'est affiché \
                     qu'une fois : copiez-le maintenant pour l'installation des postes.",
                    created.info.id,
                    created.info.uses_left,
                    datetime_fr(created.info.expires_at)
                ),
                secret: created.token.expose().to_owned(),
            };
            show(&web, &signed, &crpcen, outcome).await
        }
        Err(error) => page::error(error),
    }
}

/// The provisional password form: the whole office, or one mailbox.
#[derive(Debug, Deserialize)]
pub(crate) struct Open {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mailbox: String,
}

/// `POST /offices/{crpcen}/rotations`: issues provisional passwords (opens rotations).
pub(crate) async fn open_rotations(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<Open>,
) -> Response {
    let crpcen = match action_office(&signed, &form.csrf, &crpcen) {
        Ok(crpcen) => crpcen,
        Err(refused) => return refused.into_response(),
    };
    let target = match form.mailbox.trim() {
        "" => Target::Office(crpcen.clone()),
        text => match MailboxAddress::parse(text, &web.services.mail_domain) {
            Ok(address) if address.office() == &crpcen => Target::Mailbox(address),
            _ => {
                return page::bad_request(&format!(
                    "« {text} » n'est pas une adresse de boîte de l'étude {crpcen}."
                ));
            }
        },
    };
    match web.services.open_rotations(signed.admin(), &target).await {
        Ok(issued) => {
            let outcome = Outcome::said(format!(
                "{} mot(s) de passe provisoire(s) émis ; {} boîte(s) laissée(s) de côté car une \
                 rotation y est déjà ouverte. Imprimez les courriers et envoyez l'export à \
                 l'administrateur de la messagerie ci-dessous.",
                issued.issued.len(),
                issued.skipped.len()
            ));
            show(&web, &signed, &crpcen, outcome).await
        }
        Err(error) => page::error(error),
    }
}

/// `POST /offices/{crpcen}/letters.pdf`: the letters of the open rotations (audited first).
pub(crate) async fn letters(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    disclose(&web, &signed, &crpcen, &form.csrf, DisclosurePurpose::Letters).await
}

/// `POST /offices/{crpcen}/export.csv`: the export for the mail administrator (audited first).
pub(crate) async fn export(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    disclose(&web, &signed, &crpcen, &form.csrf, DisclosurePurpose::Export).await
}

async fn disclose(
    web: &Web,
    signed: &Signed,
    crpcen: &str,
    csrf: &str,
    purpose: DisclosurePurpose,
) -> Response {
    let crpcen = match action_office(signed, csrf, crpcen) {
        Ok(crpcen) => crpcen,
        Err(refused) => return refused.into_response(),
    };
    let office = match web.services.get_office(signed.admin(), &crpcen).await {
        Ok(office) => office,
        Err(error) => return page::error(error),
    };
    let disclosed = match web.services.disclose_provisional(signed.admin(), &crpcen, purpose).await
    {
        Ok(disclosed) => disclosed,
        Err(error) => return page::error(error),
    };
    let (body, kind, name) = match purpose {
        DisclosurePurpose::Letters => (
            super::documents::letters(
                &office,
                &disclosed,
                Printing { at: web.services.clock.now(), calendar: &LocalCalendar::new() },
            ),
            "application/pdf",
            format!("courriers-{crpcen}.pdf"),
        ),
        DisclosurePurpose::Export => (
            super::documents::export_csv(&disclosed),
            "text/csv; charset=utf-8",
            format!("export-{crpcen}.csv"),
        ),
    };
    page::download(body, kind, &name)
}
