//! The compliance services: who may read and set policies and reports, the default from the
//! configuration, an office administrator's fleet report (and trend) limited to its offices, and
//! dates.

use sesame_base::clock::Clock;
use time::Duration;

use crate::domain::admin::AdminRole;
use crate::domain::audit::Actor;
use crate::domain::compliance::{CompliancePolicy, ComplianceState};
use crate::domain::office::{NewMailbox, Text};
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

#[tokio::test]
async fn pages_of_a_report_list_each_mailbox_once_as_of_the_first_page() {
    use crate::domain::audit::Actor;
    use crate::domain::office::{MailDomain, MailboxAddress, NewMailbox, Text};
    use crate::domain::page::{ReportCursor, ReportLine};
    use crate::services::compliance::{ReportPage, ReportPageRequest};

    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    for address in ["a.a@01234.mailnot.fr", "b.b@01234.mailnot.fr", "c.c@01234.mailnot.fr"] {
        fx.mailbox(address).await;
    }
    fx.mailbox("d.d@05678.mailnot.fr").await;
    fx.mailbox("e.e@05678.mailnot.fr").await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    fx.clock.advance(Duration::hours(1));
    let first = ReportPageRequest { size: 2, mailboxes: true, cursor: None };
    let page1 = s.compliance_report_page(&auditor, None, None, &first).await.unwrap();
    assert!(page1.first);
    assert_eq!((page1.report.fleet.total(), page1.report.offices_reported), (5, 2));
    assert!(page1.report.audit_head.is_some());
    let t = page1.report.at;
    assert_eq!(t, fx.clock.now(), "a report now is fixed at its first page");

    // A day later a mailbox is registered; the pages still describe the first page's time.
    fx.clock.advance(Duration::days(1));
    let late = NewMailbox {
        address: MailboxAddress::parse("zz.late@01234.mailnot.fr", &MailDomain::default()).unwrap(),
        display_name: Text::parse("n", "Late").unwrap(),
        logon_name: None,
        local_account: None,
    };
    s.store.import_mailboxes(&[late], false, &Actor::system(), fx.clock.now()).await.unwrap();
    let mut pages: Vec<ReportPage> = vec![page1];
    while let Some(cursor) = pages.last().unwrap().next.clone() {
        let request = ReportPageRequest { size: 2, mailboxes: true, cursor: Some(cursor) };
        pages.push(s.compliance_report_page(&auditor, None, None, &request).await.unwrap());
    }
    assert_eq!(pages.len(), 3);
    let lines: Vec<String> = pages
        .iter()
        .flat_map(|p| &p.report.offices)
        .flat_map(|(_, mailboxes)| mailboxes.iter().map(|m| m.address.to_string()))
        .collect();
    assert_eq!(lines.iter().map(|l| &l[..1]).collect::<String>(), "abcde", "{lines:?}");
    for page in &pages[1..] {
        assert!(!page.first && page.report.audit_head.is_none());
        assert_eq!(page.report.at, t);
        for (counts, _) in &page.report.offices {
            let expected = if counts.crpcen == office { 3 } else { 2 };
            assert_eq!(counts.counts.total(), expected, "counts as of the first page");
        }
    }
    // 01234 continues on page 2, under its counts again.
    assert_eq!(pages[1].report.offices[0].0.crpcen, office);
    assert_eq!(pages[1].report.offices[1].0.crpcen, other);

    // A token for another date or office, or tampered, is refused.
    let cursor = pages[0].next.clone().unwrap();
    let next = ReportPageRequest { size: 2, mailboxes: true, cursor: Some(cursor.clone()) };
    let before = Some(t - Duration::seconds(1));
    let other_date = s.compliance_report_page(&auditor, None, before, &next).await;
    assert!(matches!(other_date, Err(Error::InvalidArgument(_))), "{other_date:?}");
    let other_office = s.compliance_report_page(&auditor, Some(&other), None, &next).await;
    assert!(matches!(other_office, Err(Error::InvalidArgument(_))), "{other_office:?}");
    let future = ReportCursor { at: fx.clock.now() + Duration::days(1), ..cursor.clone() };
    let future = ReportPageRequest { size: 2, mailboxes: true, cursor: Some(future) };
    let refused = s.compliance_report_page(&auditor, None, None, &future).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    let offices = ReportCursor { after: ReportLine::Office(office.clone()), ..cursor };
    let offices = ReportPageRequest { size: 2, mailboxes: true, cursor: Some(offices) };
    let refused = s.compliance_report_page(&auditor, None, None, &offices).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    let too_big = ReportPageRequest { size: 5_001, mailboxes: true, cursor: None };
    let refused = s.compliance_report_page(&auditor, None, None, &too_big).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");

    // An office administrator's pages hold its offices only.
    let mine = s.compliance_report_page(&marie, None, None, &first).await.unwrap();
    let request = ReportPageRequest { size: 2, mailboxes: true, cursor: mine.next.clone() };
    let rest = s.compliance_report_page(&marie, None, None, &request).await.unwrap();
    let offices: Vec<&str> = [&mine, &rest]
        .iter()
        .flat_map(|p| &p.report.offices)
        .map(|(o, _)| o.crpcen.as_str())
        .collect();
    assert!(offices.iter().all(|o| *o == "01234"), "{offices:?}");
    assert_eq!(rest.report.offices[0].1.len(), 2, "now: c.c and the late mailbox");
    let denied = s.compliance_report_page(&marie, Some(&other), None, &first).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");

    // Office lines, one a page, at the first page's time (01234 had 3 mailboxes then).
    let offices = ReportPageRequest { size: 1, mailboxes: false, cursor: None };
    let at = Some(t);
    let page1 = s.compliance_report_page(&auditor, None, at, &offices).await.unwrap();
    assert_eq!(page1.report.offices.len(), 1);
    assert_eq!(
        (page1.report.offices[0].0.crpcen.as_str(), page1.report.offices[0].0.counts.total()),
        ("01234", 3)
    );
    assert!(page1.report.offices[0].1.is_empty(), "no mailbox lines");
    let request = ReportPageRequest { cursor: page1.next.clone(), ..offices.clone() };
    let page2 = s.compliance_report_page(&auditor, None, None, &request).await.unwrap();
    assert_eq!(page2.report.offices[0].0.crpcen, other);
    let request = ReportPageRequest { cursor: page2.next.clone(), ..offices.clone() };
    let page3 = s.compliance_report_page(&auditor, None, None, &request).await.unwrap();
    assert!(page3.report.offices.is_empty() && page3.next.is_none());
    let mixed = ReportPageRequest { cursor: page1.next, ..first.clone() };
    let refused = s.compliance_report_page(&auditor, None, None, &mixed).await;
    assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    let mine = s.compliance_report_page(&marie, None, None, &offices).await.unwrap();
    let request = ReportPageRequest { cursor: mine.next.clone(), ..offices };
    let rest = s.compliance_report_page(&marie, None, None, &request).await.unwrap();
    assert_eq!(mine.report.offices[0].0.crpcen, office);
    assert!(rest.report.offices.is_empty(), "only its own office");
}

#[tokio::test]
async fn a_report_in_one_answer_is_refused_beyond_one_page_of_mailboxes() {
    use crate::domain::audit::Actor;
    use crate::domain::office::{MailDomain, MailboxAddress, NewMailbox, Text};
    use crate::domain::page::MAX_PAGE;
    use crate::services::compliance::ReportPageRequest;

    let fx = Fixture::new().await;
    let s = &fx.services;
    fx.office("01234").await;
    let rows: Vec<NewMailbox> = (0..=MAX_PAGE)
        .map(|i| NewMailbox {
            address: MailboxAddress::parse(
                &format!("p{i:05}.nom@01234.mailnot.fr"),
                &MailDomain::default(),
            )
            .unwrap(),
            display_name: Text::parse("n", "N").unwrap(),
            logon_name: None,
            local_account: None,
        })
        .collect();
    s.store.import_mailboxes(&rows, false, &Actor::system(), T0).await.unwrap();
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;
    // An older client, asking for every mailbox in one answer: told to ask in pages.
    let whole = s.compliance_report(&auditor, None, None, ReportDetail::Mailboxes).await;
    assert!(matches!(&whole, Err(Error::FailedPrecondition(m)) if m.contains("page_size")));
    // The offices alone still come in one answer; the mailboxes in pages.
    let offices = s.compliance_report(&auditor, None, None, ReportDetail::Offices).await.unwrap();
    assert_eq!(offices.fleet.total(), u64::from(MAX_PAGE) + 1);
    let first = ReportPageRequest { size: MAX_PAGE, mailboxes: true, cursor: None };
    let page = s.compliance_report_page(&auditor, None, None, &first).await.unwrap();
    assert_eq!(page.report.offices[0].1.len(), MAX_PAGE as usize);
    let rest = ReportPageRequest { cursor: page.next, ..first };
    let page = s.compliance_report_page(&auditor, None, None, &rest).await.unwrap();
    assert_eq!(page.report.offices[0].1.len(), 1);
    assert!(page.next.is_none());
}

#[tokio::test]
async fn the_trend_covers_what_the_administrator_may_read_day_by_day() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    fx.mailbox("a.a@01234.mailnot.fr").await;
    fx.clock.advance(Duration::days(2));
    let b = NewMailbox {
        address: crate::services::testing::address("b.b@05678.mailnot.fr"),
        display_name: Text::parse("n", "B").unwrap(),
        logon_name: None,
        local_account: None,
    };
    s.store.import_mailboxes(&[b], false, &Actor::system(), fx.clock.now()).await.unwrap();
    fx.clock.advance(Duration::days(1));
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;

    let fleet = s.compliance_trend(&auditor, None, 5).await.unwrap();
    assert_eq!(fleet.len(), 5);
    assert_eq!(fleet[4].at, fx.clock.now());
    assert!(fleet.windows(2).all(|w| w[0].at < w[1].at));
    let totals: Vec<u64> = fleet.iter().map(|p| p.total).collect();
    assert_eq!(totals, [0, 1, 1, 2, 2], "a.a registered the second day, b.b the fourth");
    assert!(fleet.iter().all(|p| p.compliant == 0), "never enrolled");
    let mine = s.compliance_trend(&marie, None, 5).await.unwrap();
    assert_eq!(mine.iter().map(|p| p.total).collect::<Vec<_>>(), [0, 1, 1, 1, 1]);
    let theirs = s.compliance_trend(&auditor, Some(&other), 5).await.unwrap();
    assert_eq!(theirs[4].total, 1);

    let denied = s.compliance_trend(&marie, Some(&other), 5).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    for points in [0, 91] {
        let refused = s.compliance_trend(&auditor, None, points).await;
        assert!(matches!(refused, Err(Error::InvalidArgument(_))), "{refused:?}");
    }
    let unknown = crate::services::testing::crpcen("09999");
    let missing = s.compliance_trend(&auditor, Some(&unknown), 5).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

#[tokio::test]
async fn the_overview_is_kept_per_scope_until_a_change_or_its_time_to_live() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let first = fx.office("01234").await;
    fx.office("05678").await;
    let root = fx.admin("root", AdminRole::Global, &[]).await;
    let marie = fx.admin("marie", AdminRole::Office, &[&first]).await;
    fx.mailbox("anne.martin@01234.mailnot.fr").await;

    let fleet = s.compliance_overview(&root).await.unwrap();
    assert_eq!(fleet.offices.len(), 2);
    let own = s.compliance_overview(&marie).await.unwrap();
    assert_eq!(own.offices.len(), 1, "an office administrator's scope is its own entry");
    assert!(std::sync::Arc::ptr_eq(&fleet, &s.compliance_overview(&root).await.unwrap()));

    // A change drops it; so does its time to live.
    s.create_office(&root, &crate::services::testing::new_office("07000", "Étude Neuve"))
        .await
        .unwrap();
    let after = s.compliance_overview(&root).await.unwrap();
    assert_eq!(after.offices.len(), 3);
    fx.clock.advance(crate::services::cache::OVERVIEW_TTL + Duration::seconds(1));
    assert!(!std::sync::Arc::ptr_eq(&after, &s.compliance_overview(&root).await.unwrap()));
}
