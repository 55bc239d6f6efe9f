//! Hostile and broken servers: each conversation ends in a clear error within seconds and bounded
//! memory, and the ground truth of every server involved shows that no credential went anywhere
//! but the configured OWA host.

use std::time::{Duration, Instant};

use sesame_agent::owa::{
    ChangeOutcome, HttpError, HttpSettings, OwaClient, OwaEndpoint, OwaError, UrlRefusal,
};

use super::owa::{PERSONAL, PROVISIONAL, USER, client_for, mailbox, secret};
use crate::owa_sim::{Behaviour, OwaSim, SimCa, SimOptions};

/// The longest any hostile case may take (the client's request timeout is 3 s).
const BOUND: Duration = Duration::from_secs(15);

/// Runs a whole change against `sim` (with `others` resolvable), bounded in time.
async fn change_against(sim: &OwaSim, others: &[&OwaSim]) -> Result<ChangeOutcome, OwaError> {
    let mut client = client_for(sim, others, "fr-FR");
    let started = Instant::now();
    let result = tokio::time::timeout(
        BOUND,
        client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)),
    )
    .await
    .expect("every hostile case ends within the bound");
    assert!(started.elapsed() < BOUND);
    result
}

async fn hostile(behaviour: Behaviour, ca: Option<SimCa>) -> OwaSim {
    let sim = OwaSim::start(SimOptions { behaviour, ca, ..SimOptions::default() }).await;
    sim.add_account(USER, PROVISIONAL, true);
    sim
}

fn no_credentials(sim: &OwaSim) {
    assert!(
        sim.requests().iter().all(|r| !r.carried_credentials),
        "no credential may reach this server: {:?}",
        sim.requests()
    );
}

#[tokio::test]
async fn a_50_mb_page_is_refused_at_2_mib() {
    for behaviour in [Behaviour::HugePage, Behaviour::HugePageChunked] {
        let sim = hostile(behaviour.clone(), None).await;
        let result = change_against(&sim, &[]).await;
        assert!(
            matches!(result, Err(OwaError::Http(HttpError::TooLarge))),
            "{behaviour:?}: {result:?}"
        );
        no_credentials(&sim);
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_page_nested_100000_deep_is_read_in_one_pass_and_refused() {
    let sim = hostile(Behaviour::DeepNesting, None).await;
    let result = change_against(&sim, &[]).await;
    assert!(matches!(result, Err(OwaError::UnexpectedPage(_))), "{result:?}");
    no_credentials(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn a_server_dripping_one_byte_a_second_times_out() {
    let sim = hostile(Behaviour::Drip, None).await;
    let started = Instant::now();
    let result = change_against(&sim, &[]).await;
    assert!(matches!(result, Err(OwaError::Http(HttpError::Timeout(3)))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    no_credentials(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn a_redirect_loop_is_cut() {
    let sim = hostile(Behaviour::RedirectLoop, None).await;
    let result = change_against(&sim, &[]).await;
    assert!(matches!(result, Err(OwaError::TooManyRedirects)), "{result:?}");
    assert!(sim.requests().len() <= 8, "a handful of requests, not a loop");
    no_credentials(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn redirects_and_form_actions_to_another_host_or_plain_http_send_nothing() {
    let evil =
        OwaSim::start(SimOptions { host: "evil.sesame.test".into(), ..SimOptions::default() })
            .await;
    let evil_url = format!("https://evil.sesame.test:{}/owa/auth.owa", evil.address().port());
    let plain = "http://owa.sesame.test/owa/auth.owa".to_owned();
    let cases = [
        Behaviour::RedirectTo(evil_url.clone()),
        Behaviour::RedirectTo(plain.clone()),
        Behaviour::FormActionTo(evil_url.clone()),
        Behaviour::FormActionTo(plain.clone()),
        Behaviour::ExpiredFormActionTo(evil_url.clone()),
        Behaviour::ExpiredFormActionTo(plain),
    ];
    for behaviour in cases {
        let sim = hostile(behaviour.clone(), Some(evil.ca().clone())).await;
        let result = change_against(&sim, &[&evil]).await;
        assert!(
            matches!(
                result,
                Err(OwaError::Http(HttpError::Refused(
                    UrlRefusal::OtherHost(_) | UrlRefusal::NotHttps(_)
                )))
            ),
            "{behaviour:?}: {result:?}"
        );
        assert!(sim.change_attempts().is_empty(), "{behaviour:?}");
        if matches!(behaviour, Behaviour::ExpiredFormActionTo(_)) {
            // The login itself went to the right host; the change never left.
            assert_eq!(sim.logins().len(), 1);
        } else {
            no_credentials(&sim);
        }
        sim.stop().await;
    }
    assert!(evil.requests().is_empty(), "the other host never heard from the client");
    evil.stop().await;
}

#[tokio::test]
async fn a_plain_http_server_on_the_https_port_gets_no_credential() {
    let sim = OwaSim::start_plain_http().await;
    let settings = HttpSettings {
        resolve: vec![("owa.sesame.test".into(), sim.address())],
        request_timeout: Duration::from_secs(3),
        ..HttpSettings::default()
    };
    let endpoint =
        OwaEndpoint::parse(&format!("https://owa.sesame.test:{}/owa", sim.address().port()))
            .unwrap();
    let clock = std::sync::Arc::new(sesame_base::clock::SystemClock);
    let mut client = OwaClient::new(endpoint, &settings, clock).unwrap();
    let result = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(
        matches!(result, Err(OwaError::Http(HttpError::Connect(_) | HttpError::Protocol(_)))),
        "{result:?}"
    );
    no_credentials(&sim);
    sim.stop().await;
}

#[tokio::test]
async fn certificates_for_another_name_or_from_an_unknown_ca_are_refused() {
    let wrong_name = OwaSim::start(SimOptions {
        cert_names: vec!["wrong.sesame.test".into()],
        ..SimOptions::default()
    })
    .await;
    let result = change_against(&wrong_name, &[]).await;
    assert!(matches!(result, Err(OwaError::Http(HttpError::Certificate(_)))), "{result:?}");
    assert!(wrong_name.requests().is_empty(), "nothing was sent over the refused connection");
    wrong_name.stop().await;

    let sim = OwaSim::start(SimOptions::default()).await;
    let settings = HttpSettings {
        resolve: vec![(sim.host().to_owned(), sim.address())],
        request_timeout: Duration::from_secs(3),
        ..HttpSettings::default()
    };
    let clock = std::sync::Arc::new(sesame_base::clock::SystemClock);
    let mut client =
        OwaClient::new(OwaEndpoint::parse(&sim.url()).unwrap(), &settings, clock).unwrap();
    let result = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(matches!(result, Err(OwaError::Http(HttpError::Certificate(_)))), "{result:?}");
    assert!(sim.requests().is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn a_proxy_that_diverts_the_tunnel_meets_a_refused_certificate() {
    use crate::connect_proxy::ConnectProxy;
    // The proxy sends the tunnel for owa.sesame.test to another server (with a valid certificate
    // for its own name, from a CA the client trusts).
    let evil =
        OwaSim::start(SimOptions { host: "evil.sesame.test".into(), ..SimOptions::default() })
            .await;
    evil.add_account(USER, PROVISIONAL, true);
    let hosts = std::collections::HashMap::from([("owa.sesame.test".to_owned(), evil.address())]);
    let proxy = ConnectProxy::start(hosts).await;
    let settings = HttpSettings {
        extra_roots: vec![evil.ca().der()],
        request_timeout: Duration::from_secs(3),
        proxy: Some(url::Url::parse(&proxy.url()).unwrap()),
        ..HttpSettings::default()
    };
    let url = format!("https://owa.sesame.test:{}/owa/", evil.address().port());
    let clock = std::sync::Arc::new(sesame_base::clock::SystemClock);
    let mut client = OwaClient::new(OwaEndpoint::parse(&url).unwrap(), &settings, clock).unwrap();
    let result = client.change_password(&mailbox(), &secret(PROVISIONAL), &secret(PERSONAL)).await;
    assert!(matches!(result, Err(OwaError::Http(HttpError::Certificate(_)))), "{result:?}");
    assert!(evil.requests().is_empty(), "nothing was sent over the diverted tunnel");
    proxy.stop();
    evil.stop().await;
}
