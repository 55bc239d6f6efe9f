//! Conformance scenarios of rotations: password policies with their strength checks, escrow
//! held only while open, expiry, disclosure, the office's name and city read with each rotation.

use time::Duration;

use super::{T0, mailbox, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress};
use crate::store::{Error, Store};

pub(super) async fn rotations_hold_their_escrow_only_while_open(store: &dyn Store) {
    use crate::domain::rotation::{Disclosure, NewRotation, RotationStatus};
    use crate::keys::escrow::EscrowKey;
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let rows = vec![mailbox("a.a@01234.mailnot.fr", "A A"), mailbox("b.b@01234.mailnot.fr", "B B")];
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    let mut new = Vec::new();
    for (i, address) in ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr"].into_iter().enumerate() {
        let mb = store
            .get_mailbox(&MailboxAddress::parse(address, &MailDomain::default()).unwrap())
            .await
            .unwrap();
        let id = super::rid(&format!("rot-{i}"));
        let sealed = key
            .seal(&secrecy::SecretString::from(format!("Provisoire#{i}xyzAB")), mb.id, &id)
            .unwrap();
        new.push(NewRotation {
            id,
            mailbox_id: mb.id,
            sealed,
            expires_at: T0 + Duration::days(14 - 10 * i as i64),
        });
    }
    store.open_rotations(&new, &actor, T0).await.unwrap();
    assert!(
        matches!(store.open_rotations(&new[..1], &actor, T0).await, Err(Error::Conflict)),
        "one open rotation per mailbox"
    );
    let crpcen = Crpcen::parse("01234").unwrap();
    let disclosed =
        store.disclose_rotations(Disclosure::Export(&crpcen), &actor, T0).await.unwrap();
    assert_eq!(disclosed.len(), 2);
    let (rotation, sealed) = &disclosed[0];
    // The office's name and city come with the rotation (agents refuse them in a new password).
    assert_eq!(
        (rotation.office_name.as_str(), rotation.office_city.as_deref()),
        ("A", Some("Lyon"))
    );
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(
            &key.open(sealed, rotation.mailbox_id, &rotation.id).unwrap()
        ),
        "Provisoire#0xyzAB"
    );

    // b.b's password ran out after 4 days: expiry closes it and destroys its escrow.
    assert_eq!(store.expire_rotations(T0 + Duration::days(5)).await.unwrap(), 1);
    let open = store.list_rotations(Some(&crpcen), true, None, 100).await.unwrap();
    assert_eq!(open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["rot-0"]);
    assert_eq!(
        store
            .close_rotations(
                &[super::rid("rot-0"), super::rid("rot-1")],
                RotationStatus::Completed,
                &actor,
                T0
            )
            .await
            .unwrap(),
        1
    );
    let all = store.list_rotations(Some(&crpcen), false, None, 100).await.unwrap();
    let statuses: Vec<(&str, RotationStatus)> =
        all.iter().map(|r| (r.id.as_str(), r.status)).collect();
    assert!(
        statuses.contains(&("rot-0", RotationStatus::Completed))
            && statuses.contains(&("rot-1", RotationStatus::Expired))
    );
    assert!(
        store.disclose_rotations(Disclosure::Export(&crpcen), &actor, T0).await.unwrap().is_empty()
    );
    verify_chain(store).await;
}

pub(super) async fn rotations_are_counted_by_status(store: &dyn Store) {
    use crate::domain::rotation::{NewRotation, RotationStatus};
    use crate::keys::escrow::EscrowKey;
    store.ping().await.unwrap();
    assert!(store.rotation_counts().await.unwrap().is_empty());
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let addresses = ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr", "c.c@01234.mailnot.fr"];
    let rows: Vec<_> = addresses.iter().map(|a| mailbox(a, "Someone")).collect();
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    let mut new = Vec::new();
    for (i, address) in addresses.into_iter().enumerate() {
        let mb = store
            .get_mailbox(&MailboxAddress::parse(address, &MailDomain::default()).unwrap())
            .await
            .unwrap();
        let id = super::rid(&format!("rot-{i}"));
        let sealed =
            key.seal(&secrecy::SecretString::from("Provisoire#1xyzAB"), mb.id, &id).unwrap();
        new.push(NewRotation {
            id,
            mailbox_id: mb.id,
            sealed,
            expires_at: T0 + Duration::days(14),
        });
    }
    store.open_rotations(&new, &actor, T0).await.unwrap();
    assert_eq!(store.rotation_counts().await.unwrap(), [(RotationStatus::Issued, 3)]);
    store
        .close_rotations(&[super::rid("rot-0")], RotationStatus::Completed, &actor, T0)
        .await
        .unwrap();
    store
        .close_rotations(&[super::rid("rot-1")], RotationStatus::Cancelled, &actor, T0)
        .await
        .unwrap();
    let mut counts = store.rotation_counts().await.unwrap();
    counts.sort_by_key(|(status, _)| status.as_str());
    assert_eq!(
        counts,
        [
            (RotationStatus::Cancelled, 1),
            (RotationStatus::Completed, 1),
            (RotationStatus::Issued, 1)
        ]
    );
    let usage = store.pool_usage();
    assert!(usage.max >= 1 && usage.in_use + usage.idle <= usage.max, "{usage:?}");
    assert!(usage.in_use + usage.idle >= 1, "the store has opened a connection: {usage:?}");
}

pub(super) async fn password_policies_keep_their_strength_checks(store: &dyn Store) {
    use crate::domain::password::{PasswordPolicy, PasswordRule, StrengthChecks};
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    store.create_office(&office("05678", "B"), &actor, T0).await.unwrap();
    let (a, b) = (Crpcen::parse("01234").unwrap(), Crpcen::parse("05678").unwrap());
    // Nothing set: the default, every check on with score 3.
    assert_eq!(store.password_policy(None).await.unwrap(), PasswordPolicy::default());
    assert_eq!(store.password_policy(Some(&a)).await.unwrap().strength, StrengthChecks::default());

    // A global policy with every check off: offices without an override follow it.
    let lax = PasswordPolicy {
        rule: PasswordRule { min_length: 12, ..PasswordRule::default() },
        provisional_length: 16,
        strength: StrengthChecks { personal_words: false, common_passwords: false, min_score: 0 },
    };
    store.set_password_policy(None, &lax, &actor, T0).await.unwrap();
    assert_eq!(store.password_policy(None).await.unwrap(), lax);
    assert_eq!(store.password_policy(Some(&a)).await.unwrap(), lax);

    // An office's override keeps its own checks; set again, its values are replaced.
    let strict = PasswordPolicy {
        strength: StrengthChecks { personal_words: true, common_passwords: false, min_score: 4 },
        ..lax
    };
    store.set_password_policy(Some(&a), &strict, &actor, T0).await.unwrap();
    assert_eq!(store.password_policy(Some(&a)).await.unwrap(), strict);
    assert_eq!(store.password_policy(Some(&b)).await.unwrap(), lax);
    let changed = PasswordPolicy {
        strength: StrengthChecks { personal_words: false, common_passwords: true, min_score: 2 },
        ..strict
    };
    store.set_password_policy(Some(&a), &changed, &actor, T0).await.unwrap();
    assert_eq!(store.password_policy(Some(&a)).await.unwrap(), changed);
    assert_eq!(store.password_policy(None).await.unwrap(), lax);

    // The audit record of a change says the checks it set.
    let records = store.audit_records(None, 0, 1000).await.unwrap();
    let last = records.iter().rev().find(|r| r.action == "password_policy.set").unwrap();
    let details: serde_json::Value = serde_json::from_str(&last.details).unwrap();
    assert_eq!(details["refuse_personal_words"], false);
    assert_eq!(details["refuse_common_passwords"], true);
    assert_eq!(details["min_strength"], 2);
    assert_eq!(last.office.as_deref(), Some("01234"));

    // The database refuses a score above 4 even if the domain's check were bypassed; nothing is
    // written or audited.
    let length = verify_chain(store).await;
    let impossible =
        PasswordPolicy { strength: StrengthChecks { min_score: 5, ..changed.strength }, ..changed };
    assert!(store.set_password_policy(Some(&a), &impossible, &actor, T0).await.is_err());
    assert_eq!(store.password_policy(Some(&a)).await.unwrap(), changed);
    assert_eq!(verify_chain(store).await, length);
}
