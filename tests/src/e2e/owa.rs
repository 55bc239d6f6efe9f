//! The OWA client against the Exchange simulator: every outcome of a change, the two-login and
//! one-change limits, and the simulator's ground truth (passwords, changes, logins, requests)
//! checked after each conversation.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sesame_agent::owa::{
    ChangeOutcome, HttpSettings, LoginOutcome, LogonFormat, OwaClient, OwaEndpoint, OwaError,
    OwaLogon,
};
use sesame_base::clock::ManualClock;
use time::macros::datetime;

use crate::owa_sim::{
    ChangeResult, LoginResult, LogonFormat as SimLogonFormat, OwaSim, SimOptions,
};

pub(super) const USER: &str = "Jean.Dupont@12345.mailnot.fr";
pub(super) const PROVISIONAL: &str = "Kp7#mQ2xVr9!tL4w";
pub(super) const PERSONAL: &str = "Etude-Dupont-2026!";

/// The mailbox [`USER`], without a logon name.
pub(super) fn mailbox() -> OwaLogon {
    OwaLogon::new(USER, None)
}

pub(super) fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

/// A client for `sim` that trusts its CA and finds `sim` and `others` by name.
pub(super) fn client_for(sim: &OwaSim, others: &[&OwaSim], language: &str) -> OwaClient {
    let mut resolve = vec![(sim.host().to_owned(), sim.address())];
    resolve.extend(others.iter().map(|o| (o.host().to_owned(), o.address())));
    let settings = HttpSettings {
        accept_language: language.to_owned(),
        extra_roots: vec![sim.ca().der()],
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(3),
        resolve,
        proxy: None,
    };
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    OwaClient::new(OwaEndpoint::parse(&sim.url()).unwrap(), &settings, clock).unwrap()
}

/// What must hold after any conversation: credentials went only to the simulator's own host,
/// nothing was chunked, and the client always looked like a desktop browser.
pub(super) fn assert_well_behaved(sim: &OwaSim) {
    for request in sim.requests() {
        assert!(!request.downlevel, "Exchange would treat the client as down-level: {request:?}");
        assert!(!request.chunked, "bodies carry a Content-Length: {request:?}");
        if request.carried_credentials {
            let host = request.host_header.split(':').next().unwrap_or_default();
            assert_eq!(host, sim.host(), "credentials only to the configured host");
        }
    }
}

async fn change(sim: &OwaSim, current: &str, new: &str) -> ChangeOutcome {
    let mut client = client_for(sim, &[], "fr-FR,fr;q=0.9");
    client.change_password(&mailbox(), &secret(current), &secret(new)).await.unwrap()
}

#[tokio::test]
async fn a_must_change_password_is_changed_verified_and_logged_off() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    assert_eq!(change(&sim, PROVISIONAL, PERSONAL).await, ChangeOutcome::ChangedAndVerified);

    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));
    assert!(!sim.must_change(USER));
    let changes = sim.changes();
    assert_eq!(changes.len(), 1, "exactly one change on Exchange");
    assert!(!changes[0].direct);
    let logins: Vec<LoginResult> = sim.logins().into_iter().map(|l| l.result).collect();
    assert_eq!(logins, [LoginResult::MustChange, LoginResult::LoggedIn]);
    assert_eq!(sim.logoffs(), 1);
    let requests = sim.requests();
    assert!(requests.iter().all(|r| r.accept_language.starts_with("fr")));
    // The change post carried every field of the live form, each once.
    let post = requests
        .iter()
        .find(|r| r.method == "POST" && r.path_and_query.contains("expiredpassword.aspx"))
        .unwrap();
    assert_eq!(post.form_fields, ["username", "oldPwd", "newPwd1", "newPwd2", "url", "isUtf8"]);
    let login = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(
        login.form_fields,
        [
            "destination",
            "flags",
            "forcedownlevel",
            "username",
            "password",
            "passwordText",
            "isUtf8"
        ]
    );
    assert_well_behaved(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn a_password_that_has_not_expired_is_changed_on_the_page_directly() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, false);
    assert_eq!(change(&sim, PROVISIONAL, PERSONAL).await, ChangeOutcome::ChangedAndVerified);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));
    assert_eq!(sim.changes().len(), 1);
    assert!(sim.changes()[0].direct);
    let logins: Vec<LoginResult> = sim.logins().into_iter().map(|l| l.result).collect();
    assert_eq!(logins, [LoginResult::LoggedIn, LoginResult::LoggedIn]);
    assert_eq!(sim.logoffs(), 2, "the first session is closed before the change");
    assert_well_behaved(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn without_direct_access_the_change_is_unavailable_and_nothing_is_posted() {
    let sim =
        OwaSim::start(SimOptions { direct_change_enabled: false, ..SimOptions::default() }).await;
    sim.add_account(USER, PROVISIONAL, false);
    let outcome = change(&sim, PROVISIONAL, PERSONAL).await;
    assert!(
        matches!(&outcome, ChangeOutcome::Unavailable(why) if why.contains("404")),
        "{outcome:?}"
    );
    assert!(sim.change_attempts().is_empty());
    assert_eq!(sim.password_of(USER).as_deref(), Some(PROVISIONAL));
    sim.stop().await;
}

#[tokio::test]
async fn a_wrong_current_password_costs_one_login_and_nothing_else() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    assert_eq!(change(&sim, "Pas-le-bon-1", PERSONAL).await, ChangeOutcome::WrongCurrentPassword);
    let logins = sim.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].result, LoginResult::BadCredentials);
    assert!(sim.change_attempts().is_empty());
    assert!(!sim.is_locked(USER));
    sim.stop().await;
}

#[tokio::test]
async fn policy_history_and_minimum_age_are_rejected_in_both_languages() {
    let sim = OwaSim::start(SimOptions { min_length: 20, ..SimOptions::default() }).await;
    sim.add_account(USER, PROVISIONAL, true);
    // Too short for this domain (20), though it passes the letter's rule.
    assert_eq!(change(&sim, PROVISIONAL, PERSONAL).await, ChangeOutcome::RejectedByPolicy);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PROVISIONAL));
    let long = "Etude-Dupont-Lyon-2026!";
    assert_eq!(change(&sim, PROVISIONAL, long).await, ChangeOutcome::ChangedAndVerified);

    // A second change the same day: the minimum age; in English this time.
    let mut client = client_for(&sim, &[], "en-US,en;q=0.9");
    let again = "Etude-Dupont-Paris-2027?";
    let outcome = client.change_password(&mailbox(), &secret(long), &secret(again)).await.unwrap();
    assert_eq!(outcome, ChangeOutcome::RejectedByPolicy);
    // Once the minimum age has passed: a previous password is refused (history) ...
    sim.age_passwords();
    let outcome = change(&sim, long, "Kp7#mQ2xVr9!tL4w-Kp7#mQ2x").await;
    assert_eq!(outcome, ChangeOutcome::ChangedAndVerified);
    sim.age_passwords();
    assert_eq!(
        change(&sim, "Kp7#mQ2xVr9!tL4w-Kp7#mQ2x", long).await,
        ChangeOutcome::RejectedByPolicy
    );
    let results: Vec<ChangeResult> = sim.change_attempts().into_iter().map(|a| a.result).collect();
    assert_eq!(
        results,
        [
            ChangeResult::InvalidNewPassword,
            ChangeResult::Changed,
            ChangeResult::InvalidNewPassword,
            ChangeResult::Changed,
            ChangeResult::InvalidNewPassword
        ]
    );
    assert_well_behaved(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn a_locked_account_is_never_pushed_further() {
    let sim = OwaSim::start(SimOptions { lockout_threshold: 3, ..SimOptions::default() }).await;
    sim.add_account(USER, PROVISIONAL, true);
    // Someone typed the wrong password three times: the account is locked.
    for _ in 0..3 {
        assert_eq!(
            change(&sim, "Pas-le-bon-1", PERSONAL).await,
            ChangeOutcome::WrongCurrentPassword
        );
    }
    assert!(sim.is_locked(USER));
    // Exchange answers a locked account like a wrong password, and the client stops there.
    assert_eq!(change(&sim, PROVISIONAL, PERSONAL).await, ChangeOutcome::WrongCurrentPassword);
    assert!(sim.change_attempts().is_empty());
    assert_eq!(sim.logins().len(), 4, "one login per run");
    sim.stop().await;
}

#[tokio::test]
async fn with_the_expired_password_page_switched_off_a_must_change_looks_refused() {
    let sim = OwaSim::start(SimOptions {
        change_expired_password_enabled: false,
        ..SimOptions::default()
    })
    .await;
    sim.add_account(USER, PROVISIONAL, true);
    assert_eq!(change(&sim, PROVISIONAL, PERSONAL).await, ChangeOutcome::WrongCurrentPassword);
    assert!(sim.change_attempts().is_empty());
    assert!(!sim.is_locked(USER));
    sim.stop().await;
}

#[tokio::test]
async fn a_full_domain_server_without_a_logon_name_gets_no_password_at_all() {
    let sim = OwaSim::start(SimOptions {
        logon_format: SimLogonFormat::FullDomain,
        ..SimOptions::default()
    })
    .await;
    sim.add_account(USER, PROVISIONAL, true);
    let mut client = client_for(&sim, &[], "fr-FR");
    let outcome = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(matches!(outcome, Err(OwaError::LogonNameMissing)), "{outcome:?}");
    assert_eq!(client.observations().logon_format, Some(LogonFormat::FullDomain));
    let not_domain_user = OwaLogon::new(USER, Some("Jean.Dupont".to_owned()));
    let outcome =
        client.change_password(&not_domain_user, &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(matches!(outcome, Err(OwaError::LogonNameNotDomainUser)), "{outcome:?}");
    assert!(!sim.requests().is_empty(), "the logon page was read");
    assert_eq!(sim.requests().iter().filter(|r| r.carried_credentials).count(), 0);
    assert!(sim.logins().is_empty() && sim.change_attempts().is_empty());
    assert!(sim.must_change(USER) && !sim.is_locked(USER));
    sim.stop().await;
}

#[tokio::test]
async fn a_full_domain_server_gets_the_logon_name_for_the_login_and_the_change() {
    let sim = OwaSim::start(SimOptions {
        logon_format: SimLogonFormat::FullDomain,
        ..SimOptions::default()
    })
    .await;
    sim.add_account(USER, PROVISIONAL, true);
    let who = OwaLogon::new(USER, Some("MAILNOT\\Jean.Dupont".to_owned()));
    let mut client = client_for(&sim, &[], "fr-FR");
    let outcome = client.change_password(&who, &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::ChangedAndVerified);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));
    assert!(sim.logins().iter().all(|l| l.user == "MAILNOT\\Jean.Dupont"), "{:?}", sim.logins());
    assert_eq!(sim.change_attempts()[0].user, "MAILNOT\\Jean.Dupont");
    // On an address server the logon name is not used: the letter's address is.
    let plain = OwaSim::start(SimOptions::default()).await;
    plain.add_account(USER, PROVISIONAL, true);
    let mut client = client_for(&plain, &[], "fr-FR");
    let outcome = client.change_password(&who, &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::ChangedAndVerified);
    assert!(plain.logins().iter().all(|l| l.user == USER));
    assert_well_behaved(&sim);
    sim.stop().await;
    plain.stop().await;
}

#[tokio::test]
async fn one_change_and_two_logins_per_client_whatever_the_caller_asks() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let mut client = client_for(&sim, &[], "fr-FR");
    let outcome = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::ChangedAndVerified);
    let again =
        client.change_password(&mailbox(), &secret(PERSONAL), &secret("Autre-Mot2passe!")).await;
    assert!(matches!(again, Err(OwaError::ChangeAlreadyAttempted)), "{again:?}");
    let third = client.login(&mailbox(), &secret(PERSONAL)).await;
    assert!(matches!(third, Err(OwaError::LoginBudgetSpent)), "{third:?}");
    assert_eq!(sim.logins().len(), 2);
    assert_eq!(sim.change_attempts().len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn servers_that_are_not_forms_based_are_reported_without_sending_anything() {
    use crate::owa_sim::Behaviour;
    let adfs =
        OwaSim::start(SimOptions { host: "adfs.sesame.test".into(), ..SimOptions::default() })
            .await;
    for behaviour in [Behaviour::NotFormsBased, Behaviour::Adfs(adfs.url())] {
        let sim = OwaSim::start(SimOptions {
            behaviour: behaviour.clone(),
            ca: Some(adfs.ca().clone()),
            ..SimOptions::default()
        })
        .await;
        sim.add_account(USER, PROVISIONAL, true);
        let mut client = client_for(&sim, &[&adfs], "fr-FR");
        let outcome = client.login(&mailbox(), &secret(PROVISIONAL)).await.unwrap();
        assert!(matches!(outcome, LoginOutcome::NotFormsBased(_)), "{behaviour:?}: {outcome:?}");
        assert!(sim.requests().iter().all(|r| !r.carried_credentials), "{behaviour:?}");
        sim.stop().await;
    }
    assert!(adfs.requests().is_empty(), "the identity provider was never contacted");
    adfs.stop().await;
}

#[tokio::test]
async fn exchange_refusals_on_the_change_page_are_classified_and_change_nothing() {
    use crate::owa_sim::ChangeFault;
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    for (result, expected) in [
        (ChangeResult::PasswordConflict, ChangeOutcome::ConfirmationMismatch),
        (ChangeResult::LockedOut, ChangeOutcome::LockedOut),
        (ChangeResult::InvalidCredentials, ChangeOutcome::WrongCurrentPassword),
        (ChangeResult::InvalidNewPassword, ChangeOutcome::RejectedByPolicy),
    ] {
        for language in ["fr-FR", "en-US"] {
            sim.inject_change_fault(ChangeFault::Answer(result.clone()));
            let mut client = client_for(&sim, &[], language);
            let outcome =
                client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
            assert_eq!(outcome.unwrap(), expected, "{result:?} in {language}");
            assert!(!expected.may_have_changed());
        }
    }
    assert!(sim.changes().is_empty());
    assert_eq!(sim.password_of(USER).as_deref(), Some(PROVISIONAL));
    assert_eq!(sim.logins().len(), 8, "one login per run: no verification after a refusal");
    sim.stop().await;
}

#[tokio::test]
async fn uncertain_changes_are_reported_as_unknown_and_never_retried() {
    use crate::owa_sim::ChangeFault;
    // The answer never comes, but the change was made: exactly one change, no second attempt.
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    sim.inject_change_fault(ChangeFault::HangAfterChange);
    let outcome = change(&sim, PROVISIONAL, PERSONAL).await;
    assert!(
        matches!(&outcome, ChangeOutcome::Unknown(why) if why.contains("no answer")),
        "{outcome:?}"
    );
    assert!(outcome.may_have_changed());
    assert_eq!(sim.changes().len(), 1);
    assert_eq!(sim.change_attempts().len(), 1);
    assert_eq!(sim.logins().len(), 1, "no verification over a connection that failed");
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));

    // The page says "changed" but the verifying login is refused (a lagging domain controller).
    sim.add_account(USER, PROVISIONAL, true);
    sim.inject_change_fault(ChangeFault::Answer(ChangeResult::Changed));
    let outcome = change(&sim, PROVISIONAL, PERSONAL).await;
    assert!(
        matches!(&outcome, ChangeOutcome::Unknown(why) if why.contains("credentials refused")),
        "{outcome:?}"
    );
    // A message nobody knows: not guessed.
    sim.inject_change_fault(ChangeFault::UnfamiliarMessage);
    let outcome = change(&sim, PROVISIONAL, PERSONAL).await;
    assert!(
        matches!(&outcome, ChangeOutcome::Unknown(why) if why.contains("without a message we know")),
        "{outcome:?}"
    );
    assert_eq!(sim.changes().len(), 1, "only the first case changed anything");
    assert_well_behaved(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn through_an_office_proxy_the_change_is_tunnelled_and_the_proxy_sees_no_password() {
    use crate::connect_proxy::ConnectProxy;
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let hosts = std::collections::HashMap::from([(sim.host().to_owned(), sim.address())]);
    let proxy = ConnectProxy::start(hosts).await;
    // No local name resolution: only the proxy knows where the OWA server is.
    let settings = HttpSettings {
        extra_roots: vec![sim.ca().der()],
        request_timeout: Duration::from_secs(3),
        proxy: Some(url::Url::parse(&proxy.url()).unwrap()),
        ..HttpSettings::default()
    };
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let mut client =
        OwaClient::new(OwaEndpoint::parse(&sim.url()).unwrap(), &settings, clock).unwrap();
    let outcome = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::ChangedAndVerified);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));

    let expected = format!("CONNECT {}:{} HTTP/1.1", sim.host(), sim.address().port());
    let requests = proxy.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| *r == expected), "{requests:?}");
    assert!(proxy.tunnelled_bytes() > 1000, "the conversation went through the tunnel");
    for clear in [PROVISIONAL, PERSONAL, "username=", "auth.owa"] {
        assert!(!proxy.saw_in_clear(clear.as_bytes()), "the proxy saw {clear:?} in clear");
    }
    assert_well_behaved(&sim);
    proxy.stop();
    sim.stop().await;
}
