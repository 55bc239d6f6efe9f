//! Conformance scenarios of compliance, with a manual clock: every state reached through the
//! writes that cause it, deadlines recorded at their exact time by the sweep or by a late
//! check-in, "non-compliant since" kept across states, policies (global, office, removed), the
//! periodic rotation opened when due soon, and the history answering past dates.

use time::{Duration, OffsetDateTime};

use super::workstations::{new_workstation, wsid};
use super::{T0, check_in, mailbox, office};
use crate::domain::audit::Actor;
use crate::domain::check_in::CheckInRecord;
use crate::domain::compliance::{
    CompliancePolicy, ComplianceState, MailboxStanding, OfficeCounts, StateCounts,
};
use crate::domain::office::{Crpcen, MailDomain, Mailbox, MailboxAddress};
use crate::domain::rotation::{
    FailureReason, KeyEvidence, NewRotation, RotationStatus, Step, StepReport,
};
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::{NewEnrollmentToken, WorkstationStatus};
use crate::keys::escrow::EscrowKey;
use crate::store::{Error, PolicyScope, Store};

pub(super) fn day(n: i64) -> OffsetDateTime {
    T0 + Duration::days(n)
}

fn crpcen() -> Crpcen {
    Crpcen::parse("01234").unwrap()
}

/// Office 01234 with the given mailboxes registered at T0, and workstation ws-1 enrolled at T0.
pub(super) async fn setup(store: &dyn Store, names: &[&str]) -> Vec<Mailbox> {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude"), &actor, T0).await.unwrap();
    let rows: Vec<_> = names.iter().map(|n| mailbox(&format!("{n}@01234.mailnot.fr"), n)).collect();
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: crpcen(),
        uses: 1,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &actor, T0).await.unwrap();
    store.enroll_workstation(&token.hash(), &new_workstation("ws-1", "s1"), T0).await.unwrap();
    let mut mailboxes = Vec::new();
    for n in names {
        let address =
            MailboxAddress::parse(&format!("{n}@01234.mailnot.fr"), &MailDomain::default());
        mailboxes.push(store.get_mailbox(&address.unwrap()).await.unwrap());
    }
    mailboxes
}

pub(super) async fn assign(store: &dyn Store, mb: &Mailbox, at: OffsetDateTime) {
    store.assign_mailbox(&wsid("ws-1"), mb, &Actor::system(), at).await.unwrap();
}

pub(super) async fn sweep(store: &dyn Store, at: OffsetDateTime) {
    while store.sweep_compliance(at).await.unwrap() > 0 {}
}

/// The office's counts now (after a sweep) or at a past date.
async fn counts(store: &dyn Store, at: Option<OffsetDateTime>) -> StateCounts {
    let offices: Vec<OfficeCounts> = store.compliance_counts(Some(&crpcen()), at).await.unwrap();
    offices.into_iter().map(|o| o.counts).next().unwrap_or_default()
}

fn expect(pairs: &[(ComplianceState, u64)]) -> StateCounts {
    let mut counts = StateCounts::default();
    for (state, n) in pairs {
        counts.add(*state, *n);
    }
    counts
}

pub(super) async fn standing(
    store: &dyn Store,
    name: &str,
    at: Option<OffsetDateTime>,
) -> Option<MailboxStanding> {
    let all = store.compliance_mailboxes(&crpcen(), at).await.unwrap();
    all.into_iter().find(|m| m.address.as_str().starts_with(&format!("{name}@")))
}

fn report(id: &str, rotation: &str, step: Step, at: OffsetDateTime) -> StepReport {
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

async fn open_provisional(store: &dyn Store, id: &str, mb: &Mailbox, at: OffsetDateTime) {
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    let sealed = key
        .seal(&secrecy::SecretString::from("Provisoire#1xyzAB"), mb.id, &super::rid(id))
        .unwrap();
    let new = NewRotation {
        id: super::rid(id),
        mailbox_id: mb.id,
        sealed,
        expires_at: at + Duration::days(14),
    };
    store.open_rotations(&[new], &Actor::system(), at).await.unwrap();
}

pub(super) async fn compliance_follows_rotations_reports_and_assignments(store: &dyn Store) {
    use ComplianceState::*;
    let mbs = setup(store, &["a.a", "b.b", "c.c", "d.d"]).await;
    let (a, b, c) = (&mbs[0], &mbs[1], &mbs[2]);
    sweep(store, T0).await;
    assert_eq!(counts(store, None).await, expect(&[(NeverEnrolled, 4)]));

    let t1 = T0 + Duration::hours(1);
    for mb in [a, b, c] {
        assign(store, mb, t1).await;
    }
    assert_eq!(counts(store, None).await, expect(&[(Compliant, 3), (NeverEnrolled, 1)]));

    let t2 = T0 + Duration::hours(2);
    open_provisional(store, "rot-b", b, t2).await;
    open_provisional(store, "rot-c", c, t2).await;
    let t3 = T0 + Duration::hours(3);
    let refused = Step::Failed(FailureReason::CurrentPasswordRefused);
    let reports = [report("c-1", "rot-c", Step::Started, t3), report("c-2", "rot-c", refused, t3)];
    store.record_reports(&wsid("ws-1"), &reports, t3).await.unwrap();
    assert_eq!(
        counts(store, None).await,
        expect(&[
            (Compliant, 1),
            (ProvisionalPending, 1),
            (ChangeFailed(FailureReason::NeedsHuman), 1),
            (NeverEnrolled, 1)
        ])
    );
    let c_now = standing(store, "c.c", None).await.unwrap();
    assert_eq!(c_now.state, ChangeFailed(FailureReason::CurrentPasswordRefused));
    assert_eq!((c_now.since, c_now.non_compliant_since), (t3, Some(t2)));

    // c.c changed and verified: compliant again, its clock reset.
    let t4 = T0 + Duration::hours(4);
    let story = [
        report("c-3", "rot-c", Step::Started, t4),
        report("c-4", "rot-c", Step::Changed, t4),
        report("c-5", "rot-c", Step::Verified, t4),
    ];
    store.record_reports(&wsid("ws-1"), &story, t4).await.unwrap();
    let c_now = standing(store, "c.c", None).await.unwrap();
    assert_eq!((c_now.state, c_now.since, c_now.non_compliant_since), (Compliant, t4, None));
    assert_eq!(c_now.last_verified_at, Some(t4));

    // Fifteen days without a check-in: offline from day 10 (ws-1 was last seen at T0), b.b's
    // provisional password ran out at its exact time, and the rotation sweeper closing it later
    // changes nothing.
    sweep(store, day(15)).await;
    store.expire_rotations(day(15) + Duration::minutes(1)).await.unwrap();
    sweep(store, day(15) + Duration::minutes(1)).await;
    let a_now = standing(store, "a.a", None).await.unwrap();
    assert_eq!(
        (a_now.state, a_now.since, a_now.non_compliant_since),
        (AgentOffline, day(10), Some(day(10)))
    );
    let b_now = standing(store, "b.b", None).await.unwrap();
    assert_eq!((b_now.state, b_now.since), (ProvisionalExpired, t2 + Duration::days(14)));
    assert_eq!(b_now.non_compliant_since, Some(t2));

    // ws-1 checks in again: its mailboxes are back at that moment; b.b stays expired.
    check_in(store, CheckInRecord::new("ws-1", "s1", None, day(16))).await;
    let a_now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((a_now.state, a_now.since, a_now.non_compliant_since), (Compliant, day(16), None));
    assert_eq!(standing(store, "b.b", None).await.unwrap().state, ProvisionalExpired);

    // Unassigned: never enrolled from then on.
    store.unassign_mailbox(&wsid("ws-1"), c, &Actor::system(), day(17)).await.unwrap();
    let c_now = standing(store, "c.c", None).await.unwrap();
    assert_eq!((c_now.state, c_now.since), (NeverEnrolled, day(17)));

    // The history answers each past date as it was.
    assert_eq!(
        counts(store, Some(t1 + Duration::minutes(30))).await,
        expect(&[(Compliant, 3), (NeverEnrolled, 1)])
    );
    assert_eq!(
        counts(store, Some(day(12))).await,
        expect(&[(AgentOffline, 2), (ProvisionalPending, 1), (NeverEnrolled, 1)])
    );
    let b_then = standing(store, "b.b", Some(day(12))).await.unwrap();
    assert_eq!((b_then.state, b_then.since), (ProvisionalPending, t2));
    assert_eq!(counts(store, Some(T0 - Duration::hours(1))).await, StateCounts::default());
    assert_eq!(
        counts(store, None).await,
        expect(&[(Compliant, 1), (ProvisionalExpired, 1), (NeverEnrolled, 2)])
    );
}

pub(super) async fn compliance_deadlines_policies_and_periodic_rotations(store: &dyn Store) {
    use ComplianceState::*;
    let actor = Actor::system();
    let global = CompliancePolicy { due_soon_days: 2, limit_days: 10, offline_days: 3 };
    assert!(
        store.set_compliance_policy(PolicyScope::Global, Some(global), &actor, T0).await.unwrap()
    );
    assert!(
        !store.set_compliance_policy(PolicyScope::Global, Some(global), &actor, T0).await.unwrap()
    );
    let mbs = setup(store, &["a.a"]).await;
    assign(store, &mbs[0], T0).await;
    // Daily check-ins up to day 7, and no sweep: due soon at day 8 exactly.
    for n in 1..=7 {
        check_in(store, CheckInRecord::new("ws-1", "s1", None, day(n))).await;
    }
    sweep(store, day(8) + Duration::hours(1)).await;
    let now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((now.state, now.since), (DueSoon, day(8)));
    // Silent since day 7: offline at day 10, overdue at day 10 (overdue wins).
    sweep(store, day(12)).await;
    let now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((now.state, now.since, now.non_compliant_since), (Overdue, day(10), Some(day(10))));

    // The office's own policy: compliant again at once; removed: overdue again from then.
    let lenient = CompliancePolicy { due_soon_days: 0, limit_days: 30, offline_days: 30 };
    let scope = PolicyScope::Office(&crpcen());
    store.set_compliance_policy(scope, Some(lenient), &actor, day(12)).await.unwrap();
    let policies = store.compliance_policies().await.unwrap();
    assert_eq!(policies.effective("01234"), lenient);
    assert_eq!(policies.effective("05678"), global);
    let now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((now.state, now.since, now.non_compliant_since), (Compliant, day(12), None));
    store.set_compliance_policy(scope, None, &actor, day(13)).await.unwrap();
    let now = standing(store, "a.a", None).await.unwrap();
    assert_eq!((now.state, now.since, now.non_compliant_since), (Overdue, day(13), Some(day(13))));
    let unknown = Crpcen::parse("05678").unwrap();
    let missing =
        store.set_compliance_policy(PolicyScope::Office(&unknown), Some(lenient), &actor, day(13));
    assert!(matches!(missing.await, Err(Error::NotFound)));
    let audited = store.audit_records(None, 0, 10_000).await.unwrap();
    assert_eq!(audited.iter().filter(|r| r.action == "compliance_policy.set").count(), 3);

    // Past dates, exactly.
    assert_eq!(
        counts(store, Some(day(8) - Duration::microseconds(1))).await,
        expect(&[(Compliant, 1)])
    );
    assert_eq!(counts(store, Some(day(9))).await, expect(&[(DueSoon, 1)]));
    assert_eq!(counts(store, Some(day(11))).await, expect(&[(Overdue, 1)]));
    assert_eq!(counts(store, Some(day(12) + Duration::hours(12))).await, expect(&[(Compliant, 1)]));

    // The periodic rotation opens at the next check-in, due at the limit.
    let periodic = store
        .deliver_periodic(
            &wsid("ws-1"),
            Duration::days(14),
            &crate::domain::rotation::new_rotation_id,
            day(14),
        )
        .await
        .unwrap();
    assert_eq!(periodic.len(), 1);
    assert_eq!(periodic[0].due_at, Some(day(10)));
    let office = store.compliance_counts(None, None).await.unwrap();
    assert_eq!(office.len(), 1);
    assert_eq!(office[0].never_changed, 1);
}

/// Each transition the other scenarios do not reach, on one mailbox, one step at a time.
pub(super) async fn compliance_reaches_every_transition(store: &dyn Store) {
    use ComplianceState::*;
    let actor = Actor::system();
    let policy = CompliancePolicy { due_soon_days: 2, limit_days: 10, offline_days: 3 };
    store.set_compliance_policy(PolicyScope::Global, Some(policy), &actor, T0).await.unwrap();
    let mbs = setup(store, &["a.a"]).await;
    let a = &mbs[0];
    let ws = wsid("ws-1");
    let now = |name| async move { standing(store, name, None).await.unwrap() };
    let seen = |n: i64| async move {
        check_in(store, CheckInRecord::new("ws-1", "s1", None, day(n))).await;
    };
    assign(store, a, T0).await;
    // Compliant → provisional pending → compliant, verified directly.
    open_provisional(store, "rot-1", a, T0 + Duration::hours(1)).await;
    assert_eq!(now("a.a").await.state, ProvisionalPending);
    let t = T0 + Duration::hours(2);
    let story = [
        report("1-1", "rot-1", Step::Started, t),
        report("1-2", "rot-1", Step::Changed, t),
        report("1-3", "rot-1", Step::Verified, t),
    ];
    store.record_reports(&ws, &story, t).await.unwrap();
    assert_eq!((now("a.a").await.state, now("a.a").await.since), (Compliant, t));
    // Due soon (checked in daily) → change failed (the periodic rotation fails) → compliant (the
    // same rotation verified at the next try).
    for n in 1..=8 {
        seen(n).await;
    }
    sweep(store, day(8) + Duration::hours(3)).await;
    assert_eq!(now("a.a").await.state, DueSoon);
    let periodic = store
        .deliver_periodic(
            &ws,
            Duration::days(14),
            &crate::domain::rotation::new_rotation_id,
            day(8) + Duration::hours(3),
        )
        .await;
    let periodic = periodic.unwrap()[0].id.clone();
    let at = day(8) + Duration::hours(4);
    let failed = Step::Failed(FailureReason::OwaUnreachable);
    store.record_reports(&ws, &[report("2-1", periodic.as_str(), failed, at)], at).await.unwrap();
    let failed_now = now("a.a").await;
    assert_eq!(
        (failed_now.state, failed_now.non_compliant_since),
        (ChangeFailed(FailureReason::OwaUnreachable), Some(at))
    );
    let at = day(9);
    let story = [
        report("2-2", periodic.as_str(), Step::Started, at),
        report("2-3", periodic.as_str(), Step::Verified, at),
    ];
    store.record_reports(&ws, &story, at).await.unwrap();
    assert_eq!(now("a.a").await.state, Compliant);
    // Last seen on day 8: offline at day 11; the workstation revoked on day 13: never enrolled.
    sweep(store, day(12) + Duration::hours(1)).await;
    assert_eq!((now("a.a").await.state, now("a.a").await.since), (AgentOffline, day(11)));
    store
        .set_workstation_status(&ws, WorkstationStatus::Revoked, None, &actor, day(13))
        .await
        .unwrap();
    let revoked = now("a.a").await;
    assert_eq!(
        (revoked.state, revoked.since, revoked.non_compliant_since),
        (NeverEnrolled, day(13), Some(day(11)))
    );
    // Overdue at day 19 (verified day 9 + 10), whatever the enrollment.
    sweep(store, day(20)).await;
    assert_eq!((now("a.a").await.state, now("a.a").await.since), (Overdue, day(19)));
    // A provisional password on day 20: pending; cancelled: overdue again.
    open_provisional(store, "rot-3", a, day(20)).await;
    assert_eq!(now("a.a").await.state, ProvisionalPending);
    store
        .close_rotations(&[super::rid("rot-3")], RotationStatus::Cancelled, &actor, day(21))
        .await
        .unwrap();
    let cancelled = now("a.a").await;
    assert_eq!(
        (cancelled.state, cancelled.since, cancelled.non_compliant_since),
        (Overdue, day(21), Some(day(11)))
    );
    // Another, left to expire (the revoked workstation can report nothing): expired at its exact
    // time; a new one: pending.
    open_provisional(store, "rot-4", a, day(22)).await;
    sweep(store, day(40)).await;
    let expired = now("a.a").await;
    assert_eq!((expired.state, expired.since), (ProvisionalExpired, day(36)));
    store.expire_rotations(day(40)).await.unwrap();
    open_provisional(store, "rot-5", a, day(41)).await;
    assert_eq!((now("a.a").await.state, now("a.a").await.since), (ProvisionalPending, day(41)));
    assert_eq!(now("a.a").await.non_compliant_since, Some(day(11)), "never compliant since day 11");
}

/// An import assesses the mailboxes it creates in its own transaction, each under its office's
/// policy, so that the first report or sweep after it has nothing left to assess; a later import
/// assesses only its new mailboxes.
pub(super) async fn imported_mailboxes_are_assessed_at_once(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "Étude"), &actor, T0).await.unwrap();
    store.create_office(&office("75001", "Office B"), &actor, T0).await.unwrap();
    let own = Crpcen::parse("75001").unwrap();
    let strict = CompliancePolicy::with_limit(Duration::days(30));
    store.set_compliance_policy(PolicyScope::Office(&own), Some(strict), &actor, T0).await.unwrap();
    let rows = vec![
        mailbox("a.a@01234.mailnot.fr", "A A"),
        mailbox("b.b@01234.mailnot.fr", "B B"),
        mailbox("c.c@75001.mailnot.fr", "C C"),
    ];
    let at = T0 + Duration::minutes(1);
    store.import_mailboxes(&rows, false, &actor, at).await.unwrap();
    assert_eq!(store.sweep_compliance(at).await.unwrap(), 0, "nothing is left to assess");
    let never = |n| expect(&[(ComplianceState::NeverEnrolled, n)]);
    assert_eq!(counts(store, None).await, never(2));
    assert_eq!(counts(store, Some(at)).await, never(2), "the history holds the first standing");
    let b = store.compliance_counts(Some(&own), None).await.unwrap();
    assert_eq!(b.into_iter().map(|o| o.counts).next().unwrap_or_default(), never(1));
    let a = standing(store, "a.a", None).await.unwrap();
    assert_eq!(
        (a.state, a.since, a.non_compliant_since),
        (ComplianceState::NeverEnrolled, at, Some(at))
    );

    // Again with one more: only the new one is assessed, the others keep their standing.
    let later = at + Duration::days(1);
    let mut more = rows.clone();
    more.push(mailbox("d.d@01234.mailnot.fr", "D D"));
    let report = store.import_mailboxes(&more, false, &actor, later).await.unwrap();
    assert_eq!((report.created, report.unchanged), (1, 3));
    assert_eq!(counts(store, None).await, never(3));
    assert_eq!(standing(store, "a.a", None).await.unwrap().since, at);
    assert_eq!(standing(store, "d.d", None).await.unwrap().since, later);
    assert_eq!(counts(store, Some(at)).await, never(2), "d.d did not exist yet");

    // Each one's deadline is swept at its time, under its office's policy: 30 days for 75001,
    // the default 90 for 01234.
    let office_b = async |at| {
        let b = store.compliance_counts(Some(&own), at).await.unwrap();
        b.into_iter().map(|o| o.counts).next().unwrap_or_default()
    };
    sweep(store, at + Duration::days(31)).await;
    assert_eq!(office_b(None).await, expect(&[(ComplianceState::Overdue, 1)]));
    assert_eq!(counts(store, None).await, never(3));
    sweep(store, at + Duration::days(90) + Duration::hours(1)).await;
    let overdue = expect(&[(ComplianceState::Overdue, 2), (ComplianceState::NeverEnrolled, 1)]);
    assert_eq!(counts(store, None).await, overdue);
    assert_eq!(office_b(Some(at + Duration::days(29))).await, never(1));
}
