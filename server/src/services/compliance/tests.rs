//! The compliance services: who may read and set policies and reports, the default from the
//! configuration, an office administrator's fleet report limited to its offices, and dates.

use sesame_base::clock::Clock;
use time::Duration;

use crate::domain::admin::AdminRole;
use crate::domain::compliance::{CompliancePolicy, ComplianceState};
use crate::services::Error;
use crate::services::compliance::ReportDetail;
use crate::services::testing::{Fixture, T0};

#[tokio::test]
async fn policies_have_a_default_a_global_value_and_office_overrides() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let root = fx.admin("root", AdminRole::Global, &[]).await;
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;

    s.apply_default_compliance_policy().await.unwrap();
    let view = s.compliance_policy(&auditor, Some(&office)).await.unwrap();
    assert_eq!((view.source, view.effective.limit_days), ("default", 90));

    let strict = CompliancePolicy { due_soon_days: 7, limit_days: 60, offline_days: 5 };
    let denied = s.set_compliance_policy(&marie, None, Some(strict)).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    let denied = s.set_compliance_policy(&auditor, Some(&office), Some(strict)).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    s.set_compliance_policy(&root, None, Some(strict)).await.unwrap();
    let own = CompliancePolicy { due_soon_days: 14, limit_days: 120, offline_days: 10 };
    let view = s.set_compliance_policy(&marie, Some(&office), Some(own)).await.unwrap();
    assert_eq!((view.source, view.effective, view.global), ("office", own, Some(strict)));
    let view = s.set_compliance_policy(&marie, Some(&office), None).await.unwrap();
    assert_eq!((view.source, view.effective), ("global", strict));

    let bad = CompliancePolicy { due_soon_days: 60, limit_days: 60, offline_days: 5 };
    let refused = s.set_compliance_policy(&root, None, Some(bad)).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    let unknown = crate::services::testing::crpcen("09999");
    let missing = s.set_compliance_policy(&root, Some(&unknown), Some(own)).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

#[tokio::test]
async fn reports_cover_what_the_administrator_may_read() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    fx.mailbox("a.a@01234.mailnot.fr").await;
    fx.mailbox("b.b@05678.mailnot.fr").await;
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;

    let fleet = s.compliance_report(&auditor, None, None, ReportDetail::Offices).await.unwrap();
    assert_eq!(fleet.offices.len(), 2);
    assert_eq!(fleet.fleet.get(ComplianceState::NeverEnrolled), 2);
    assert!(fleet.offices.iter().all(|(_, mailboxes)| mailboxes.is_empty()));
    let mine = s.compliance_report(&marie, None, None, ReportDetail::Mailboxes).await.unwrap();
    assert_eq!(mine.offices.len(), 1);
    assert_eq!(mine.offices[0].0.crpcen, office);
    assert_eq!(mine.offices[0].1.len(), 1);
    // The summary alone: the same totals, no office rows; an office administrator's is its own.
    let summary = s.compliance_report(&auditor, None, None, ReportDetail::Summary).await.unwrap();
    assert_eq!((summary.fleet, summary.offices_reported), (fleet.fleet, 2));
    assert_eq!(summary.offices_compliant, 0);
    assert!(summary.offices.is_empty());
    let own = s.compliance_report(&marie, None, None, ReportDetail::Summary).await.unwrap();
    assert_eq!((own.fleet.total(), own.offices_reported, own.offices.len()), (1, 1, 0));
    let denied = s.compliance_report(&marie, Some(&other), None, ReportDetail::Offices).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");

    let future = s.compliance_report(
        &auditor,
        None,
        Some(fx.clock.now() + Duration::days(1)),
        ReportDetail::Summary,
    );
    assert!(matches!(future.await, Err(Error::InvalidArgument(_))));
    let before = s
        .compliance_report(&auditor, None, Some(T0 - Duration::days(1)), ReportDetail::Offices)
        .await;
    assert!(before.unwrap().offices.is_empty(), "nothing was registered then");
}
