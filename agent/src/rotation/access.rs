//! Who may see and act on a rotation on a shared workstation: [`access`], a pure rule the service
//! applies to every session before it shows or does anything (`status`, `begin`, the mailbox
//! choice, the passwords, "not changed", the re-verification).
//!
//! # The rule
//! 1. **A change under way belongs to the account that started it.** When a change was started
//!    (`started_by` is set) and the rotation is past the point where anyone may start again
//!    (any phase but `Ready` and a retryable `Failed`), only that account sees it: it alone may
//!    answer "not changed", type the new password again to verify, or see it completed.
//! 2. **A bound mailbox belongs to its account.** When the server says the mailbox is bound to an
//!    account on this workstation, only that account sees the rotation; every other account sees
//!    nothing of it (not its mailbox, name or due date) and is refused as if it did not exist.
//! 3. **Not bound yet:** a provisional rotation is open to whoever types the letter's provisional
//!    password (the server binds the account named in its VERIFIED report); a periodic one is
//!    refused to everyone ([`Access::NotBound`]: an administrator binds an account or sends a
//!    new letter).
//!
//! Root is not special: it is one more account. A session whose uid has no name has no account
//! and sees nothing.

use sesame_local::account::LocalAccount;

use super::{Phase, Rotation, RotationKind};

/// What a session's account may do with a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Shown and offered.
    Open,
    /// Not shown, refused as unknown: it is someone else's.
    Hidden,
    /// Periodic and not bound to anyone: refused to everyone, with what to do.
    NotBound,
}

/// What `caller` (the session's account, `None` when the uid has no name) may do with `rotation`.
pub fn access(rotation: &Rotation, caller: Option<&LocalAccount>) -> Access {
    let Some(caller) = caller else { return Access::Hidden };
    let restartable = match rotation.phase {
        Phase::Ready => true,
        Phase::Failed(reason) => reason.retryable(),
        _ => false,
    };
    if let Some(starter) = &rotation.started_by
        && !restartable
    {
        return if starter.same_as(caller) { Access::Open } else { Access::Hidden };
    }
    match (&rotation.bound, rotation.kind) {
        (Some(bound), _) if bound.same_as(caller) => Access::Open,
        (Some(_), _) => Access::Hidden,
        (None, RotationKind::Provisional) => Access::Open,
        (None, RotationKind::Periodic) => Access::NotBound,
    }
}

/// Whether `viewer`'s `status` shows the rotation "in hand" (which quiets that person's
/// reminders) while a session of `holder` is changing it: only to the holder itself, so that no
/// one can silence another person's reminders.
pub fn in_hand_for(holder: &LocalAccount, viewer: Option<&LocalAccount>) -> bool {
    viewer.is_some_and(|viewer| viewer.same_as(holder))
}

#[cfg(test)]
mod tests {
    use sesame_base::rotation::FailureReason;
    use time::macros::datetime;

    use super::*;
    use crate::rotation::Delivery;

    fn rotation(kind: RotationKind, bound: Option<&str>) -> Rotation {
        Rotation::new(
            Delivery {
                id: sesame_base::ids::RotationId::parse("id", "r").unwrap(),
                mailbox: "a.b@12345.mailnot.fr".into(),
                kind,
                provisional: None,
                bound: bound.map(|b| LocalAccount::new(b, "")),
            },
            datetime!(2026-12-01 09:00 UTC),
        )
        .0
    }

    fn who(name: &str) -> LocalAccount {
        LocalAccount::new(name, "uid 1")
    }

    #[test]
    fn a_bound_rotation_is_its_accounts_only_and_root_is_not_special() {
        for kind in [RotationKind::Provisional, RotationKind::Periodic] {
            let r = rotation(kind, Some("marie"));
            assert_eq!(access(&r, Some(&who("marie"))), Access::Open);
            assert_eq!(access(&r, Some(&who("paul"))), Access::Hidden);
            assert_eq!(access(&r, Some(&who("root"))), Access::Hidden);
            assert_eq!(access(&r, None), Access::Hidden);
        }
    }

    #[test]
    fn unbound_provisional_is_open_and_unbound_periodic_is_refused_to_all() {
        let r = rotation(RotationKind::Provisional, None);
        assert_eq!(access(&r, Some(&who("paul"))), Access::Open);
        let r = rotation(RotationKind::Periodic, None);
        assert_eq!(access(&r, Some(&who("marie"))), Access::NotBound);
        assert_eq!(access(&r, Some(&who("root"))), Access::NotBound);
    }

    #[test]
    fn only_the_holder_sees_its_own_change_in_hand() {
        assert!(in_hand_for(&who("marie"), Some(&who("marie"))));
        assert!(!in_hand_for(&who("paul"), Some(&who("marie"))), "no one quiets another's");
        assert!(!in_hand_for(&who("marie"), None));
    }

    #[test]
    fn a_change_under_way_belongs_to_the_account_that_started_it() {
        let mut r = rotation(RotationKind::Provisional, None);
        r.started_by = Some(who("marie"));
        for phase in [
            Phase::Changing,
            Phase::Unsettled { probe_spent: false },
            Phase::Probing,
            Phase::AwaitingAnswer,
            Phase::Changed,
            Phase::Verifying { known_change: true },
            Phase::AwaitingKey,
            Phase::Completed,
            Phase::Failed(FailureReason::NeedsHuman),
        ] {
            r.phase = phase;
            assert_eq!(access(&r, Some(&who("marie"))), Access::Open, "{phase:?}");
            assert_eq!(access(&r, Some(&who("paul"))), Access::Hidden, "{phase:?}");
        }
        // Back to a state anyone holding the letter may start from.
        for phase in [Phase::Ready, Phase::Failed(FailureReason::CurrentPasswordRefused)] {
            r.phase = phase;
            assert_eq!(access(&r, Some(&who("paul"))), Access::Open, "{phase:?}");
        }
        // Even a bound account cannot answer for a change someone else started.
        r.bound = Some(who("paul"));
        r.phase = Phase::AwaitingAnswer;
        assert_eq!(access(&r, Some(&who("paul"))), Access::Hidden);
    }
}
