//! TLS session tickets that survive a restart: the ticket key is derived from the server's private
//! key and the current 12-hour epoch, so agents reconnecting after a restart (or to another server
//! holding the same key) resume their TLS session instead of a full handshake. A ticket is the
//! epoch, a random nonce and the session state sealed with AES-256-GCM; one from the current or the
//! previous epoch is accepted, nothing older.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;
use sesame_base::clock::SharedClock;

/// How long one ticket key is used to seal; tickets stay valid one more epoch.
const EPOCH_SECONDS: i64 = 12 * 3600;
/// Separates this use of the server key from any other.
const LABEL: &[u8] = b"sesame tls session ticket key v1";
const EPOCH_LEN: usize = 8;

/// Seals and opens session tickets under a key derived from the server's private key.
pub(super) struct Tickets {
    secret: hmac::Key,
    clock: SharedClock,
    rng: SystemRandom,
}

impl fmt::Debug for Tickets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tickets").finish_non_exhaustive()
    }
}

impl Tickets {
    /// Tickets keyed by `server_key` (the server's private key, PEM), timed by `clock`.
    pub(super) fn new(server_key: &str, clock: SharedClock) -> Tickets {
        let secret = hmac::Key::new(hmac::HMAC_SHA256, server_key.as_bytes());
        Tickets { secret, clock, rng: SystemRandom::new() }
    }

    fn epoch(&self) -> i64 {
        self.clock.now().unix_timestamp().div_euclid(EPOCH_SECONDS)
    }

    fn key(&self, epoch: i64) -> Option<LessSafeKey> {
        let mut input = LABEL.to_vec();
        input.extend_from_slice(&epoch.to_be_bytes());
        let derived = hmac::sign(&self.secret, &input);
        UnboundKey::new(&AES_256_GCM, derived.as_ref()).ok().map(LessSafeKey::new)
    }
}

impl ProducesTickets for Tickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        EPOCH_SECONDS as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let epoch = self.epoch();
        let key = self.key(epoch)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let header = epoch.to_be_bytes();
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(header),
            &mut sealed,
        )
        .ok()?;
        let mut ticket = Vec::with_capacity(EPOCH_LEN + NONCE_LEN + sealed.len());
        ticket.extend_from_slice(&header);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let (header, rest) = ticket.split_at_checked(EPOCH_LEN)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        let epoch = i64::from_be_bytes(header.try_into().ok()?);
        let now = self.epoch();
        if epoch != now && epoch != now - 1 {
            return None;
        }
        let key = self.key(epoch)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut opened = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(epoch.to_be_bytes()), &mut opened).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sesame_base::clock::ManualClock;
    use time::{Duration, macros::datetime};

    use super::*;

    fn tickets(key: &str) -> (Tickets, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(datetime!(2026-12-07 10:00 UTC)));
        (Tickets::new(key, clock.clone()), clock)
    }

    #[test]
    fn a_ticket_opens_after_a_restart_and_for_one_more_epoch_only() {
        let (first, clock) = tickets("server key");
        let ticket = first.encrypt(b"session state").unwrap();
        // A restarted server: the same key, a new instance.
        let (again, _) = tickets("server key");
        assert_eq!(again.decrypt(&ticket).unwrap(), b"session state");
        clock.advance(Duration::hours(12));
        assert_eq!(first.decrypt(&ticket).unwrap(), b"session state");
        clock.advance(Duration::hours(12));
        assert_eq!(first.decrypt(&ticket), None);
    }

    #[test]
    fn another_key_or_a_damaged_ticket_opens_nothing() {
        let (tickets_a, _) = tickets("server key");
        let (tickets_b, _) = tickets("another server key");
        let ticket = tickets_a.encrypt(b"session state").unwrap();
        assert_eq!(tickets_b.decrypt(&ticket), None);
        for i in 0..ticket.len() {
            let mut damaged = ticket.clone();
            damaged[i] ^= 1;
            assert_eq!(tickets_a.decrypt(&damaged), None, "byte {i}");
        }
        assert_eq!(tickets_a.decrypt(&ticket[..10]), None);
        assert_eq!(tickets_a.decrypt(&[]), None);
    }
}
