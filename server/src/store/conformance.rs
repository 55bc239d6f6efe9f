//! The store conformance suite: every scenario runs on SQLite and on PostgreSQL, so both backends
//! are held to one behaviour.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{Error, Store, TokenRefusal};
use crate::admin::{AdminRole, NewAdmin};
use crate::audit::{self, Actor, GENESIS_HASH};
use crate::domain::{Crpcen, MailDomain, MailboxAddress, NewMailbox, NewOffice, Text};
use crate::test_support::TestDatabase;
use crate::token::{Token, TokenKind};
use crate::workstation::{
    IssuedCertificate, MachineInfo, NewEnrollmentToken, NewWorkstation, WorkstationStatus,
};

const T0: OffsetDateTime = datetime!(2026-11-25 09:30:00.123456 UTC);

fn office(crpcen: &str, name: &str) -> NewOffice {
    NewOffice {
        crpcen: Crpcen::parse(crpcen).unwrap(),
        name: Text::parse("name", name).unwrap(),
        city: Text::parse_optional("city", "Lyon").unwrap(),
    }
}

fn mailbox(address: &str, name: &str) -> NewMailbox {
    NewMailbox {
        address: MailboxAddress::parse(address, &MailDomain::default()).unwrap(),
        display_name: Text::parse("display name", name).unwrap(),
    }
}

async fn verify_chain(store: &dyn Store) -> i64 {
    let records = store.audit_records(None, 0, 100_000).await.unwrap();
    audit::verify(0, GENESIS_HASH, &records).unwrap().0
}

async fn offices_round_trip(store: &dyn Store) {
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

async fn import_is_all_or_nothing_and_idempotent(store: &dyn Store) {
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

async fn mailboxes_are_listed_per_office(store: &dyn Store) {
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
    let page = store.list_mailboxes(None, Some("a.a@01234.mailnot.fr"), 1).await.unwrap();
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

async fn ten_thousand_mailboxes_import_in_one_transaction(store: &dyn Store) {
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

async fn admins_are_found_by_token_hash_only(store: &dyn Store) {
    let token = Token::generate(TokenKind::Admin);
    let new = NewAdmin {
        name: "bootstrap".into(),
        role: AdminRole::Global,
        offices: Vec::new(),
        token_hash: token.hash(),
    };
    let admin = store.create_admin(&new, &Actor::system(), T0).await.unwrap();
    assert_eq!(store.admin_by_token(&token.hash()).await.unwrap(), admin);
    assert_eq!(store.list_admins().await.unwrap().len(), 1);
    let other = Token::generate(TokenKind::Admin);
    assert!(matches!(store.admin_by_token(&other.hash()).await, Err(Error::NotFound)));
    let same_name = NewAdmin { token_hash: other.hash(), ..new };
    assert!(matches!(
        store.create_admin(&same_name, &Actor::system(), T0).await,
        Err(Error::Conflict)
    ));
}

async fn audit_records_page_and_chain(store: &dyn Store) {
    let actor = Actor::system();
    for i in 0..25 {
        store
            .create_office(
                &office(&format!("{:05}", i), "Office"),
                &actor,
                T0 + Duration::seconds(i),
            )
            .await
            .unwrap();
    }
    let mut seq = 0;
    let mut hash = GENESIS_HASH;
    loop {
        let page = store.audit_records(None, seq, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        (seq, hash) = audit::verify(seq, hash, &page).unwrap();
    }
    assert_eq!(seq, 25);
    assert_ne!(hash, GENESIS_HASH);
}

async fn concurrent_writers_keep_one_chain(store: &dyn Store) {
    let store: std::sync::Arc<&dyn Store> = std::sync::Arc::new(store);
    let tasks = (0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .create_office(
                    &office(&format!("{:05}", 20_000 + i), "Office"),
                    &Actor::system(),
                    T0,
                )
                .await
        }
    });
    for result in futures_util::future::join_all(tasks).await {
        result.unwrap();
    }
    assert_eq!(verify_chain(*store).await, 8);
}

fn new_workstation(id: &str, serial: &str) -> NewWorkstation {
    NewWorkstation {
        id: id.into(),
        machine: MachineInfo {
            hostname: Text::parse("hostname", "poste-1").unwrap(),
            os: Text::parse("os", "windows x86_64").unwrap(),
            agent_version: Text::parse("agent_version", "0.1.0").unwrap(),
        },
        public_key: vec![4; 65],
        certificate: IssuedCertificate { serial: serial.into(), not_after: T0 + Duration::days(7) },
    }
}

/// Office 01234 (created by the caller) gets workstation `ws-1` with certificate `s1`.
async fn enroll_one(store: &dyn Store) {
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 1,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &Actor::system(), T0).await.unwrap();
    store.enroll_workstation(&token.hash(), &new_workstation("ws-1", "s1"), T0).await.unwrap();
}

async fn enrollment_spends_tokens_and_records_the_workstation(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 2,
        expires_at: T0 + Duration::hours(1),
    };
    let created = store.create_enrollment_token(&new, &actor, T0).await.unwrap();
    assert_eq!((created.uses_left, created.last_used_at), (2, None));
    assert_eq!(store.enrollment_office(&token.hash()).await.unwrap().as_str(), "01234");

    let ws =
        store.enroll_workstation(&token.hash(), &new_workstation("ws-1", "s1"), T0).await.unwrap();
    assert_eq!((ws.office.as_str(), ws.generation, ws.current_confirmed), ("01234", 1, false));
    assert_eq!(ws.status, WorkstationStatus::Active);
    store.enroll_workstation(&token.hash(), &new_workstation("ws-2", "s2"), T0).await.unwrap();
    let used_up = store.enroll_workstation(&token.hash(), &new_workstation("ws-3", "s3"), T0).await;
    assert!(matches!(used_up, Err(Error::TokenRefused(TokenRefusal::UsedUp))), "{used_up:?}");
    assert!(
        matches!(store.get_workstation("ws-3").await, Err(Error::NotFound)),
        "a refused enrollment writes nothing"
    );
    let token_after = store.get_enrollment_token(created.id).await.unwrap();
    assert_eq!((token_after.uses_left, token_after.last_used_at), (0, Some(T0)));

    let other = Token::generate(TokenKind::Enroll);
    let expiring = NewEnrollmentToken {
        token_hash: other.hash(),
        expires_at: T0 + Duration::minutes(1),
        ..new
    };
    let second = store.create_enrollment_token(&expiring, &actor, T0).await.unwrap();
    let late = store
        .enroll_workstation(
            &other.hash(),
            &new_workstation("ws-4", "s4"),
            T0 + Duration::minutes(2),
        )
        .await;
    assert!(matches!(late, Err(Error::TokenRefused(TokenRefusal::Expired))), "{late:?}");
    store.revoke_enrollment_token(second.id, &actor, T0).await.unwrap();
    let revoked = store.enroll_workstation(&other.hash(), &new_workstation("ws-4", "s4"), T0).await;
    assert!(matches!(revoked, Err(Error::TokenRefused(TokenRefusal::Revoked))), "{revoked:?}");
    let unknown = Token::generate(TokenKind::Enroll);
    let unknown =
        store.enroll_workstation(&unknown.hash(), &new_workstation("ws-5", "s5"), T0).await;
    assert!(matches!(unknown, Err(Error::TokenRefused(TokenRefusal::Unknown))), "{unknown:?}");
    assert_eq!(
        store.list_workstations(Some(&Crpcen::parse("01234").unwrap())).await.unwrap().len(),
        2
    );
    assert_eq!(store.list_enrollment_tokens(None).await.unwrap().len(), 2);
    verify_chain(store).await;
}

async fn certificates_follow_the_serial_rule(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    enroll_one(store).await;
    let cert = |serial: &str| IssuedCertificate {
        serial: serial.into(),
        not_after: T0 + Duration::days(14),
    };

    // Renewal from the current certificate: s1 becomes the previous one.
    let ws = store
        .replace_certificate("ws-1", Some("s1"), &cert("s2"), "workstation.renew", T0)
        .await
        .unwrap();
    assert_eq!(
        (ws.current_serial.as_str(), ws.previous_serial.as_deref(), ws.generation),
        ("s2", Some("s1"), 2)
    );
    // s2 unused: a renewal from s1 replaces s2 and keeps s1 as the previous one.
    let ws = store
        .replace_certificate("ws-1", Some("s1"), &cert("s3"), "workstation.renew", T0)
        .await
        .unwrap();
    assert_eq!((ws.current_serial.as_str(), ws.previous_serial.as_deref()), ("s3", Some("s1")));
    // Once s3 is used, s1 may no longer renew.
    store.touch_workstation("ws-1", "s3", Some("0.2.0"), T0 + Duration::hours(1)).await.unwrap();
    let ws = store.get_workstation("ws-1").await.unwrap();
    assert!(ws.current_confirmed);
    assert_eq!((ws.agent_version.as_str(), ws.last_seen_at), ("0.2.0", T0 + Duration::hours(1)));
    let stale =
        store.replace_certificate("ws-1", Some("s1"), &cert("s4"), "workstation.renew", T0).await;
    assert!(matches!(stale, Err(Error::Conflict)), "{stale:?}");
    // A recovery presents nothing.
    let ws = store
        .replace_certificate("ws-1", None, &cert("s5"), "workstation.recover", T0)
        .await
        .unwrap();
    assert_eq!(
        (ws.current_serial.as_str(), ws.previous_serial.as_deref(), ws.generation),
        ("s5", Some("s3"), 4)
    );

    let locked = store
        .set_workstation_status("ws-1", WorkstationStatus::Locked, Some("fork"), &actor, T0)
        .await
        .unwrap();
    assert_eq!(
        (locked.status, locked.lock_reason.as_deref()),
        (WorkstationStatus::Locked, Some("fork"))
    );
    let refused =
        store.replace_certificate("ws-1", Some("s5"), &cert("s6"), "workstation.renew", T0).await;
    assert!(matches!(refused, Err(Error::Conflict)), "a locked workstation gets no certificate");
    let unlocked = store
        .set_workstation_status("ws-1", WorkstationStatus::Active, None, &actor, T0)
        .await
        .unwrap();
    assert_eq!((unlocked.status, unlocked.previous_serial), (WorkstationStatus::Active, None));
    store
        .set_workstation_status("ws-1", WorkstationStatus::Revoked, None, &actor, T0)
        .await
        .unwrap();
    let revived =
        store.set_workstation_status("ws-1", WorkstationStatus::Active, None, &actor, T0).await;
    assert!(matches!(revived, Err(Error::NotFound)), "revocation is final");
    verify_chain(store).await;
}

async fn recovery_challenges_are_single_use_and_expire(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    enroll_one(store).await;
    let expires = T0 + Duration::minutes(5);
    store.add_recovery_challenge("ws-1", b"one", expires, T0).await.unwrap();
    assert!(store.take_recovery_challenge("ws-1", b"one", T0).await.unwrap());
    assert!(!store.take_recovery_challenge("ws-1", b"one", T0).await.unwrap(), "single use");
    store.add_recovery_challenge("ws-1", b"two", expires, T0).await.unwrap();
    assert!(!store.take_recovery_challenge("ws-1", b"two", expires).await.unwrap(), "expired");
    for i in 0..5u8 {
        store.add_recovery_challenge("ws-1", &[i], expires, T0).await.unwrap();
    }
    assert!(matches!(
        store.add_recovery_challenge("ws-1", b"six", expires, T0).await,
        Err(Error::Conflict)
    ));
    assert!(matches!(
        store.add_recovery_challenge("ws-9", b"x", expires, T0).await,
        Err(Error::NotFound)
    ));
}

async fn admins_have_roles_offices_and_can_be_revoked(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Admin);
    let new = NewAdmin {
        name: "marie".into(),
        role: AdminRole::Office,
        offices: vec![Crpcen::parse("01234").unwrap()],
        token_hash: token.hash(),
    };
    let admin = store.create_admin(&new, &actor, T0).await.unwrap();
    assert_eq!(store.admin_by_token(&token.hash()).await.unwrap(), admin);
    let unknown_office = NewAdmin {
        name: "paul".into(),
        offices: vec![Crpcen::parse("99999").unwrap()],
        token_hash: Token::generate(TokenKind::Admin).hash(),
        ..new.clone()
    };
    assert!(matches!(
        store.create_admin(&unknown_office, &actor, T0).await,
        Err(Error::MissingOffices(_))
    ));
    assert!(
        store.list_admins().await.unwrap().iter().all(|a| a.name != "paul"),
        "nothing of it was written"
    );
    store.revoke_admin("marie", &actor, T0).await.unwrap();
    assert!(matches!(store.admin_by_token(&token.hash()).await, Err(Error::NotFound)));
    assert!(matches!(store.revoke_admin("marie", &actor, T0).await, Err(Error::NotFound)));
    let listed = store.list_admins().await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(T0));
    assert_eq!(listed[0].offices, [Crpcen::parse("01234").unwrap()]);
}

async fn rotations_hold_their_escrow_only_while_open(store: &dyn Store) {
    use crate::escrow::EscrowKey;
    use crate::rotation::{Disclosure, NewRotation, RotationStatus};
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
        let id = format!("rot-{i}");
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
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(
            &key.open(sealed, rotation.mailbox_id, &rotation.id).unwrap()
        ),
        "Provisoire#0xyzAB"
    );

    // b.b's password ran out after 4 days: expiry closes it and destroys its escrow.
    assert_eq!(store.expire_rotations(T0 + Duration::days(5)).await.unwrap(), 1);
    let open = store.list_rotations(Some(&crpcen), true).await.unwrap();
    assert_eq!(open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["rot-0"]);
    assert_eq!(
        store
            .close_rotations(
                &["rot-0".into(), "rot-1".into()],
                RotationStatus::Completed,
                &actor,
                T0
            )
            .await
            .unwrap(),
        1
    );
    let all = store.list_rotations(Some(&crpcen), false).await.unwrap();
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

macro_rules! conformance_suite {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    let db = super::TestDatabase::sqlite(dir.path());
                    let store = db.open().await;
                    super::$scenario(&*store).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::TestDatabase::postgres().await else { return };
                    let store = db.open().await;
                    super::$scenario(&*store).await;
                    drop(store);
                    db.destroy().await;
                }
            )*
        }
    };
}

conformance_suite!(
    offices_round_trip,
    import_is_all_or_nothing_and_idempotent,
    mailboxes_are_listed_per_office,
    ten_thousand_mailboxes_import_in_one_transaction,
    admins_are_found_by_token_hash_only,
    audit_records_page_and_chain,
    concurrent_writers_keep_one_chain,
    enrollment_spends_tokens_and_records_the_workstation,
    certificates_follow_the_serial_rule,
    recovery_challenges_are_single_use_and_expire,
    admins_have_roles_offices_and_can_be_revoked,
    rotations_hold_their_escrow_only_while_open,
);
