//! Tests of the rotation state machine: the letter's story, the key gate, refusals, crash
//! recovery, and a property test over random event sequences with crashes.

use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-29 03:00 UTC);

fn fp(n: u8) -> Fingerprint {
    Fingerprint::from_bytes([n; 32])
}

fn absent() -> KeyGate {
    KeyGate::Absent(KeyEvidence::ObservedAbsent { at: NOW })
}

fn delivered(kind: RotationKind) -> Rotation {
    let provisional = (kind == RotationKind::Provisional)
        .then(|| Verifier::new(&secrecy::SecretString::from("Provisoire-0123456789")));
    let (rotation, commands) = Rotation::new(
        Delivery {
            id: sesame_base::ids::RotationId::parse("id", "rot-1").unwrap(),
            mailbox: "a.b@12345.mailnot.fr".into(),
            kind,
            provisional,
            bound: None,
        },
        NOW,
    );
    assert!(matches!(commands[0], Command::Journal(_)));
    assert!(matches!(&commands[1], Command::Report(d) if d.step == Step::Pending));
    rotation
}

fn run(r: Rotation, event: Event) -> (Rotation, Vec<Command>) {
    handle(r, event, NOW)
}

fn marie() -> sesame_local::account::LocalAccount {
    sesame_local::account::LocalAccount::new("marie", "uid 1001")
}

fn change(key: KeyGate, typed_matches: bool, new: u8) -> Event {
    Event::ChangeRequested {
        key,
        typed_matches,
        new_password: fp(new),
        by: marie(),
        lockout_threshold: limit::DEFAULT_LOCKOUT_THRESHOLD,
    }
}

fn request(new: u8) -> Event {
    change(absent(), true, new)
}

fn steps(commands: &[Command]) -> Vec<Step> {
    commands
        .iter()
        .filter_map(|c| if let Command::Report(d) = c { Some(d.step) } else { None })
        .collect()
}

#[test]
fn the_letters_story_ends_completed_with_every_step_reported() {
    let r = delivered(RotationKind::Provisional);
    let (r, c) = run(r, request(1));
    assert_eq!(r.phase, Phase::Changing);
    assert!(matches!(c[0], Command::Journal(_)));
    assert_eq!(steps(&c), [Step::Started]);
    assert!(c.contains(&Command::CallOwaChange));
    let Command::Report(started) = &c[1] else { panic!("{c:?}") };
    assert!(started.key_evidence.is_some(), "STARTED carries the key evidence");
    let (r, c) = run(r, Event::OwaChanged { verified: true });
    assert_eq!(r.phase, Phase::AwaitingKey);
    assert_eq!(steps(&c), [Step::Changed, Step::Verified]);
    assert!(c.contains(&Command::TellPerson(Message::ReenterInOutlookThenPlugKey)));
    let (r, c) = run(r, Event::KeyInserted);
    assert_eq!(r.phase, Phase::Completed);
    assert_eq!(steps(&c), [Step::Completed]);
}

#[test]
fn nothing_starts_while_the_key_is_present_or_the_provisional_is_mistyped() {
    let r = delivered(RotationKind::Provisional);
    let present = change(KeyGate::Present, true, 1);
    let (r, c) = run(r, present);
    assert_eq!(c, [Command::TellPerson(Message::RemoveKeyFirst)]);
    let (r, _) = run(r, Event::KeyRemoved);
    let typo = change(absent(), false, 1);
    let (r, c) = run(r, typo);
    assert_eq!(c, [Command::TellPerson(Message::ProvisionalMismatch)]);
    assert_eq!(r.phase, Phase::Ready);
}

#[test]
fn a_key_plugged_mid_change_lets_the_step_finish_and_starts_no_other() {
    let r = delivered(RotationKind::Provisional);
    let (r, _) = run(r, request(1));
    let (r, c) = run(r, Event::KeyInserted);
    assert!(c.is_empty(), "the step in flight finishes, then its outcome is told: {c:?}");
    let (r, c) = run(r, Event::OwaChanged { verified: false });
    assert_eq!(r.phase, Phase::Changed);
    assert!(!c.contains(&Command::CallOwaVerify), "no verification while the key is in");
    assert!(c.contains(&Command::TellPerson(Message::KeyPluggedDuringChange)));
    let (r, c) = run(r, Event::KeyRemoved);
    assert_eq!(r.phase, Phase::Verifying { known_change: true });
    assert!(matches!(c[0], Command::Journal(_)));
    assert!(c.contains(&Command::CallOwaVerify));
}

#[test]
fn a_key_plugged_during_a_change_that_verifies_completes_and_says_outlook() {
    let r = delivered(RotationKind::Provisional);
    let (r, _) = run(r, request(1));
    let (r, _) = run(r, Event::KeyInserted);
    let (r, c) = run(r, Event::OwaChanged { verified: true });
    assert_eq!(r.phase, Phase::Completed);
    assert_eq!(steps(&c), [Step::Changed, Step::Verified, Step::Completed]);
    assert!(c.contains(&Command::TellPerson(Message::ReenterInOutlook)));
    assert!(!c.contains(&Command::TellPerson(Message::KeyPluggedDuringChange)));
}

#[test]
fn a_refused_new_password_is_never_resubmitted_and_three_refusals_park() {
    let r = delivered(RotationKind::Periodic);
    let (r, _) = run(r, request(1));
    let (r, c) = run(r, Event::OwaRefused(Refusal::NewPassword));
    assert_eq!(r.phase, Phase::Failed(FailureReason::NewPasswordRefused));
    assert_eq!(steps(&c), [Step::Failed(FailureReason::NewPasswordRefused)]);
    let (r, c) = run(r, request(1));
    assert_eq!(c, [Command::TellPerson(Message::NewPasswordAlreadyRefused)]);
    let (r, _) = run(r, request(2));
    let (r, _) = run(r, Event::OwaRefused(Refusal::CurrentPassword));
    // The next day (a refused current password waits a day: `rotation::limit`).
    let tomorrow = NOW + time::Duration::days(1);
    let (r, _) = handle(r, request(3), tomorrow);
    let (r, c) = handle(r, Event::OwaRefused(Refusal::NewPassword), tomorrow);
    assert_eq!(r.phase, Phase::Failed(FailureReason::NeedsHuman));
    assert!(c.contains(&Command::TellPerson(Message::NeedsHuman)));
    let (_, c) = run(r, request(4));
    assert!(!c.contains(&Command::CallOwaChange));
}

#[test]
fn a_provisional_crash_mid_change_is_reconciled_with_one_probe() {
    let r = delivered(RotationKind::Provisional);
    let (r, _) = run(r, request(1));
    // Crash: the durable state is Changing; the memory is gone.
    let (r, c) = run(r, Event::Restarted);
    assert_eq!(r.phase, Phase::Probing);
    assert!(matches!(c[0], Command::Journal(_)));
    assert!(c.contains(&Command::Probe(ProbeKind::ProvisionalStillExpired)));
    let (changed, c) = run(r.clone(), Event::ProbeResult(ProbeOutcome::Refused));
    assert_eq!(changed.phase, Phase::Changed);
    assert!(c.contains(&Command::AskPersonForNewPassword));
    let (ready, c) = run(r.clone(), Event::ProbeResult(ProbeOutcome::StillExpired));
    assert_eq!(ready.phase, Phase::Ready);
    assert_eq!(steps(&c), [Step::Pending]);
    // A second crash during the probe: no second probe.
    let (parked, c) = run(r, Event::Restarted);
    assert_eq!(parked.phase, Phase::Failed(FailureReason::NeedsHuman));
    assert!(!c.iter().any(|c| matches!(c, Command::Probe(_))));
}

#[test]
fn a_periodic_crash_mid_change_asks_the_person() {
    let r = delivered(RotationKind::Periodic);
    let (r, _) = run(r, request(1));
    let (r, c) = run(r, Event::Restarted);
    assert_eq!(r.phase, Phase::AwaitingAnswer);
    assert!(c.contains(&Command::TellPerson(Message::DidYouChange)));
    let (v, c) = run(r.clone(), Event::VerifyRequested { key: absent(), new_password: fp(1) });
    assert_eq!(v.phase, Phase::Verifying { known_change: false });
    assert!(c.contains(&Command::CallOwaVerify));
    let (v, c) = run(v, Event::Verified);
    assert_eq!(v.phase, Phase::AwaitingKey);
    assert_eq!(steps(&c), [Step::Changed, Step::Verified]);
    let (u, _) = run(r, Event::PersonSaysUnchanged);
    assert_eq!(u.phase, Phase::Ready);
}

#[test]
fn a_journal_failure_before_the_change_fails_locally_without_calling_owa() {
    let r = delivered(RotationKind::Provisional);
    let (r, _) = run(r, request(1));
    let (r, c) = run(r, Event::JournalFailed);
    assert_eq!(r.phase, Phase::Failed(FailureReason::LocalStorage));
    assert_eq!(r.attempts, 0);
    assert_eq!(c, [Command::TellPerson(Message::LocalStorage)]);
}

// ----- the property test -----

#[derive(Debug, Clone)]
enum Op {
    /// Feed an event (the key gate is made truthful by the harness).
    Event(Ev),
    /// Feed an event, execute only its journal record, crash and restart.
    EventThenCrash(Ev),
    /// Feed an event whose journal write fails.
    EventJournalFails(Ev),
    /// Crash between events, and restart.
    Crash,
}

#[derive(Debug, Clone)]
enum Ev {
    Change { typed_matches: bool, new: u8 },
    Verify { new: u8 },
    Unchanged,
    Changed(bool),
    Refused(u8),
    Unavailable,
    Ambiguous,
    Verified,
    VerifyFailed,
    VerifyUnavailable,
    Probe(u8),
    Insert,
    Remove,
    Cancel(bool),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        3 => (any::<bool>(), 0u8..4).prop_map(|(t, n)| Ev::Change { typed_matches: t, new: n }),
        1 => (0u8..4).prop_map(|n| Ev::Verify { new: n }),
        1 => Just(Ev::Unchanged),
        1 => any::<bool>().prop_map(Ev::Changed),
        1 => (0u8..3).prop_map(Ev::Refused),
        1 => Just(Ev::Unavailable),
        1 => Just(Ev::Ambiguous),
        1 => Just(Ev::Verified),
        1 => Just(Ev::VerifyFailed),
        1 => Just(Ev::VerifyUnavailable),
        1 => (0u8..3).prop_map(Ev::Probe),
        2 => Just(Ev::Insert),
        2 => Just(Ev::Remove),
        1 => any::<bool>().prop_map(Ev::Cancel),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => ev().prop_map(Op::Event),
        1 => ev().prop_map(Op::EventThenCrash),
        1 => ev().prop_map(Op::EventJournalFails),
        1 => Just(Op::Crash),
    ]
}

/// The simulated service and world around one rotation.
struct World {
    state: Rotation,
    durable: Rotation,
    key_in: bool,
    change_calls: u32,
    /// A change post was executed and no refusal-like answer followed.
    change_outstanding: bool,
}

impl World {
    fn event(&mut self, e: &Ev) -> Event {
        let gate = if self.key_in { KeyGate::Present } else { absent() };
        match e {
            Ev::Change { typed_matches, new } => change(gate, *typed_matches, *new),
            Ev::Verify { new } => Event::VerifyRequested { key: gate, new_password: fp(*new) },
            Ev::Unchanged => Event::PersonSaysUnchanged,
            Ev::Changed(v) => Event::OwaChanged { verified: *v },
            Ev::Refused(n) => Event::OwaRefused(
                [Refusal::NewPassword, Refusal::CurrentPassword, Refusal::LockedOut][*n as usize],
            ),
            Ev::Unavailable => Event::OwaUnavailable(FailureReason::OwaUnreachable),
            Ev::Ambiguous => Event::OwaAmbiguous,
            Ev::Verified => Event::Verified,
            Ev::VerifyFailed => Event::VerifyFailed,
            Ev::VerifyUnavailable => Event::VerifyUnavailable(FailureReason::OwaUnreachable),
            Ev::Probe(n) => Event::ProbeResult(
                [
                    ProbeOutcome::StillExpired,
                    ProbeOutcome::Refused,
                    ProbeOutcome::Inconclusive(FailureReason::OwaUnreachable),
                ][*n as usize],
            ),
            Ev::Insert => {
                self.key_in = true;
                Event::KeyInserted
            }
            Ev::Remove => {
                self.key_in = false;
                Event::KeyRemoved
            }
            Ev::Cancel(p) => {
                Event::Cancelled(if *p { CancelledBy::Person } else { CancelledBy::Server })
            }
        }
    }

    /// Feeds `event`, checks the invariants, executes `limit` commands (all when `None`).
    fn feed(&mut self, event: Event, limit: Option<usize>, journal_fails: bool) {
        let settles = matches!(
            event,
            Event::OwaRefused(_)
                | Event::OwaUnavailable(_)
                | Event::PersonSaysUnchanged
                | Event::ProbeResult(ProbeOutcome::StillExpired)
        );
        let was_journal_failed = event == Event::JournalFailed;
        let (next, commands) = handle(self.state.clone(), event, NOW);
        assert!(commands.len() <= 8, "bounded output: {commands:?}");
        if was_journal_failed {
            assert!(
                commands.iter().all(|c| matches!(c, Command::TellPerson(_))),
                "after a journal failure only words: {commands:?}"
            );
        } else if commands.iter().any(Command::is_side_effect) {
            let Some(Command::Journal(JournalRecord::Snapshot(snap))) = commands.first() else {
                panic!("a side effect without a journal record first: {commands:?}")
            };
            let mut expect = next.clone();
            expect.memory = Memory::default();
            assert_eq!(**snap, expect, "the journal holds the new state");
        }
        let settled = settles
            && next.phase != self.state.phase
            && matches!(next.phase, Phase::Ready | Phase::Failed(_));
        if settled {
            self.change_outstanding = false;
        }
        self.state = next;
        let count = limit.unwrap_or(commands.len());
        for (i, command) in commands.into_iter().enumerate().take(count) {
            match command {
                Command::Journal(JournalRecord::Snapshot(snap)) => {
                    if journal_fails && i == 0 {
                        return self.feed(Event::JournalFailed, None, false);
                    }
                    self.durable = *snap;
                }
                Command::Journal(JournalRecord::Forget { .. }) => {}
                Command::CallOwaChange => {
                    assert!(!self.key_in, "a change while the key is present");
                    assert!(!self.change_outstanding, "a second change post without a refusal");
                    self.change_calls += 1;
                    self.change_outstanding = true;
                }
                Command::CallOwaVerify => assert!(!self.key_in, "a verification with the key in"),
                _ => {}
            }
        }
    }

    fn crash(&mut self) {
        self.state = self.durable.clone();
        self.feed(Event::Restarted, None, false);
        if self.key_in {
            self.feed(Event::KeyInserted, None, false);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_sequences_with_crashes_keep_the_invariants(
        periodic in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let kind = if periodic { RotationKind::Periodic } else { RotationKind::Provisional };
        let r = delivered(kind);
        let mut world = World {
            state: r.clone(),
            durable: r,
            key_in: false,
            change_calls: 0,
            change_outstanding: false,
        };
        for op in &ops {
            match op {
                Op::Event(e) => {
                    let event = world.event(e);
                    world.feed(event, None, false);
                }
                Op::EventThenCrash(e) => {
                    let event = world.event(e);
                    world.feed(event, Some(1), false);
                    world.crash();
                }
                Op::EventJournalFails(e) => {
                    let event = world.event(e);
                    world.feed(event, None, true);
                }
                Op::Crash => world.crash(),
            }
            prop_assert!(world.state.refusals <= MAX_REFUSALS);
            prop_assert!(world.change_calls <= world.state.attempts);
            prop_assert!(
                limit::refused_today(world.state.refused_current, NOW) <= limit::PER_DAY,
                "at most one refused current password a day"
            );
        }
    }
}

#[test]
fn a_second_refused_current_password_the_same_day_is_refused_locally_and_not_sent() {
    let r = delivered(RotationKind::Periodic);
    let (r, c) = run(r, request(1));
    assert!(c.contains(&Command::CallOwaChange));
    let (r, c) = run(r, Event::OwaRefused(Refusal::CurrentPassword));
    assert_eq!(r.phase, Phase::Failed(FailureReason::CurrentPasswordRefused));
    assert!(matches!(c[0], Command::Journal(_)), "the count is journaled: {c:?}");
    assert_eq!(r.refused_current.map(|d| d.count), Some(1));
    let (same_day, c) = run(r.clone(), request(2));
    assert_eq!(c, [Command::TellPerson(Message::CurrentPasswordLimit)], "nothing sent");
    assert_eq!(same_day.phase, r.phase);
    let tomorrow = NOW + time::Duration::days(1);
    let (next_day, c) = handle(r, request(2), tomorrow);
    assert_eq!(next_day.phase, Phase::Changing);
    assert!(c.contains(&Command::CallOwaChange));
}

#[test]
fn every_report_after_a_change_started_names_the_account_that_started_it() {
    let r = delivered(RotationKind::Provisional);
    assert_eq!(r.started_by, None);
    let (r, c) = run(r, request(1));
    let (r, c2) = run(r, Event::OwaChanged { verified: true });
    let (_, c3) = run(r, Event::KeyInserted);
    let accounts: Vec<_> = [c, c2, c3]
        .concat()
        .into_iter()
        .filter_map(|c| if let Command::Report(d) = c { Some(d.local_account) } else { None })
        .collect();
    assert_eq!(accounts.len(), 4, "started, changed, verified, completed");
    assert!(accounts.iter().all(|a| a.as_ref() == Some(&marie())), "{accounts:?}");
}
