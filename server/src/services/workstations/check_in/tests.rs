//! Check-ins and readiness through the services: what is kept, what is answered, what blocks.

use time::Duration;

use super::CheckIn;
use crate::domain::admin::AdminRole;
use crate::domain::check_in::{KeyPresence, KeyState, LogonFormat, OwaReadiness};
use crate::domain::settings::{DEFAULT_OWA_URL, LogonName, OwaUrl};
use crate::services::Error;
use crate::services::testing::{Fixture, der};

fn look(url: &str, format: LogonFormat) -> OwaReadiness {
    OwaReadiness {
        owa_url: url.to_owned(),
        checked_at: None,
        reachable: true,
        certificate_valid: true,
        forms_based: true,
        logon_format: format,
        language: "fr".to_owned(),
        problem: String::new(),
    }
}

#[tokio::test]
async fn check_ins_keep_the_key_and_the_look_at_owa_and_answer_the_office_address() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let (_, enrolled) = fx.enroll(&global, &office).await;
    let agent = s.authenticate_agent(Some(&der(&enrolled.certificate))).await.unwrap();

    let answer = s.check_in(&agent, &CheckIn::default()).await.unwrap();
    assert_eq!(answer.owa_url.as_str(), DEFAULT_OWA_URL);
    assert_eq!(answer.interval, Duration::seconds(60));
    let listed = s.list_workstations(&global, None).await.unwrap();
    assert_eq!(listed[0].1, None);

    let override_url = OwaUrl::parse("https://owa.etude.fr/owa").unwrap();
    s.set_owa_url(&global, Some(&office), Some(&override_url)).await.unwrap();
    let key = KeyState {
        presence: KeyPresence::Present { device: "08e6:3437 bus 1 port 2".into() },
        since: None,
    };
    let check_in = CheckIn {
        agent_version: None,
        key: Some(key.clone()),
        readiness: Some(look("https://owa.etude.fr/owa", LogonFormat::Email)),
    };
    let answer = s.check_in(&agent, &check_in).await.unwrap();
    assert_eq!(answer.owa_url, override_url);
    let listed = s.list_workstations(&global, None).await.unwrap();
    assert_eq!(listed[0].1.as_ref(), Some(&key));

    // A check-in without key or look leaves the recorded ones.
    s.check_in(&agent, &CheckIn::default()).await.unwrap();
    let states = s.store.check_ins(Some(&office)).await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].key.as_ref(), Some(&key));
    assert_eq!(
        states[0].readiness.as_ref().map(|r| r.owa_url.as_str()),
        Some("https://owa.etude.fr/owa")
    );

    // Heartbeats are not audited.
    let records = s.store.audit_records(None, 0, 1000).await.unwrap();
    assert!(records.iter().all(|r| !r.action.contains("check")), "{records:?}");
}

#[tokio::test]
async fn readiness_names_what_stands_in_the_way() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let paul = fx.admin("paul", AdminRole::Office, &[&other]).await;
    let (_, enrolled) = fx.enroll(&global, &office).await;
    let ws = enrolled.workstation.id.clone();
    let agent = s.authenticate_agent(Some(&der(&enrolled.certificate))).await.unwrap();
    let address = fx.mailbox("dupont.jean@01234.mailnot.fr").await;
    s.assign_mailbox(&global, &ws, address.as_str()).await.unwrap();

    let denied = s.office_readiness(&paul, &office).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");

    let readiness = s.office_readiness(&global, &office).await.unwrap();
    assert_eq!(readiness.owa_url.as_str(), DEFAULT_OWA_URL);
    assert_eq!(readiness.workstations.len(), 1);
    assert_eq!(readiness.workstations[0].blockers, ["no OWA check reported yet"]);
    assert_eq!(readiness.workstations[0].mailboxes[0].address, address.as_str());

    let check_in = CheckIn {
        readiness: Some(look(DEFAULT_OWA_URL, LogonFormat::DomainUser)),
        ..CheckIn::default()
    };
    s.check_in(&agent, &check_in).await.unwrap();
    let readiness = s.office_readiness(&global, &office).await.unwrap();
    assert_eq!(
        readiness.workstations[0].blockers,
        ["mailbox dupont.jean@01234.mailnot.fr needs a logon name: OWA asks for DOMAIN\\user"]
    );

    let logon = LogonName::parse("ETUDE\\jdupont").unwrap();
    s.set_mailbox_logon(&global, &address, Some(&logon)).await.unwrap();
    let readiness = s.office_readiness(&global, &office).await.unwrap();
    assert!(readiness.workstations[0].blockers.is_empty(), "{:?}", readiness.workstations[0]);

    fx.clock.advance(Duration::minutes(10));
    let readiness = s.office_readiness(&global, &office).await.unwrap();
    assert_eq!(readiness.workstations[0].blockers.len(), 1);
    assert!(readiness.workstations[0].blockers[0].starts_with("agent silent since "));
}
