//! A whole OWA password change with every crate logging at trace level (reqwest, hyper, rustls,
//! the agent, the simulator): no password and no session cookie appears. Its own test binary, so
//! that its global subscriber sees everything and nothing else.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sesame_agent::owa::{ChangeOutcome, HttpSettings, OwaClient, OwaEndpoint};
use sesame_base::clock::SystemClock;
use sesame_tests::LogBuffer;
use sesame_tests::owa_sim::{OwaSim, SimOptions};

const USER: &str = "Jean.Dupont@12345.mailnot.fr";
const PROVISIONAL: &str = "Kp7#mQ2xVr9!tL4w";
const PERSONAL: &str = "Etude-Dupont-2026!";

#[tokio::test]
async fn nothing_secret_is_logged_even_at_trace_level() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, PROVISIONAL, true);
    let settings = HttpSettings {
        extra_roots: vec![sim.ca().der()],
        request_timeout: Duration::from_secs(5),
        resolve: vec![(sim.host().to_owned(), sim.address())],
        ..HttpSettings::default()
    };
    let endpoint = OwaEndpoint::parse(&sim.url()).unwrap();
    let mut client = OwaClient::new(endpoint, &settings, Arc::new(SystemClock)).unwrap();
    let outcome = client
        .change_password(
            &sesame_agent::owa::OwaLogon::new(USER, None),
            &SecretString::from(PROVISIONAL),
            &SecretString::from(PERSONAL),
        )
        .await
        .unwrap();
    assert_eq!(outcome, ChangeOutcome::ChangedAndVerified);
    sim.stop().await;

    let logged = buffer.text();
    assert!(logged.contains("owa.sesame.test"), "the logs were captured:\n{logged}");
    for password in [PROVISIONAL, PERSONAL] {
        let encoded: String = url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
        assert!(!logged.contains(password) && !logged.contains(&encoded), "{password} logged");
    }
    assert!(!logged.contains("cadata="), "session cookies are never logged");
}
