//! Where the OWA client may go, and what a login redirect means.
//!
//! Credentials go only over HTTPS to the configured OWA host: every redirect and form action is
//! resolved here against the page it came from and refused unless it stays on that scheme, host
//! and port (no plain HTTP, no other host, no user information, no `javascript:`). The client
//! follows no redirect by itself; it asks [`OwaEndpoint::resolve`] for each one and classifies the
//! answer to a login with [`classify_login_redirect`], by parsing the URL, never by matching
//! strings (PROTOCOL.md: "What our client deliberately refuses", "The login post and its
//! answers").

use url::Url;

/// Why a URL was refused. Nothing was sent to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    /// Not a URL, or not one a browser would follow.
    #[error("not a usable URL: {0}")]
    Malformed(String),
    /// Plain HTTP or another scheme.
    #[error("refused: {0} is not HTTPS")]
    NotHttps(String),
    /// Another host or port than the configured OWA server.
    #[error("refused: {0} is not the configured OWA server")]
    OtherHost(String),
    /// A user name or password inside the URL.
    #[error("refused: the URL carries credentials")]
    Credentials,
}

/// The configured OWA server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwaEndpoint {
    base: Url,
}

fn shorten(value: &str) -> String {
    value.chars().take(120).collect()
}

impl OwaEndpoint {
    /// Parses the configured address, e.g. `https://mail.example.fr/owa` (the path defaults to
    /// `/owa/`).
    pub fn parse(value: &str) -> Result<OwaEndpoint, UrlRefusal> {
        let mut base =
            Url::parse(value.trim()).map_err(|_| UrlRefusal::Malformed(shorten(value)))?;
        if base.scheme() != "https" {
            return Err(UrlRefusal::NotHttps(shorten(value)));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(UrlRefusal::Malformed(shorten(value)));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        if base.path() == "/" || base.path().is_empty() {
            base.set_path("/owa/");
        } else if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        Ok(OwaEndpoint { base })
    }

    /// `https://HOST/owa/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A path on the server, e.g. `auth.owa` → `https://HOST/owa/auth.owa`.
    pub fn join(&self, path: &str) -> Result<Url, UrlRefusal> {
        self.resolve(&self.base, path)
    }

    /// Resolves a redirect `Location` or a form `action` found on `page`, refusing anything off
    /// the configured server.
    pub fn resolve(&self, page: &Url, reference: &str) -> Result<Url, UrlRefusal> {
        let reference = reference.trim();
        let resolved =
            page.join(reference).map_err(|_| UrlRefusal::Malformed(shorten(reference)))?;
        self.check(&resolved)?;
        Ok(resolved)
    }

    /// Checks that a URL is on the configured server over HTTPS.
    pub fn check(&self, url: &Url) -> Result<(), UrlRefusal> {
        if url.scheme() != "https" {
            return Err(UrlRefusal::NotHttps(shorten(url.as_str())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        let same_host = url.host_str().map(str::to_ascii_lowercase)
            == self.base.host_str().map(str::to_ascii_lowercase);
        if !same_host || url.port_or_known_default() != self.base.port_or_known_default() {
            return Err(UrlRefusal::OtherHost(shorten(url.as_str())));
        }
        Ok(())
    }
}

/// What the 302 answering `POST /owa/auth.owa` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRedirect {
    /// Back to the logon page with `reason=2`: wrong password, locked, disabled, unknown user, or
    /// must change with the expired-password page switched off (indistinguishable).
    BadCredentials,
    /// Back to the logon page with another reason.
    LogonPage {
        /// The `reason` parameter (0 when absent).
        reason: u32,
    },
    /// To the expired-password page: the credentials are right and the password must change.
    MustChangePassword(Url),
    /// To Exchange's error page.
    ServerError,
    /// Anywhere else on the server: the destination of a successful login (confirmed only by the
    /// `cadata` cookies).
    Destination(Url),
}

/// Classifies the `Location` of the answer to a login post (already resolved and checked).
pub fn classify_login_redirect(location: &Url) -> LoginRedirect {
    let page =
        location.path_segments().and_then(|mut s| s.next_back()).unwrap_or("").to_ascii_lowercase();
    let reason = || {
        location
            .query_pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case("reason"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    match page.as_str() {
        "logon.aspx" => match reason() {
            2 => LoginRedirect::BadCredentials,
            reason => LoginRedirect::LogonPage { reason },
        },
        "expiredpassword.aspx" => LoginRedirect::MustChangePassword(location.clone()),
        "errorfe.aspx" => LoginRedirect::ServerError,
        _ => LoginRedirect::Destination(location.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> OwaEndpoint {
        OwaEndpoint::parse("https://Mail.Example.fr/owa").unwrap()
    }

    #[test]
    fn the_endpoint_is_https_on_one_host() {
        assert_eq!(endpoint().base().as_str(), "https://mail.example.fr/owa/");
        assert_eq!(
            OwaEndpoint::parse("https://mail.example.fr").unwrap().base().as_str(),
            "https://mail.example.fr/owa/"
        );
        assert!(matches!(
            OwaEndpoint::parse("http://mail.example.fr/owa"),
            Err(UrlRefusal::NotHttps(_))
        ));
        assert!(matches!(
            OwaEndpoint::parse("https://u:p@mail.example.fr/owa"),
            Err(UrlRefusal::Credentials)
        ));
        assert!(matches!(OwaEndpoint::parse("mail.example.fr"), Err(UrlRefusal::Malformed(_))));
        assert_eq!(
            endpoint().join("auth.owa").unwrap().as_str(),
            "https://mail.example.fr/owa/auth.owa"
        );
    }

    #[test]
    fn redirects_and_actions_stay_on_the_server() {
        let owa = endpoint();
        let page = owa.join("auth/logon.aspx?replaceCurrent=1").unwrap();
        for (reference, expected) in [
            ("/owa/auth.owa", "https://mail.example.fr/owa/auth.owa"),
            (
                "expiredpassword.aspx?url=/owa/auth.owa",
                "https://mail.example.fr/owa/auth/expiredpassword.aspx?url=/owa/auth.owa",
            ),
            ("../", "https://mail.example.fr/owa/"),
            ("https://MAIL.example.fr:443/owa/", "https://mail.example.fr/owa/"),
        ] {
            assert_eq!(owa.resolve(&page, reference).unwrap().as_str(), expected, "{reference}");
        }
        for reference in [
            "http://mail.example.fr/owa/auth.owa",
            "https://evil.example/owa/auth.owa",
            "//evil.example/owa/",
            "https://mail.example.fr:8443/owa/",
            "https://mail.example.fr.evil.example/owa/",
            "javascript:alert(1)",
            "https://user:pw@mail.example.fr/owa/",
        ] {
            assert!(owa.resolve(&page, reference).is_err(), "{reference} must be refused");
        }
    }

    #[test]
    fn login_redirects_are_classified_by_parsing_the_url() {
        let owa = endpoint();
        let at = |s: &str| owa.resolve(owa.base(), s).unwrap();
        assert_eq!(
            classify_login_redirect(&at(
                "/owa/auth/logon.aspx?url=https%3a%2f%2fmail.example.fr%2fowa%2f&reason=2"
            )),
            LoginRedirect::BadCredentials
        );
        assert_eq!(
            classify_login_redirect(&at("/owa/auth/logon.aspx?replaceCurrent=1&reason=2&url=")),
            LoginRedirect::BadCredentials,
            "the honeypot's order"
        );
        assert_eq!(
            classify_login_redirect(&at("/owa/auth/logon.aspx?url=x&reason=3")),
            LoginRedirect::LogonPage { reason: 3 }
        );
        assert!(matches!(
            classify_login_redirect(&at("/owa/auth/expiredpassword.aspx?url=/owa/auth.owa")),
            LoginRedirect::MustChangePassword(_)
        ));
        assert!(matches!(
            classify_login_redirect(&at("https://mail.example.fr/owa/auth/ExpiredPassword.aspx")),
            LoginRedirect::MustChangePassword(_)
        ));
        assert_eq!(
            classify_login_redirect(&at("/owa/auth/errorFE.aspx?CafeError=NoLegacyCAS")),
            LoginRedirect::ServerError
        );
        assert!(matches!(classify_login_redirect(&at("/owa/")), LoginRedirect::Destination(_)));
        // A query that merely mentions the logon page does not fool the classifier.
        assert!(matches!(
            classify_login_redirect(&at("/owa/?next=logon.aspx&reason=2")),
            LoginRedirect::Destination(_)
        ));
    }
}
