//! Every state, every precedence between two states, and the replay of deadlines.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;

const T0: OffsetDateTime = datetime!(2026-01-01 09:00 UTC);

fn policy() -> CompliancePolicy {
    CompliancePolicy { due_soon_days: 14, limit_days: 90, offline_days: 10 }
}

fn days(n: i64) -> OffsetDateTime {
    T0 + Duration::days(n)
}

/// Registered at T0, assigned to a workstation that checked in at `seen`.
fn facts(seen: Option<OffsetDateTime>) -> MailboxFacts {
    MailboxFacts { created_at: T0, last_verified_at: None, rotation: None, last_check_in: seen }
}

fn provisional(issued: OffsetDateTime, expires: OffsetDateTime) -> RotationFact {
    RotationFact {
        kind: RotationKind::Provisional,
        status: RotationStatus::Delivered,
        issued_at: issued,
        expires_at: expires,
        closed_at: None,
        failure: None,
    }
}

fn state(facts: &MailboxFacts, at: OffsetDateTime) -> ComplianceState {
    assess(facts, policy(), at).state
}

#[test]
fn each_state_on_its_own() {
    let online = facts(Some(days(1)));
    assert_eq!(state(&online, days(2)), ComplianceState::Compliant);
    assert_eq!(state(&facts(Some(days(70))), days(76)), ComplianceState::DueSoon);
    assert_eq!(state(&facts(Some(days(89))), days(90)), ComplianceState::Overdue);
    assert_eq!(state(&facts(None), days(2)), ComplianceState::NeverEnrolled);
    assert_eq!(state(&online, days(11)), ComplianceState::AgentOffline);
    let mut pending = facts(Some(days(1)));
    pending.rotation = Some(provisional(days(1), days(15)));
    assert_eq!(state(&pending, days(14)), ComplianceState::ProvisionalPending);
    assert_eq!(state(&pending, days(15)), ComplianceState::ProvisionalExpired);
    let mut failed = pending;
    failed.rotation = Some(RotationFact {
        failure: Some((FailureReason::CurrentPasswordRefused, days(2))),
        ..provisional(days(1), days(15))
    });
    assert_eq!(
        state(&failed, days(3)),
        ComplianceState::ChangeFailed(FailureReason::CurrentPasswordRefused)
    );
}

#[test]
fn boundaries_are_exact_to_the_microsecond() {
    let f = facts(Some(days(80)));
    let due_soon = days(76);
    assert_eq!(state(&f, due_soon - Duration::microseconds(1)), ComplianceState::Compliant);
    assert_eq!(state(&f, due_soon), ComplianceState::DueSoon);
    assert_eq!(state(&f, days(90) - Duration::microseconds(1)), ComplianceState::DueSoon);
    assert_eq!(state(&f, days(90)), ComplianceState::Overdue);
}

#[test]
fn precedence_between_states() {
    // Expired beats failed beats pending beats overdue beats never enrolled beats offline.
    let mut f = facts(None);
    f.rotation = Some(RotationFact {
        failure: Some((FailureReason::OwaUnreachable, days(100))),
        ..provisional(days(95), days(109))
    });
    assert_eq!(state(&f, days(110)), ComplianceState::ProvisionalExpired);
    assert_eq!(
        state(&f, days(101)),
        ComplianceState::ChangeFailed(FailureReason::OwaUnreachable)
    );
    f.rotation = Some(provisional(days(95), days(109)));
    assert_eq!(state(&f, days(101)), ComplianceState::ProvisionalPending);
    f.rotation = None;
    assert_eq!(state(&f, days(101)), ComplianceState::Overdue);
    assert_eq!(state(&f, days(50)), ComplianceState::NeverEnrolled);
    f.last_check_in = Some(days(1));
    assert_eq!(state(&f, days(80)), ComplianceState::AgentOffline, "offline beats due soon");
}

#[test]
fn a_verified_change_resets_the_clock_and_hides_older_rotations() {
    let mut f = facts(Some(days(200)));
    f.rotation = Some(RotationFact {
        status: RotationStatus::Expired,
        closed_at: Some(days(16)),
        ..provisional(days(1), days(15))
    });
    assert_eq!(state(&f, days(20)), ComplianceState::ProvisionalExpired);
    f.last_verified_at = Some(days(150));
    assert_eq!(state(&f, days(200)), ComplianceState::Compliant);
    f.last_check_in = Some(days(225));
    assert_eq!(state(&f, days(226)), ComplianceState::DueSoon);
    assert_eq!(state(&f, days(240)), ComplianceState::Overdue);
}

#[test]
fn periodic_rotations_and_cancelled_ones_only_matter_when_they_fail() {
    let mut f = facts(Some(days(79)));
    let periodic = RotationFact {
        kind: RotationKind::Periodic,
        status: RotationStatus::Delivered,
        issued_at: days(76),
        expires_at: days(90),
        closed_at: None,
        failure: None,
    };
    f.rotation = Some(periodic);
    assert_eq!(state(&f, days(80)), ComplianceState::DueSoon);
    f.rotation = Some(RotationFact { failure: Some((FailureReason::NeedsHuman, days(78))), ..periodic });
    assert_eq!(state(&f, days(80)), ComplianceState::ChangeFailed(FailureReason::NeedsHuman));
    f.rotation = Some(RotationFact { status: RotationStatus::Cancelled, ..periodic });
    assert_eq!(state(&f, days(80)), ComplianceState::DueSoon);
    f.rotation = Some(RotationFact { status: RotationStatus::Failed, ..periodic });
    assert_eq!(state(&f, days(80)), ComplianceState::ChangeFailed(FailureReason::NeedsHuman));
}

#[test]
fn next_change_names_the_nearest_deadline() {
    let f = facts(Some(days(1)));
    assert_eq!(assess(&f, policy(), days(2)).next_change, Some(days(11)));
    let f = facts(Some(days(80)));
    assert_eq!(assess(&f, policy(), days(80)).next_change, Some(days(90)));
    assert_eq!(assess(&f, policy(), days(90)).next_change, None);
    let mut f = facts(Some(days(5)));
    f.rotation = Some(provisional(days(1), days(8)));
    assert_eq!(assess(&f, policy(), days(5)).next_change, Some(days(8)));
}

#[test]
fn advance_replays_every_deadline_at_its_time() {
    let f = facts(Some(T0));
    let (first, transitions) = advance(None, &f, policy(), T0);
    assert_eq!(first.state, ComplianceState::Compliant);
    assert_eq!(transitions.len(), 1);
    // Nothing happens for 200 days: offline at day 10, overdue at day 90 (due soon is hidden by
    // offline).
    let (now, transitions) = advance(Some(&first), &f, policy(), days(200));
    let seen: Vec<_> = transitions.iter().map(|t| (t.state, t.since)).collect();
    assert_eq!(
        seen,
        vec![(ComplianceState::AgentOffline, days(10)), (ComplianceState::Overdue, days(90))]
    );
    assert_eq!(now.state, ComplianceState::Overdue);
    assert_eq!(now.since, days(90));
    assert_eq!(now.non_compliant_since, Some(days(10)), "non-compliant without a break");
    assert_eq!(now.assessed_at, days(200));
    assert_eq!(now.next_check_at, None);
}

#[test]
fn non_compliant_since_survives_state_changes_and_resets_when_compliant() {
    let mut f = facts(Some(T0));
    let (s, _) = advance(None, &f, policy(), T0);
    let (s, _) = advance(Some(&s), &f, policy(), days(12));
    assert_eq!((s.state, s.non_compliant_since), (ComplianceState::AgentOffline, Some(days(10))));
    // A provisional password is issued on day 12: still non-compliant since day 10.
    f.rotation = Some(provisional(days(12), days(26)));
    let (s, t) = advance(Some(&s), &f, policy(), days(12));
    assert_eq!(t.len(), 1);
    assert_eq!((s.state, s.non_compliant_since), (ComplianceState::ProvisionalPending, Some(days(10))));
    // Changed and verified on day 13 from a workstation seen then: compliant again.
    f.rotation = None;
    f.last_verified_at = Some(days(13));
    f.last_check_in = Some(days(13));
    let (s, _) = advance(Some(&s), &f, policy(), days(13));
    assert_eq!((s.state, s.non_compliant_since), (ComplianceState::Compliant, None));
    assert_eq!(s.next_check_at, Some(days(23)));
}

#[test]
fn advance_never_goes_back_in_time() {
    let f = facts(Some(T0));
    let (s, _) = advance(None, &f, policy(), days(5));
    let (again, transitions) = advance(Some(&s), &facts(None), policy(), days(4));
    assert_eq!(transitions[0].since, days(5));
    assert_eq!(again.state, ComplianceState::NeverEnrolled);
}

#[test]
fn states_round_trip_through_their_stored_names() {
    for state in ComplianceState::ALL {
        let reason = state.reason().map(FailureReason::as_str);
        assert_eq!(ComplianceState::parse(state.as_str(), reason), Some(state));
    }
    assert_eq!(ComplianceState::parse("change_failed", None), None);
    assert_eq!(ComplianceState::parse("bogus", None), None);
}

#[test]
fn policies_are_checked() {
    assert!(policy().validate().is_ok());
    let bad = |due_soon_days, limit_days, offline_days| {
        CompliancePolicy { due_soon_days, limit_days, offline_days }.validate().is_err()
    };
    assert!(bad(14, 0, 10));
    assert!(bad(90, 90, 10));
    assert!(bad(-1, 90, 10));
    assert!(bad(14, 90, 0));
    assert!(bad(14, 3651, 10));
    assert_eq!(CompliancePolicy::with_limit(Duration::days(1)).due_soon_days, 0);
    assert_eq!(CompliancePolicy::with_limit(Duration::days(90)), policy());
}
