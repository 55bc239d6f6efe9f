//! Tests of the workstation services, administrators' and agents', on SQLite.

use time::Duration;

use super::agent::{AgentVersion, MIN_AGENT_VERSION};
use crate::domain::admin::{Admin, AdminRole};
use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Text};
use crate::domain::workstation::WorkstationStatus;
use crate::services::Error;
use crate::services::testing::{Agent, Fixture, der};
use sesame_base::clock::Clock;

const LOCKED: &str = "this workstation is locked because its identity was used from two machines; an administrator must unlock it";
const REFUSED_RECOVERY: &str = "recovery refused: enroll again with a new token";

/// A fixture with office 01234, its administrator, a global one, and one enrolled workstation.
async fn enrolled() -> (Fixture, Admin, Admin, Agent, crate::services::enrollment::Enrolled) {
    let fx = Fixture::new().await;
    let office = fx.office("01234").await;
    let office_admin = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let (agent, enrolled) = fx.enroll(&global, &office).await;
    (fx, office_admin, global, agent, enrolled)
}

fn unauthenticated<T: std::fmt::Debug>(result: Result<T, Error>, expected: &str) {
    assert!(
        matches!(&result, Err(Error::Unauthenticated(m)) if m == expected),
        "expected {expected:?}, got {result:?}"
    );
}

/// A workstation id.
fn wsid(id: &str) -> WorkstationId {
    WorkstationId::parse("id", id).unwrap()
}

#[tokio::test]
async fn an_agent_is_checked_against_the_store_on_every_request() {
    let (fx, _, global, _, enrolled) = enrolled().await;
    let s = &fx.services;
    let cert = der(&enrolled.certificate);

    unauthenticated(
        s.authenticate_agent(None).await,
        "a workstation certificate is required: enroll the agent first",
    );
    unauthenticated(s.authenticate_agent(Some(b"junk")).await, "not a workstation certificate");
    let agent = s.authenticate_agent(Some(&cert)).await.unwrap();
    assert_eq!(agent.workstation.id, enrolled.workstation.id);
    assert_eq!(agent.serial, enrolled.certificate.serial);

    fx.clock.advance(s.agents.certificate_lifetime);
    unauthenticated(
        s.authenticate_agent(Some(&cert)).await,
        "the workstation certificate has expired: recover or enroll again",
    );
    fx.clock.advance(-Duration::hours(1));
    s.revoke_workstation(&global, &enrolled.workstation.id).await.unwrap();
    unauthenticated(s.authenticate_agent(Some(&cert)).await, "this workstation has been revoked");
}

#[tokio::test]
async fn a_replaced_certificate_locks_the_workstation_until_an_administrator_unlocks_it() {
    let (fx, office_admin, _, _, enrolled) = enrolled().await;
    let s = &fx.services;
    let first = der(&enrolled.certificate);
    let agent = s.authenticate_agent(Some(&first)).await.unwrap();
    let renewed = s.renew_certificate(&agent).await.unwrap();
    assert_eq!(renewed.generation, 2);
    let second = der(&renewed.certificate);

    // The agent crashed before saving the renewal: its old certificate still works.
    s.authenticate_agent(Some(&first)).await.unwrap();
    // Once the new one is used, the old one means a copy of the identity.
    let current = s.authenticate_agent(Some(&second)).await.unwrap();
    s.heartbeat(&current, None).await.unwrap();
    unauthenticated(s.authenticate_agent(Some(&first)).await, LOCKED);
    let ws = s.store.get_workstation(&enrolled.workstation.id).await.unwrap();
    assert_eq!(ws.status, WorkstationStatus::Locked);
    assert!(ws.lock_reason.unwrap().contains(&enrolled.certificate.serial));
    unauthenticated(s.authenticate_agent(Some(&second)).await, LOCKED);

    s.unlock_workstation(&office_admin, &ws.id).await.unwrap();
    s.authenticate_agent(Some(&second)).await.unwrap();
    let records = s.store.audit_records(None, 0, 1000).await.unwrap();
    let lock = records.iter().find(|r| r.action == "workstation.lock").unwrap();
    assert_eq!(lock.actor, "system");
    assert!(records.iter().any(|r| r.action == "workstation.unlock"));
}

#[tokio::test]
async fn the_previous_certificate_renews_until_a_heartbeat_confirms_the_current_one() {
    let (fx, _, _, _, enrolled) = enrolled().await;
    let s = &fx.services;
    let first = der(&enrolled.certificate);
    // The agent crashed after each renewal, before saving it: its first certificate renews again
    // each time (not only once), each renewal replacing the unused one.
    for generation in [2, 3, 4] {
        let agent = s.authenticate_agent(Some(&first)).await.unwrap();
        assert_eq!(s.renew_certificate(&agent).await.unwrap().generation, generation);
    }
    let agent = s.authenticate_agent(Some(&first)).await.unwrap();
    let kept = s.renew_certificate(&agent).await.unwrap();
    // Using the current certificate for anything but a Heartbeat does not confirm it.
    let current = s.authenticate_agent(Some(&der(&kept.certificate))).await.unwrap();
    s.authenticate_agent(Some(&first)).await.unwrap();
    // A Heartbeat does: from then on the first certificate means a copy of the identity.
    s.heartbeat(&current, None).await.unwrap();
    unauthenticated(s.authenticate_agent(Some(&first)).await, LOCKED);
}

#[tokio::test]
async fn heartbeats_record_the_version_and_the_time() {
    let (fx, _, _, _, enrolled) = enrolled().await;
    let s = &fx.services;
    fx.clock.advance(Duration::minutes(5));
    let agent = s.authenticate_agent(Some(&der(&enrolled.certificate))).await.unwrap();
    let version = Text::parse("agent_version", "0.2.0").unwrap();
    assert_eq!(s.heartbeat(&agent, Some(&version)).await.unwrap(), fx.clock.now());
    s.heartbeat(&agent, None).await.unwrap();
    let ws = s.store.get_workstation(&agent.workstation.id).await.unwrap();
    assert_eq!((ws.agent_version.as_str(), ws.last_seen_at), ("0.2.0", fx.clock.now()));
    assert!(ws.current_confirmed);
}

#[tokio::test]
async fn recovery_needs_a_fresh_challenge_signed_by_the_registered_key() {
    let (fx, _, global, agent, enrolled) = enrolled().await;
    let s = &fx.services;
    let id = &enrolled.workstation.id;
    unauthenticated(s.recovery_challenge(&wsid("ws-unknown")).await, REFUSED_RECOVERY);

    // Long after the certificate expired, but within the recovery window.
    fx.clock.advance(s.agents.certificate_lifetime + Duration::days(30));
    let challenge = s.recovery_challenge(id).await.unwrap();
    assert_eq!(challenge.len(), 32);
    let stranger = Agent::new().sign_recovery(id.as_str(), &challenge);
    unauthenticated(s.recover(id, &challenge, &stranger).await, REFUSED_RECOVERY);
    let signature = agent.sign_recovery(id.as_str(), &challenge);
    unauthenticated(
        s.recover(id, &challenge, &signature).await,
        REFUSED_RECOVERY, // the challenge was spent by the failed attempt
    );

    let challenge = s.recovery_challenge(id).await.unwrap();
    let recovered =
        s.recover(id, &challenge, &agent.sign_recovery(id.as_str(), &challenge)).await.unwrap();
    assert_eq!(recovered.generation, 2);
    let cert = der(&recovered.certificate);
    assert_eq!(s.authenticate_agent(Some(&cert)).await.unwrap().workstation.id, *id);

    let late = s.recovery_challenge(id).await.unwrap();
    fx.clock.advance(Duration::minutes(6));
    unauthenticated(
        s.recover(id, &late, &agent.sign_recovery(id.as_str(), &late)).await,
        REFUSED_RECOVERY,
    );

    s.revoke_workstation(&global, id).await.unwrap();
    unauthenticated(s.recovery_challenge(id).await, REFUSED_RECOVERY);
}

#[tokio::test]
async fn recovery_ends_with_the_recovery_window_and_open_challenges_are_limited() {
    let (fx, _, _, agent, enrolled) = enrolled().await;
    let s = &fx.services;
    let id = &enrolled.workstation.id;
    for _ in 0..5 {
        s.recovery_challenge(id).await.unwrap();
    }
    let exhausted = s.recovery_challenge(id).await;
    assert!(matches!(exhausted, Err(Error::ResourceExhausted(_))), "{exhausted:?}");

    fx.clock.advance(s.agents.certificate_lifetime + s.agents.recovery_window + Duration::hours(1));
    let challenge = s.recovery_challenge(id).await.unwrap();
    unauthenticated(
        s.recover(id, &challenge, &agent.sign_recovery(id.as_str(), &challenge)).await,
        REFUSED_RECOVERY,
    );
}

#[tokio::test]
async fn administrators_change_only_the_workstations_of_their_offices() {
    let (fx, office_admin, global, _, enrolled) = enrolled().await;
    let theirs = fx.office("75001").await;
    let outsider = fx.admin("paul", AdminRole::Office, &[&theirs]).await;
    let s = &fx.services;
    let id = &enrolled.workstation.id;

    assert_eq!(s.list_workstations(&office_admin, None).await.unwrap().len(), 1);
    assert!(s.list_workstations(&outsider, None).await.unwrap().is_empty());
    let filtered = s.list_workstations(&outsider, Some(&Crpcen::parse("01234").unwrap())).await;
    assert!(matches!(filtered, Err(Error::PermissionDenied(_))), "{filtered:?}");
    for target in [id.clone(), wsid("ws-0000000000000000")] {
        let refused = s.revoke_workstation(&outsider, &target).await;
        assert!(
            matches!(&refused, Err(Error::PermissionDenied(m)) if *m == format!("workstation {target} is not in your offices")),
            "{refused:?}"
        );
    }
    let absent = s.unlock_workstation(&global, &wsid("ws-0000000000000000")).await;
    assert!(matches!(absent, Err(Error::NotFound(_))), "{absent:?}");

    s.revoke_workstation(&office_admin, id).await.unwrap();
    s.revoke_workstation(&office_admin, id).await.unwrap();
    let unlock = s.unlock_workstation(&office_admin, id).await;
    assert!(
        matches!(&unlock, Err(Error::FailedPrecondition(m)) if m == "a revoked workstation cannot be unlocked; enroll it again"),
        "{unlock:?}"
    );
    let records = s.store.audit_records(None, 0, 1000).await.unwrap();
    assert_eq!(
        records.iter().filter(|r| r.action == "workstation.revoke").count(),
        1,
        "revoking twice writes once"
    );
}

#[tokio::test]
async fn mailboxes_are_assigned_within_the_workstations_office() {
    let (fx, office_admin, _, _, enrolled) = enrolled().await;
    let theirs = fx.office("75001").await;
    let outsider = fx.admin("paul", AdminRole::Office, &[&theirs]).await;
    let ours = fx.mailbox("dupont.jean@01234.mailnot.fr").await;
    fx.mailbox("martin.anne@75001.mailnot.fr").await;
    let s = &fx.services;
    let id = &enrolled.workstation.id;

    let refused = s.assign_mailbox(&outsider, id, "not an address").await;
    assert!(
        matches!(refused, Err(Error::PermissionDenied(_))),
        "the workstation is checked before the address is read: {refused:?}"
    );
    let malformed = s.assign_mailbox(&office_admin, id, "not an address").await;
    assert!(matches!(&malformed, Err(Error::InvalidArgument(m)) if m.starts_with("mailbox: ")));
    let elsewhere = s.assign_mailbox(&office_admin, id, "martin.anne@75001.mailnot.fr").await;
    assert!(
        matches!(&elsewhere, Err(Error::InvalidArgument(m)) if m.contains("belongs to office 75001")),
        "{elsewhere:?}"
    );
    let unknown = s.assign_mailbox(&office_admin, id, "durand.marie@01234.mailnot.fr").await;
    assert!(
        matches!(&unknown, Err(Error::NotFound(m)) if m == "mailbox durand.marie@01234.mailnot.fr does not exist")
    );
    let not_assigned = s.unassign_mailbox(&office_admin, id, ours.as_str()).await;
    assert!(
        matches!(&not_assigned, Err(Error::NotFound(m)) if *m == format!("{ours} is not assigned to {id}"))
    );

    s.assign_mailbox(&office_admin, id, ours.as_str()).await.unwrap();
    s.unassign_mailbox(&office_admin, id, ours.as_str()).await.unwrap();
    let records = s.store.audit_records(None, 0, 1000).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert!(actions.ends_with(&["workstation.assign", "workstation.unassign"]), "{actions:?}");
}

#[test]
fn versions_parse_strictly() {
    assert_eq!(AgentVersion::parse("0.1.0"), Some(AgentVersion(0, 1, 0)));
    assert_eq!(AgentVersion::parse("1.2.3-rc.1"), Some(AgentVersion(1, 2, 3)));
    for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1..2"] {
        assert_eq!(AgentVersion::parse(bad), None, "{bad}");
    }
    assert_eq!(MIN_AGENT_VERSION.to_string(), "0.1.0");
    assert!(AgentVersion(0, 1, 0).is_supported() && AgentVersion(1, 0, 0).is_supported());
    assert!(!AgentVersion(0, 0, 9).is_supported());
}

#[test]
fn the_oldest_agent_accepted_is_one_minor_back() {
    // The skew policy (README, "Versions that work together"): a server works with agents of its
    // own minor version and the previous one; 0.1.0 is the first release, nothing is older.
    let own = AgentVersion::parse(env!("CARGO_PKG_VERSION")).unwrap();
    let AgentVersion(major, minor, _) = own;
    let expected = match (major, minor) {
        (0, 0 | 1) => AgentVersion(0, 1, 0),
        (_, 1..) => AgentVersion(major, minor - 1, 0),
        // A new major: the previous major's last minor, written by hand.
        (_, 0) => MIN_AGENT_VERSION,
    };
    assert_eq!(
        MIN_AGENT_VERSION, expected,
        "server {own}: MIN_AGENT_VERSION must be the previous minor version"
    );
    assert!(MIN_AGENT_VERSION <= own && MIN_AGENT_VERSION.0 + 1 >= major);
}
