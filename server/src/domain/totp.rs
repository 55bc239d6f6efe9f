//! Time-based one-time passwords (RFC 6238), the administrators' second factor on the web
//! dashboard: HMAC-SHA1, 6 digits, 30-second steps, a code accepted one step early or late. The
//! secret is 20 random bytes, shown once as base32 (RFC 4648, no padding) in an `otpauth://` URI
//! that authenticator apps read from a QR code. The server keeps it sealed (`keys::escrow`) and
//! remembers the last step it accepted, so that a code is never accepted twice.

use std::fmt;

use rand::RngCore;
use ring::hmac;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use time::OffsetDateTime;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const PERIOD_SECONDS: i64 = 30;
/// Bytes of a secret (the RFC's HMAC-SHA1 key length).
pub const SECRET_LEN: usize = 20;
/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Sesame";

/// A TOTP secret. Its `Debug` is redacted and its memory is wiped on drop.
pub struct TotpSecret(SecretBox<[u8; SECRET_LEN]>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> TotpSecret {
        let mut bytes = Box::new([0u8; SECRET_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        TotpSecret(SecretBox::new(bytes))
    }

    /// A secret from its bytes (as unsealed); `None` unless there are exactly [`SECRET_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Option<TotpSecret> {
        let array: [u8; SECRET_LEN] = bytes.try_into().ok()?;
        Some(TotpSecret(SecretBox::new(Box::new(array))))
    }

    /// The secret's bytes, to be sealed.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The secret in base32, as typed into an authenticator app.
    pub fn base32(&self) -> SecretString {
        SecretString::from(base32_encode(self.expose()))
    }

    /// The `otpauth://` URI of this secret for the administrator `name`.
    pub fn otpauth_uri(&self, name: &str) -> SecretString {
        let label = percent_encode(&format!("{ISSUER}:{name}"));
        SecretString::from(format!(
            "otpauth://totp/{label}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECONDS}",
            base32_encode(self.expose())
        ))
    }

    /// The code of time step `step`.
    pub fn code(&self, step: i64) -> u32 {
        hotp(self.expose(), step.max(0).unsigned_abs(), DIGITS)
    }

    /// The step `code` belongs to, among the step of `now` and the one before and after it;
    /// `None` when it matches none (or is not [`DIGITS`] digits).
    pub fn verify(&self, code: &str, now: OffsetDateTime) -> Option<i64> {
        let code = parse_code(code)?;
        let current = step_at(now);
        (-1..=1).map(|delta| current + delta).find(|&step| self.code(step) == code)
    }
}

/// The time step of `at`.
pub fn step_at(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(PERIOD_SECONDS)
}

/// A code as typed: [`DIGITS`] ASCII digits, spaces around or inside ignored.
pub fn parse_code(code: &str) -> Option<u32> {
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// HOTP (RFC 4226) with HMAC-SHA1: the `digits`-digit code of `counter` under `key`.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary =
        u32::from_be_bytes([mac[offset], mac[offset + 1], mac[offset + 2], mac[offset + 3]])
            & 0x7fff_ffff;
    binary % 10u32.pow(digits)
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648), without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (RFC 4648; case, padding and spaces ignored); `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !matches!(c, '=' | ' ')) {
        let value =
            BASE32_ALPHABET.iter().position(|&a| char::from(a) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Percent-encodes all but RFC 3986's unreserved characters and `:` (the label's separator).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const RFC_KEY: &[u8; 20] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_sha1_vectors_hold() {
        for (time, code) in [
            (59_i64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let at = OffsetDateTime::from_unix_timestamp(time).unwrap();
            let step = u64::try_from(step_at(at)).unwrap();
            assert_eq!(hotp(RFC_KEY, step, 8), code, "T = {time}");
            let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
            assert_eq!(secret.code(step_at(at)), code % 1_000_000, "six digits at T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_early_or_late_only() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = datetime!(2026-11-25 10:00:15 UTC);
        let step = step_at(now);
        for delta in -1..=1 {
            let code = format!("{:06}", secret.code(step + delta));
            assert_eq!(secret.verify(&code, now), Some(step + delta));
        }
        for delta in [-3, -2, 2, 3] {
            let code = format!("{:06}", secret.code(step + delta));
            if (-1..=1).all(|d| secret.code(step + d) != secret.code(step + delta)) {
                assert_eq!(secret.verify(&code, now), None, "step {delta}");
            }
        }
        let code = secret.code(step);
        assert_eq!(
            secret.verify(&format!("{:03} {:03}", code / 1000, code % 1000), now),
            Some(step)
        );
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(secret.verify(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trips_without_padding() {
        assert_eq!(base32_encode(b""), "");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(RFC_KEY), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(), RFC_KEY);
        assert!(base32_decode("MZ1W").is_none());
        let secret = TotpSecret::generate();
        assert_eq!(base32_decode(secret.base32().expose_secret()).unwrap(), secret.expose());
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_encoded_label() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let uri = secret.otpauth_uri("marie durand@étude");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Sesame:marie%20durand%40%C3%A9tude?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Sesame&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret([REDACTED])");
    }
}
