//! Conformance scenarios of step reports and periodic rotations: a report takes effect once, a
//! verified change destroys the escrow and is recorded with its evidence, another workstation's
//! rotation is refused, a periodic rotation opens once when due.

use time::Duration;

use super::workstations::new_workstation;
use super::{T0, mailbox, office, verify_chain};
use crate::domain::audit::Actor;
use crate::domain::compliance::CompliancePolicy;
use crate::domain::office::{Crpcen, MailDomain, Mailbox, MailboxAddress};
use crate::domain::rotation::{
    Disclosure, KeyEvidence, NewRotation, PendingRotations, ReportOutcome, RotationKind,
    RotationStatus, Step, StepReport,
};
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::NewEnrollmentToken;
use crate::keys::escrow::EscrowKey;
use crate::store::{PolicyScope, Store};

/// Office 01234 with mailboxes a.a and b.b, workstations ws-1 (assigned a.a) and ws-2 (b.b).
pub(super) async fn setup(store: &dyn Store) -> (Mailbox, Mailbox) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let rows = vec![mailbox("a.a@01234.mailnot.fr", "A A"), mailbox("b.b@01234.mailnot.fr", "B B")];
    store.import_mailboxes(&rows, false, &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Enroll);
    let new = NewEnrollmentToken {
        token_hash: token.hash(),
        office: Crpcen::parse("01234").unwrap(),
        uses: 2,
        expires_at: T0 + Duration::hours(1),
    };
    store.create_enrollment_token(&new, &actor, T0).await.unwrap();
    let mut mailboxes = Vec::new();
    for (ws, address) in [("ws-1", "a.a@01234.mailnot.fr"), ("ws-2", "b.b@01234.mailnot.fr")] {
        store.enroll_workstation(&token.hash(), &new_workstation(ws, ws), T0).await.unwrap();
        let mb = store
            .get_mailbox(&MailboxAddress::parse(address, &MailDomain::default()).unwrap())
            .await
            .unwrap();
        store.assign_mailbox(&super::workstations::wsid(ws), &mb, &actor, T0).await.unwrap();
        mailboxes.push(mb);
    }
    let b = mailboxes.pop().unwrap();
    (mailboxes.pop().unwrap(), b)
}

pub(super) fn report(id: &str, rotation: &str, step: Step) -> StepReport {
    StepReport {
        report_id: crate::domain::identifier::ReportId::parse("report_id", id).unwrap(),
        rotation_id: crate::domain::identifier::RotationId::parse("rotation_id", rotation).unwrap(),
        step,
        occurred_at: T0 + Duration::minutes(1),
        key_evidence: (step == Step::Started)
            .then_some(KeyEvidence::ObservedAbsent { at: T0 + Duration::seconds(30) }),
        detail: String::new(),
        local_account: None,
    }
}

pub(super) async fn actions(store: &dyn Store, action: &str) -> usize {
    let records = store.audit_records(None, 0, 100_000).await.unwrap();
    records.iter().filter(|r| r.action == action).count()
}

pub(super) async fn step_reports_take_effect_once_and_verified_destroys_escrow(store: &dyn Store) {
    let (a, b) = setup(store).await;
    let key = EscrowKey::from_bytes(&[9; 32]).unwrap();
    let mut new = Vec::new();
    for (id, mb) in [("rot-a", &a), ("rot-b", &b)] {
        let sealed = key
            .seal(&secrecy::SecretString::from("Provisoire#1xyzAB"), mb.id, &super::rid(id))
            .unwrap();
        new.push(NewRotation {
            id: super::rid(id),
            mailbox_id: mb.id,
            sealed,
            expires_at: T0 + Duration::days(14),
        });
    }
    store.open_rotations(&new, &Actor::system(), T0).await.unwrap();
    let t1 = T0 + Duration::minutes(2);

    // Another workstation's rotation, an unknown one: rejected, nothing recorded.
    let refused = store
        .record_reports(
            &super::workstations::wsid("ws-1"),
            &[report("x-1", "rot-b", Step::Started), report("x-2", "rot-zz", Step::Started)],
            t1,
        )
        .await
        .unwrap();
    assert!(refused.iter().all(|o| matches!(o, ReportOutcome::Rejected(_))), "{refused:?}");

    let story = [
        report("r-1", "rot-a", Step::Started),
        report("r-2", "rot-a", Step::Changed),
        report("r-3", "rot-a", Step::Verified),
    ];
    let outcomes =
        store.record_reports(&super::workstations::wsid("ws-1"), &story, t1).await.unwrap();
    assert_eq!(outcomes, vec![ReportOutcome::Recorded; 3]);
    // The same reports again: duplicates, no second effect, no second audit record.
    let again = store
        .record_reports(&super::workstations::wsid("ws-1"), &story, t1 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(again, vec![ReportOutcome::Duplicate; 3]);
    assert_eq!(actions(store, "rotation.report.verified").await, 1);
    assert_eq!(actions(store, "rotation.report.started").await, 1);

    let crpcen = Crpcen::parse("01234").unwrap();
    let rotations = store.list_rotations(Some(&crpcen), false, None, 100).await.unwrap();
    let rot_a = rotations.iter().find(|r| r.id == "rot-a").unwrap();
    assert_eq!(rot_a.status, RotationStatus::Completed);
    assert_eq!(rot_a.closed_at, Some(t1));
    assert_eq!(rot_a.last_step, Some(Step::Verified));
    assert_eq!(rot_a.workstation_id.as_deref(), Some("ws-1"));
    // Its provisional password can no longer be disclosed: only b.b's is.
    let disclosed =
        store.disclose_rotations(Disclosure::Export(&crpcen), &Actor::system(), t1).await.unwrap();
    assert_eq!(disclosed.iter().map(|(r, _)| r.id.as_str()).collect::<Vec<_>>(), ["rot-b"]);

    // The last verified change, with the evidence of the started report.
    let history = store.mailbox_history(a.id).await.unwrap();
    let change = history.last_verified_change.clone().unwrap();
    assert_eq!((change.rotation_id.as_str(), change.kind), ("rot-a", RotationKind::Provisional));
    assert_eq!((change.verified_at, change.workstation_id.as_str()), (t1, "ws-1"));
    assert_eq!(
        change.key_evidence,
        Some(KeyEvidence::ObservedAbsent { at: T0 + Duration::seconds(30) })
    );
    let steps: Vec<Step> = history.events.iter().map(|e| e.step).collect();
    assert_eq!(steps, [Step::Started, Step::Changed, Step::Verified]);
    assert_eq!(history.workstations, ["ws-1"]);
    assert_eq!(store.get_mailbox(&a.address).await.unwrap().last_verified_change_at, Some(t1));
    assert_eq!(store.get_mailbox(&b.address).await.unwrap().last_verified_change_at, None);

    // COMPLETED after VERIFIED is recorded only; nothing else follows a closed rotation.
    let late = store
        .record_reports(
            &super::workstations::wsid("ws-1"),
            &[
                report("r-4", "rot-a", Step::Completed),
                report("r-5", "rot-a", Step::Completed),
                report("r-6", "rot-a", Step::Changed),
            ],
            t1,
        )
        .await
        .unwrap();
    assert_eq!(late[0], ReportOutcome::Recorded);
    assert!(
        matches!(late[1], ReportOutcome::Rejected(_))
            && matches!(late[2], ReportOutcome::Rejected(_))
    );
    assert_eq!(store.mailbox_history(a.id).await.unwrap().last_verified_change, Some(change));

    // A failure keeps the rotation open.
    let failed = Step::Failed(crate::domain::rotation::FailureReason::OwaUnreachable);
    let outcome = store
        .record_reports(&super::workstations::wsid("ws-2"), &[report("r-1", "rot-b", failed)], t1)
        .await
        .unwrap();
    assert_eq!(outcome, [ReportOutcome::Recorded]);
    let open = store.current_rotation(b.id).await.unwrap().unwrap();
    assert_eq!((open.id.as_str(), open.last_step), ("rot-b", Some(failed)));
    verify_chain(store).await;
}

pub(super) async fn periodic_rotations_open_once_when_due(store: &dyn Store) {
    // Due at 90 days, with no "due soon" delay: the rotation opens at the limit.
    let policy = CompliancePolicy { due_soon_days: 0, limit_days: 90, offline_days: 10 };
    store
        .set_compliance_policy(PolicyScope::Global, Some(policy), &Actor::system(), T0)
        .await
        .unwrap();
    let (a, b) = setup(store).await;
    let validity = Duration::days(14);
    // Nothing pending before the due date, which is told; pending from it on.
    let ws1 = super::workstations::wsid("ws-1");
    let pending = |at| store.pending_rotations(&ws1, at);
    let before = pending(T0 + Duration::days(89)).await.unwrap();
    assert_eq!(before, PendingRotations { now: false, next_due: Some(T0 + Duration::days(90)) });
    assert!(pending(T0 + Duration::days(90)).await.unwrap().now);
    let early = store
        .deliver_periodic(
            &super::workstations::wsid("ws-1"),
            validity,
            &crate::domain::rotation::new_rotation_id,
            T0 + Duration::days(89),
        )
        .await;
    assert!(early.unwrap().is_empty());

    // Due: concurrent calls open one rotation.
    let due = T0 + Duration::days(91);
    let (one, two) = tokio::join!(
        store.deliver_periodic(&ws1, validity, &crate::domain::rotation::new_rotation_id, due),
        store.deliver_periodic(&ws1, validity, &crate::domain::rotation::new_rotation_id, due),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, two[0].id);
    assert_eq!(
        (one[0].kind, one[0].address.as_str()),
        (RotationKind::Periodic, a.address.as_str())
    );
    let again = store
        .deliver_periodic(
            &super::workstations::wsid("ws-1"),
            validity,
            &crate::domain::rotation::new_rotation_id,
            due,
        )
        .await
        .unwrap();
    assert_eq!(again[0].id, one[0].id);
    assert_eq!(again[0].status, RotationStatus::Delivered);
    assert_eq!(actions(store, "rotation.open_periodic").await, 1);
    // Never in a provisional disclosure.
    let crpcen = Crpcen::parse("01234").unwrap();
    let system = Actor::system();
    let export = store.disclose_rotations(Disclosure::Export(&crpcen), &system, due);
    assert!(export.await.unwrap().is_empty());
    // Verified: not due again until a period later.
    let story = [
        report("p-1", one[0].id.as_str(), Step::Started),
        report("p-2", one[0].id.as_str(), Step::Verified),
    ];
    let outcomes =
        store.record_reports(&super::workstations::wsid("ws-1"), &story, due).await.unwrap();
    assert_eq!(outcomes, vec![ReportOutcome::Recorded; 2]);
    let after = pending(due).await.unwrap();
    assert_eq!(after, PendingRotations { now: false, next_due: Some(due + Duration::days(90)) });
    let later = due + Duration::days(89);
    assert!(
        store
            .deliver_periodic(
                &super::workstations::wsid("ws-1"),
                validity,
                &crate::domain::rotation::new_rotation_id,
                later
            )
            .await
            .unwrap()
            .is_empty()
    );
    // b.b's periodic rotation expires like any other, and reopens.
    let b_rot = store
        .deliver_periodic(
            &super::workstations::wsid("ws-2"),
            validity,
            &crate::domain::rotation::new_rotation_id,
            due,
        )
        .await
        .unwrap();
    assert_eq!(b_rot.len(), 1);
    // Open and not run out: pending; run out but not swept: delivered as nothing, so not pending.
    let ws2 = super::workstations::wsid("ws-2");
    assert!(store.pending_rotations(&ws2, due).await.unwrap().now);
    let run_out = store.pending_rotations(&ws2, due + validity).await.unwrap();
    assert_eq!(run_out, PendingRotations { now: false, next_due: None });
    assert_eq!(store.expire_rotations(due + validity).await.unwrap(), 1);
    assert!(store.pending_rotations(&ws2, due + validity).await.unwrap().now);
    assert!(store.current_rotation(b.id).await.unwrap().is_none());
    let reopened = store
        .deliver_periodic(
            &super::workstations::wsid("ws-2"),
            validity,
            &crate::domain::rotation::new_rotation_id,
            due + validity,
        )
        .await
        .unwrap();
    assert_ne!(reopened[0].id, b_rot[0].id);
    verify_chain(store).await;
}
