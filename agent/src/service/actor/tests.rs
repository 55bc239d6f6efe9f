//! The actor answers while OWA work is in flight: with a fake OWA whose change blocks until the
//! test releases it, another account's `status`, a key change and a check-in's snapshot are all
//! answered, another account's change reaches OWA at the same time (the former service ran one
//! drive at a time, so it waited), and the change then ends as usual. A second request on the
//! busy rotation waits in line (at most one drive per rotation) instead of starting a second OWA
//! operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secrecy::SecretString;
use sesame_base::clock::{ManualClock, SharedClock};
use sesame_base::password_rule::PasswordRule;
use sesame_local::protocol::ProgressStep;
use time::macros::datetime;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};

use super::*;
use crate::owa::OwaLogon;
use crate::rotation::RotationKind;

/// An OWA whose change blocks until released; counts the changes started.
struct GatedOwa {
    started: Notify,
    release: Semaphore,
    changes: AtomicUsize,
}

impl GatedOwa {
    fn new() -> GatedOwa {
        GatedOwa {
            started: Notify::new(),
            release: Semaphore::new(0),
            changes: AtomicUsize::new(0),
        }
    }
}

impl OwaWork for GatedOwa {
    async fn change(&self, _who: OwaLogon, _old: SecretString, _new: SecretString) -> Event {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        let permit = self.release.acquire().await;
        drop(permit);
        Event::OwaChanged { verified: true }
    }

    async fn verify(&self, _who: OwaLogon, _new: SecretString) -> Event {
        Event::Verified
    }

    async fn probe(&self, _who: OwaLogon, _provisional: SecretString) -> Event {
        Event::ProbeResult(crate::rotation::ProbeOutcome::StillExpired)
    }
}

fn account(name: &str, uid: u32) -> LocalAccount {
    LocalAccount::new(name, format!("uid {uid}"))
}

fn periodic(id: &str, mailbox: &str, bound: &LocalAccount) -> PendingRotation {
    PendingRotation {
        id: sesame_base::ids::RotationId::parse("id", id).unwrap(),
        mailbox: mailbox.into(),
        display_name: mailbox.into(),
        kind: RotationKind::Periodic,
        provisional: None,
        rule: PasswordRule::default(),
        strength: Default::default(),
        office_name: String::new(),
        office_city: String::new(),
        logon_name: None,
        expires_at: None,
        due_at: None,
        bound_account: Some(bound.clone()),
    }
}

async fn ask<T>(inbox: &Inbox, make: impl FnOnce(Reply<T>) -> Input) -> T {
    let (reply, answer) = oneshot::channel();
    assert!(inbox.send(make(reply)).is_ok(), "the actor is running");
    answer.await.expect("the actor answers")
}

fn change(
    rotation: &str,
    by: &LocalAccount,
    tell: Tell,
    reply: Reply<Outcome>,
    at: OffsetDateTime,
) -> Input {
    Input::ChangeRequested {
        rotation: rotation.into(),
        evidence: KeyEvidence::ObservedAbsent { at },
        typed_matches: true,
        by: by.clone(),
        lockout_threshold: limit::DEFAULT_LOCKOUT_THRESHOLD,
        slot: Slot {
            old: Some(SecretString::from("Ancien-Mot-2025!")),
            new: Some(SecretString::from("Nouveau-Mot-2026!")),
        },
        tell,
        reply,
    }
}

#[tokio::test]
async fn status_key_changes_check_ins_and_another_change_go_on_while_an_owa_change_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let now = datetime!(2026-12-01 09:00 UTC);
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    let (key_tx, key_rx) = watch::channel(KeyState::Absent);
    let owa = Arc::new(GatedOwa::new());
    let (inbox, inputs) = mpsc::unbounded_channel();
    let core = Core::open(dir.path()).unwrap();
    let actor =
        Actor::new(core, key_rx, Arc::clone(&owa), clock, Arc::new(Notify::new()), inbox.clone());
    let running = tokio::spawn(actor.run(inputs));
    let (marie, paul) = (account("marie", 1001), account("paul", 1002));
    let pending = vec![
        periodic("rot-marie", "martin.marie@01234.mailnot.fr", &marie),
        periodic("rot-paul", "durand.paul@01234.mailnot.fr", &paul),
    ];
    let drives = ask(&inbox, |reply| Input::Deliver { pending, reply }).await;
    assert!(drives.is_empty(), "nothing to run before anyone asks");

    // Marie's session takes her rotation and asks for the change; OWA blocks.
    let chosen = ask(&inbox, |reply| Input::Choose {
        session: 1,
        account: marie.clone(),
        rotation: "rot-marie".into(),
        reply,
    })
    .await;
    assert!(matches!(chosen, Chosen::Taken(_)), "{chosen:?}");
    let (tell, mut told) = mpsc::unbounded_channel();
    let (reply, mut outcome) = oneshot::channel();
    assert!(inbox.send(change("rot-marie", &marie, tell, reply, now)).is_ok());
    owa.started.notified().await;

    // Meanwhile: Paul's status, Marie's status (in hand), a key change, a check-in snapshot.
    let status = ask(&inbox, |reply| Input::Status {
        account: Some(paul.clone()),
        page: 0,
        enrolled: true,
        reply,
    })
    .await;
    let mailboxes: Vec<&str> = status.rotations.iter().map(|r| r.mailbox.as_str()).collect();
    assert_eq!(mailboxes, ["durand.paul@01234.mailnot.fr"], "Paul sees his own only");
    let status = ask(&inbox, |reply| Input::Status {
        account: Some(marie.clone()),
        page: 0,
        enrolled: true,
        reply,
    })
    .await;
    assert!(status.rotations.iter().all(|r| r.in_hand), "Marie's change is in hand");
    let present = KeyState::Present { device: "REAL".into() };
    key_tx.send_replace(present.clone());
    assert!(inbox.send(Input::KeyChanged(present)).is_ok());
    let progress = ask(&inbox, |reply| Input::Progress { reply }).await;
    assert_eq!(progress.steps.len(), 2);
    assert!(outcome.try_recv().is_err(), "the change is still in flight at OWA");

    // Paul's own change is not held behind Marie's: its OWA work starts while hers is in flight.
    let chosen = ask(&inbox, |reply| Input::Choose {
        session: 2,
        account: paul.clone(),
        rotation: "rot-paul".into(),
        reply,
    })
    .await;
    assert!(matches!(chosen, Chosen::Taken(_)), "{chosen:?}");
    let (tell_paul, _told_paul) = mpsc::unbounded_channel();
    let (reply_paul, outcome_paul) = oneshot::channel();
    assert!(inbox.send(change("rot-paul", &paul, tell_paul, reply_paul, now)).is_ok());
    owa.started.notified().await;
    assert_eq!(owa.changes.load(Ordering::SeqCst), 2, "both changes at OWA at once");
    assert!(outcome.try_recv().is_err(), "Marie's change is still in flight");

    // A second request on the same rotation waits in line: no second OWA operation starts.
    let (tell_again, _told_again) = mpsc::unbounded_channel();
    let (reply_again, outcome_again) = oneshot::channel();
    assert!(inbox.send(change("rot-marie", &marie, tell_again, reply_again, now)).is_ok());
    let _ = ask(&inbox, |reply| Input::Progress { reply }).await;
    assert_eq!(owa.changes.load(Ordering::SeqCst), 2, "one OWA drive per rotation");

    // OWA answers: the change ends and the person heard it was made.
    owa.release.add_permits(8);
    let outcome = outcome.await.expect("the drive ends");
    assert!(outcome.phase.is_some(), "{outcome:?}");
    let mut events = Vec::new();
    while let Ok(event) = told.try_recv() {
        events.push(event);
    }
    let changed = events.iter().any(|e| matches!(e, LocalEvent::Progress(ProgressStep::Changed)));
    assert!(changed, "{events:?}");
    assert!(outcome_paul.await.expect("Paul's drive ends").phase.is_some());
    let again = outcome_again.await.expect("the waiting request ran after the first");
    assert!(again.phase.is_some(), "{again:?}");

    assert!(inbox.send(Input::Shutdown).is_ok());
    running.await.unwrap();
}
