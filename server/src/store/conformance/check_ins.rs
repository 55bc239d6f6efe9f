//! Conformance scenarios of the check-in writer's batches (`record_check_ins`): hundreds of
//! workstations in one call (more than one statement's chunk), the certificate confirmed by any
//! serial folded in, an absent version or report keeping the recorded one, unknown workstations
//! ignored, nothing audited; and compliance reassessed for the workstations whose mailboxes were
//! offline, and only for them.

use time::Duration;

use super::compliance::{assign, day, setup, standing, sweep};
use super::workstations::{new_workstation, wsid};
use super::{T0, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::check_in::{CheckInRecord, KeyPresence, KeyState, LogonFormat, OwaReadiness};
use crate::domain::compliance::ComplianceState;
use crate::domain::office::Crpcen;
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::NewEnrollmentToken;
use crate::store::Store;

/// More than one chunk of a multi-row statement.
const FLEET: usize = 301;

fn id(i: usize) -> String {
    format!("ws-{i:03}")
}

fn serial(i: usize) -> String {
    format!("s-{i:03}")
}

fn key(i: usize) -> KeyState {
    KeyState {
        presence: KeyPresence::Present { device: format!("08e6:3437 bus 1 port {i}") },
        since: i.is_multiple_of(4).then_some(T0 - Duration::minutes(5)),
    }
}

fn look(i: usize) -> OwaReadiness {
    OwaReadiness {
        owa_url: "https://mail.example.fr/owa".into(),
        checked_at: i.is_multiple_of(2).then_some(T0),
        reachable: true,
        certificate_valid: !i.is_multiple_of(5),
        forms_based: true,
        logon_format: LogonFormat::Email,
        language: "fr".into(),
        problem: String::new(),
    }
}

/// Office 01234 with `n` workstations `ws-NNN` holding certificates `s-NNN`, none confirmed.
async fn fleet(store: &dyn Store, n: usize) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude"), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: n as i64,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &actor, T0).await.unwrap();
    for i in 0..n {
        let ws = new_workstation(&id(i), &serial(i));
        store.enroll_workstation(&token.hash(), &ws, T0).await.unwrap();
    }
}

pub(super) async fn check_ins_are_written_in_batches(store: &dyn Store) {
    fleet(store, FLEET).await;
    let audited = verify_chain(store).await;
    let t1 = T0 + Duration::minutes(1);
    let mut records = Vec::new();
    for i in 0..FLEET {
        // ws-000 reports no version; ws-002 presents another serial than its current one.
        let version = (i != 0).then_some("0.2.0");
        let presented = if i == 2 { "elsewhere".to_owned() } else { serial(i) };
        let record = CheckInRecord::new(&id(i), &presented, version, t1)
            .with_key(i.is_multiple_of(2).then(|| key(i)))
            .with_readiness(i.is_multiple_of(3).then(|| look(i)));
        records.push(record);
    }
    // ws-001 presented its serial, then another one (folded): the OR keeps it confirmed.
    records[1].absorb(CheckInRecord::new(&id(1), "renewed", None, t1));
    records.push(
        CheckInRecord::new("ws-unknown", "s", None, t1)
            .with_key(Some(key(0)))
            .with_readiness(Some(look(0))),
    );
    store.record_check_ins(&records, t1).await.unwrap();

    let listed = store.list_workstations(None).await.unwrap();
    assert_eq!(listed.len(), FLEET, "no workstation made up for an unknown id");
    for ws in &listed {
        let i: usize = ws.id.as_str()[3..].parse().unwrap();
        assert_eq!(ws.last_seen_at, t1, "{}", ws.id.as_str());
        assert_eq!(ws.current_confirmed, i != 2, "{}", ws.id.as_str());
        let version = if i == 0 { "0.1.0" } else { "0.2.0" };
        assert_eq!(ws.agent_version.as_str(), version, "{}", ws.id.as_str());
    }
    let states = store.check_ins(None).await.unwrap();
    let reported: Vec<usize> =
        (0..FLEET).filter(|i| i.is_multiple_of(2) || i.is_multiple_of(3)).collect();
    assert_eq!(states.len(), reported.len());
    for (state, i) in states.iter().zip(reported) {
        assert_eq!(state.workstation_id, id(i));
        let expected_key = i.is_multiple_of(2).then(|| key(i));
        assert_eq!(state.key, expected_key);
        assert_eq!(state.key_reported_at, i.is_multiple_of(2).then_some(t1));
        let expected_look = i.is_multiple_of(3).then(|| look(i));
        assert_eq!(state.readiness, expected_look);
        assert_eq!(state.readiness_reported_at, i.is_multiple_of(3).then_some(t1));
    }

    // A later batch: a look alone keeps the key; a key alone keeps the look.
    let t2 = t1 + Duration::seconds(1);
    let batch = [
        CheckInRecord::new(&id(0), &serial(0), None, t2).with_readiness(Some(look(1))),
        CheckInRecord::new(&id(3), &serial(3), None, t2).with_key(Some(key(3))),
    ];
    store.record_check_ins(&batch, t2).await.unwrap();
    let states = store.check_ins(None).await.unwrap();
    let of = |i: usize| states.iter().find(|s| s.workstation_id == id(i)).unwrap();
    assert_eq!((of(0).key.clone(), of(0).key_reported_at), (Some(key(0)), Some(t1)));
    assert_eq!((of(0).readiness.clone(), of(0).readiness_reported_at), (Some(look(1)), Some(t2)));
    assert_eq!((of(3).key.clone(), of(3).key_reported_at), (Some(key(3)), Some(t2)));
    assert_eq!((of(3).readiness.clone(), of(3).readiness_reported_at), (Some(look(3)), Some(t1)));
    let ws = store.get_workstation(&wsid(&id(0))).await.unwrap();
    assert_eq!((ws.last_seen_at, ws.agent_version.as_str()), (t2, "0.1.0"));
    store.record_check_ins(&[], t2).await.unwrap();
    assert_eq!(verify_chain(store).await, audited, "check-ins are not audited");
}

pub(super) async fn a_batch_reassesses_the_workstations_whose_check_in_matters(store: &dyn Store) {
    use ComplianceState::*;
    let mbs = setup(store, &["a.a", "b.b"]).await;
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 1,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &Actor::system(), T0).await.unwrap();
    store.enroll_workstation(&token.hash(), &new_workstation("ws-2", "s2"), T0).await.unwrap();
    assign(store, &mbs[0], T0).await;
    store.assign_mailbox(&wsid("ws-2"), &mbs[1], &Actor::system(), T0).await.unwrap();
    // Fifteen days without a check-in: both offline from day 10.
    sweep(store, day(15)).await;
    for name in ["a.a", "b.b"] {
        let now = standing(store, name, None).await.unwrap();
        assert_eq!((now.state, now.since), (AgentOffline, day(10)), "{name}");
    }

    // ws-1 checks in, in a batch with a workstation the store does not know: a.a is back at
    // once; b.b, whose workstation is still silent, stays offline.
    let batch = [
        CheckInRecord::new("ws-1", "s1", None, day(16)),
        CheckInRecord::new("ws-3", "s3", None, day(16)),
    ];
    store.record_check_ins(&batch, day(16)).await.unwrap();
    let a_now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((a_now.state, a_now.since, a_now.non_compliant_since), (Compliant, day(16), None));
    let b_now = standing(store, "b.b", None).await.unwrap();
    assert_eq!((b_now.state, b_now.since), (AgentOffline, day(10)));

    let batch = [
        CheckInRecord::new("ws-1", "s1", None, day(17)),
        CheckInRecord::new("ws-2", "s2", None, day(17)),
    ];
    store.record_check_ins(&batch, day(17)).await.unwrap();
    let b_now = standing(store, "b.b", None).await.unwrap();
    assert_eq!((b_now.state, b_now.since, b_now.non_compliant_since), (Compliant, day(17), None));
    assert_eq!(standing(store, "a.a", None).await.unwrap().since, day(16));
}
