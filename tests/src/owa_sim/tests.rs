//! Tests of the simulator itself, over raw TLS with hand-written HTTP/1.1, so that they depend on
//! no HTTP client. The OWA client's own tests live elsewhere.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::request::is_downlevel;
use super::response::url_encode;
use super::*;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                      Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0";
const USER: &str = "Dupont.Jean@12345.mailnot.fr";

async fn connect(sim: &OwaSim) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(sim.ca().der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(sim.address()).await.unwrap();
    let name = ServerName::try_from(sim.host().to_owned()).unwrap();
    TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap()
}

/// Sends one request (`Connection: close`) and returns the whole response as text.
async fn send(sim: &OwaSim, method: &str, target: &str, headers: &[&str], body: &str) -> String {
    let host = format!("{}:{}", sim.host(), sim.address().port());
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    if method == "POST" && !headers.iter().any(|h| h.starts_with("Transfer-Encoding")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body);
    let mut stream = connect(sim).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

fn header<'a>(response: &'a str, name: &str) -> Vec<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap();
    head.lines()
        .filter_map(|line| line.split_once(": "))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

#[tokio::test]
async fn the_whole_must_change_flow() {
    let sim = OwaSim::start(SimOptions::default()).await;
    sim.add_account(USER, "Provisoire-2024!", true);
    let root = format!("https://{}:{}/owa/", sim.host(), sim.address().port());

    let response = send(&sim, "GET", "/owa/", &[], "").await;
    assert!(response.starts_with("HTTP/1.1 302"), "{response}");
    let (host, port) = (sim.host(), sim.address().port());
    let expected = format!(
        "https://{host}:{port}/owa/auth/logon.aspx\
         ?url=https%3a%2f%2f{host}%3a{port}%2fowa%2f&reason=0"
    );
    assert_eq!(header(&response, "location"), [expected.as_str()]);

    let stub = send(
        &sim,
        "GET",
        "/owa/auth/logon.aspx?url=x&reason=0",
        &[&format!("User-Agent: {CHROME}")],
        "",
    )
    .await;
    assert!(stub.contains("var a_fRC = 0;") && !stub.contains("logonForm"), "{stub}");
    let page = send(
        &sim,
        "GET",
        &format!("/owa/auth/logon.aspx?replaceCurrent=1&url={}", url_encode(&root)),
        &["Accept-Language: fr-FR,fr;q=0.9", &format!("User-Agent: {CHROME}")],
        "",
    )
    .await;
    assert!(page.contains("name=\"logonForm\"") && page.contains("Adresse de courrier :"));
    assert!(page.contains(&format!("name=\"destination\" value=\"{root}\"")));
    assert_eq!(header(&page, "x-frame-options"), ["SAMEORIGIN"]);

    let login = |password: &str| {
        form(&[
            ("destination", root.as_str()),
            ("flags", "4"),
            ("forcedownlevel", "0"),
            ("username", USER),
            ("password", password),
            ("passwordText", ""),
            ("isUtf8", "1"),
        ])
    };
    let response = send(&sim, "POST", "/owa/auth.owa", &[FORM], &login("Provisoire-2024!")).await;
    assert_eq!(header(&response, "location"), ["/owa/auth/expiredpassword.aspx?url=/owa/auth.owa"]);

    let change = |old: &str, new1: &str, new2: &str| {
        form(&[
            ("username", USER),
            ("oldPwd", old),
            ("newPwd1", new1),
            ("newPwd2", new2),
            ("url", "/owa/auth.owa"),
            ("isUtf8", "1"),
        ])
    };
    let target = "/owa/auth/expiredpassword.aspx?url=/owa/auth.owa";
    let lang = "Accept-Language: en-US";
    let response =
        send(&sim, "POST", target, &[FORM, lang], &change("Provisoire-2024!", "Abcdefgh1!", "x"))
            .await;
    assert!(response.contains("The passwords you entered don't match. Type them again."));
    let response = send(
        &sim,
        "POST",
        target,
        &[FORM, lang],
        &change("Provisoire-2024!", "short1A!", "short1A!"),
    )
    .await;
    assert!(response.contains("doesn't meet the minimum security requirements"));
    let response = send(
        &sim,
        "POST",
        target,
        &[FORM, lang],
        &change("Provisoire-2024!", "Perso-Nouveau-7", "Perso-Nouveau-7"),
    )
    .await;
    assert!(
        response.contains("onclick=\"clkReLgn()\"") && !response.contains("oldPwd"),
        "{response}"
    );
    assert_eq!(sim.password_of(USER).as_deref(), Some("Perso-Nouveau-7"));
    assert!(!sim.must_change(USER));

    let response = send(&sim, "POST", "/owa/auth.owa", &[FORM], &login("Perso-Nouveau-7")).await;
    assert_eq!(header(&response, "location"), [root.as_str()]);
    let cookies = header(&response, "set-cookie");
    assert_eq!(cookies.len(), 5);
    let cadata = cookies[0].split(';').next().unwrap().to_owned();
    let start = send(&sim, "GET", "/owa/", &[&format!("Cookie: {cadata}")], "").await;
    assert!(start.contains("Program.main") && start.contains("preboot.js"));
    let logoff = send(&sim, "GET", "/owa/logoff.owa", &[&format!("Cookie: {cadata}")], "").await;
    assert_eq!(header(&logoff, "location"), ["/owa/auth/signout.aspx"]);

    assert_eq!(sim.changes(), [ChangeRecord { user: USER.to_owned(), direct: false }]);
    let results: Vec<ChangeResult> = sim.change_attempts().into_iter().map(|a| a.result).collect();
    assert_eq!(
        results,
        [ChangeResult::PasswordConflict, ChangeResult::InvalidNewPassword, ChangeResult::Changed]
    );
    let logins: Vec<LoginResult> = sim.logins().into_iter().map(|l| l.result).collect();
    assert_eq!(logins, [LoginResult::MustChange, LoginResult::LoggedIn]);
    assert_eq!(sim.logoffs(), 1);
    let requests = sim.requests();
    assert_eq!(requests.len(), 10);
    assert!(requests[3].carried_credentials && !requests[0].carried_credentials);
    assert!(requests[3].form_fields.contains(&"passwordText".to_owned()));
    assert!(!requests[1].downlevel);
    assert!(sim.bytes_received() > 1000);
    sim.stop().await;
}

#[tokio::test]
async fn malformed_posts_and_lockout() {
    let sim = OwaSim::start(SimOptions { lockout_threshold: 2, ..SimOptions::default() }).await;
    sim.add_account(USER, "Provisoire-2024!", false);
    let root = format!("https://{}:{}/owa/", sim.host(), sim.address().port());
    let bad = form(&[
        ("destination", "https://evil.test/owa/"),
        ("flags", "4"),
        ("username", USER),
        ("password", "x"),
    ]);
    let response = send(&sim, "POST", "/owa/auth.owa", &[FORM], &bad).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let wrong =
        form(&[("destination", &root), ("flags", "4"), ("username", USER), ("password", "x")]);
    for _ in 0..2 {
        let response = send(&sim, "POST", "/owa/auth.owa", &[FORM], &wrong).await;
        assert!(header(&response, "location")[0].ends_with("&reason=2"));
    }
    assert!(sim.is_locked(USER));
    let results: Vec<LoginResult> = sim.logins().into_iter().map(|l| l.result).collect();
    assert_eq!(
        results,
        [LoginResult::Malformed, LoginResult::BadCredentials, LoginResult::BadCredentials]
    );

    // A chunked body is read as empty (400), a body over 64 KiB is refused (413).
    let chunked = format!("{:x}\r\n{wrong}\r\n0\r\n\r\n", wrong.len());
    let te = "Transfer-Encoding: chunked";
    let response = send(&sim, "POST", "/owa/auth.owa", &[FORM, te], &chunked).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let last = sim.requests().pop().unwrap();
    assert!(last.chunked && last.carried_credentials && last.form_fields.len() == 4);
    assert_eq!(sim.logins().pop().unwrap().result, LoginResult::Malformed);
    let huge = "a".repeat(70 * 1024);
    let response = send(&sim, "POST", "/owa/auth.owa", &[FORM], &huge).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    sim.stop().await;
}

#[tokio::test]
async fn huge_pages_stream_and_drips_stop() {
    let sim =
        OwaSim::start(SimOptions { behaviour: Behaviour::HugePage, ..SimOptions::default() }).await;
    let mut stream = connect(&sim).await;
    let host = format!("{}:{}", sim.host(), sim.address().port());
    let request = format!("GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.contains(&format!("content-length: {}", hostile::HUGE_SIZE)), "{head}");
    drop(stream);
    sim.stop().await;

    let sim =
        OwaSim::start(SimOptions { behaviour: Behaviour::Drip, ..SimOptions::default() }).await;
    let mut stream = connect(&sim).await;
    stream
        .write_all(request.replace(&host, &format!("x:{}", sim.address().port())).as_bytes())
        .await
        .unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::timeout(Duration::from_secs(5), sim.stop())
        .await
        .expect("a drip does not keep the simulator alive");
}

#[test]
fn directory_policy() {
    let options = SimOptions::default();
    let mut directory = directory::Directory::default();
    directory.add(USER, "Provisoire-2024!", false);
    let upper = USER.to_uppercase();
    let change = |d: &mut directory::Directory, old: &str, new: &str| {
        d.change(&options, &upper, old, new, new)
    };
    assert!(change(&mut directory, "Provisoire-2024!", "Perso-Nouveau-7").is_ok());
    // Minimum age: a second direct change waits for age_passwords.
    assert_eq!(
        change(&mut directory, "Perso-Nouveau-7", "Perso-Nouveau-8"),
        Err(ChangeResult::InvalidNewPassword)
    );
    directory.age_passwords();
    // History: the previous password is refused.
    assert_eq!(
        change(&mut directory, "Perso-Nouveau-7", "Provisoire-2024!"),
        Err(ChangeResult::InvalidNewPassword)
    );
    assert_eq!(
        change(&mut directory, "wrong", "Perso-Nouveau-9"),
        Err(ChangeResult::InvalidCredentials)
    );
    // FullDomain: only DOMAIN\user names the account on the change page.
    let full = SimOptions { logon_format: LogonFormat::FullDomain, ..SimOptions::default() };
    assert_eq!(
        directory.change(&full, USER, "Perso-Nouveau-7", "Perso-Nouveau-9", "Perso-Nouveau-9"),
        Err(ChangeResult::InvalidCredentials)
    );
    assert!(
        directory
            .change(
                &full,
                "mailnot\\dupont.jean",
                "Perso-Nouveau-7",
                "Perso-Nouveau-9",
                "Perso-Nouveau-9"
            )
            .is_ok()
    );
}

#[test]
fn downlevel_and_encoding() {
    assert!(!is_downlevel(CHROME));
    assert!(is_downlevel(""));
    assert!(is_downlevel("reqwest/0.13"));
    assert!(is_downlevel(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    ));
    assert!(!is_downlevel(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    ));
    assert_eq!(url_encode("https://h:1/owa/"), "https%3a%2f%2fh%3a1%2fowa%2f");
}
