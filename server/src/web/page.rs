//! What every page shares: the frame ([`Layout`]: who is signed in, the navigation, the sign-out
//! form and its token), rendering a template into an answer, and the French pages of refusals and
//! failures, made from a service's [`Error`] as `grpc::status` makes gRPC codes: internal causes
//! are logged, never shown.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sesame_base::error_chain::chain;

use crate::domain::admin::{Admin, AdminRole};
use crate::services::Error;

/// Lines per page of every list.
pub(crate) const PAGE_SIZE: usize = 50;

/// The frame around every page of a signed-in administrator.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The page's title.
    pub(crate) title: String,
    /// Who is signed in.
    pub(crate) admin_name: String,
    /// Its role, in French.
    pub(crate) role: &'static str,
    /// Whether it may change something (every role but auditors).
    pub(crate) writer: bool,
    /// Whether it is a global administrator (registers offices).
    pub(crate) global: bool,
    /// The session's form token.
    pub(crate) csrf: String,
}

impl Layout {
    /// The frame for `admin`.
    pub(crate) fn new(title: &str, admin: &Admin, csrf: String) -> Layout {
        let role = match admin.role {
            AdminRole::Global => "administrateur général",
            AdminRole::Office => "administrateur d'études",
            AdminRole::Auditor => "auditeur",
        };
        Layout {
            title: title.to_owned(),
            admin_name: admin.name.clone(),
            role,
            writer: admin.role != AdminRole::Auditor,
            global: admin.role == AdminRole::Global,
            csrf,
        }
    }
}

/// A page of a message, with no frame (refusals, failures, pages not found).
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Renders a template into an HTML answer.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %chain(&error), "dashboard: a template failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Erreur", INTERNAL)
        }
    }
}

const INTERNAL: &str = "Le serveur n'a pas pu répondre. Réessayez ; si cela persiste, prévenez \
                        l'administrateur de Sesame (la cause est dans le journal du serveur).";

/// A message page with its status.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let html = MessagePage { title, message: text }.render().unwrap_or_else(|_| text.to_owned());
    (status, Html(html)).into_response()
}

/// The body of a refused request (no frame).
pub(crate) fn refusal_page(text: &str) -> Html<String> {
    Html(MessagePage { title: "Demande refusée", message: text }.render().unwrap_or_default())
}

/// 403 with this message.
pub(crate) fn forbidden(text: &str) -> Response {
    message(StatusCode::FORBIDDEN, "Demande refusée", text)
}

/// 400 with this message.
pub(crate) fn bad_request(text: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "Demande invalide", text)
}

/// The answer to a service's refusal or failure.
pub(crate) fn error(error: Error) -> Response {
    match error {
        Error::InvalidArgument(detail) => {
            bad_request(&format!("La demande est invalide : {detail}."))
        }
        Error::NotFound(_) => not_found_page(),
        Error::AlreadyExists(detail)
        | Error::FailedPrecondition(detail)
        | Error::Aborted(detail) => message(StatusCode::CONFLICT, "Action impossible", &detail),
        Error::Unauthenticated(_) => {
            let mut answer = Redirect::to("/sign-in").into_response();
            answer.headers_mut().insert(header::SET_COOKIE, super::session::clear_cookie());
            answer
        }
        Error::PermissionDenied(_) => forbidden(
            "Vous n'avez pas accès à cette page ou à cette action avec votre rôle. Demandez-la à \
             un administrateur général si vous en avez besoin.",
        ),
        Error::ResourceExhausted(_) => message(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de demandes",
            "Trop de demandes en peu de temps : attendez quelques minutes et recommencez.",
        ),
        Error::Unavailable => {
            let mut answer = message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "La base de données ne répond pas pour l'instant : réessayez dans un moment.",
            );
            answer.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            answer
        }
        Error::Internal(cause) => {
            tracing::error!(error = %chain(cause.as_ref()), "dashboard: internal error");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Erreur", INTERNAL)
        }
    }
}

fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette page n'existe pas, ou vous n'y avez pas accès.",
    )
}

/// Any address the dashboard does not serve.
pub(crate) async fn not_found() -> Response {
    not_found_page()
}

/// A file to save, never kept by a cache.
pub(crate) fn download(body: Vec<u8>, kind: &'static str, name: &str) -> Response {
    let mut answer = body.into_response();
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    answer
}

/// Percent-encodes a query value or a path segment (everything but unreserved characters).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A form's fields (`application/x-www-form-urlencoded`), or a French 400 page when they are
/// missing or malformed (axum's own answer is English text). A missing session token is read as
/// empty, so that the token check refuses it (403) like a wrong one.
#[derive(Debug)]
pub(crate) struct Form<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequest<S> for Form<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Form<T>, Response> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(fields)) => Ok(Form(fields)),
            Err(rejection) => {
                tracing::debug!(%rejection, "dashboard: malformed form");
                Err(bad_request(
                    "Le formulaire envoyé est incomplet ou mal rempli : rechargez la page, \
                     vérifiez les champs et recommencez.",
                ))
            }
        }
    }
}

/// A page's query string (filters, sort, page), or a French 400 page when it does not parse (a
/// page number that is not one, say).
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Query<T>, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(fields)) => Ok(Query(fields)),
            Err(rejection) => {
                tracing::debug!(%rejection, "dashboard: malformed query");
                Err(bad_request(
                    "L'adresse de la page est mal formée (un numéro de page ou de séquence qui \
                     n'en est pas un ?) : revenez à la page précédente.",
                ))
            }
        }
    }
}

/// One page of a list that is sorted and filtered in memory: which lines to show and the links
/// around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paging {
    /// The page shown, from 1.
    pub(crate) page: usize,
    /// How many pages there are (at least 1).
    pub(crate) pages: usize,
    /// How many lines in all.
    pub(crate) total: usize,
}

impl Paging {
    /// Page `page` (from 1, clamped) of `total` lines.
    pub(crate) fn new(page: usize, total: usize) -> Paging {
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        Paging { page: page.clamp(1, pages), pages, total }
    }

    /// The lines of the page, as a range of the whole list.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        let start = (self.page - 1) * PAGE_SIZE;
        start.min(self.total)..(start + PAGE_SIZE).min(self.total)
    }

    /// The previous page, if any.
    pub(crate) fn previous(&self) -> Option<usize> {
        (self.page > 1).then(|| self.page - 1)
    }

    /// The next page, if any.
    pub(crate) fn next(&self) -> Option<usize> {
        (self.page < self.pages).then(|| self.page + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clamped_and_cover_every_line_once() {
        let paging = Paging::new(0, 120);
        assert_eq!((paging.page, paging.pages, paging.range()), (1, 3, 0..50));
        let last = Paging::new(9, 120);
        assert_eq!(
            (last.page, last.range(), last.next(), last.previous()),
            (3, 100..120, None, Some(2))
        );
        assert_eq!(Paging::new(1, 0).range(), 0..0);
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            encode("/offices/14032?state=overdue&q=é"),
            "%2Foffices%2F14032%3Fstate%3Doverdue%26q%3D%C3%A9"
        );
    }

    #[test]
    fn internal_causes_never_reach_the_page() {
        let answer = error(Error::Internal("database password=hunter2".into()));
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
