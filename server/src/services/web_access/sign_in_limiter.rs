//! [`SignInLimiter`]: the failed web sign-ins of the last minutes, per account and per address,
//! in each server's memory (token buckets of `services::rate_limit`, bounded in size).

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::services::rate_limit::RateLimiter;

/// Failed sign-ins remembered per account and per address, in bounded memory; an account or
/// address past its allowance is refused before any password is checked.
#[derive(Debug)]
pub struct SignInLimiter {
    accounts: RateLimiter<String>,
    addresses: RateLimiter<IpAddr>,
}

impl SignInLimiter {
    /// Allows `per_account` failures per account and `per_address` per address over `period`.
    pub fn new(per_account: u32, per_address: u32, period: time::Duration) -> SignInLimiter {
        SignInLimiter {
            accounts: RateLimiter::refilled_over(per_account, period),
            addresses: RateLimiter::refilled_over(per_address, period),
        }
    }

    pub(super) fn has_room(
        &self,
        account: &str,
        remote: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> bool {
        self.accounts.has_room(&account.to_owned(), now)
            && remote.is_none_or(|address| self.addresses.has_room(&address, now))
    }

    pub(super) fn fail(&self, account: String, remote: Option<IpAddr>, now: OffsetDateTime) {
        self.accounts.allow(account, now);
        if let Some(address) = remote {
            self.addresses.allow(address, now);
        }
    }
}

impl Default for SignInLimiter {
    /// 5 failures per account and 20 per address every 15 minutes.
    fn default() -> SignInLimiter {
        SignInLimiter::new(5, 20, time::Duration::minutes(15))
    }
}
