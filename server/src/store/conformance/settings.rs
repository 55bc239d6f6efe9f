//! Conformance scenarios of settings and check-ins: the OWA address and its overrides, logon names
//! (set, cleared, imported), and what check-ins keep.

use time::Duration;

use super::workstations::enroll_one;
use super::{T0, mailbox, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::check_in::{CheckInRecord, KeyPresence, KeyState, LogonFormat, OwaReadiness};
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress};
use crate::domain::settings::{LogonName, OwaUrl};
use crate::store::{Error, Store};

fn url(value: &str) -> OwaUrl {
    OwaUrl::parse(value).unwrap()
}

fn logon(value: &str) -> LogonName {
    LogonName::parse(value).unwrap()
}

pub(super) async fn owa_addresses_have_a_global_value_and_overrides(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude A"), &actor, T0).await.unwrap();
    let o = Crpcen::parse("01234").unwrap();
    let missing = Crpcen::parse("99999").unwrap();

    assert_eq!(store.owa_urls(None).await.unwrap(), (None, None));
    assert_eq!(store.owa_urls(Some(&o)).await.unwrap(), (None, None));
    assert!(matches!(store.owa_urls(Some(&missing)).await, Err(Error::NotFound)));

    store.set_owa_url(None, Some(&url("https://a.example.fr/owa")), &actor, T0).await.unwrap();
    store.set_owa_url(None, Some(&url("https://b.example.fr/owa")), &actor, T0).await.unwrap();
    store.set_owa_url(Some(&o), Some(&url("https://c.example.fr/owa")), &actor, T0).await.unwrap();
    let result = store.set_owa_url(Some(&missing), Some(&url("https://d.fr")), &actor, T0).await;
    assert!(matches!(result, Err(Error::NotFound)), "{result:?}");
    assert_eq!(
        store.owa_urls(Some(&o)).await.unwrap(),
        (Some(url("https://b.example.fr/owa")), Some(url("https://c.example.fr/owa")))
    );
    assert_eq!(store.owa_urls(None).await.unwrap(), (Some(url("https://b.example.fr/owa")), None));

    store.set_owa_url(Some(&o), None, &actor, T0).await.unwrap();
    assert_eq!(
        store.owa_urls(Some(&o)).await.unwrap(),
        (Some(url("https://b.example.fr/owa")), None)
    );
    assert_eq!(verify_chain(store).await, 5);
}

pub(super) async fn logon_names_are_set_cleared_and_imported(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude A"), &actor, T0).await.unwrap();
    let mut with_logon = mailbox("dupont.jean@01234.mailnot.fr", "Jean Dupont");
    with_logon.logon_name = Some(logon("ETUDE\\jdupont"));
    let plain = mailbox("martin.paul@01234.mailnot.fr", "Paul Martin");
    let rows = [with_logon.clone(), plain.clone()];
    let report = store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    assert_eq!(report.created, 2);
    let a = with_logon.address.clone();
    let b = plain.address.clone();
    assert_eq!(store.get_mailbox(&a).await.unwrap().logon_name, Some(logon("ETUDE\\jdupont")));
    assert_eq!(store.get_mailbox(&b).await.unwrap().logon_name, None);

    // A row without a logon name leaves the mailbox's; one with a new name updates it.
    let again = mailbox("dupont.jean@01234.mailnot.fr", "Jean Dupont");
    let report = store.import_mailboxes(&[again], false, &actor, T0).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (0, 1));
    assert_eq!(store.get_mailbox(&a).await.unwrap().logon_name, Some(logon("ETUDE\\jdupont")));
    let mut renamed = plain.clone();
    renamed.logon_name = Some(logon("ETUDE\\pmartin"));
    let report = store.import_mailboxes(&[renamed], false, &actor, T0).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (1, 0));
    let listed = store.list_mailboxes(None, None, 10).await.unwrap();
    let names: Vec<Option<&str>> =
        listed.iter().map(|m| m.logon_name.as_ref().map(LogonName::as_str)).collect();
    assert_eq!(names, [Some("ETUDE\\jdupont"), Some("ETUDE\\pmartin")]);

    let cleared = store.set_mailbox_logon(&a, None, &actor, T0).await.unwrap();
    assert_eq!(cleared.logon_name, None);
    let set = store.set_mailbox_logon(&a, Some(&logon("X\\y")), &actor, T0).await.unwrap();
    assert_eq!(set.logon_name, Some(logon("X\\y")));
    let unknown = MailboxAddress::parse("nobody.x@01234.mailnot.fr", &MailDomain::default());
    let result = store.set_mailbox_logon(&unknown.unwrap(), None, &actor, T0).await;
    assert!(matches!(result, Err(Error::NotFound)), "{result:?}");
    assert_eq!(verify_chain(store).await, 5);
}

pub(super) async fn check_ins_keep_the_last_key_state_and_look_at_owa(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude A"), &actor, T0).await.unwrap();
    let o = Crpcen::parse("01234").unwrap();
    enroll_one(store).await;
    assert!(store.check_ins(Some(&o)).await.unwrap().is_empty());

    let key = KeyState {
        presence: KeyPresence::Unknown { reason: "no USB access".into() },
        since: Some(T0 - Duration::minutes(5)),
    };
    let seen = |at| CheckInRecord::new("ws-1", "s1", None, at);
    super::check_in(store, seen(T0).with_key(Some(key.clone()))).await;
    let look = OwaReadiness {
        owa_url: "https://mail.example.fr/owa".into(),
        checked_at: Some(T0),
        reachable: true,
        certificate_valid: false,
        forms_based: true,
        logon_format: LogonFormat::DomainUser,
        language: "fr".into(),
        problem: "certificate expired".into(),
    };
    let later = T0 + Duration::minutes(1);
    super::check_in(store, seen(later).with_readiness(Some(look.clone()))).await;
    let states = store.check_ins(None).await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].workstation_id, "ws-1");
    assert_eq!(states[0].key.as_ref(), Some(&key));
    assert_eq!(states[0].key_reported_at, Some(T0));
    assert_eq!(states[0].readiness.as_ref(), Some(&look));
    assert_eq!(states[0].readiness_reported_at, Some(later));

    let absent = KeyState { presence: KeyPresence::Absent, since: None };
    super::check_in(store, seen(later).with_key(Some(absent.clone()))).await;
    let states = store.check_ins(Some(&o)).await.unwrap();
    assert_eq!(states[0].key.as_ref(), Some(&absent));
    assert_eq!(states[0].readiness.as_ref(), Some(&look));
    assert!(store.check_ins(Some(&Crpcen::parse("05678").unwrap())).await.unwrap().is_empty());

    let mut row = mailbox("dupont.jean@01234.mailnot.fr", "Jean Dupont");
    row.logon_name = Some(logon("ETUDE\\jdupont"));
    store.import_mailboxes(&[row.clone()], false, &actor, T0).await.unwrap();
    let mb = store.get_mailbox(&row.address).await.unwrap();
    store.assign_mailbox(&super::workstations::wsid("ws-1"), &mb, &actor, T0).await.unwrap();
    let assignments = store.assignments(&o).await.unwrap();
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0].0, "ws-1");
    assert_eq!(assignments[0].1.address, "dupont.jean@01234.mailnot.fr");
    assert_eq!(assignments[0].1.logon_name, Some(logon("ETUDE\\jdupont")));
}
