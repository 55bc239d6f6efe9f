//! Conformance scenarios of offices and mailboxes: registration, listings, the import.

use time::Duration;

use super::{T0, mailbox, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::identifier::PageToken;
use crate::domain::office::{Crpcen, NewMailbox, NewOffice, Text};
use crate::store::{Error, Store};

fn page_token(after: &str) -> PageToken {
    PageToken::parse_optional("page_token", after).unwrap().unwrap()
}

pub(super) async fn offices_round_trip(store: &dyn Store) {
    let actor = Actor::system();
    let created = store.create_office(&office("01234", "Office Dupont"), &actor, T0).await.unwrap();
    assert_eq!(created.crpcen.as_str(), "01234");
    store.create_office(&office("75001", "Étude Martin & Associés"), &actor, T0).await.unwrap();

    let got = store.get_office(&Crpcen::parse("01234").unwrap()).await.unwrap();
    assert_eq!(
        got, created,
        "a value read back equals the value written, leading zero and time included"
    );
    assert_eq!(got.created_at, T0);

    let all = store.list_offices().await.unwrap();
    let crpcens: Vec<&str> = all.iter().map(|o| o.crpcen.as_str()).collect();
    assert_eq!(crpcens, ["01234", "75001"]);
    assert_eq!(all[1].name, "Étude Martin & Associés");

    let duplicate = store.create_office(&office("01234", "Other"), &actor, T0).await;
    assert!(matches!(duplicate, Err(Error::Conflict)), "{duplicate:?}");
    let missing = store.get_office(&Crpcen::parse("99999").unwrap()).await;
    assert!(matches!(missing, Err(Error::NotFound)), "{missing:?}");
    assert_eq!(
        verify_chain(store).await,
        2,
        "one audit record per office, none for the refused one"
    );
}

pub(super) async fn import_is_all_or_nothing_and_idempotent(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Office Dupont"), &actor, T0).await.unwrap();
    let rows = vec![
        mailbox("dupont.jean@01234.mailnot.fr", "Jean Dupont"),
        mailbox("durand.marie@01234.mailnot.fr", "Marie Durand"),
    ];

    let dry = store.import_mailboxes(&rows, true, &actor, T0).await.unwrap();
    assert_eq!((dry.created, dry.updated, dry.unchanged), (2, 0, 0));
    assert!(
        store.list_mailboxes(None, None, 100_000).await.unwrap().is_empty(),
        "a dry run writes nothing"
    );

    let first = store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    assert_eq!((first.created, first.updated, first.unchanged), (2, 0, 0));
    let again =
        store.import_mailboxes(&rows, false, &actor, T0 + Duration::hours(1)).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    let records_after_reimport = verify_chain(store).await;

    let renamed = vec![mailbox("dupont.jean@01234.mailnot.fr", "Jean-Pierre Dupont")];
    let update = store.import_mailboxes(&renamed, false, &actor, T0).await.unwrap();
    assert_eq!((update.created, update.updated, update.unchanged), (0, 1, 0));

    // A row for an office that does not exist refuses the whole import.
    let mixed = vec![
        mailbox("neuf.paul@01234.mailnot.fr", "Paul Neuf"),
        mailbox("x.y@99999.mailnot.fr", "X Y"),
    ];
    match store.import_mailboxes(&mixed, false, &actor, T0).await {
        Err(Error::MissingOffices(missing)) => {
            assert_eq!(missing, [Crpcen::parse("99999").unwrap()])
        }
        other => panic!("expected MissingOffices, got {other:?}"),
    }
    let listed = store.list_mailboxes(None, None, 100_000).await.unwrap();
    let addresses: Vec<&str> = listed.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(addresses, ["dupont.jean@01234.mailnot.fr", "durand.marie@01234.mailnot.fr"]);
    assert_eq!(listed[0].display_name, "Jean-Pierre Dupont");
    assert_eq!(listed[0].created_at, T0);
    assert_eq!(store.get_office(&Crpcen::parse("01234").unwrap()).await.unwrap().mailbox_count, 2);

    let chain = verify_chain(store).await;
    assert_eq!(
        records_after_reimport, 2,
        "office + import; re-importing the same rows records nothing"
    );
    assert_eq!(chain, 3, "the rename is recorded");
}

pub(super) async fn mailboxes_are_listed_per_office(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    store.create_office(&office("75001", "B"), &actor, T0).await.unwrap();
    let rows = vec![
        mailbox("b.b@75001.mailnot.fr", "B B"),
        mailbox("a.a@01234.mailnot.fr", "A A"),
        mailbox("c.c@75001.mailnot.fr", "C C"),
    ];
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    let of_b =
        store.list_mailboxes(Some(&Crpcen::parse("75001").unwrap()), None, 100).await.unwrap();
    let addresses: Vec<&str> = of_b.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(addresses, ["b.b@75001.mailnot.fr", "c.c@75001.mailnot.fr"]);
    assert_eq!(of_b[0].address.office().as_str(), "75001");
    let page =
        store.list_mailboxes(None, Some(&page_token("a.a@01234.mailnot.fr")), 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(
        page[0].address.as_str(),
        "b.b@75001.mailnot.fr",
        "pages continue after the given address"
    );
    assert!(
        store
            .list_mailboxes(Some(&Crpcen::parse("99999").unwrap()), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let audit_b =
        store.audit_records(Some(&Crpcen::parse("75001").unwrap()), 0, 100).await.unwrap();
    let actions: Vec<&str> = audit_b.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["office.create", "mailbox.import"]);
}

pub(super) async fn ten_thousand_mailboxes_import_in_one_transaction(store: &dyn Store) {
    let actor = Actor::system();
    for i in 0..10 {
        store
            .create_office(&office(&format!("{:05}", 10_000 + i), "Office"), &actor, T0)
            .await
            .unwrap();
    }
    let rows: Vec<NewMailbox> = (0..10_000)
        .map(|i| {
            mailbox(
                &format!("nom{i}.prenom@{:05}.mailnot.fr", 10_000 + i % 10),
                &format!("Personne {i}"),
            )
        })
        .collect();
    let report = store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    assert_eq!(report.created, 10_000);
    assert_eq!(store.list_mailboxes(None, None, 100_000).await.unwrap().len(), 10_000);
    let again = store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    assert_eq!(again.unchanged, 10_000);
}

/// An office import: a dry run writes nothing, new offices are registered with one audit record
/// each, the same rows again change and record nothing, a new name (or city) updates the office
/// (an absent city leaves it), and the chain stays whole. Two thousand offices take several
/// insert statements in one transaction.
pub(super) async fn office_import_is_all_or_nothing_and_idempotent(store: &dyn Store) {
    let actor = Actor::system();
    let with_city = |crpcen: &str, name: &str, city: &str| NewOffice {
        city: Some(Text::parse("city", city).unwrap()),
        ..office(crpcen, name)
    };
    let no_city = |crpcen: &str, name: &str| NewOffice { city: None, ..office(crpcen, name) };
    let rows = vec![no_city("01234", "Étude Dupont"), with_city("75001", "Office Martin", "Paris")];
    let dry = store.import_offices(&rows, true, &actor, T0).await.unwrap();
    assert_eq!((dry.created, dry.updated, dry.unchanged), (2, 0, 0));
    assert!(store.list_offices().await.unwrap().is_empty(), "a dry run writes nothing");

    let first = store.import_offices(&rows, false, &actor, T0).await.unwrap();
    assert_eq!((first.created, first.updated, first.unchanged), (2, 0, 0));
    let again = store.import_offices(&rows, false, &actor, T0 + Duration::hours(1)).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(verify_chain(store).await, 2, "one record per office created, none for a re-import");

    let changed =
        vec![no_city("75001", "Office Martin-Durand"), with_city("01234", "Étude Dupont", "Lyon")];
    let update = store.import_offices(&changed, false, &actor, T0).await.unwrap();
    assert_eq!((update.created, update.updated, update.unchanged), (0, 2, 0));
    let martin = store.get_office(&Crpcen::parse("75001").unwrap()).await.unwrap();
    assert_eq!(
        (martin.name.as_str(), martin.city.as_deref()),
        ("Office Martin-Durand", Some("Paris"))
    );
    let dupont = store.get_office(&Crpcen::parse("01234").unwrap()).await.unwrap();
    assert_eq!(dupont.city.as_deref(), Some("Lyon"));
    assert_eq!(dupont.created_at, T0);
    let records = store.audit_records(None, 0, 100).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["office.create", "office.create", "office.update", "office.update"]);

    // Many offices: several statements, one transaction, one record each.
    let many: Vec<NewOffice> =
        (0..2_000).map(|i| office(&format!("{:05}", 10_000 + i), &format!("Office {i}"))).collect();
    let report = store.import_offices(&many, false, &actor, T0).await.unwrap();
    assert_eq!(report.created, 2_000);
    assert_eq!(store.list_offices().await.unwrap().len(), 2_002);
    assert_eq!(verify_chain(store).await, 2_004);

    // An office registered one at a time, as in the file, beside a new one.
    store.create_office(&office("44000", "Nantes"), &actor, T0).await.unwrap();
    let mixed = store
        .import_offices(&[office("44001", "A"), office("44000", "Nantes")], false, &actor, T0)
        .await
        .unwrap();
    assert_eq!((mixed.created, mixed.unchanged), (1, 1));
}
