//! The service's state across a restart: the refused current password of the day and the account
//! that acted survive in the journal and the outbox.

use secrecy::SecretString;
use sesame_base::password_rule::PasswordRule;
use sesame_local::account::LocalAccount;
use time::macros::datetime;

use super::*;
use crate::rotation::{KeyEvidence, KeyGate, Refusal, RotationKind, limit};

fn marie() -> LocalAccount {
    LocalAccount::new("marie", "uid 1001")
}

fn periodic() -> PendingRotation {
    PendingRotation {
        id: sesame_base::ids::RotationId::parse("id", "rot-1").unwrap(),
        mailbox: "martin.marie@01234.mailnot.fr".into(),
        display_name: "Marie Martin".into(),
        kind: RotationKind::Periodic,
        provisional: None,
        rule: PasswordRule::default(),
        strength: Default::default(),
        office_name: String::new(),
        office_city: String::new(),
        logon_name: None,
        expires_at: None,
        due_at: None,
        bound_account: Some(marie()),
    }
}

fn request(core: &Core, now: OffsetDateTime) -> Event {
    Event::ChangeRequested {
        key: KeyGate::Absent(KeyEvidence::ObservedAbsent { at: now }),
        typed_matches: true,
        new_password: core.fingerprint(&SecretString::from("Nouveau-Mot-2026!")),
        by: marie(),
        lockout_threshold: limit::DEFAULT_LOCKOUT_THRESHOLD,
    }
}

#[test]
fn a_second_refused_current_password_the_same_day_is_refused_after_a_restart_too() {
    let dir = tempfile::tempdir().unwrap();
    let now = datetime!(2026-12-01 09:00 UTC);
    let mut core = Core::open(dir.path()).unwrap();
    core.deliver(vec![periodic()], now);
    let effects = core.apply("rot-1", request(&core, now), now);
    assert!(effects.contains(&Effect::Change), "{effects:?}");
    core.apply("rot-1", Event::OwaRefused(Refusal::CurrentPassword), now);
    let later = now + time::Duration::hours(2);
    let effects = core.apply("rot-1", request(&core, later), later);
    assert_eq!(effects, [Effect::Tell(Message::CurrentPasswordLimit)], "nothing sent");
    drop(core);

    let mut core = Core::open(dir.path()).unwrap();
    core.restart(false, later);
    core.deliver(vec![periodic()], later);
    let effects = core.apply("rot-1", request(&core, later), later);
    assert_eq!(effects, [Effect::Tell(Message::CurrentPasswordLimit)], "after a restart too");
    let tomorrow = now + time::Duration::days(1);
    let effects = core.apply("rot-1", request(&core, tomorrow), tomorrow);
    assert!(effects.contains(&Effect::Change), "the next day: {effects:?}");

    let reports = core.outbox().peek(100);
    let acted: Vec<_> = reports.iter().filter(|r| r.step != Step::Pending).collect();
    assert!(!acted.is_empty());
    assert!(acted.iter().all(|r| r.local_account == Some(marie())), "{acted:?}");
}
