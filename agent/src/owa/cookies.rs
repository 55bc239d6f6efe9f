//! The OWA client's cookie jar: the cookies of one server, kept as secrets.
//!
//! The client talks to exactly one host (see `owa::url`), so domains are not needed: every cookie
//! the server sets is returned to it on every request. Exchange ends a session by expiring its
//! `cadata*` cookies (`Expires` thirty years ago; PROTOCOL.md, "The cookies that prove a login"):
//! a cookie whose `Max-Age` is not positive, or whose `Expires` is not after the clock's time, is
//! removed. The `cadata*` cookies stand in for the password (they carry it encrypted), so values
//! are held in zeroizing strings and never printed. The jar is bounded (count and size) against a
//! hostile server.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

/// Most cookies kept, and longest cookie accepted, as browsers bound them.
const MAX_COOKIES: usize = 50;
const MAX_COOKIE_BYTES: usize = 4096;

/// The cookies set by the OWA server.
#[derive(Default)]
pub struct CookieJar {
    cookies: Vec<(String, SecretString)>,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.cookies.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("CookieJar").field("names", &names).finish()
    }
}

impl CookieJar {
    /// Sets a cookie as a browser's script would (`PBack=0`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        if self.cookies.len() < MAX_COOKIES {
            self.cookies.push((name.to_owned(), SecretString::from(value.to_owned())));
        }
    }

    /// Takes in one `Set-Cookie` header received at `now`; malformed or oversized headers are
    /// ignored, as browsers ignore them.
    pub fn receive(&mut self, header: &[u8], now: OffsetDateTime) {
        if header.len() > MAX_COOKIE_BYTES {
            return;
        }
        let Ok(header) = std::str::from_utf8(header) else { return };
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
            return;
        }
        let mut expired = false;
        for attribute in parts {
            let (key, argument) = attribute.split_once('=').unwrap_or((attribute, ""));
            let key = key.trim();
            if key.eq_ignore_ascii_case("max-age") {
                expired |= argument.trim().parse::<i64>().is_ok_and(|age| age <= 0);
            } else if key.eq_ignore_ascii_case("expires") {
                expired |= parse_cookie_date(argument).is_some_and(|at| at <= now);
            }
        }
        if expired {
            self.cookies.retain(|(n, _)| n != name);
        } else {
            self.set(name, value);
        }
    }

    /// Forgets every cookie whose name starts with `prefix` (a session about to be replaced).
    pub fn forget(&mut self, prefix: &str) {
        self.cookies.retain(|(name, _)| !name.starts_with(prefix));
    }

    /// Whether a cookie with this name and a non-empty value is held.
    pub fn has(&self, name: &str) -> bool {
        self.cookies.iter().any(|(n, v)| n == name && !v.expose_secret().is_empty())
    }

    /// The names held, in the order they were set (for reports; never the values).
    pub fn names(&self) -> Vec<String> {
        self.cookies.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The `Cookie` header to send, if any cookie is held.
    pub fn header(&self) -> Option<zeroize::Zeroizing<String>> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut header = zeroize::Zeroizing::new(String::new());
        for (i, (name, value)) in self.cookies.iter().enumerate() {
            if i > 0 {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value.expose_secret());
        }
        Some(header)
    }
}

/// Parses the dates servers write in `Expires`, leniently as browsers do: RFC 1123
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), ASP.NET's dashes (`Mon, 01-Jan-1990 00:00:00 GMT`) and
/// two-digit years.
fn parse_cookie_date(value: &str) -> Option<OffsetDateTime> {
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut day, mut month, mut year, mut clock) = (None, None, None, None);
    for token in value.split([' ', ',', '-', '\t']).filter(|t| !t.is_empty()).take(16) {
        if clock.is_none() && token.contains(':') {
            let mut fields = token.split(':').map(|f| f.parse::<u8>().ok());
            let (h, m, s) =
                (fields.next()??, fields.next()??, fields.next().flatten().unwrap_or(0));
            clock = time::Time::from_hms(h, m, s).ok();
        } else if let Ok(number) = token.parse::<i32>() {
            if day.is_none() && token.len() <= 2 && year.is_none() {
                day = Some(u8::try_from(number).ok()?);
            } else if year.is_none() {
                year = Some(match number {
                    0..=69 => 2000 + number,
                    70..=99 => 1900 + number,
                    _ => number,
                });
            }
        } else if month.is_none() && token.len() >= 3 {
            let prefix = token[..3].to_ascii_lowercase();
            if let Some(index) = MONTHS.iter().position(|m| *m == prefix) {
                month = time::Month::try_from(u8::try_from(index + 1).ok()?).ok();
            }
        }
    }
    let date = time::Date::from_calendar_date(year?, month?, day?).ok()?;
    Some(date.with_time(clock.unwrap_or(time::Time::MIDNIGHT)).assume_utc())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn cookies_are_set_replaced_and_sent_back() {
        let mut jar = CookieJar::default();
        assert!(jar.header().is_none());
        jar.set("PBack", "0");
        jar.receive(b"cadata=abc; path=/; secure; HttpOnly", NOW);
        jar.receive(b"cadataTTL=t1; path=/", NOW);
        jar.receive(b"cadataTTL=t2; path=/", NOW);
        assert!(jar.has("cadata"));
        assert_eq!(jar.header().unwrap().as_str(), "PBack=0; cadata=abc; cadataTTL=t2");
        assert_eq!(jar.names(), ["PBack", "cadata", "cadataTTL"]);
        jar.forget("cadata");
        assert_eq!(jar.names(), ["PBack"]);
        assert!(!format!("{jar:?}").contains("abc"), "values never appear in Debug");
    }

    #[test]
    fn expired_cookies_are_removed() {
        let mut jar = CookieJar::default();
        for name in ["cadata", "cadataKey", "cadataIV", "X-OWA-CANARY"] {
            jar.receive(format!("{name}=v; path=/").as_bytes(), NOW);
        }
        jar.receive(b"cadata=; expires=Mon, 01-Jan-1996 00:00:00 GMT; path=/", NOW);
        jar.receive(b"cadataKey=x; Max-Age=0", NOW);
        jar.receive(b"cadataIV=x; expires=Wed, 25 Nov 2026 11:59:59 GMT", NOW);
        jar.receive(b"X-OWA-CANARY=y; expires=Thu, 26 Nov 2026 00:00:00 GMT", NOW);
        assert_eq!(jar.names(), ["X-OWA-CANARY"]);
    }

    #[test]
    fn hostile_headers_are_ignored_and_the_jar_is_bounded() {
        let mut jar = CookieJar::default();
        jar.receive(b"no-equals-sign", NOW);
        jar.receive(b"=value", NOW);
        jar.receive(b"bad name=value", NOW);
        jar.receive(&[0xff, b'=', b'1'], NOW);
        jar.receive(format!("big={}", "x".repeat(5000)).as_bytes(), NOW);
        assert!(jar.names().is_empty());
        for i in 0..200 {
            jar.receive(format!("c{i}=1").as_bytes(), NOW);
        }
        assert_eq!(jar.names().len(), MAX_COOKIES);
    }

    #[test]
    fn cookie_dates_are_read_leniently() {
        assert_eq!(
            parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(datetime!(2015-10-21 07:28 UTC))
        );
        assert_eq!(
            parse_cookie_date("Mon, 01-Jan-90 00:00:00 GMT"),
            Some(datetime!(1990-01-01 00:00 UTC))
        );
        assert_eq!(parse_cookie_date("garbage"), None);
        assert_eq!(parse_cookie_date("Wed, 99 Oct 2015 07:28:00 GMT"), None);
    }
}
