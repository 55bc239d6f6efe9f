//! Conformance scenarios of local accounts bound to mailboxes: the first verified provisional
//! change binds its account on its workstation only, a report never rebinds, a workstation's own
//! binding comes before the mailbox's default, administrators set and reset both (audited),
//! imports set the default, and every step keeps the account that acted.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use super::reports::{actions, report, setup};
use super::workstations::wsid;
use super::{T0, mailbox, verify_chain};
use crate::domain::account::{BoundBy, LocalAccount};
use crate::domain::audit::Actor;
use crate::domain::identifier::LocalAccountId;
use crate::domain::office::Mailbox;
use crate::domain::rotation::{NewRotation, ReportOutcome, Step};
use crate::keys::escrow::EscrowKey;
use crate::store::{Error, Store};

fn account(id: &str) -> LocalAccount {
    LocalAccount::parse("id", id, "detail", &format!("uid of {id}")).unwrap()
}

async fn open(store: &dyn Store, id: &str, mb: &Mailbox) {
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    let sealed = key
        .seal(&secrecy::SecretString::from("Provisoire#1xyzAB"), mb.id, &super::rid(id))
        .unwrap();
    let new = NewRotation {
        id: super::rid(id),
        mailbox_id: mb.id,
        sealed,
        expires_at: T0 + Duration::days(14),
    };
    store.open_rotations(&[new], &Actor::system(), T0).await.unwrap();
}

/// Reports started then verified on `ws`, both naming `acting`.
async fn verify_at(store: &dyn Store, ws: &str, rotation: &str, acting: &str, at: OffsetDateTime) {
    let mut steps = [
        report(&format!("{rotation}-1"), rotation, Step::Started),
        report(&format!("{rotation}-2"), rotation, Step::Verified),
    ];
    for step in &mut steps {
        step.local_account = Some(account(acting));
    }
    let outcomes = store.record_reports(&wsid(ws), &steps, at).await.unwrap();
    assert_eq!(outcomes, vec![ReportOutcome::Recorded; 2]);
}

async fn verify(store: &dyn Store, ws: &str, rotation: &str, acting: &str) {
    verify_at(store, ws, rotation, acting, T0 + Duration::minutes(5)).await;
}

async fn bound(store: &dyn Store, ws: &str) -> HashMap<i64, String> {
    let accounts = store.bound_accounts(&wsid(ws)).await.unwrap();
    accounts.into_iter().map(|(mailbox, a)| (mailbox, a.id.as_str().to_owned())).collect()
}

pub(super) async fn accounts_are_bound_once_by_report_and_set_by_administrators(store: &dyn Store) {
    let (a, b) = setup(store).await;
    let admin = Actor::system();
    // a.a is assigned to ws-2 as well: a binding holds on one workstation only.
    store.assign_mailbox(&wsid("ws-2"), &a, &admin, T0).await.unwrap();
    assert!(bound(store, "ws-1").await.is_empty());

    // The first verified provisional change binds its account on its workstation.
    open(store, "rot-a1", &a).await;
    verify(store, "ws-1", "rot-a1", "jdupont").await;
    assert_eq!(bound(store, "ws-1").await, HashMap::from([(a.id.0, "jdupont".to_owned())]));
    assert!(!bound(store, "ws-2").await.contains_key(&a.id.0), "not bound on ws-2");
    assert_eq!(actions(store, "mailbox.account.bind").await, 1);
    let history = store.mailbox_history(a.id).await.unwrap();
    assert_eq!(history.accounts.len(), 1);
    let binding = &history.accounts[0];
    assert_eq!(binding.workstation_id.as_deref(), Some("ws-1"));
    assert_eq!(binding.account, account("jdupont"));
    assert_eq!(binding.bound_by, BoundBy::Report { rotation_id: super::rid("rot-a1") });
    // Every step keeps the account that acted.
    assert!(history.events.iter().all(|e| e.local_account == Some(account("jdupont"))));

    // A later verified change by another account is recorded, never rebinds.
    open(store, "rot-a2", &a).await;
    verify(store, "ws-1", "rot-a2", "collegue").await;
    assert_eq!(bound(store, "ws-1").await[&a.id.0], "jdupont");
    assert_eq!(actions(store, "mailbox.account.bind").await, 1);
    let history = store.mailbox_history(a.id).await.unwrap();
    assert_eq!(history.events.last().unwrap().local_account, Some(account("collegue")));

    // Precedence: the workstation's own binding, else the default, else none.
    store.set_mailbox_account(&b, None, Some(&account("bdefault")), &admin, T0).await.unwrap();
    assert_eq!(bound(store, "ws-2").await[&b.id.0], "bdefault");
    let own = Some(wsid("ws-2"));
    store.set_mailbox_account(&b, own.as_ref(), Some(&account("bown")), &admin, T0).await.unwrap();
    assert_eq!(bound(store, "ws-2").await[&b.id.0], "bown");
    store.set_mailbox_account(&b, own.as_ref(), None, &admin, T0).await.unwrap();
    assert_eq!(bound(store, "ws-2").await[&b.id.0], "bdefault");
    // With a default in force, a verified report binds nothing.
    open(store, "rot-b1", &b).await;
    verify(store, "ws-2", "rot-b1", "other").await;
    assert_eq!(bound(store, "ws-2").await[&b.id.0], "bdefault");
    assert_eq!(actions(store, "mailbox.account.bind").await, 1);
    store.set_mailbox_account(&b, None, None, &admin, T0).await.unwrap();
    assert!(!bound(store, "ws-2").await.contains_key(&b.id.0));
    assert_eq!(actions(store, "mailbox.account.set").await, 2);
    assert_eq!(actions(store, "mailbox.account.reset").await, 2);

    // A reset binding is made again by the next verified provisional change.
    store.set_mailbox_account(&a, Some(&wsid("ws-1")), None, &admin, T0).await.unwrap();
    assert!(!bound(store, "ws-1").await.contains_key(&a.id.0));
    open(store, "rot-a3", &a).await;
    verify(store, "ws-1", "rot-a3", "jdupont2").await;
    assert_eq!(bound(store, "ws-1").await[&a.id.0], "jdupont2");

    // A workstation outside the mailbox's office (or none) is not found.
    let missing = store.set_mailbox_account(&a, Some(&wsid("ws-9")), None, &admin, T0).await;
    assert!(matches!(missing, Err(Error::NotFound)), "{missing:?}");

    // An import sets the default account; the same import again changes nothing.
    let mut row = mailbox("b.b@01234.mailnot.fr", "B B");
    row.local_account = Some(LocalAccountId::parse("local_account", "bimport").unwrap());
    let report = store.import_mailboxes(&[row.clone()], false, &admin, T0).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (1, 0));
    let report = store.import_mailboxes(&[row], false, &admin, T0).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (0, 1));
    assert_eq!(bound(store, "ws-2").await[&b.id.0], "bimport");
    let history = store.mailbox_history(b.id).await.unwrap();
    assert_eq!(history.accounts[0].workstation_id, None);
    assert_eq!(history.accounts[0].bound_by, BoundBy::Import(admin.as_str().to_owned()));

    // After a reset, a periodic rotation's verified change binds nothing: only a letter's
    // provisional password proves who the mailbox's owner is.
    store.set_mailbox_account(&a, Some(&wsid("ws-1")), None, &admin, T0).await.unwrap();
    let due = T0 + Duration::days(200);
    let periodic = store
        .deliver_periodic(
            &wsid("ws-1"),
            Duration::days(14),
            &crate::domain::rotation::new_rotation_id,
            due,
        )
        .await
        .unwrap();
    let rotation = periodic.iter().find(|r| r.mailbox_id == a.id).unwrap();
    verify_at(store, "ws-1", rotation.id.as_str(), "periodique", due).await;
    assert!(!bound(store, "ws-1").await.contains_key(&a.id.0));
    assert_eq!(actions(store, "mailbox.account.bind").await, 2);
    verify_chain(store).await;
}
