//! Settings an administrator manages and agents obey: where the office's OWA is ([`OwaUrl`], a
//! global value with per-office overrides) and the name a mailbox logs on with when OWA asks for
//! `DOMAIN\user` ([`LogonName`]). Both are parsed once at the edge.

use std::fmt;

/// The OWA address agents use when no administrator set one: the letter's address.
pub const DEFAULT_OWA_URL: &str = "https://mail.authentic-connect.fr/owa";

/// Longest OWA address accepted, in characters.
pub const MAX_OWA_URL_CHARS: usize = 2048;

/// Why a setting was refused; the message names what is wrong, never more than the value's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// An OWA address that is not a plain `https://host[:port]/path`.
    #[error("invalid OWA address: {0}")]
    OwaUrl(&'static str),
    /// A logon name that is not `DOMAIN\user`.
    #[error("invalid logon name: {0}")]
    LogonName(&'static str),
}

/// An OWA address: `https://`, a host (and optional port), an optional path; no user
/// information, query or fragment, no control or space character, at most
/// [`MAX_OWA_URL_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwaUrl(String);

impl OwaUrl {
    /// Parses an address, ignoring surrounding white space.
    pub fn parse(value: &str) -> Result<OwaUrl, SettingError> {
        let value = value.trim();
        let err = SettingError::OwaUrl;
        if value.chars().count() > MAX_OWA_URL_CHARS {
            return Err(err("longer than 2,048 characters"));
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err("contains control characters or spaces"));
        }
        let rest = match value.get(..8) {
            Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &value[8..],
            _ => return Err(err("must start with https://")),
        };
        if value.contains('?') {
            return Err(err("must not hold a query (?)"));
        }
        if value.contains('#') {
            return Err(err("must not hold a fragment (#)"));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(err("must not hold user information (@)"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(inner) => match inner.split_once(']') {
                Some((ip, tail)) => (
                    Some(ip),
                    tail.strip_prefix(':').or(if tail.is_empty() { None } else { Some("") }),
                ),
                None => (None, None),
            },
            None => match authority.split_once(':') {
                Some((host, port)) => (Some(host), Some(port)),
                None => (Some(authority), None),
            },
        };
        if let Some(port) = port
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(err("the port must be a number from 1 to 65535"));
        }
        let bracketed = authority.starts_with('[');
        let valid_host = match host {
            Some(ip) if bracketed => ip.parse::<std::net::Ipv6Addr>().is_ok(),
            Some(host) => {
                !host.is_empty()
                    && host.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }
            None => false,
        };
        if !valid_host {
            return Err(err("needs a host name"));
        }
        Ok(OwaUrl(format!("https://{}", rest)))
    }

    /// The default address ([`DEFAULT_OWA_URL`]).
    pub fn default_url() -> OwaUrl {
        OwaUrl(DEFAULT_OWA_URL.to_owned())
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest domain part of a logon name.
pub const MAX_LOGON_DOMAIN: usize = 15;
/// Longest user part of a logon name.
pub const MAX_LOGON_USER: usize = 20;

/// A pre-Windows 2000 logon name, `DOMAIN\user`: each part non-empty, of ASCII letters, digits,
/// `.`, `-` and `_`; at most [`MAX_LOGON_DOMAIN`] characters of domain and [`MAX_LOGON_USER`] of
/// user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogonName(String);

impl LogonName {
    /// Parses a logon name, ignoring surrounding white space.
    pub fn parse(value: &str) -> Result<LogonName, SettingError> {
        let err = SettingError::LogonName;
        let value = value.trim();
        let Some((domain, user)) = value.split_once('\\') else {
            return Err(err("expected DOMAIN\\user"));
        };
        let allowed = |part: &str| {
            part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if domain.is_empty() || user.is_empty() {
            return Err(err("expected DOMAIN\\user, both parts non-empty"));
        }
        if !allowed(domain) || !allowed(user) {
            return Err(err("only letters, digits, '.', '-' and '_' around one backslash"));
        }
        if domain.len() > MAX_LOGON_DOMAIN {
            return Err(err("the domain is longer than 15 characters"));
        }
        if user.len() > MAX_LOGON_USER {
            return Err(err("the user is longer than 20 characters"));
        }
        Ok(LogonName(value.to_owned()))
    }

    /// `DOMAIN\user`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owa_urls() {
        for good in [
            "https://mail.authentic-connect.fr/owa",
            "HTTPS://mail.example.fr",
            "https://mail.example.fr:8443/owa/",
            "https://[::1]:8443/owa",
            " https://10.0.0.1/owa ",
        ] {
            assert!(OwaUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "http://mail.example.fr/owa",
            "https://",
            "https:///owa",
            "https://user:pw@mail.example.fr/owa",
            "https://mail.example.fr/owa?x=1",
            "https://mail.example.fr/owa#top",
            "https://mail.example.fr:0/owa",
            "https://mail.example.fr:x/owa",
            "https://mail example.fr/owa",
            "https://mail.example.fr/o\u{0}wa",
            "https://mail..example.fr/",
            "ftp://mail.example.fr",
            "",
        ] {
            assert!(OwaUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://mail.example.fr/{}", "a".repeat(MAX_OWA_URL_CHARS));
        assert!(OwaUrl::parse(&long).is_err());
        assert_eq!(OwaUrl::parse("HTTPS://h.fr/owa").unwrap().as_str(), "https://h.fr/owa");
    }

    #[test]
    fn logon_names() {
        for good in [
            "AUTHENTIC\\dupont.jean",
            "a\\b",
            "DOM-1_x.y\\u_2-3.4",
            "ABCDEFGHIJKLMNO\\abcdefghijklmnopqrst",
        ] {
            assert!(LogonName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "dupont",
            "\\user",
            "DOM\\",
            "DOM\\a\\b",
            "DOM/user",
            "DOM\\us er",
            "DOM\\usé",
            "ABCDEFGHIJKLMNOP\\u",
            "D\\abcdefghijklmnopqrstu",
            "D\\u\u{0}",
        ] {
            assert!(LogonName::parse(bad).is_err(), "{bad}");
        }
    }
}
