//! The harness self-test's tiny HTTPS site, served like the dashboard will be: a certificate from
//! a test CA for `localhost`, a strict Content-Security-Policy on every page, a Secure HttpOnly
//! session cookie, a form, an API refusing requests without a CSRF token, a download, and a page
//! with a deliberate accessibility violation.
//!
//! | Path | Answer |
//! |---|---|
//! | `GET /` | the clean page (sets `session=s1`), with an inline script the CSP blocks |
//! | `GET /app.js` | a same-origin script, allowed (marks `<html data-script="ran">`) |
//! | `POST /submit` | the form's answer, `Envoyé` |
//! | `POST /api/echo` | 401 without the cookie, 403 without `x-csrf-token: t1`, else the body |
//! | `GET /report.csv` | a CSV, `Content-Disposition: attachment` |
//! | `GET /broken` | a page with an `<img>` without `alt` |

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

const CSP: &str = "default-src 'self'; script-src 'self'";

const CLEAN_PAGE: &str = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Harnais</title>
<script src="/app.js"></script><script>window.inlineRan = true;</script></head>
<body><main><h1>Harnais</h1>
<form method="post" action="/submit"><label for="name">Nom</label>
<input id="name" name="name" type="text"><button type="submit">Envoyer</button></form>
<p><a id="report" href="/report.csv">Télécharger le rapport</a></p>
</main></body></html>"#;

const BROKEN_PAGE: &str = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Cassé</title></head>
<body><main><h1>Cassé</h1><img src="/pixel.png"></main></body></html>"#;

/// The CSV `/report.csv` sends.
pub(super) const REPORT: &str = "bureau;etat\n75001;conforme\n";

/// A running site; stops when dropped.
#[derive(Debug)]
pub(super) struct Site {
    /// `https://localhost:<port>`.
    pub(super) origin: String,
    /// Its certificate (DER), issued by a CA of its own.
    pub(super) certificate: Vec<u8>,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    /// Serves the site on `127.0.0.1:0`.
    pub(super) async fn start() -> Site {
        let (certificate, key) = localhost_certificate();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("https://localhost:{}", listener.local_addr().unwrap().port());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(|r| async { Ok::<_, Infallible>(answer(r).await) });
                    let _ =
                        http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Site { origin, certificate: certificate.to_vec(), task }
    }
}

/// A CA of its own and a `localhost` certificate it issued (rcgen's default validity, so that
/// nothing reads the clock).
fn localhost_certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "Harness test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
}

async fn answer(request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/") => {
            let mut response = html(CLEAN_PAGE.to_owned());
            let cookie = "session=s1; Path=/; Secure; HttpOnly; SameSite=Strict";
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static(cookie));
            response
        }
        (&Method::GET, "/app.js") => respond(
            StatusCode::OK,
            "text/javascript",
            "document.documentElement.dataset.script = 'ran';\n".to_owned(),
        ),
        (&Method::POST, "/submit") => {
            let name: String = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.replace(['<', '>', '&', '"'], ""))
                .unwrap_or_default();
            html(format!(
                "<!doctype html><html lang=\"fr\"><head><title>Envoyé</title></head>\
                 <body><main><h1 id=\"greeting\">Bonjour, {name}</h1></main></body></html>"
            ))
        }
        (&Method::POST, "/api/echo") => {
            if !header("cookie").split("; ").any(|c| c == "session=s1") {
                respond(StatusCode::UNAUTHORIZED, "text/plain", "no session".to_owned())
            } else if header("x-csrf-token") != "t1" {
                respond(StatusCode::FORBIDDEN, "text/plain", "no CSRF token".to_owned())
            } else {
                let text = String::from_utf8_lossy(&body);
                respond(StatusCode::OK, "text/plain", format!("echo: {text}"))
            }
        }
        (&Method::GET, "/report.csv") => {
            let mut response = respond(StatusCode::OK, "text/csv", REPORT.to_owned());
            let disposition = HeaderValue::from_static("attachment; filename=\"rapport.csv\"");
            response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
            response
        }
        (&Method::GET, "/broken") => html(BROKEN_PAGE.to_owned()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found".to_owned()),
    }
}

fn html(page: String) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, "text/html; charset=utf-8", page)
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}
