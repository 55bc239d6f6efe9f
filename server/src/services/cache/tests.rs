//! Tests of the caches: a workstation's cached row answers only until a change or its time to
//! live, the pending flag follows rotations and due dates (SQLite, one server); and two servers
//! on one PostgreSQL database drop each other's changes from their caches at once.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::Duration;

use super::{CacheSettings, Caches};
use crate::domain::admin::{Admin, AdminRole};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress, NewMailbox, NewOffice, Text};
use crate::domain::rotation::{KeyEvidence, Step, StepReport};
use crate::domain::workstation::{Workstation, WorkstationStatus};
use crate::services::rotations::Target;
use crate::services::testing::{self, Fixture, T0, der, enroll};
use crate::services::{Error, Services};
use crate::store::test_support::TestDatabase;
use sesame_base::clock::{Clock, ManualClock};

const REVOKED: &str = "this workstation has been revoked";

fn refused<T: std::fmt::Debug>(result: Result<T, Error>, expected: &str) {
    assert!(
        matches!(&result, Err(Error::Unauthenticated(m)) if m == expected),
        "expected {expected:?}, got {result:?}"
    );
}

/// Authenticates with `cert`, checks in (which confirms the certificate) and authenticates
/// again, so that the confirmed row is cached; returns it.
async fn warm(s: &Services, cert: &[u8]) -> Workstation {
    let agent = s.authenticate_agent(Some(cert)).await.unwrap();
    s.heartbeat(&agent, None).await.unwrap();
    s.authenticate_agent(Some(cert)).await.unwrap();
    let agent = s.authenticate_agent(Some(cert)).await.unwrap();
    assert!(agent.workstation.current_confirmed);
    assert!(s.caches.identity.get(agent.workstation.id.as_str(), s.clock.now()).is_some());
    agent.workstation
}

#[tokio::test]
async fn a_cached_row_answers_until_a_change_is_announced_or_its_time_to_live_ends() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let global = testing::admin(s, "root", AdminRole::Global, &[]).await;
    let (_, enrolled) = fx.enroll(&global, &office).await;
    let cert = der(&enrolled.certificate);
    let ws = warm(s, &cert).await;

    // Changed behind the services' back: the cached row still answers, for its time to live.
    s.store
        .set_workstation_status(&ws.id, WorkstationStatus::Revoked, None, &Actor::system(), T0)
        .await
        .unwrap();
    s.authenticate_agent(Some(&cert)).await.unwrap();
    fx.clock.advance(Duration::seconds(59));
    s.authenticate_agent(Some(&cert)).await.unwrap();
    fx.clock.advance(Duration::seconds(1));
    refused(s.authenticate_agent(Some(&cert)).await, REVOKED);
}

#[tokio::test]
async fn every_change_through_the_services_is_seen_at_the_next_request() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let global = testing::admin(s, "root", AdminRole::Global, &[]).await;
    let (_, enrolled) = fx.enroll(&global, &office).await;
    let cert = der(&enrolled.certificate);

    // Renewal: the cached row knew only the first certificate; the new one is accepted and,
    // once used, the first one locks the workstation, exactly as without a cache.
    let ws = warm(s, &cert).await;
    let identity = s.authenticate_agent(Some(&cert)).await.unwrap();
    let renewed = s.renew_certificate(&identity).await.unwrap();
    let second = der(&renewed.certificate);
    s.authenticate_agent(Some(&cert)).await.unwrap();
    warm(s, &second).await;
    refused(
        s.authenticate_agent(Some(&cert)).await,
        "this workstation is locked because its identity was used from two machines; an administrator must unlock it",
    );
    // Unlock, then revoke: each seen at once.
    s.unlock_workstation(&global, &ws.id).await.unwrap();
    warm(s, &second).await;
    s.revoke_workstation(&global, &ws.id).await.unwrap();
    refused(s.authenticate_agent(Some(&second)).await, REVOKED);
}

/// An office with one mailbox assigned to one enrolled workstation, on `s`.
async fn assigned(s: &Services) -> (Admin, Crpcen, MailboxAddress, Vec<u8>, Workstation) {
    let office = Crpcen::parse("01234").unwrap();
    let new = NewOffice {
        crpcen: office.clone(),
        name: Text::parse("name", "Office").unwrap(),
        city: None,
    };
    s.store.create_office(&new, &Actor::system(), T0).await.unwrap();
    let address =
        MailboxAddress::parse("jean.dupont@01234.mailnot.fr", &MailDomain::default()).unwrap();
    let row = NewMailbox {
        address: address.clone(),
        display_name: Text::parse("n", "Jean Dupont").unwrap(),
        logon_name: None,
        local_account: None,
    };
    s.store.import_mailboxes(&[row], false, &Actor::system(), T0).await.unwrap();
    let global = testing::admin(s, "root", AdminRole::Global, &[]).await;
    let (_, enrolled) = enroll(s, &global, &office).await;
    s.assign_mailbox(&global, &enrolled.workstation.id, address.as_str()).await.unwrap();
    let cert = der(&enrolled.certificate);
    let ws = s.authenticate_agent(Some(&cert)).await.unwrap().workstation;
    (global, office, address, cert, ws)
}

fn report(id: &str, rotation: &str, step: Step, at: time::OffsetDateTime) -> StepReport {
    StepReport {
        report_id: crate::domain::identifier::ReportId::parse("report_id", id).unwrap(),
        rotation_id: crate::domain::identifier::RotationId::parse("rotation_id", rotation).unwrap(),
        step,
        occurred_at: at,
        key_evidence: (step == Step::Started).then_some(KeyEvidence::ObservedAbsent { at }),
        detail: String::new(),
        local_account: None,
    }
}

#[tokio::test]
async fn the_pending_flag_follows_rotations_and_due_dates() {
    let mut fx = Fixture::new().await;
    // A time to live longer than the test: what the flag does, it does by invalidation and due
    // dates alone.
    let settings = CacheSettings { ttl: Duration::days(3650), ..CacheSettings::default() };
    fx.services.caches = Caches::new(settings, false);
    let s = &fx.services;
    let (global, _, address, _, ws) = assigned(s).await;

    assert!(!s.rotations_pending(&ws).await.unwrap(), "nothing pending after registration");
    let issued = s.open_rotations(&global, &Target::Mailbox(address)).await.unwrap();
    assert!(s.rotations_pending(&ws).await.unwrap(), "issued");
    let delivered = s.deliver_rotations(&ws).await.unwrap();
    assert_eq!(delivered.rotations.len(), 1);
    assert!(s.rotations_pending(&ws).await.unwrap(), "delivered, still open");

    let id = &issued.issued[0].id;
    let now = fx.clock.now();
    let reports = [
        report("r-1", id.as_str(), Step::Started, now),
        report("r-2", id.as_str(), Step::Changed, now),
        report("r-3", id.as_str(), Step::Verified, now),
    ];
    s.report_steps(&ws, &reports).await.unwrap();
    assert!(!s.rotations_pending(&ws).await.unwrap(), "completed");
    assert!(s.deliver_rotations(&ws).await.unwrap().periodic.is_empty());

    // The periodic rotation comes due: the cached "nothing until" ends by itself.
    let due = s.store.pending_rotations(&ws.id, fx.clock.now()).await.unwrap().next_due.unwrap();
    fx.clock.set(due - Duration::seconds(1));
    assert!(!s.rotations_pending(&ws).await.unwrap(), "a second before it is due");
    fx.clock.set(due);
    assert!(s.rotations_pending(&ws).await.unwrap(), "due");
    assert_eq!(s.deliver_rotations(&ws).await.unwrap().periodic.len(), 1);
    assert!(s.rotations_pending(&ws).await.unwrap(), "periodic rotation open");
}

/// Waits until `check` holds, for 10 s at most.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

#[tokio::test]
async fn two_servers_on_postgres_drop_each_others_changes_at_once() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let data = dir.path().join("data");
    let a = Arc::new(testing::services(db.open().await, &clock, &data));
    let b = Arc::new(testing::services(db.open().await, &clock, &data));
    assert!(!a.caches.live() && !b.caches.live(), "no cache until the notices are heard");
    let listeners = [
        tokio::spawn(a.clone().run_change_listener()),
        tokio::spawn(b.clone().run_change_listener()),
    ];
    eventually("listening", async || a.caches.live() && b.caches.live()).await;

    let (global, _, address, cert, ws) = assigned(&a).await;
    // The identity: warm on B, revoked on A, refused by B at its next request (the clock stands
    // still: no time to live ends; only the notice can have dropped B's entry).
    warm(&b, &cert).await;
    a.revoke_workstation(&global, &ws.id).await.unwrap();
    eventually("B refuses the revoked workstation", async || {
        matches!(b.authenticate_agent(Some(&cert)).await, Err(Error::Unauthenticated(m)) if m == REVOKED)
    })
    .await;

    // The pending flag: cached as nothing on B, a rotation issued on A.
    let (_, enrolled) = enroll(&a, &global, &ws.office).await;
    a.assign_mailbox(&global, &enrolled.workstation.id, address.as_str()).await.unwrap();
    let other = b.authenticate_agent(Some(&der(&enrolled.certificate))).await.unwrap().workstation;
    assert!(!b.rotations_pending(&other).await.unwrap());
    a.open_rotations(&global, &Target::Mailbox(address)).await.unwrap();
    eventually("B sees the rotation", async || b.rotations_pending(&other).await.unwrap()).await;

    // The OWA address.
    let before = b.owa_url_setting(None).await.unwrap();
    let url = crate::domain::settings::OwaUrl::parse("https://owa.example.fr/owa/").unwrap();
    a.set_owa_url(&global, None, Some(&url)).await.unwrap();
    eventually("B sees the new OWA address", async || {
        b.owa_url_setting(None).await.unwrap().global == url
    })
    .await;
    assert_ne!(before.global, url);

    // The listener's connection lost: B clears everything and listens again.
    warm(&b, &der(&enrolled.certificate)).await;
    sqlx_terminate_listeners(&db).await;
    eventually("B's caches cleared", async || {
        b.caches.identity.get(other.id.as_str(), clock.now()).is_none()
    })
    .await;
    eventually("B listening again", async || b.caches.live()).await;

    for listener in listeners {
        listener.abort();
    }
    db.destroy().await;
}

/// Ends the connections that listen to change notices (those of the tests running beside this
/// one too: they clear their caches and listen again, which changes no answer).
async fn sqlx_terminate_listeners(db: &TestDatabase) {
    db.execute(&["SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN %sesame_cache%'"])
        .await;
}
