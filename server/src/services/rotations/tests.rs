//! A whole provisional cycle through the services, without gRPC, on SQLite and PostgreSQL: policy,
//! import, issue, disclosure for export, delivery to the assigned workstation, cancel, reissue,
//! expiry by the sweeper, and the audit chain at the end.

use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use super::{Disclosed, DisclosurePurpose, RotationPageRequest, Target};
use crate::domain::admin::{Admin, AdminRole};
use crate::domain::audit::Actor;
use crate::domain::identifier::WorkstationId;
use crate::domain::office::{Crpcen, Text};
use crate::domain::password::{PasswordPolicy, PasswordRule, StrengthChecks};
use crate::domain::rotation::{Rotation, RotationStatus};
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::{
    IssuedCertificate, MachineInfo, NewEnrollmentToken, NewWorkstation, Workstation,
};
use crate::services::audit::AuditQuery;
use crate::services::testing::{T0, VALIDITY, address, admin, crpcen, new_office, row, services};
use crate::services::{Error, Services};
use crate::store::test_support::TestDatabase;
use sesame_base::clock::ManualClock;

/// The first page of rotations, of the default size.
fn first_page() -> RotationPageRequest {
    RotationPageRequest::default()
}

/// Enrolls a workstation in office 01234 (the store directly: enrollment is not this test's).
async fn workstation(services: &Services) -> Workstation {
    let token = Token::generate(TokenKind::Enroll);
    let new_token = NewEnrollmentToken {
        token_hash: token.hash(),
        office: crpcen("01234"),
        uses: 1,
        expires_at: T0 + Duration::hours(1),
    };
    services.store.create_enrollment_token(&new_token, &Actor::system(), T0).await.unwrap();
    let new = NewWorkstation {
        id: WorkstationId::parse("id", "ws-1").unwrap(),
        machine: MachineInfo {
            hostname: Text::parse("hostname", "poste-1").unwrap(),
            os: Text::parse("os", "windows x86_64").unwrap(),
            agent_version: Text::parse("agent_version", "0.1.0").unwrap(),
        },
        public_key: vec![4; 65],
        certificate: IssuedCertificate { serial: "s1".into(), not_after: T0 + Duration::days(7) },
    };
    services.store.enroll_workstation(&token.hash(), &new, T0).await.unwrap()
}

/// Offices 01234 and 75001, three mailboxes in 01234 and one in 75001, imported through the
/// service's rules (a refused file first: it writes nothing).
async fn offices_and_mailboxes(services: &Services, global: &Admin) {
    for (code, name) in [("01234", "Office Dupont"), ("75001", "Office Martin")] {
        services.create_office(global, &new_office(code, name)).await.unwrap();
    }
    let mut refused = services.begin_import(global).unwrap();
    refused
        .add_rows(vec![
            row(2, "a.a@01234.mailnot.fr", "A A"),
            row(3, "a.a@01234.mailnot.fr", "A bis"),
        ])
        .unwrap();
    match services.import_mailboxes(global, refused, false).await {
        Err(Error::InvalidArgument(message)) => assert_eq!(
            message,
            "1 invalid line; nothing was imported\nline 3: duplicate of line 2 (a.a@01234.mailnot.fr)"
        ),
        other => panic!("{other:?}"),
    }
    let mut import = services.begin_import(global).unwrap();
    import
        .add_rows(vec![
            row(2, "a.a@01234.mailnot.fr", "A A"),
            row(3, "b.b@01234.mailnot.fr", "B B"),
            row(4, "c.c@01234.mailnot.fr", "C C"),
            row(5, "d.d@75001.mailnot.fr", "D D"),
        ])
        .unwrap();
    let report = services.import_mailboxes(global, import, false).await.unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (4, 0, 0));
}

/// Who takes part in the cycle.
struct Cycle {
    services: Services,
    clock: ManualClock,
    office: Crpcen,
    policy: PasswordPolicy,
    global: Admin,
    /// An office administrator of 75001 only.
    other: Admin,
    auditor: Admin,
}

async fn a_whole_provisional_cycle(db: &TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let services = services(db.open().await, &clock, dir.path());
    let global = admin(&services, "root", AdminRole::Global, &[]).await;
    offices_and_mailboxes(&services, &global).await;
    let other = admin(&services, "martin", AdminRole::Office, &["75001"]).await;
    let auditor = admin(&services, "audit", AdminRole::Auditor, &[]).await;
    let policy = PasswordPolicy {
        rule: PasswordRule { min_length: 12, ..Default::default() },
        provisional_length: 20,
        strength: StrengthChecks { personal_words: false, common_passwords: true, min_score: 2 },
    };
    let cycle = Cycle { services, clock, office: crpcen("01234"), policy, global, other, auditor };
    set_the_policy(&cycle).await;
    issue_for_the_office(&cycle).await;
    let exported = disclose_for_export(&cycle).await;
    let (ws, delivered) = deliver_to_the_workstation(&cycle, &exported).await;
    cancel_and_reissue(&cycle, &delivered).await;
    expire(&cycle, &ws).await;
    audit_trail(&cycle).await;
}

/// The office's policy: longer provisional passwords, no personal-words check, score 2; a score
/// above 4 is refused.
async fn set_the_policy(c: &Cycle) {
    let office = Some(&c.office);
    let impossible = PasswordPolicy {
        strength: StrengthChecks { min_score: 5, ..c.policy.strength },
        ..c.policy
    };
    let Err(Error::InvalidArgument(refused)) =
        c.services.set_password_policy(&c.global, office, &impossible).await
    else {
        panic!("a score of 5 is refused");
    };
    assert_eq!(refused, "policy: the minimum strength must be a score from 0 to 4, not 5");
    assert!(matches!(
        c.services.set_password_policy(&c.other, office, &c.policy).await,
        Err(Error::PermissionDenied(_))
    ));
    c.services.set_password_policy(&c.global, office, &c.policy).await.unwrap();
    assert_eq!(c.services.password_policy(&c.auditor, office).await.unwrap(), c.policy);
}

/// Issue for the office; again skips all three; one mailbox again is refused.
async fn issue_for_the_office(c: &Cycle) {
    let target = Target::Office(c.office.clone());
    assert!(matches!(
        c.services.open_rotations(&c.auditor, &target).await,
        Err(Error::PermissionDenied(_))
    ));
    let issued = c.services.open_rotations(&c.global, &target).await.unwrap();
    let addresses: Vec<&str> = issued.issued.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr", "c.c@01234.mailnot.fr"]);
    assert!(issued.issued.iter().all(|r| r.expires_at == T0 + VALIDITY));
    let again = c.services.open_rotations(&c.global, &target).await.unwrap();
    assert!(again.issued.is_empty() && again.skipped.len() == 3);
    let one = Target::Mailbox(address("a.a@01234.mailnot.fr"));
    assert!(matches!(
        c.services.open_rotations(&c.global, &one).await,
        Err(Error::AlreadyExists(_))
    ));
}

/// Disclosure for export: audited, then decrypted; the passwords follow the policy.
async fn disclose_for_export(c: &Cycle) -> Disclosed {
    assert!(matches!(
        c.services.disclose_provisional(&c.other, &c.office, DisclosurePurpose::Export).await,
        Err(Error::PermissionDenied(_))
    ));
    let exported = c
        .services
        .disclose_provisional(&c.global, &c.office, DisclosurePurpose::Export)
        .await
        .unwrap();
    assert_eq!(exported.policy, c.policy);
    assert_eq!(exported.passwords.len(), 3);
    for (_, password) in &exported.passwords {
        assert_eq!(password.expose_secret().len(), 20);
        assert!(c.policy.check(password.expose_secret()).is_empty());
    }
    let records = c.services.store.audit_records(None, 0, 10_000).await.unwrap();
    assert_eq!(records.last().map(|r| r.action.as_str()), Some("provisional.export"));
    exported
}

/// Delivery to the workstation a.a is assigned to: the exported password, and only a.a's.
async fn deliver_to_the_workstation(
    c: &Cycle,
    exported: &Disclosed,
) -> (Workstation, (Rotation, SecretString)) {
    let ws = workstation(&c.services).await;
    let a = c.services.store.get_mailbox(&address("a.a@01234.mailnot.fr")).await.unwrap();
    c.services.store.assign_mailbox(&ws.id, &a, &Actor::system(), T0).await.unwrap();
    let delivered = c.services.deliver_rotations(&ws).await.unwrap();
    assert_eq!(delivered.policy, c.policy);
    let [(rotation, password)] = &delivered.rotations[..] else { panic!("{delivered:?}") };
    assert_eq!(rotation.address.as_str(), "a.a@01234.mailnot.fr");
    let exported_a = exported.passwords.iter().find(|(r, _)| r.id == rotation.id).unwrap();
    assert_eq!(password.expose_secret(), exported_a.1.expose_secret());
    let open = c
        .services
        .list_rotations(&c.auditor, Some(&c.office), true, &first_page())
        .await
        .unwrap()
        .rotations;
    let a_now = open.iter().find(|r| r.id == rotation.id).unwrap();
    assert_eq!(a_now.status, RotationStatus::Delivered);
    assert_eq!(a_now.delivered_at, Some(T0));
    (ws, (rotation.clone(), password.clone()))
}

/// Cancel b.b; reissue a.a a day later: a new rotation and a new password.
async fn cancel_and_reissue(c: &Cycle, (rotation, password): &(Rotation, SecretString)) {
    let b = Target::Mailbox(address("b.b@01234.mailnot.fr"));
    assert_eq!(c.services.cancel_rotations(&c.global, &b).await.unwrap(), 1);
    assert_eq!(c.services.cancel_rotations(&c.global, &b).await.unwrap(), 0);
    c.clock.advance(Duration::days(1));
    let a = address("a.a@01234.mailnot.fr");
    let reissued = c.services.reissue_rotation(&c.global, &a).await.unwrap().unwrap();
    assert_ne!(reissued.id, rotation.id);
    assert_eq!(reissued.expires_at, T0 + Duration::days(1) + VALIDITY);
    let letters = c
        .services
        .disclose_provisional(&c.global, &c.office, DisclosurePurpose::Letters)
        .await
        .unwrap();
    let ids: Vec<&str> = letters.passwords.iter().map(|(r, _)| r.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "a.a (reissued) and c.c are open: {ids:?}");
    let new_a = letters.passwords.iter().find(|(r, _)| r.id == reissued.id).unwrap();
    assert_ne!(new_a.1.expose_secret(), password.expose_secret());
}

/// The sweeper: c.c runs out first, a.a a day later.
async fn expire(c: &Cycle, ws: &Workstation) {
    c.clock.set(T0 + VALIDITY);
    assert_eq!(c.services.expire_rotations().await, 1);
    c.clock.advance(Duration::days(1));
    assert_eq!(c.services.expire_rotations().await, 1);
    assert_eq!(c.services.expire_rotations().await, 0);
    assert!(
        c.services
            .list_rotations(&c.global, Some(&c.office), true, &first_page())
            .await
            .unwrap()
            .rotations
            .is_empty()
    );
    let all =
        c.services.list_rotations(&c.global, None, false, &first_page()).await.unwrap().rotations;
    let statuses = |status| all.iter().filter(|r| r.status == status).count();
    assert_eq!(statuses(RotationStatus::Cancelled), 2);
    assert_eq!(statuses(RotationStatus::Expired), 2);
    assert!(c.services.deliver_rotations(ws).await.unwrap().rotations.is_empty());
}

/// The audit trail: the office administrator of 75001 sees none of it; the chain is intact.
async fn audit_trail(c: &Cycle) {
    assert!(matches!(c.services.verify_audit(&c.other).await, Err(Error::PermissionDenied(_))));
    let query = AuditQuery { office: Some(c.office.clone()), ..Default::default() };
    assert!(matches!(
        c.services.list_audit_records(&c.other, &query).await,
        Err(Error::PermissionDenied(_))
    ));
    let records = c.services.list_audit_records(&c.auditor, &query).await.unwrap();
    let count = |action: &str| records.iter().filter(|r| r.action == action).count();
    assert_eq!(count("rotation.open"), 2, "the office, then the reissue");
    assert_eq!(count("provisional.export"), 1);
    assert_eq!(count("provisional.letters"), 1);
    assert_eq!(count("provisional.deliver"), 1, "an empty delivery writes no record");
    assert_eq!(count("rotation.cancel"), 2);
    assert_eq!(count("rotation.expire"), 2);
    let since = AuditQuery { since: Some(T0 + VALIDITY), ..query };
    let late = c.services.list_audit_records(&c.auditor, &since).await.unwrap();
    assert!(late.iter().all(|r| r.action == "rotation.expire") && late.len() == 2, "{late:?}");
    let chain = c.services.verify_audit(&c.auditor).await.unwrap();
    assert!(chain.broken.is_none());
    let all = c.services.store.audit_records(None, 0, 10_000).await.unwrap();
    assert_eq!(chain.records, all.len() as u64);
}

#[tokio::test]
async fn a_whole_provisional_cycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_whole_provisional_cycle(&TestDatabase::sqlite(dir.path())).await;
}

#[tokio::test]
async fn a_whole_provisional_cycle_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else { return };
    a_whole_provisional_cycle(&db).await;
    db.destroy().await;
}

#[tokio::test]
async fn an_office_administrator_pages_through_its_offices_one_after_the_other() {
    use crate::services::testing::Fixture;

    let fx = Fixture::new().await;
    let s = &fx.services;
    let first = fx.office("01234").await;
    let second = fx.office("05678").await;
    let foreign = fx.office("75001").await;
    for address in ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr", "c.c@05678.mailnot.fr"] {
        fx.mailbox(address).await;
    }
    fx.mailbox("d.d@75001.mailnot.fr").await;
    let marie = fx.admin("marie", AdminRole::Office, &[&second, &first]).await;
    let root = fx.admin("root", AdminRole::Global, &[]).await;
    for office in [&first, &second, &foreign] {
        s.open_rotations(&root, &Target::Office(office.clone())).await.unwrap();
        fx.clock.advance(Duration::minutes(1));
    }
    let mut listed: Vec<String> = Vec::new();
    let mut page = RotationPageRequest { size: 1, after: None };
    loop {
        let found = s.list_rotations(&marie, None, false, &page).await.unwrap();
        assert!(found.rotations.len() <= 1);
        listed.extend(found.rotations.iter().map(|r| r.address.to_string()));
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        listed,
        ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr", "c.c@05678.mailnot.fr"],
        "office by office, each once, never another office's"
    );
    // The fleet, newest first.
    let all = s.list_rotations(&root, None, false, &first_page()).await.unwrap();
    let offices: Vec<&str> = all.rotations.iter().map(|r| r.office.as_str()).collect();
    assert_eq!(offices, ["75001", "05678", "01234", "01234"]);
    let too_big = RotationPageRequest { size: 5_001, after: None };
    let refused = s.list_rotations(&root, None, false, &too_big).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
}
