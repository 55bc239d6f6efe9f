//! [`LocalAccount`]: the local account at the other end of a session, as the operating system
//! names it, which is what binds a person to their mailbox on a workstation.
//!
//! - On Linux its `id` is the user NAME the kernel's uid (`SO_PEERCRED`) resolves to through the
//!   system's user database (NSS: `/etc/passwd`, SSSD, LDAP...), and its `detail` is `uid N`. A
//!   uid with no name gets no account, and a session without an account may act on nothing.
//! - On Windows (on paper, with the named pipe: `deploy/windows/`) its `id` is the account's SID
//!   (`S-1-5-…`) and its `detail` `DOMAIN\user`; [`LocalAccount::of_sid`] builds it.
//!
//! Two accounts are the same person when their `id`s are equal ([`LocalAccount::same_as`]); the
//! `detail` is evidence for people only. Root (or LocalSystem) is an account like any other.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the user database may take to name a uid (NSS may ask the network).
const RESOLVE_LIMIT: Duration = Duration::from_secs(5);

/// A local account of the workstation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocalAccount {
    /// What a binding compares: the user name (Linux) or the SID (Windows).
    pub id: String,
    /// Evidence for people: `uid 1001` (Linux), `DOMAIN\user` (Windows).
    #[serde(default)]
    pub detail: String,
}

impl LocalAccount {
    /// An account from its parts (tests, the server's delivery).
    pub fn new(id: impl Into<String>, detail: impl Into<String>) -> LocalAccount {
        LocalAccount { id: id.into(), detail: detail.into() }
    }

    /// Whether `other` is the same account (the ids are equal; the details are only evidence).
    pub fn same_as(&self, other: &LocalAccount) -> bool {
        self.id == other.id
    }

    /// The account of a Windows SID (on paper until the named pipe exists).
    pub fn of_sid(sid: &str, domain_user: &str) -> LocalAccount {
        LocalAccount::new(sid, domain_user)
    }

    /// The account of `uid`, from the system's user database; `None` when the uid has no name
    /// (or the database did not answer within a few seconds).
    #[cfg(unix)]
    pub async fn of_uid(uid: u32) -> Option<LocalAccount> {
        let lookup = tokio::task::spawn_blocking(move || {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten()
        });
        let user = tokio::time::timeout(RESOLVE_LIMIT, lookup).await.ok()?.ok()??;
        Some(LocalAccount::new(user.name, format!("uid {uid}")))
    }

    /// No uid on this platform.
    #[cfg(not(unix))]
    pub async fn of_uid(_uid: u32) -> Option<LocalAccount> {
        let _ = RESOLVE_LIMIT;
        None
    }
}

impl std::fmt::Display for LocalAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.is_empty() {
            f.write_str(&self.id)
        } else {
            write!(f, "{} ({})", self.id, self.detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_account_is_compared_by_id_only() {
        let a = LocalAccount::new("marie", "uid 1001");
        assert!(a.same_as(&LocalAccount::new("marie", "")));
        assert!(!a.same_as(&LocalAccount::new("paul", "uid 1001")));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn root_is_named_like_any_account() {
        let root = LocalAccount::of_uid(0).await.expect("uid 0 has a name");
        assert_eq!(root.id, "root");
        assert_eq!(root.detail, "uid 0");
    }
}
