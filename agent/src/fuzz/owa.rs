//! Fuzz targets of what OWA sends: pages (the bounded HTML reader, its character references and
//! message texts), `Set-Cookie` headers, and the addresses of redirects and form actions.

use bolero::{TypeGenerator, check};
use time::OffsetDateTime;
use url::Url;

use crate::owa::cookies::CookieJar;
use crate::owa::html::{Form, Input, MAX_PAGE_BYTES, read_page};
use crate::owa::url::classify_login_redirect;
use crate::owa::{OwaEndpoint, entities, messages};
use sesame_base::fuzz_tally::Tally;

const TEXT_IDS: &[&str] = &["expiredErr", "signInErrorDiv", "Username"];

fn assert_bounded(page: &crate::owa::html::Page) {
    assert!(page.forms.len() <= 16);
    assert!(page.forms.iter().all(|f| f.inputs.len() <= 64));
    assert!(page.comments.len() <= 64);
    assert!(page.comments.iter().all(|c| c.chars().count() <= 200));
    assert!(page.lang.chars().count() <= 16);
    assert!(page.texts.iter().all(|(id, _)| TEXT_IDS.contains(&id.as_str())));
}

#[test]
fn pages_are_read_within_their_bounds_whatever_they_hold() {
    let tally = Tally::new("owa_page_any_bytes");
    // Seeds: the simulator's pages (`__fuzz__/owa_page/corpus`).
    check!(name = "owa_page").with_iterations(3_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            let page = read_page(bytes, TEXT_IDS).expect("under the size limit");
            assert_bounded(&page);
            for (_, text) in &page.texts {
                let _ = messages::classify(text);
            }
        })
    });
    println!("{tally}");
}

#[test]
fn a_page_over_the_limit_is_refused_and_deep_nesting_costs_nothing() {
    assert!(read_page(&vec![b'<'; MAX_PAGE_BYTES + 1], TEXT_IDS).is_err());
    let deep = "<div>".repeat(MAX_PAGE_BYTES / 5);
    assert_bounded(&read_page(deep.as_bytes(), TEXT_IDS).unwrap());
    let unclosed = "<form><input name=a value='".repeat(MAX_PAGE_BYTES / 30);
    assert_bounded(&read_page(unclosed.as_bytes(), TEXT_IDS).unwrap());
}

/// A page built from forms with any names and values, between noise that is not markup.
#[derive(Debug, TypeGenerator)]
struct GeneratedPage {
    forms: Vec<GeneratedForm>,
    noise: Vec<String>,
}

#[derive(Debug, TypeGenerator)]
struct GeneratedForm {
    name: String,
    id: String,
    action: String,
    method: String,
    single_quotes: bool,
    inputs: Vec<(u8, String, String, String, String)>,
}

fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text with no markup in it: in a script, a comment or between tags.
fn inert(noise: &str) -> String {
    noise.replace(['<', '&'], " ")
}

#[test]
fn every_field_of_a_form_is_read_exactly_once_with_its_value() {
    let tally = Tally::new("owa_forms_round_trip");
    check!().with_type::<GeneratedPage>().with_iterations(2_000).for_each(|generated| {
        tally.case(|| {
            let mut html = String::from("<!DOCTYPE html><html><body>");
            let mut expected = Vec::new();
            let kinds = ["text", "password", "hidden", "submit", "checkbox", "button", "select", "textarea"];
            for (i, form) in generated.forms.iter().enumerate() {
                let noise = generated.noise.get(i).map_or("", String::as_str);
                // Markup inside a script or a comment is not a form.
                html.push_str(&format!(
                    "<script>{}<form name=x><input name=y></form></script><!-- {} <form> -->{}",
                    inert(noise),
                    inert(noise).replace('>', " "),
                    inert(noise)
                ));
                let q = if form.single_quotes { '\'' } else { '"' };
                html.push_str(&format!(
                    "<form name={q}{}{q} id={q}{}{q} action={q}{}{q} method={q}{}{q}>",
                    escape(&form.name),
                    escape(&form.id),
                    escape(&form.action),
                    escape(&form.method)
                ));
                let mut inputs = Vec::new();
                for (kind, name, value, id, label) in &form.inputs {
                    let kind = kinds[usize::from(*kind) % kinds.len()];
                    let tag = if matches!(kind, "select" | "textarea" | "button") { kind } else { "input" };
                    html.push_str(&format!(
                        "<label>{}</label><{tag} type=\"{kind}\" name=\"{}\" value=\"{}\" id=\"{}\">",
                        inert(label),
                        escape(name),
                        escape(value),
                        escape(id)
                    ));
                    if !name.is_empty() && inputs.len() < 64 {
                        inputs.push(Input {
                            name: name.clone(),
                            kind: kind.to_owned(),
                            value: value.clone(),
                            id: id.clone(),
                        });
                    }
                }
                html.push_str("</form>");
                if expected.len() < 16 {
                    let method = form.method.to_ascii_lowercase();
                    expected.push(Form {
                        name: form.name.clone(),
                        id: form.id.clone(),
                        action: form.action.clone(),
                        method: if method.is_empty() { "get".to_owned() } else { method },
                        inputs,
                    });
                }
            }
            html.push_str("</body></html>");
            let page = read_page(html.as_bytes(), TEXT_IDS).unwrap();
            assert_eq!(page.forms, expected, "{html}");
        })
    });
    println!("{tally}");
}

#[test]
fn character_references_decode_to_what_was_escaped_and_never_grow() {
    let tally = Tally::new("owa_entities");
    check!().with_type::<String>().with_iterations(5_000).for_each(|text| {
        tally.case(|| {
            assert!(entities::decode(text).len() <= text.len());
            assert_eq!(&entities::decode(&escape(text)), text);
            let _ = messages::classify(text);
        })
    });
    println!("{tally}");
}

/// One `Set-Cookie` header of a few names, with or without an expiry.
#[derive(Debug, TypeGenerator)]
struct SetCookie {
    name: u8,
    value: String,
    expiry: u8,
    attributes: String,
}

const COOKIE_NAMES: &[&str] =
    &["cadata", "cadataKey", "cadataIV", "X-OWA-CANARY", "PBack", "ClientId"];

#[test]
fn the_cookie_jar_keeps_what_a_browser_keeps() {
    let tally = Tally::new("owa_cookies_model");
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    check!().with_type::<Vec<SetCookie>>().with_iterations(3_000).for_each(|headers| {
        tally.case(|| {
            let mut jar = CookieJar::default();
            let mut model: Vec<(String, String)> = Vec::new();
            for header in headers {
                let name = COOKIE_NAMES[usize::from(header.name) % COOKIE_NAMES.len()];
                let value: String =
                    header.value.chars().filter(|c| !c.is_control() && *c != ';').collect();
                let (expiry, expired) = match header.expiry % 5 {
                    0 => ("", false),
                    1 => ("; Max-Age=0", true),
                    2 => ("; Max-Age=3600", false),
                    3 => ("; expires=Mon, 01-Jan-1990 00:00:00 GMT", true),
                    _ => ("; Expires=Wed, 21 Oct 2099 07:28:00 GMT", false),
                };
                let attributes: String = header
                    .attributes
                    .chars()
                    .filter(|c| !c.is_control() && *c != '=')
                    .take(40)
                    .collect();
                let line = format!("{name}={value}{expiry}; path=/; {attributes}");
                jar.receive(line.as_bytes(), now);
                if line.len() > 4096 {
                    continue;
                }
                model.retain(|(n, _)| n != name);
                if !expired {
                    model.push((name.to_owned(), value.trim().to_owned()));
                }
            }
            let names: Vec<String> = model.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(jar.names(), names);
            for name in COOKIE_NAMES {
                let held = model.iter().any(|(n, v)| n == name && !v.is_empty());
                assert_eq!(jar.has(name), held);
            }
            let header =
                model.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            assert_eq!(jar.header().map(|h| h.to_string()), (!model.is_empty()).then_some(header));
        })
    });
    println!("{tally}");
}

#[test]
fn the_cookie_jar_takes_any_header_and_stays_bounded() {
    let tally = Tally::new("owa_cookies_any_bytes");
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    // One header a line; seeds: the simulator's login and logoff (`__fuzz__/owa_set_cookie`).
    check!(name = "owa_set_cookie").with_iterations(2_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            let mut jar = CookieJar::default();
            for header in bytes.split(|b| *b == b'\n') {
                jar.receive(header, now);
                // Fifty distinct names at most, each sent back once.
                let names = jar.names();
                assert!(names.len() <= 50);
                let mut unique = names.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), names.len());
                assert!(names.iter().all(|n| !n.is_empty() && !n.contains(['=', ';', ' '])));
            }
        })
    });
    println!("{tally}");
}

#[test]
fn no_redirect_or_form_action_leaves_the_configured_server() {
    let tally = Tally::new("owa_url");
    let endpoint = OwaEndpoint::parse("https://mail.example.fr/owa").unwrap();
    let page = endpoint.join("auth/logon.aspx").unwrap();
    check!().with_type::<(String, String)>().with_iterations(3_000).for_each(
        |(reference, configured)| {
            tally.case(|| {
                if let Ok(url) = endpoint.resolve(&page, reference) {
                    assert_eq!(url.scheme(), "https");
                    assert_eq!(
                        url.host_str().map(str::to_ascii_lowercase).as_deref(),
                        Some("mail.example.fr")
                    );
                    assert_eq!(url.port_or_known_default(), Some(443));
                    assert!(url.username().is_empty() && url.password().is_none());
                    let _ = classify_login_redirect(&url);
                }
                if let Ok(other) = OwaEndpoint::parse(configured) {
                    assert_eq!(other.base().scheme(), "https");
                    assert!(other.base().path().ends_with('/'));
                    assert!(other.base().query().is_none());
                    let _ = other.join(reference);
                }
                if let Ok(url) = Url::parse(reference) {
                    let _ = classify_login_redirect(&url);
                }
            })
        },
    );
    println!("{tally}");
}
