//! The anonymous readiness look (`owa::readiness`) against the Exchange simulator: a normal
//! server, a `DOMAIN\user` server, an untrusted certificate, a closed port, a server that is not
//! forms-based; and the client on pages written the .NET way (`&#233;`, `&#39;`) with ids and
//! field names in another case. No look ever sends a credential.

use std::sync::Arc;
use std::time::Duration;

use sesame_agent::owa::{
    ChangeOutcome, HttpSettings, LogonFormat, OwaClient, OwaEndpoint, OwaError, OwaLogon,
    Readiness, readiness,
};
use sesame_base::clock::ManualClock;
use time::macros::datetime;

use super::owa::{PERSONAL, PROVISIONAL, USER, assert_well_behaved, mailbox, secret};
use crate::owa_sim::{Behaviour, LogonFormat as SimLogonFormat, OwaSim, SimOptions};

/// Transport settings for `sim`, trusting its CA when `trusted`.
fn settings(sim: &OwaSim, trusted: bool, language: &str) -> HttpSettings {
    HttpSettings {
        accept_language: language.to_owned(),
        extra_roots: if trusted { vec![sim.ca().der()] } else { Vec::new() },
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(3),
        resolve: vec![(sim.host().to_owned(), sim.address())],
        proxy: None,
    }
}

async fn look(sim: &OwaSim, trusted: bool, language: &str) -> Readiness {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let look = readiness(&sim.url(), &settings(sim, trusted, language), clock).await;
    assert_eq!(look.checked_at, datetime!(2026-11-25 09:00 UTC), "the injected clock");
    assert_eq!(look.owa_url, sim.url());
    assert!(sim.requests().iter().all(|r| !r.carried_credentials), "anonymous: {look:?}");
    assert!(sim.logins().is_empty());
    look
}

#[tokio::test]
async fn a_normal_server_is_ready_in_its_language() {
    let sim = OwaSim::start(SimOptions::default()).await;
    let french = look(&sim, true, "fr-FR").await;
    assert!(french.reachable && french.certificate_valid && french.forms_based, "{french:?}");
    assert_eq!(french.logon_format, Some(LogonFormat::PrincipalName));
    assert_eq!(french.language.as_deref(), Some("fr"));
    assert_eq!(french.problem, None);
    assert!(french.ready_for(false));
    assert!(french.to_string().contains("Ready:                yes"), "{french}");
    let english = look(&sim, true, "en-US").await;
    assert_eq!(english.language.as_deref(), Some("en"));
    assert_eq!(english.logon_format, Some(LogonFormat::PrincipalName));
    sim.stop().await;
}

#[tokio::test]
async fn a_domain_user_server_needs_logon_names() {
    let sim = OwaSim::start(SimOptions {
        logon_format: SimLogonFormat::FullDomain,
        ..SimOptions::default()
    })
    .await;
    let look = look(&sim, true, "fr-FR").await;
    assert_eq!(look.logon_format, Some(LogonFormat::FullDomain));
    assert!(!look.ready_for(false) && look.ready_for(true), "{look:?}");
    sim.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_not_a_network_error() {
    let sim = OwaSim::start(SimOptions::default()).await;
    let look = look(&sim, false, "fr-FR").await;
    assert!(look.reachable && !look.certificate_valid && !look.forms_based, "{look:?}");
    assert!(look.problem.as_deref().is_some_and(|p| p.contains("certificate")), "{look:?}");
    assert!(!look.ready_for(true));
    assert!(sim.requests().is_empty(), "no request crossed a refused handshake");
    sim.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let url = format!("https://127.0.0.1:{port}/owa/");
    let look = readiness(&url, &HttpSettings::default(), clock.clone()).await;
    assert!(!look.reachable && !look.certificate_valid && !look.forms_based, "{look:?}");
    assert!(look.problem.as_deref().is_some_and(|p| p.contains("cannot reach")), "{look:?}");
    let plain = readiness("http://127.0.0.1/owa/", &HttpSettings::default(), clock).await;
    assert!(!plain.reachable && plain.problem.is_some(), "{plain:?}");
}

#[tokio::test]
async fn a_server_that_is_not_forms_based_is_said_so() {
    let sim =
        OwaSim::start(SimOptions { behaviour: Behaviour::NotFormsBased, ..SimOptions::default() })
            .await;
    let look = look(&sim, true, "fr-FR").await;
    assert!(look.reachable && look.certificate_valid && !look.forms_based, "{look:?}");
    assert!(look.problem.as_deref().is_some_and(|p| p.contains("not forms-based")), "{look:?}");
    sim.stop().await;
}

fn client(sim: &OwaSim) -> OwaClient {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 09:00 UTC)));
    let settings = settings(sim, true, "fr-FR");
    OwaClient::new(OwaEndpoint::parse(&sim.url()).unwrap(), &settings, clock).unwrap()
}

#[tokio::test]
async fn dotnet_encoded_pages_with_mixed_case_ids_are_read_as_a_person_reads_them() {
    let sim = OwaSim::start(SimOptions {
        logon_format: SimLogonFormat::FullDomain,
        dotnet_encoding: true,
        mixed_case_ids: true,
        ..SimOptions::default()
    })
    .await;
    sim.add_account(USER, PROVISIONAL, true);
    // The label "Domaine\nom d&#39;utilisateur&#160;:" under id="UserNameLabel".
    let seen = look(&sim, true, "fr-FR").await;
    assert_eq!(seen.logon_format, Some(LogonFormat::FullDomain), "{seen:?}");
    // Without a logon name: nothing carrying a password.
    let outcome =
        client(&sim).change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(matches!(outcome, Err(OwaError::LogonNameMissing)), "{outcome:?}");
    assert_eq!(sim.requests().iter().filter(|r| r.carried_credentials).count(), 0);
    // A refusal in French with accents ("exigences minimales de s&#233;curit&#233;") is known.
    let who = OwaLogon::new(USER, Some("MAILNOT\\Jean.Dupont".to_owned()));
    let outcome =
        client(&sim).change_password(&who, &secret(PROVISIONAL), &secret("Court1!")).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::RejectedByPolicy);
    let outcome = client(&sim).change_password(&who, &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert_eq!(outcome.unwrap(), ChangeOutcome::ChangedAndVerified);
    assert_eq!(sim.password_of(USER).as_deref(), Some(PERSONAL));
    assert_eq!(sim.changes().len(), 1);
    assert_well_behaved(&sim);
    sim.stop().await;
}
