//! Offices, mailbox pages and the import's rules through the services, on SQLite.

use crate::domain::admin::AdminRole;
use crate::domain::identifier::PageToken;
use crate::services::offices::{MAX_IMPORT_ROWS, MailboxPageRequest, RawMailboxRow};
use crate::services::testing::{T0, admin, crpcen, new_office, row, services};
use crate::services::{Error, Services};
use crate::store::test_support::TestDatabase;
use sesame_base::clock::ManualClock;

/// Services with offices 01234 and 75001 (no mailbox), their global administrator.
async fn setup(dir: &std::path::Path) -> (Services, crate::domain::admin::Admin) {
    let db = TestDatabase::sqlite(dir);
    let services = services(db.open().await, &ManualClock::new(T0), &dir.join("data"));
    let global = admin(&services, "root", AdminRole::Global, &[]).await;
    for code in ["01234", "75001"] {
        services.create_office(&global, &new_office(code, "Office")).await.unwrap();
    }
    (services, global)
}

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(
            Error::InvalidArgument(m)
            | Error::NotFound(m)
            | Error::AlreadyExists(m)
            | Error::PermissionDenied(m)
            | Error::ResourceExhausted(m),
        ) => m,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn offices_are_created_by_global_administrators_and_read_in_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (services, global) = setup(dir.path()).await;
    let martin = admin(&services, "martin", AdminRole::Office, &["75001"]).await;
    let again = services.create_office(&global, &new_office("01234", "Office")).await;
    assert_eq!(message(again), "office 01234 already exists");
    let by_office_admin = services.create_office(&martin, &new_office("99999", "X")).await;
    assert_eq!(message(by_office_admin), "only a global administrator may do this");
    let outside = services.get_office(&martin, &crpcen("01234")).await;
    assert_eq!(message(outside), "office 01234 is not in your offices");
    let missing = services.get_office(&global, &crpcen("99999")).await;
    assert_eq!(message(missing), "office 99999 does not exist");
    let seen = services.list_offices(&martin).await.unwrap();
    assert_eq!(seen.iter().map(|o| o.crpcen.as_str()).collect::<Vec<_>>(), ["75001"]);
    assert_eq!(services.list_offices(&global).await.unwrap().len(), 2);
}

#[tokio::test]
async fn imports_are_refused_whole_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (services, global) = setup(dir.path()).await;
    let martin = admin(&services, "martin", AdminRole::Office, &["75001"]).await;
    let auditor = admin(&services, "audit", AdminRole::Auditor, &[]).await;
    assert_eq!(message(services.begin_import(&auditor)), "an auditor may read, not change");

    let mut outside = services.begin_import(&martin).unwrap();
    outside.add_rows(vec![row(7, "a.a@01234.mailnot.fr", "A A")]).unwrap();
    assert_eq!(
        message(services.import_mailboxes(&martin, outside, false).await),
        "line 7: office 01234 is not in your offices; nothing was imported"
    );
    let mut unknown = services.begin_import(&global).unwrap();
    unknown.add_rows(vec![row(2, "a.a@99999.mailnot.fr", "A A")]).unwrap();
    assert_eq!(
        message(services.import_mailboxes(&global, unknown, false).await),
        "1 unknown office(s); nothing was imported\nline 2: office 99999 does not exist \
         (create it with `sesamectl office add 99999`)"
    );
    let mut invalid = services.begin_import(&global).unwrap();
    invalid.add_rows(vec![row(2, "a.a@01234.mailnot.fr", "A A"), row(3, "", "B")]).unwrap();
    let refused = message(services.import_mailboxes(&global, invalid, false).await);
    assert!(refused.starts_with("1 invalid line; nothing was imported\nline 3: "), "{refused}");
    let empty = services.begin_import(&global).unwrap();
    assert_eq!(
        message(services.import_mailboxes(&global, empty, false).await),
        "the import holds no rows"
    );
    let mut too_many = services.begin_import(&global).unwrap();
    let blank = RawMailboxRow {
        line: 0,
        address: String::new(),
        display_name: String::new(),
        logon_name: String::new(),
        local_account: String::new(),
    };
    too_many.add_rows(vec![blank.clone(); MAX_IMPORT_ROWS]).unwrap();
    assert_eq!(
        message(too_many.add_rows(vec![blank])),
        "an import holds at most 100000 rows; split the file"
    );
    assert!(
        services
            .list_mailboxes(&global, None, &MailboxPageRequest::default())
            .await
            .unwrap()
            .mailboxes
            .is_empty()
    );
}

#[tokio::test]
async fn mailboxes_are_listed_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (services, global) = setup(dir.path()).await;
    let rows = vec![
        row(2, "a.a@01234.mailnot.fr", "A A"),
        row(3, "b.b@01234.mailnot.fr", "B B"),
        row(4, "c.c@75001.mailnot.fr", "C C"),
    ];
    let mut dry = services.begin_import(&global).unwrap();
    dry.add_rows(rows.clone()).unwrap();
    let counted = services.import_mailboxes(&global, dry, true).await.unwrap();
    assert_eq!((counted.created, counted.updated, counted.unchanged), (3, 0, 0));
    let first = MailboxPageRequest { size: Some(2), after: None };
    assert!(services.list_mailboxes(&global, None, &first).await.unwrap().mailboxes.is_empty());
    let mut import = services.begin_import(&global).unwrap();
    import.add_rows(rows).unwrap();
    services.import_mailboxes(&global, import, false).await.unwrap();

    let page = services.list_mailboxes(&global, None, &first).await.unwrap();
    assert_eq!(page.mailboxes.len(), 2);
    assert_eq!(page.next.as_deref(), Some("b.b@01234.mailnot.fr"));
    let after = page.next.as_deref().and_then(|t| PageToken::parse_optional("t", t).unwrap());
    let second = MailboxPageRequest { size: Some(2), after };
    let page = services.list_mailboxes(&global, None, &second).await.unwrap();
    assert_eq!(page.mailboxes.len(), 1);
    assert_eq!(page.next, None);

    let martin = admin(&services, "martin", AdminRole::Office, &["75001"]).await;
    let mine = services.list_mailboxes(&martin, None, &MailboxPageRequest::default()).await;
    assert_eq!(mine.unwrap().mailboxes.len(), 1, "an office administrator sees its offices only");
    let theirs = services.list_mailboxes(&martin, Some(&crpcen("01234")), &first).await;
    assert_eq!(message(theirs), "office 01234 is not in your offices");
    let missing = services.list_mailboxes(&global, Some(&crpcen("99999")), &first).await;
    assert_eq!(message(missing), "office 99999 does not exist");
    let huge = MailboxPageRequest { size: Some(5_001), after: None };
    assert_eq!(
        message(services.list_mailboxes(&global, None, &huge).await),
        "page_size: at most 5000"
    );
    // A token longer than any address cannot even be made (the edge refuses it).
    let forged = PageToken::parse_optional("page_token", &"x".repeat(255)).unwrap_err();
    assert_eq!(forged.to_string(), "page_token: not a token this server issued");
}
