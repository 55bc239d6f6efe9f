//! The HTTPS transport to the OWA server, with every bound the client promises.
//!
//! One `reqwest` client over rustls (ring), built once per conversation:
//! - certificates are always verified, against the platform's roots plus the CAs given with
//!   `--ca-file`; there is no switch that turns verification off;
//! - no redirect is followed here: each `Location` goes back to the client, which resolves it
//!   through [`OwaEndpoint::resolve`]; and every request is checked against the endpoint once more
//!   before it leaves ([`OwaEndpoint::check`]), so nothing reaches another host or plain HTTP;
//! - every request, body included, ends within [`HttpSettings::request_timeout`], and bodies are
//!   read up to [`MAX_PAGE_BYTES`] and refused beyond (before reading, when `Content-Length`
//!   says so);
//! - it presents itself as desktop Edge on Windows, the client Exchange serves full pages to
//!   (PROTOCOL.md, "Full pages or down-level pages"), in the language of
//!   [`HttpSettings::accept_language`] ("The pages' language");
//! - form bodies are built in zeroizing memory and always sent with a `Content-Length`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use rustls_pki_types::CertificateDer;
use sesame_base::clock::SharedClock;
use url::Url;
use zeroize::Zeroizing;

use crate::owa::cookies::CookieJar;
use crate::owa::html::MAX_PAGE_BYTES;
use crate::owa::url::{OwaEndpoint, UrlRefusal};

/// The User-Agent sent: desktop Edge on Windows 10, which Exchange does not treat as down-level.
pub const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

/// How the transport is set up.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The `Accept-Language` sent; French by default, like the offices' browsers.
    pub accept_language: String,
    /// CAs trusted in addition to the platform's (e.g. a test server's).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The longest a request may take, from connecting to the last byte of its body.
    pub request_timeout: Duration,
    /// The longest connecting (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// Addresses to use for host names instead of asking DNS (split DNS, tests).
    pub resolve: Vec<(String, SocketAddr)>,
    /// An HTTP proxy to tunnel through (`CONNECT`), e.g. `http://proxy.office.local:3128`. TLS
    /// still runs end to end with the OWA server, whose certificate is verified as without one.
    pub proxy: Option<Url>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            accept_language: "fr-FR,fr;q=0.9".to_owned(),
            extra_roots: Vec::new(),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            resolve: Vec::new(),
            proxy: None,
        }
    }
}

/// Why a request did not give a response. None of these messages carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not on the configured server over HTTPS; nothing was sent.
    #[error(transparent)]
    Refused(#[from] UrlRefusal),
    /// The server's certificate is not trusted or not for this host.
    #[error("the OWA server's certificate is refused: {0}")]
    Certificate(String),
    /// No connection could be made.
    #[error("cannot reach the OWA server: {0}")]
    Connect(String),
    /// The request did not finish in time.
    #[error("the OWA server did not answer within {0} seconds")]
    Timeout(u64),
    /// The response body is larger than [`MAX_PAGE_BYTES`].
    #[error("the OWA server sent a page larger than 2 MiB")]
    TooLarge,
    /// Anything else at the HTTP level (a broken connection, a malformed response).
    #[error("HTTP exchange with the OWA server failed: {0}")]
    Protocol(String),
    /// The TLS configuration could not be built (e.g. an unusable `--ca-file`).
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// What came back, read in full and within bounds.
pub struct Response {
    /// The URL that was asked.
    pub url: Url,
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, unresolved.
    pub location: Option<String>,
    /// The `WWW-Authenticate` schemes offered (`Negotiate`, `NTLM`, `Basic`).
    pub authenticate: Vec<String>,
    /// Headers that hint at the server's version and state (`X-OWA-Version`, `X-FEServer`,
    /// `X-OWA-FEError`, `Content-Language`), as `(name, value)`.
    pub hints: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("location", &self.location)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The value of a hint header.
    pub fn hint(&self, name: &str) -> Option<&str> {
        self.hints.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An `application/x-www-form-urlencoded` body held in zeroizing memory.
pub struct FormBody(Zeroizing<String>);

impl fmt::Debug for FormBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormBody(..)")
    }
}

impl FormBody {
    /// Encodes the fields in order. The buffer is reserved up front so that growing it leaves no
    /// copy of a password behind.
    pub fn encode<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> FormBody {
        let mut serializer = url::form_urlencoded::Serializer::new(String::with_capacity(8192));
        for (name, value) in fields {
            serializer.append_pair(name, value);
        }
        FormBody(Zeroizing::new(serializer.finish()))
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The encoded text, for assertions.
    #[cfg(test)]
    pub(crate) fn as_str_for_tests(&self) -> &str {
        &self.0
    }

    /// Whether it holds no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Bytes that are wiped when the HTTP stack drops them.
struct WipedBytes(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for WipedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The HTTPS conversation with one OWA server: the client, its cookies and its bounds.
pub struct OwaHttp {
    client: reqwest::Client,
    endpoint: OwaEndpoint,
    jar: CookieJar,
    clock: SharedClock,
    timeout: Duration,
}

impl fmt::Debug for OwaHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwaHttp")
            .field("endpoint", &self.endpoint.base().as_str())
            .field("cookies", &self.jar)
            .finish_non_exhaustive()
    }
}

/// The rustls configuration: ring, TLS 1.2 and 1.3, the platform's verifier with extra roots.
fn tls_config(extra_roots: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra_roots.iter().cloned(),
        provider.clone(),
    )
    .map_err(|e| HttpError::Setup(e.to_string()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Setup(e.to_string()))?
        // Not "dangerous": this is the platform verifier, with the system's trust store.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The proxy, if it is one the client can use: `http://` or `https://`, without a user name or
/// password (proxy authentication is not supported, and its credentials would be one more secret).
fn checked_proxy(proxy: &Url) -> Result<reqwest::Proxy, HttpError> {
    if !matches!(proxy.scheme(), "http" | "https") || proxy.host_str().is_none() {
        return Err(HttpError::Setup("the proxy must be an http:// or https:// URL".to_owned()));
    }
    if !proxy.username().is_empty() || proxy.password().is_some() {
        return Err(HttpError::Setup("proxy authentication is not supported".to_owned()));
    }
    reqwest::Proxy::all(proxy.as_str()).map_err(|e| HttpError::Setup(e.to_string()))
}

/// Describes a reqwest error by its causes, naming certificate problems as such.
fn classify(error: &reqwest::Error, timeout: Duration) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout(timeout.as_secs().max(1));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut chain = Vec::new();
    while let Some(cause) = source {
        // An io::Error's `source()` skips the error it wraps (and rustls's error arrives wrapped
        // in two of them): look inside.
        let mut inner: Option<&(dyn std::error::Error + 'static)> = Some(cause);
        while let Some(candidate) = inner {
            if let Some(tls @ rustls::Error::InvalidCertificate(_)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return HttpError::Certificate(tls.to_string());
            }
            inner = candidate
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|e| e as &(dyn std::error::Error + 'static));
        }
        let text = cause.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = cause.source();
    }
    let message = chain.join(": ");
    if error.is_connect() { HttpError::Connect(message) } else { HttpError::Protocol(message) }
}

impl OwaHttp {
    /// A transport for `endpoint`.
    pub fn new(
        endpoint: OwaEndpoint,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<OwaHttp, HttpError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(&settings.accept_language)
                .map_err(|_| HttpError::Setup("unusable Accept-Language".to_owned()))?,
        );
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(&settings.extra_roots)?)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .referer(false)
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.request_timeout)
            .timeout(settings.request_timeout)
            .http1_max_headers(100);
        builder = match &settings.proxy {
            None => builder.no_proxy(),
            Some(proxy) => builder.proxy(checked_proxy(proxy)?),
        };
        for (host, address) in &settings.resolve {
            builder = builder.resolve(host, *address);
        }
        let client = builder.build().map_err(|e| HttpError::Setup(e.to_string()))?;
        Ok(OwaHttp {
            client,
            endpoint,
            jar: CookieJar::default(),
            clock,
            timeout: settings.request_timeout,
        })
    }

    /// The configured server.
    pub fn endpoint(&self) -> &OwaEndpoint {
        &self.endpoint
    }

    /// The cookies received so far.
    pub fn cookies(&mut self) -> &mut CookieJar {
        &mut self.jar
    }

    /// `GET url`.
    pub async fn get(&mut self, url: &Url) -> Result<Response, HttpError> {
        self.endpoint.check(url)?;
        let request = self.client.get(url.clone());
        self.send(url, request).await
    }

    /// `POST url` with a form body.
    pub async fn post_form(
        &mut self,
        url: &Url,
        mut form: FormBody,
    ) -> Result<Response, HttpError> {
        self.endpoint.check(url)?;
        let length = form.len();
        // Moved, not copied: the one buffer is wiped when hyper drops it.
        let owned = std::mem::take(&mut *form.0).into_bytes();
        let bytes = bytes::Bytes::from_owner(WipedBytes(Zeroizing::new(owned)));
        let request = self
            .client
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::CONTENT_LENGTH, length)
            .body(bytes);
        self.send(url, request).await
    }

    async fn send(
        &mut self,
        url: &Url,
        mut request: reqwest::RequestBuilder,
    ) -> Result<Response, HttpError> {
        if let Some(cookie) = self.jar.header() {
            let mut value = HeaderValue::from_str(&cookie)
                .map_err(|_| HttpError::Protocol("a cookie is not a valid header".to_owned()))?;
            value.set_sensitive(true);
            request = request.header(header::COOKIE, value);
        }
        let timeout = self.timeout;
        let exchange = async {
            let mut response = request.send().await.map_err(|e| classify(&e, timeout))?;
            if response.content_length().is_some_and(|n| n > MAX_PAGE_BYTES as u64) {
                return Err(HttpError::TooLarge);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, timeout))? {
                if body.len() + chunk.len() > MAX_PAGE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok((response, body))
        };
        let (response, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout.as_secs().max(1)))??;
        let now = self.clock.now();
        for set_cookie in response.headers().get_all(header::SET_COOKIE) {
            self.jar.receive(set_cookie.as_bytes(), now);
        }
        let text = |value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
        let authenticate = response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| text(v).split_whitespace().next().unwrap_or_default().to_owned())
            .collect();
        let hints = [
            "X-OWA-Version",
            "X-FEServer",
            "X-OWA-FEError",
            "X-OWA-Destination",
            "Content-Language",
        ]
        .iter()
        .filter_map(|name| response.headers().get(*name).map(|v| ((*name).to_owned(), text(v))))
        .collect();
        Ok(Response {
            url: url.clone(),
            status: response.status().as_u16(),
            location: response.headers().get(header::LOCATION).map(text),
            authenticate,
            hints,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_encoded_in_order_and_never_printed() {
        let body =
            FormBody::encode([("username", "Jean.Dupont@12345.mailnot.fr"), ("password", "a b&c")]);
        assert_eq!(
            body.as_str_for_tests(),
            "username=Jean.Dupont%4012345.mailnot.fr&password=a+b%26c"
        );
        assert_eq!(format!("{body:?}"), "FormBody(..)");
    }

    #[test]
    fn proxies_are_plain_urls_without_credentials() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(checked_proxy(&url("http://proxy.office.local:3128")).is_ok());
        assert!(checked_proxy(&url("https://proxy.office.local")).is_ok());
        for refused in ["socks5://proxy:1080", "http://user:pw@proxy:3128", "file:///proxy"] {
            assert!(matches!(checked_proxy(&url(refused)), Err(HttpError::Setup(_))), "{refused}");
        }
    }

    #[test]
    fn the_tls_configuration_builds_with_extra_roots() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = ca.self_signed(&key).unwrap();
        let config = tls_config(&[ca.der().clone()]).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
