//! The web dashboard in a real browser (Debian's Chromium through WebDriver, `crate::browser`),
//! against a real server: an administrator signs in with a password and a TOTP code typed with
//! the keyboard, follows the fleet from the overview's counts down to a mailbox, rolls an office
//! out (an enrollment token shown once, provisional passwords issued, the letters and the export
//! downloaded), verifies the audit trail and downloads a report that names its signed head; an
//! office administrator cannot reach another office by its address; an auditor finds nothing that
//! changes anything; a post without the session's token is refused. axe-core checks every page
//! (no serious or critical violation). Screenshots of the main pages go to `docs/screenshots/`
//! when `SESAME_UPDATE_SCREENSHOTS` is set (the README shows them), else to a temporary folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sesame_agent::identity::StateDir;
use sesame_proto::v1 as pb;
use sesame_server::domain::admin::AdminRole;
use sesame_server::domain::office::Crpcen;
use sesame_server::domain::totp::TotpSecret;
use sesamectl::{AdminClient, connect};

use super::identity::{token, try_enroll};
use super::web_access::{code, enrol};
use crate::browser::axe::assert_accessible;
use crate::browser::{Browser, BrowserOptions, Key};
use crate::{Backend, TestServer, write_file};

const WAIT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "un mot de passe web assez long";

/// An administrator who can sign in to the dashboard.
struct WebAdmin {
    name: String,
    totp: TotpSecret,
}

/// Sets the web password and the TOTP factor of the client's administrator.
async fn web_admin(server: &TestServer, mut client: AdminClient, name: &str) -> WebAdmin {
    client.set_web_password(pb::SetWebPasswordRequest { password: PASSWORD.into() }).await.unwrap();
    let totp = enrol(server, &mut client, name).await;
    WebAdmin { name: name.to_owned(), totp }
}

/// A host-made administrator with a role, ready for the web.
async fn provisioned(
    server: &TestServer,
    name: &str,
    role: AdminRole,
    offices: &[&str],
) -> WebAdmin {
    let file = server.data_dir().join(format!("{name}.credentials"));
    let offices = offices.iter().map(|c| Crpcen::parse(c).unwrap()).collect();
    sesame_server::provision_admin(
        &server.config(),
        name,
        role,
        offices,
        &file,
        std::sync::Arc::new(server.clock.clone()),
    )
    .await
    .unwrap();
    let client =
        connect(&sesame_base::credentials::Credentials::read(&file).unwrap()).await.unwrap();
    web_admin(server, client, name).await
}

/// Offices, people, a workstation for two of them, twelve days of history.
async fn seed(server: &TestServer) {
    let ctl = |args: &'static [&'static str]| server.sesamectl(args);
    ctl(&["office", "add", "14032", "--name", "Étude Martin & Associés", "--city", "Lyon"])
        .await
        .unwrap();
    ctl(&["office", "add", "75001", "--name", "Étude Durand", "--city", "Paris"]).await.unwrap();
    ctl(&["office", "add", "33000", "--name", "Office notarial du Port", "--city", "Bordeaux"])
        .await
        .unwrap();
    let people = "address,display_name\n\
                  martin.anne@14032.mailnot.fr,Anne Martin\n\
                  martin.paul@14032.mailnot.fr,Paul Martin\n\
                  lefevre.elodie@14032.mailnot.fr,Élodie Lefèvre\n\
                  durand.lea@75001.mailnot.fr,Léa Durand\n\
                  durand.marc@75001.mailnot.fr,Marc Durand\n\
                  petit.jeanne@33000.mailnot.fr,Jeanne Petit\n";
    let file = write_file(server.data_dir(), "people.csv", people);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    ctl(&["compliance", "policy", "set", "--offline-days", "365"]).await.unwrap();
    for (office, mailboxes) in [
        ("14032", &["martin.anne@14032.mailnot.fr", "martin.paul@14032.mailnot.fr"][..]),
        ("33000", &["petit.jeanne@33000.mailnot.fr"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        try_enroll(server, &state, &token(server, office, &[]).await).await.unwrap();
        let ws = state.load().unwrap().workstation_id;
        for address in mailboxes {
            server.sesamectl(&["workstation", "assign", &ws, address]).await.unwrap();
        }
    }
    server.clock.advance(time::Duration::days(12));
}

/// Where screenshots go.
fn screenshots() -> PathBuf {
    if std::env::var_os("SESAME_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        std::env::temp_dir().join("sesame-dashboard-screenshots")
    }
}

async fn screenshot(browser: &Browser, name: &str) {
    let dir = screenshots();
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.full_page_screenshot_png().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Opens a page and checks it with axe-core.
async fn visit(browser: &Browser, server: &TestServer, path: &str) {
    browser.goto(&format!("{}{path}", server.dashboard_url())).await.unwrap();
    assert_accessible(browser).await;
}

/// Signs in with the keyboard alone: the sign-in page comes first, then the page asked for.
async fn sign_in(browser: &Browser, server: &TestServer, admin: &WebAdmin) {
    browser.goto(&format!("{}/offices/14032", server.dashboard_url())).await.unwrap();
    browser.wait_for("#name", WAIT).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert!(url.contains("/sign-in?next=%2Foffices%2F14032"), "{url}");
    assert_accessible(browser).await;
    // A code is accepted once: each sign-in uses the next step.
    server.clock.advance(time::Duration::seconds(30));
    let code = code(server, &admin.totp);
    browser.press_key(Key::Tab).await.unwrap();
    for (text, then) in
        [(admin.name.as_str(), Key::Tab), (PASSWORD, Key::Tab), (code.as_str(), Key::Enter)]
    {
        browser.active_element().await.unwrap().send_keys(text).await.unwrap();
        browser.press_key(then).await.unwrap();
    }
    browser
        .wait_until("the page asked for", WAIT, async |b| {
            Ok(b.current_url().await?.ends_with("/offices/14032"))
        })
        .await
        .unwrap();
    let cookie = browser.cookie("__Host-sesame").await.unwrap().expect("the session cookie");
    assert!(cookie.secure && cookie.http_only, "{cookie:?}");
    assert_eq!(cookie.same_site.as_deref(), Some("Strict"));
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext").arg(path).arg("-").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Clicks and waits for the file whose name starts with `prefix` and ends with `suffix`.
async fn download(
    browser: &Browser,
    click: &str,
    prefix: &'static str,
    suffix: &'static str,
) -> PathBuf {
    browser.find(click).await.unwrap().click().await.unwrap();
    browser
        .wait_for_download(move |name| name.starts_with(prefix) && name.ends_with(suffix), WAIT)
        .await
        .unwrap()
}

/// A POST over TLS by hand, with an `Origin` a browser would send from another site; the status
/// line and headers of the answer.
async fn raw_post(server: &TestServer, path: &str, origin: &str, body: &str) -> String {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = server.read_credentials().ca_certificate;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.dashboard_address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let port = server.dashboard_address.port();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost:{port}\r\norigin: {origin}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits for the page that says `text` in its outcome (the page before may have one too: reading
/// it again each time, never an element that a navigation makes stale).
async fn outcome(browser: &Browser, text: &'static str) {
    browser
        .wait_until("the outcome", WAIT, async |b| {
            let Ok(found) = b.find_all("#resultat").await else { return Ok(false) };
            match found.first() {
                Some(shown) => Ok(shown.text().await.is_ok_and(|t| t.contains(text))),
                None => Ok(false),
            }
        })
        .await
        .unwrap_or_else(|e| panic!("no outcome saying {text:?}: {e}"));
}

/// The session's form token, from the sign-out form every page carries.
async fn csrf(browser: &Browser) -> String {
    browser
        .find("form.signout input[name=csrf]")
        .await
        .unwrap()
        .attribute("value")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_is_rolled_out_and_followed_from_the_browser() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let options = BrowserOptions::trusting(&server.server_certificate_der());
    let Some(browser) = Browser::for_test(options).await else { return };
    seed(&server).await;
    let root =
        web_admin(&server, connect(&server.read_credentials()).await.unwrap(), "bootstrap").await;
    sign_in(&browser, &server, &root).await;

    // The overview: the chart has one point a day for 30 days; every count leads to its list.
    visit(&browser, &server, "/").await;
    assert_eq!(browser.title().await.unwrap(), "Vue d'ensemble · Sesame");
    let points = browser.find_all("svg.compliance-chart circle.point").await.unwrap();
    assert_eq!(points.len(), 30, "one point a day");
    let rows = browser.find_all("table tbody tr").await.unwrap();
    assert_eq!(rows.len(), 3);
    screenshot(&browser, "overview").await;
    // Keyboard: the first Tab reaches the skip link.
    browser.press_key(Key::Tab).await.unwrap();
    assert_eq!(browser.active_element().await.unwrap().text().await.unwrap(), "Aller au contenu");
    browser.find("a[href='/?state=never_enrolled']").await.unwrap().click().await.unwrap();
    browser
        .wait_until("the filtered list", WAIT, async |b| {
            Ok(b.current_url().await?.ends_with("state=never_enrolled"))
        })
        .await
        .unwrap();
    let offices: Vec<String> = {
        let mut names = Vec::new();
        for row in browser.find_all("table tbody th a").await.unwrap() {
            names.push(row.text().await.unwrap());
        }
        names
    };
    assert_eq!(
        offices,
        ["Étude Durand", "Étude Martin & Associés"],
        "offices with such mailboxes, least compliant first"
    );
    browser
        .find("a[href='/offices/75001?state=never_enrolled']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("#boites", WAIT).await.unwrap();
    assert_eq!(browser.find_all("table[aria-describedby=boites] tbody tr").await.unwrap().len(), 2);

    // An office, then a mailbox.
    visit(&browser, &server, "/offices/14032").await;
    let page = browser.source().await.unwrap();
    assert!(page.contains("Anne Martin") && page.contains("1 postes actifs"), "{page}");
    assert!(
        page.contains("Mots de passe courants : refusés.") && page.contains("3 sur 4"),
        "{page}"
    );
    screenshot(&browser, "office").await;
    visit(&browser, &server, "/mailboxes/martin.anne%4014032.mailnot.fr").await;
    assert!(browser.source().await.unwrap().contains("Anne Martin"));

    // The rollout of 75001: a token shown once, passwords issued, letters and export downloaded.
    visit(&browser, &server, "/offices/75001/rollout").await;
    browser.find("#uses").await.unwrap().clear().await.unwrap();
    browser.find("#uses").await.unwrap().send_keys("2").await.unwrap();
    browser.find("form[action$='enrollment-tokens'] button").await.unwrap().click().await.unwrap();
    let secret = browser.wait_for("#secret", WAIT).await.unwrap().text().await.unwrap();
    assert!(secret.starts_with("sesame_enroll_"), "{secret}");
    visit(&browser, &server, "/offices/75001/rollout").await;
    assert!(!browser.source().await.unwrap().contains(&secret), "a token is shown once");
    browser.find("form[action$='/rotations'] button").await.unwrap().click().await.unwrap();
    outcome(&browser, "2 mot(s) de passe provisoire(s) émis").await;
    assert_accessible(&browser).await;
    screenshot(&browser, "rollout").await;
    let letters =
        download(&browser, "form[action$='letters.pdf'] button", "courriers-", ".pdf").await;
    let letters = pdf_text(&letters);
    assert!(
        letters.contains("durand.lea@75001.mailnot.fr"),
        "the letters name the people: {letters}"
    );
    assert!(
        letters.contains("Étude Durand, Paris (CRPCEN 75001)") && letters.contains("Imprimé le "),
        "the letters name the office and the day they were printed: {letters}"
    );
    let export = download(&browser, "form[action$='export.csv'] button", "export-", ".csv").await;
    let export = read(&export);
    assert_eq!(export.lines().count(), 3, "a header and two people: {export}");
    assert!(export.contains("durand.lea@75001.mailnot.fr"));
    // The passwords are in the downloads only, never on a page.
    visit(&browser, &server, "/offices/75001/rollout").await;
    let page = browser.source().await.unwrap();
    for line in export.lines().skip(1) {
        let password = line.split(',').nth(2).unwrap();
        assert!(!page.contains(password), "a provisional password on a page");
    }

    // A post without the session's token is refused, and so is one with another site's origin.
    let refused = browser
        .fetch(
            "POST",
            "/offices/75001/rotations",
            Some("mailbox="),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 403, "{}", refused.body);
    let token = csrf(&browser).await;
    let body = format!("csrf={token}&mailbox=");
    let forged = raw_post(&server, "/offices/75001/rotations", "https://evil.example", &body).await;
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");

    // The audit trail: verified, exported for auditors.
    visit(&browser, &server, "/audit").await;
    browser.find("a[href*='verify=1']").await.unwrap().click().await.unwrap();
    browser.wait_for("#verif", WAIT).await.unwrap();
    assert!(browser.source().await.unwrap().contains("Chaîne intacte"));
    assert_accessible(&browser).await;
    screenshot(&browser, "audit").await;
    let trail = read(&download(&browser, "a[href^='/audit.csv']", "journal-audit-", ".csv").await);
    assert!(trail.starts_with("seq,") && trail.contains("rotation.open"), "{trail}");
    // Each download of the passwords was audited.
    assert!(
        trail.contains("provisional.letters") && trail.contains("provisional.export"),
        "{trail}"
    );

    // A report at today's date, kept filters, downloaded and read back with its signed head.
    visit(&browser, &server, "/reports?state=non_compliant&sort=name").await;
    screenshot(&browser, "reports").await;
    let csv = download(&browser, "#report-csv", "conformite-", ".csv").await;
    let name = csv.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("conformite-flotte-head-"), "{name}");
    let csv = read(&csv);
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().starts_with("crpcen,name,mailboxes,compliant,percent_compliant"),
        "{csv}"
    );
    let offices: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(offices, ["75001", "14032"], "non-compliant offices, by name: {csv}");
    let pdf = download(&browser, "#report-pdf", "conformite-", ".pdf").await;
    let text = pdf_text(&pdf);
    assert!(text.contains("Rapport de conformité"), "{text}");

    // Signing out ends the session on the server too.
    browser.find("form.signout button").await.unwrap().click().await.unwrap();
    browser.wait_for("#name", WAIT).await.unwrap();
    visit(&browser, &server, "/").await;
    assert!(browser.current_url().await.unwrap().contains("/sign-in"));
    drop(browser);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_is_set_up_from_the_browser() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let options = BrowserOptions::trusting(&server.server_certificate_der());
    let Some(browser) = Browser::for_test(options).await else { return };
    let root =
        web_admin(&server, connect(&server.read_credentials()).await.unwrap(), "bootstrap").await;
    let _ = server.sesamectl(&["office", "add", "14032", "--name", "Étude Martin"]).await;
    sign_in(&browser, &server, &root).await;

    // A new office, registered from the overview, opens its rollout.
    visit(&browser, &server, "/").await;
    browser.find("#new-crpcen").await.unwrap().send_keys("13001").await.unwrap();
    browser.find("#new-name").await.unwrap().send_keys("Étude Bernard").await.unwrap();
    browser.find("#new-city").await.unwrap().send_keys("Marseille").await.unwrap();
    browser.find("form[action='/offices'] button").await.unwrap().click().await.unwrap();
    browser.wait_for("#etape-boites", WAIT).await.unwrap();
    assert!(browser.current_url().await.unwrap().ends_with("/offices/13001/rollout"));
    assert_accessible(&browser).await;

    // Its people from a CSV file: a wrong line names itself and imports nothing.
    let dir = tempfile::tempdir().unwrap();
    let wrong = write_file(
        dir.path(),
        "wrong.csv",
        "address,display_name\nbernard.luc@13001.mailnot.fr,Luc Bernard\ndurand.lea@75001.mailnot.fr,Léa Durand\n",
    );
    browser.find("#file").await.unwrap().send_keys(wrong.to_str().unwrap()).await.unwrap();
    browser.find("form[action$='/mailboxes'] button").await.unwrap().click().await.unwrap();
    browser
        .wait_until("the refusal", WAIT, async |b| {
            Ok(b.source().await?.contains("Rien n'a été importé"))
        })
        .await
        .unwrap();
    assert!(browser.source().await.unwrap().contains("la ligne 3"));
    visit(&browser, &server, "/offices/13001/rollout").await;
    assert!(browser.source().await.unwrap().contains("0 boîte(s) enregistrée(s)"));
    let people = write_file(
        dir.path(),
        "people.csv",
        "address,display_name\nbernard.luc@13001.mailnot.fr,Luc Bernard\nbernard.ines@13001.mailnot.fr,Inès Bernard\n",
    );
    browser.find("#file").await.unwrap().send_keys(people.to_str().unwrap()).await.unwrap();
    browser.find("form[action$='/mailboxes'] button").await.unwrap().click().await.unwrap();
    outcome(&browser, "2 boîte(s) créée(s)").await;

    // Its OWA address.
    browser
        .find("#url")
        .await
        .unwrap()
        .send_keys("https://webmail.bernard.example/owa")
        .await
        .unwrap();
    browser.find("form[action$='/owa-url'] button").await.unwrap().click().await.unwrap();
    outcome(&browser, "https://webmail.bernard.example/owa").await;

    // A token, a workstation enrolled with it, a mailbox assigned to it.
    browser.find("form[action$='enrollment-tokens'] button").await.unwrap().click().await.unwrap();
    let secret = browser.wait_for("#secret", WAIT).await.unwrap().text().await.unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    try_enroll(&server, &StateDir::new(state_dir.path()), &secret).await.unwrap();
    visit(&browser, &server, "/offices/13001/rollout").await;
    assert_eq!(browser.find_all("#workstation option").await.unwrap().len(), 1);
    browser
        .execute(
            "document.getElementById('assigned').value = arguments[0];",
            &[serde_json::json!("bernard.ines@13001.mailnot.fr")],
        )
        .await
        .unwrap();
    browser.find("button[value=assign]").await.unwrap().click().await.unwrap();
    outcome(&browser, "bernard.ines@13001.mailnot.fr est attribuée").await;
    assert!(browser.source().await.unwrap().contains("bernard.ines@13001.mailnot.fr</td>"));
    drop(browser);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_administrator_and_an_auditor_see_only_what_they_may() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let options = BrowserOptions::trusting(&server.server_certificate_der());
    let Some(browser) = Browser::for_test(options).await else { return };
    seed(&server).await;
    server.sesamectl(&["provisional", "issue", "--office", "14032"]).await.unwrap();

    // An office administrator of 14032: another office by its address is refused.
    let martin = provisioned(&server, "marie.martin", AdminRole::Office, &["14032"]).await;
    sign_in(&browser, &server, &martin).await;
    visit(&browser, &server, "/").await;
    assert_eq!(browser.find_all("table tbody tr").await.unwrap().len(), 1, "its office only");
    for path in
        ["/offices/75001", "/offices/75001/rollout", "/mailboxes/durand.lea%4075001.mailnot.fr"]
    {
        visit(&browser, &server, path).await;
        let page = browser.source().await.unwrap();
        assert!(
            page.contains("Demande refusée") || page.contains("Page introuvable"),
            "{path}: {page}"
        );
        assert!(!page.contains("Léa Durand"), "{path}");
    }
    // A malformed address is a French page, not a library's English.
    visit(&browser, &server, "/?page=abc").await;
    assert!(browser.source().await.unwrap().contains("mal formée"));
    let report =
        browser.fetch("GET", "/reports/compliance.csv?office=75001", None, &[]).await.unwrap();
    assert_eq!(report.status, 403);
    visit(&browser, &server, "/").await;
    browser.find("form.signout button").await.unwrap().click().await.unwrap();
    browser.wait_for("#name", WAIT).await.unwrap();

    // An auditor reads everything and finds no button that changes anything.
    let auditor = provisioned(&server, "audit.cabinet", AdminRole::Auditor, &[]).await;
    sign_in(&browser, &server, &auditor).await;
    for path in
        ["/", "/offices/14032", "/mailboxes/martin.anne%4014032.mailnot.fr", "/audit", "/reports"]
    {
        visit(&browser, &server, path).await;
        let posts = browser
            .execute(
                "return [...document.querySelectorAll('form')].filter(f => f.method === 'post').map(f => new URL(f.action).pathname);",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(posts, serde_json::json!(["/sign-out"]), "{path}: only signing out");
        assert!(!browser.source().await.unwrap().contains("/rollout"), "{path}: no rollout link");
    }
    // Even with its session's token, an auditor cannot have the passwords.
    let token = csrf(&browser).await;
    visit(&browser, &server, "/offices/14032/rollout").await;
    assert!(browser.source().await.unwrap().contains("Demande refusée"));
    let letters = browser
        .fetch(
            "POST",
            "/offices/14032/letters.pdf",
            Some(&format!("csrf={token}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
        .unwrap();
    assert_eq!(letters.status, 403);
    drop(browser);
    server.stop().await;
}
