//! Setting an office up from the browser, before its provisional passwords: registering it
//! (global administrators), importing its people from the same CSV file sesamectl reads (all or
//! nothing, each refusal naming its line), its OWA address, and which workstation changes which
//! mailbox. Each is a form with the session's token; the answer is the rollout page with what
//! was done, or a French page saying what to correct.

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sesame_base::ids::WorkstationId;
use sesame_documents::mailbox_csv;

use super::Web;
use super::page::{self, Form};
use super::rollout::{Outcome, action_office, office_of, show};
use super::session::Signed;
use crate::domain::office::{Crpcen, NewOffice, Text};
use crate::domain::settings::OwaUrl;
use crate::services::Error;
use crate::services::offices::RawMailboxRow;

/// The largest mailbox file the dashboard takes (about 20,000 lines).
pub(crate) const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// The new office form.
#[derive(Debug, Deserialize)]
pub(crate) struct NewOfficeForm {
    #[serde(default)]
    csrf: String,
    crpcen: String,
    name: String,
    #[serde(default)]
    city: String,
}

/// `POST /offices`: registers an office, then opens its rollout.
pub(crate) async fn create_office(
    State(web): State<Web>,
    signed: Signed,
    Form(form): Form<NewOfficeForm>,
) -> Response {
    if let Err(refused) = signed.check_form(&form.csrf) {
        return refused.into_response();
    }
    let Ok(crpcen) = Crpcen::parse(form.crpcen.trim()) else {
        return page::bad_request(&format!(
            "« {} » n'est pas un numéro CRPCEN : cinq chiffres, par exemple 14032.",
            form.crpcen.trim()
        ));
    };
    let Ok(name) = Text::parse("name", &form.name) else {
        return page::bad_request("Le nom de l'étude est obligatoire (200 caractères au plus).");
    };
    let city = match Text::parse_optional("city", &form.city) {
        Ok(city) => city,
        Err(_) => return page::bad_request("La ville est trop longue (200 caractères au plus)."),
    };
    let office = NewOffice { crpcen: crpcen.clone(), name, city };
    match web.services.create_office(signed.admin(), &office).await {
        Ok(_) => Redirect::to(&format!("/offices/{}/rollout", crpcen.as_str())).into_response(),
        Err(error) => page::error(error),
    }
}

/// `POST /offices/{crpcen}/mailboxes`: imports the office's people from a CSV file (multipart:
/// the session's token first, then the file).
pub(crate) async fn import_mailboxes(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let crpcen = match office_of(&crpcen) {
        Ok(crpcen) => crpcen,
        Err(error) => return page::error(error),
    };
    let mut token_checked = false;
    let mut text = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return unreadable(),
        };
        match field.name() {
            Some("csrf") => {
                let given = field.text().await.unwrap_or_default();
                if let Err(refused) = signed.check_form(&given) {
                    return refused.into_response();
                }
                token_checked = true;
            }
            Some("file") if token_checked => match field.bytes().await {
                Ok(bytes) => text = Some(bytes),
                Err(_) => return unreadable(),
            },
            _ => {}
        }
    }
    if !token_checked {
        return super::session::BadForm.into_response();
    }
    let Some(bytes) = text else { return unreadable() };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return page::bad_request(
            "Le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 » et recommencez.",
        );
    };
    let csv = match mailbox_csv::parse(text) {
        Ok(csv) => csv,
        Err(error) => {
            return page::bad_request(&format!("Rien n'a été importé : {error}."));
        }
    };
    let suffix = format!("@{}.", crpcen.as_str());
    if let Some(row) = csv.rows.iter().find(|r| !r.address.to_lowercase().contains(&suffix)) {
        return page::bad_request(&format!(
            "Rien n'a été importé : la ligne {} ({}) n'est pas une boîte de l'étude {}.",
            row.line,
            row.address,
            crpcen.as_str()
        ));
    }
    let rows = csv
        .rows
        .into_iter()
        .map(|r| RawMailboxRow {
            line: r.line,
            address: r.address,
            display_name: r.display_name,
            logon_name: r.logon_name,
            local_account: r.local_account,
        })
        .collect();
    let services = &web.services;
    let admin = signed.admin();
    let imported = async {
        let mut import = services.begin_import(admin)?;
        import.add_rows(rows)?;
        services.import_mailboxes(admin, import, false).await
    };
    match imported.await {
        Ok(report) => {
            let message = format!(
                "Import terminé : {} boîte(s) créée(s), {} mise(s) à jour, {} inchangée(s).",
                report.created, report.updated, report.unchanged
            );
            show(&web, &signed, &crpcen, Outcome::said(message)).await
        }
        Err(Error::InvalidArgument(refusal)) => {
            page::bad_request(&format!("Rien n'a été importé : {refusal}"))
        }
        Err(error) => page::error(error),
    }
}

fn unreadable() -> Response {
    page::bad_request(&format!(
        "Le fichier n'a pas pu être lu : choisissez un fichier CSV de {} Mo au plus.",
        MAX_IMPORT_BYTES / (1024 * 1024)
    ))
}

/// The OWA address form.
#[derive(Debug, Deserialize)]
pub(crate) struct OwaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

/// `POST /offices/{crpcen}/owa-url`: the office's own OWA address, or the global one when empty.
pub(crate) async fn set_owa_url(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<OwaForm>,
) -> Response {
    let crpcen = match action_office(&signed, &form.csrf, &crpcen) {
        Ok(crpcen) => crpcen,
        Err(refused) => return refused.into_response(),
    };
    let url = match form.url.trim() {
        "" => None,
        text => match OwaUrl::parse(text) {
            Ok(url) => Some(url),
            Err(_) => {
                return page::bad_request(&format!(
                    "« {text} » n'est pas une adresse OWA : elle s'écrit \
                     https://serveur/owa (HTTPS, sans identifiant ni mot de passe)."
                ));
            }
        },
    };
    match web.services.set_owa_url(signed.admin(), Some(&crpcen), url.as_ref()).await {
        Ok(()) => {
            let message = match &url {
                Some(url) => format!("Les postes de l'étude utiliseront {url}."),
                None => "Les postes de l'étude utiliseront l'adresse OWA générale.".to_owned(),
            };
            show(&web, &signed, &crpcen, Outcome::said(message)).await
        }
        Err(error) => page::error(error),
    }
}

/// The assignment form.
#[derive(Debug, Deserialize)]
pub(crate) struct AssignmentForm {
    #[serde(default)]
    csrf: String,
    workstation: String,
    mailbox: String,
    /// `assign` or `unassign`.
    action: String,
}

/// `POST /offices/{crpcen}/assignments`: which workstation changes a mailbox's password.
pub(crate) async fn assignment(
    State(web): State<Web>,
    signed: Signed,
    Path(crpcen): Path<String>,
    Form(form): Form<AssignmentForm>,
) -> Response {
    let crpcen = match action_office(&signed, &form.csrf, &crpcen) {
        Ok(crpcen) => crpcen,
        Err(refused) => return refused.into_response(),
    };
    let Ok(workstation) = WorkstationId::parse("workstation", form.workstation.trim()) else {
        return page::bad_request("Choisissez un poste de la liste.");
    };
    let services = &web.services;
    let (done, message) = if form.action == "unassign" {
        let done =
            services.unassign_mailbox(signed.admin(), &workstation, form.mailbox.trim()).await;
        (done, format!("{} n'est plus attribuée au poste {workstation}.", form.mailbox.trim()))
    } else {
        let done = services.assign_mailbox(signed.admin(), &workstation, form.mailbox.trim()).await;
        (done, format!("{} est attribuée au poste {workstation}.", form.mailbox.trim()))
    };
    match done {
        Ok(()) => show(&web, &signed, &crpcen, Outcome::said(message)).await,
        Err(error) => page::error(error),
    }
}
