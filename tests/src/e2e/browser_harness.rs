//! The browser harness (`crate::browser`) tested on a tiny HTTPS site (`site`) served the way the
//! dashboard will be: the browser trusts exactly that site's certificate, scripts injected through
//! WebDriver run under a strict CSP, a Secure HttpOnly cookie is kept, a form is filled with the
//! keyboard alone, a download arrives, the page's own `fetch()` shows a request without a CSRF
//! token refused, and axe-core tells a broken page from a clean one.

use std::time::Duration;

use serde_json::json;

use crate::browser::axe::{assert_accessible, axe_check};
use crate::browser::{Browser, BrowserOptions, ConsoleEntry, Key};

mod site;

use site::Site;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_is_filled_with_the_keyboard_under_a_strict_csp() {
    let site = Site::start().await;
    let other = Site::start().await;
    let Some(browser) = Browser::for_test(BrowserOptions::trusting(&site.certificate)).await else {
        return;
    };
    browser.goto(&format!("{}/", site.origin)).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Harnais");
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/", site.origin));

    // The page's CSP holds (its inline script did not run, its own did), yet WebDriver's do.
    let script =
        "return [window.inlineRan, document.documentElement.dataset.script, arguments[0]];";
    let ran = browser.execute(script, &[json!(7)]).await.unwrap();
    assert_eq!(ran, json!([null, "ran", 7]));
    let console = browser.console_log().await.unwrap();
    let refusal = console.iter().find(|e| e.message.contains("Content Security Policy"));
    assert!(refusal.is_some_and(ConsoleEntry::is_error), "the CSP refusal is logged: {console:?}");

    // A Secure HttpOnly cookie on https://localhost.
    let session = browser.cookie("session").await.unwrap().expect("the session cookie is set");
    assert_eq!((session.value.as_str(), session.secure, session.http_only), ("s1", true, true));
    assert_eq!(session.same_site.as_deref(), Some("Strict"));

    // Keyboard only: Tab reaches the field, typing fills it, Enter submits.
    browser.press_key(Key::Tab).await.unwrap();
    let field = browser.find("#name").await.unwrap();
    assert!(browser.active_element().await.unwrap().is(&field), "Tab focuses the first field");
    browser.active_element().await.unwrap().send_keys("Dupont").await.unwrap();
    assert_eq!(field.property("value").await.unwrap(), json!("Dupont"));
    browser.press_key(Key::Enter).await.unwrap();
    let greeting = browser.wait_for("#greeting", WAIT).await.unwrap();
    assert_eq!(greeting.text().await.unwrap(), "Bonjour, Dupont");
    assert_eq!(browser.title().await.unwrap(), "Envoyé");
    browser.back().await.unwrap();
    browser
        .wait_until("the form again", WAIT, async |b| Ok(b.title().await? == "Harnais"))
        .await
        .unwrap();
    let field = browser.find("#name").await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("Martin").await.unwrap();
    browser.find("button[type=submit]").await.unwrap().click().await.unwrap();
    let greeting = browser.wait_for("#greeting", WAIT).await.unwrap();
    assert_eq!(greeting.text().await.unwrap(), "Bonjour, Martin");

    // A screenshot is a PNG of the window's size.
    let png = browser.screenshot_png().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1280, "the screenshot is 1280 pixels wide");
    let page = browser.full_page_screenshot_png().await.unwrap();
    assert_eq!(&page[..8], b"\x89PNG\r\n\x1a\n");

    // Only the given certificate is trusted: another server from another test CA is refused.
    // (Chromium shows its interstitial page: WebDriver reports no error.)
    browser.goto(&format!("{}/", other.origin)).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Privacy error");
    assert!(browser.find_all("#name").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_arrive_and_the_page_can_send_requests_its_forms_would_not() {
    let site = Site::start().await;
    let Some(browser) = Browser::for_test(BrowserOptions::trusting(&site.certificate)).await else {
        return;
    };
    browser.goto(&format!("{}/", site.origin)).await.unwrap();

    browser.find("#report").await.unwrap().click().await.unwrap();
    let path = browser.wait_for_download(|name| name.ends_with(".csv"), WAIT).await.unwrap();
    assert_eq!(path.file_name().unwrap(), "rapport.csv");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), site::REPORT);
    assert!(path.starts_with(browser.downloads_dir()));

    // The page's fetch() carries its HttpOnly cookie, and only the headers given.
    let api = format!("{}/api/echo", site.origin);
    let refused = browser.fetch("POST", &api, Some("a=1"), &[]).await.unwrap();
    assert_eq!((refused.status, refused.body.as_str()), (403, "no CSRF token"));
    let accepted =
        browser.fetch("POST", &api, Some("a=1"), &[("x-csrf-token", "t1")]).await.unwrap();
    assert_eq!((accepted.status, accepted.body.as_str()), (200, "echo: a=1"));
    assert_eq!(accepted.header("Content-Type"), Some("text/plain"));
    let missing =
        browser.fetch("GET", &format!("{}/nowhere", site.origin), None, &[]).await.unwrap();
    assert_eq!(missing.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_a_missing_alternative_text_and_passes_a_clean_page() {
    let site = Site::start().await;
    let Some(browser) = Browser::for_test(BrowserOptions::trusting(&site.certificate)).await else {
        return;
    };
    browser.goto(&format!("{}/broken", site.origin)).await.unwrap();
    let violations = axe_check(&browser).await.unwrap();
    let image = violations.iter().find(|v| v.id == "image-alt").expect("image-alt is reported");
    assert!(image.is_serious(), "{image}");
    assert_eq!(image.targets, ["img"]);

    browser.goto(&format!("{}/", site.origin)).await.unwrap();
    let violations = axe_check(&browser).await.unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    // Twice on one page: axe is injected once.
    assert_accessible(&browser).await;
}
