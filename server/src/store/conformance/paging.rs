//! Conformance scenarios of the listings read a page at a time with a cursor: the rotations
//! (newest first, then by address and id) and the compliance report's mailbox lines at a time
//! (by office, then address). Walking the pages lists every row exactly once, in the order of
//! one whole read, whatever the page size.

use std::collections::BTreeSet;

use time::Duration;

use super::{T0, mailbox, office};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress};
use crate::domain::page::RotationCursor;
use crate::domain::rotation::{NewRotation, Rotation, RotationStatus};
use crate::keys::escrow::EscrowKey;
use crate::store::Store;

fn address(value: &str) -> MailboxAddress {
    MailboxAddress::parse(value, &MailDomain::default()).unwrap()
}

/// Two offices, 01234 with `n` mailboxes and 75001 with 3, registered at T0.
async fn fleet(store: &dyn Store, n: usize) -> Vec<MailboxAddress> {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    store.create_office(&office("75001", "B"), &actor, T0).await.unwrap();
    let mut addresses: Vec<String> =
        (0..n).map(|i| format!("m{i:02}.a@01234.mailnot.fr")).collect();
    addresses.extend((0..3).map(|i| format!("m{i:02}.b@75001.mailnot.fr")));
    let rows: Vec<_> = addresses.iter().map(|a| mailbox(a, "=HYPERLINK(\"x\")")).collect();
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    addresses.iter().map(|a| address(a)).collect()
}

/// Every page of rotations, `size` at a time.
async fn walk_rotations(
    store: &dyn Store,
    office: Option<&Crpcen>,
    open_only: bool,
    size: u32,
) -> Vec<Rotation> {
    let mut all: Vec<Rotation> = Vec::new();
    loop {
        let after = all.last().map(|r| RotationCursor {
            issued_at: r.issued_at,
            address: r.address.clone(),
            id: r.id.clone(),
        });
        let page = store.list_rotations(office, open_only, after.as_ref(), size).await.unwrap();
        assert!(page.len() <= size as usize);
        let done = page.len() < size as usize;
        all.extend(page);
        if done {
            return all;
        }
    }
}

pub(super) async fn rotations_come_in_pages_each_exactly_once(store: &dyn Store) {
    let addresses = fleet(store, 7).await;
    let actor = Actor::system();
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    // Three batches: several rotations share an issue time, so the order needs address and id.
    for (batch, at) in
        [(0..4, T0), (4..8, T0 + Duration::hours(1)), (8..10, T0 + Duration::hours(2))]
    {
        let mut new = Vec::new();
        for (i, address) in addresses[batch].iter().enumerate() {
            let mb = store.get_mailbox(address).await.unwrap();
            let id = super::rid(&format!("rot-{:016x}", 0xfff - at.hour() as usize * 16 - i));
            let sealed = key.seal(&secrecy::SecretString::from("Provisoire#1xyzAB"), mb.id, &id);
            new.push(NewRotation {
                id,
                mailbox_id: mb.id,
                sealed: sealed.unwrap(),
                expires_at: at + Duration::days(14),
            });
        }
        store.open_rotations(&new, &actor, at).await.unwrap();
    }
    let closed = store.list_rotations(None, true, None, 2).await.unwrap();
    let ids = [closed[0].id.clone()];
    let at = T0 + Duration::hours(3);
    store.close_rotations(&ids, RotationStatus::Cancelled, &actor, at).await.unwrap();

    let whole = store.list_rotations(None, false, None, 5_000).await.unwrap();
    assert_eq!(whole.len(), 10);
    for pair in whole.windows(2) {
        let key =
            |r: &Rotation| (std::cmp::Reverse(r.issued_at), r.address.to_string(), r.id.clone());
        assert!(key(&pair[0]) < key(&pair[1]), "newest first, then address, then id");
    }
    for size in [1, 3, 4, 10, 11] {
        let walked = walk_rotations(store, None, false, size).await;
        assert_eq!(walked, whole, "page size {size}");
    }
    let crpcen = Crpcen::parse("75001").unwrap();
    let office = walk_rotations(store, Some(&crpcen), false, 2).await;
    assert_eq!(office.len(), 3);
    assert!(office.iter().all(|r| r.office == crpcen));
    let open = walk_rotations(store, None, true, 3).await;
    assert_eq!(open.len(), 9, "the cancelled one is left out");
    let unique: BTreeSet<&str> = open.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(unique.len(), 9);
    // A cursor after the last rotation gives an empty page, not an error.
    let last = whole.last().unwrap();
    let after = RotationCursor {
        issued_at: last.issued_at,
        address: last.address.clone(),
        id: last.id.clone(),
    };
    assert!(store.list_rotations(None, false, Some(&after), 5).await.unwrap().is_empty());
}

pub(super) async fn report_lines_come_in_pages_at_one_time(store: &dyn Store) {
    let addresses = fleet(store, 5).await;
    // Registered mailboxes enter the history at the next sweep, at their registration.
    while store.sweep_compliance(T0).await.unwrap() > 0 {}
    // A mailbox registered later is not in a report of before.
    let later = mailbox("zz.late@01234.mailnot.fr", "Late");
    let t1 = T0 + Duration::days(1);
    store.import_mailboxes(&[later], false, &Actor::system(), t1).await.unwrap();
    while store.sweep_compliance(t1).await.unwrap() > 0 {}
    let at = T0 + Duration::hours(1);
    let whole = store.compliance_mailbox_page(None, at, None, 5_000).await.unwrap();
    let listed: Vec<&MailboxAddress> = whole.iter().map(|m| &m.address).collect();
    assert_eq!(listed, addresses.iter().collect::<Vec<_>>(), "by office, then address");
    assert_eq!(whole[0].display_name, "=HYPERLINK(\"x\")", "stored as written");
    for size in [1, 2, 5, 8, 9] {
        let mut walked = Vec::new();
        loop {
            let after = walked
                .last()
                .map(|m: &crate::domain::compliance::MailboxStanding| m.address.clone());
            let page = store.compliance_mailbox_page(None, at, after.as_ref(), size).await.unwrap();
            let done = page.len() < size as usize;
            walked.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(walked, whole, "page size {size}");
    }
    let crpcen = Crpcen::parse("75001").unwrap();
    let one = store.compliance_mailbox_page(Some(&crpcen), at, None, 2).await.unwrap();
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|m| m.address.office() == &crpcen));
    let now = store.compliance_mailbox_page(None, t1, None, 5_000).await.unwrap();
    assert_eq!(now.len(), 9, "the late mailbox, at its registration");
    // The counts of a range of offices agree with the whole report's.
    let first = Crpcen::parse("01234").unwrap();
    let between = store.compliance_counts_between(&first, &crpcen, at).await.unwrap();
    let all = store.compliance_counts(None, Some(at)).await.unwrap();
    assert_eq!(between, all);
    let alone = store.compliance_counts_between(&crpcen, &crpcen, at).await.unwrap();
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].counts.total(), 3);

    // Office lines, one a page: the same counts, each office once.
    let page1 = store.compliance_office_page(at, None, 1).await.unwrap();
    assert_eq!(page1, all[..1]);
    let page2 = store.compliance_office_page(at, Some(&first), 1).await.unwrap();
    assert_eq!(page2, all[1..]);
    assert!(store.compliance_office_page(at, Some(&crpcen), 1).await.unwrap().is_empty());
    assert_eq!(store.compliance_office_page(at, None, 5).await.unwrap(), all);
    let before = T0 - Duration::seconds(1);
    assert!(store.compliance_office_page(before, None, 5).await.unwrap().is_empty());
    let counted = store.compliance_office_page(t1, None, 5).await.unwrap();
    assert_eq!(counted[0].counts.total(), 6, "the late mailbox counts from its registration");
}
