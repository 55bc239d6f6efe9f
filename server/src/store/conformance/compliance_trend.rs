//! Conformance scenario of the compliance trend: at every time asked for, the counts a report at
//! that time gives, for the fleet, one office or none, with mailboxes registered along the way.

use time::{Duration, OffsetDateTime};

use super::compliance::{assign, day, setup, sweep};
use super::{T0, check_in, mailbox, office};
use crate::domain::audit::Actor;
use crate::domain::check_in::CheckInRecord;
use crate::domain::compliance::CompliancePolicy;
use crate::domain::office::Crpcen;
use crate::store::{PolicyScope, Store};

/// `(compliant, total)` at `at` as the report at that time counts it, over `offices` (all: `None`).
async fn reported(store: &dyn Store, offices: Option<&[Crpcen]>, at: OffsetDateTime) -> (u64, u64) {
    let counts = store.compliance_counts(None, Some(at)).await.unwrap();
    counts
        .iter()
        .filter(|o| offices.is_none_or(|offices| offices.contains(&o.crpcen)))
        .fold((0, 0), |(c, t), o| (c + o.counts.compliant(), t + o.counts.total()))
}

pub(super) async fn the_trend_counts_what_a_report_at_each_time_counts(store: &dyn Store) {
    let actor = Actor::system();
    let policy = CompliancePolicy { due_soon_days: 2, limit_days: 10, offline_days: 3 };
    store.set_compliance_policy(PolicyScope::Global, Some(policy), &actor, T0).await.unwrap();
    // a.a assigned (compliant, due soon at day 8, overdue at day 10); b.b never enrolled.
    let mbs = setup(store, &["a.a", "b.b"]).await;
    assign(store, &mbs[0], T0).await;
    for n in 1..=7 {
        check_in(store, CheckInRecord::new("ws-1", "s1", None, day(n))).await;
    }
    // Another office, registered on day 2.
    store.create_office(&office("05678", "Autre"), &actor, day(2)).await.unwrap();
    let c = mailbox("c.c@05678.mailnot.fr", "c.c");
    store.import_mailboxes(&[c], false, &actor, day(2)).await.unwrap();
    sweep(store, day(12)).await;

    let times = [
        T0 - Duration::days(1),
        T0,
        day(1),
        day(2) - Duration::microseconds(1),
        day(2),
        day(3),
        day(8) - Duration::microseconds(1),
        day(8),
        day(9),
        day(10),
        day(11),
        day(12),
    ];
    let first = Crpcen::parse("01234").unwrap();
    let offices = [None, Some(vec![first.clone()]), Some(vec![Crpcen::parse("05678").unwrap()])];
    // From before the first mailbox, and from later times (rows in force before the first time).
    for (offices, from) in offices.iter().flat_map(|o| [0, 4, 9].map(|from| (o, from))) {
        let times = &times[from..];
        let trend = store.compliance_trend(offices.as_deref(), times).await.unwrap();
        assert_eq!(trend.len(), times.len());
        for (at, counts) in times.iter().zip(&trend) {
            assert_eq!(
                *counts,
                reported(store, offices.as_deref(), *at).await,
                "at {at}, {offices:?}"
            );
        }
    }
    let fleet = store.compliance_trend(None, &times).await.unwrap();
    assert_eq!(fleet[0], (0, 0), "before any mailbox");
    assert_eq!(fleet[2], (1, 2), "a.a compliant, b.b never enrolled");
    assert_eq!(fleet[5], (1, 3), "c.c registered");
    assert_eq!(fleet[8], (1, 3), "a.a due soon still counts");
    assert_eq!(fleet[10], (0, 3), "a.a overdue");
    let office = store.compliance_trend(Some(&[first]), &times).await.unwrap();
    assert_eq!(office[5], (1, 2));
    // No office, no time: nothing to read.
    let none = store.compliance_trend(Some(&[]), &times).await.unwrap();
    assert!(none.iter().all(|counts| *counts == (0, 0)));
    assert!(store.compliance_trend(None, &[]).await.unwrap().is_empty());
}
