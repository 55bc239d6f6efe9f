//! The settings services: who may read and set the OWA address and logon names, the default,
//! overrides and their removal, and the audit records they leave.

use crate::domain::admin::AdminRole;
use crate::domain::settings::{DEFAULT_OWA_URL, LogonName, OwaUrl};
use crate::services::Error;
use crate::services::testing::{Fixture, crpcen};

fn url(value: &str) -> OwaUrl {
    OwaUrl::parse(value).unwrap()
}

#[tokio::test]
async fn the_owa_address_has_a_default_a_global_value_and_office_overrides() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    let global = fx.admin("root", AdminRole::Global, &[]).await;
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;

    let setting = s.get_owa_url(&marie, None).await.unwrap();
    assert_eq!(setting.global.as_str(), DEFAULT_OWA_URL);
    assert_eq!(setting.effective().as_str(), DEFAULT_OWA_URL);

    // Only a global administrator sets the global address; it cannot be removed.
    let denied = s.set_owa_url(&marie, None, Some(&url("https://evil.example.fr/owa"))).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    let removed = s.set_owa_url(&global, None, None).await;
    assert!(matches!(removed, Err(Error::InvalidArgument(_))), "{removed:?}");
    s.set_owa_url(&global, None, Some(&url("https://mail.example.fr/owa"))).await.unwrap();

    // An office administrator sets its offices' overrides, not others'.
    s.set_owa_url(&marie, Some(&office), Some(&url("https://owa.etude.fr/owa"))).await.unwrap();
    let denied = s.set_owa_url(&marie, Some(&other), Some(&url("https://x.fr/owa"))).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    let setting = s.get_owa_url(&auditor, Some(&office)).await.unwrap();
    assert_eq!(setting.global.as_str(), "https://mail.example.fr/owa");
    assert_eq!(setting.office.as_ref().map(OwaUrl::as_str), Some("https://owa.etude.fr/owa"));
    assert_eq!(setting.effective().as_str(), "https://owa.etude.fr/owa");
    let denied = s.get_owa_url(&marie, Some(&other)).await;
    assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    assert_eq!(
        s.get_owa_url(&marie, Some(&other)).await.is_err(),
        s.get_owa_url(&marie, Some(&crpcen("99999"))).await.is_err()
    );
    let missing = s.get_owa_url(&global, Some(&crpcen("99999"))).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let missing = s.set_owa_url(&global, Some(&crpcen("99999")), Some(&url("https://a.fr"))).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

    // Removing the override falls back to the global address.
    s.set_owa_url(&marie, Some(&office), None).await.unwrap();
    let setting = s.get_owa_url(&marie, Some(&office)).await.unwrap();
    assert_eq!(setting.office, None);
    assert_eq!(setting.effective().as_str(), "https://mail.example.fr/owa");

    let actions: Vec<String> = s
        .store
        .audit_records(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("owa_url."))
        .map(|r| format!("{} {} {}", r.action, r.target, r.details))
        .collect();
    assert_eq!(
        actions,
        [
            r#"owa_url.set global {"url":"https://mail.example.fr/owa"}"#,
            r#"owa_url.set 01234 {"url":"https://owa.etude.fr/owa"}"#,
            "owa_url.unset 01234 {}",
        ]
    );
}

#[tokio::test]
async fn logon_names_are_set_and_cleared_by_the_office_administrators() {
    let fx = Fixture::new().await;
    let s = &fx.services;
    let office = fx.office("01234").await;
    let other = fx.office("05678").await;
    let marie = fx.admin("marie", AdminRole::Office, &[&office]).await;
    let paul = fx.admin("paul", AdminRole::Office, &[&other]).await;
    let auditor = fx.admin("audit", AdminRole::Auditor, &[]).await;
    let address = fx.mailbox("dupont.jean@01234.mailnot.fr").await;
    let logon = LogonName::parse("ETUDE\\jdupont").unwrap();

    for outsider in [&paul, &auditor] {
        let denied = s.set_mailbox_logon(outsider, &address, Some(&logon)).await;
        assert!(matches!(denied, Err(Error::PermissionDenied(_))), "{denied:?}");
    }
    let mailbox = s.set_mailbox_logon(&marie, &address, Some(&logon)).await.unwrap();
    assert_eq!(mailbox.logon_name.as_ref(), Some(&logon));
    let stored = s.store.get_mailbox(&address).await.unwrap();
    assert_eq!(stored.logon_name.as_ref(), Some(&logon));
    let mailbox = s.set_mailbox_logon(&marie, &address, None).await.unwrap();
    assert_eq!(mailbox.logon_name, None);

    let missing = crate::services::testing::address("martin.paul@01234.mailnot.fr");
    let result = s.set_mailbox_logon(&marie, &missing, Some(&logon)).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");

    let records = s.store.audit_records(Some(&office), 0, 1000).await.unwrap();
    let set: Vec<String> = records
        .iter()
        .filter(|r| r.action == "mailbox.set_logon")
        .map(|r| r.details.to_string())
        .collect();
    assert_eq!(set, [r#"{"logon_name":"ETUDE\\jdupont"}"#, r#"{"logon_name":null}"#]);
}
