//! Property tests (a stable-toolchain fuzzer) of everything the OWA client reads from a server it
//! does not trust: pages, `Set-Cookie` headers, redirect targets and messages. Whatever the input,
//! nothing panics, every bound holds, and no URL the client accepts leaves the configured server.

use proptest::prelude::*;
use sesame_agent::owa::OwaEndpoint;
use sesame_agent::owa::cookies::CookieJar;
use sesame_agent::owa::html::read_page;
use sesame_agent::owa::messages::classify;
use sesame_agent::owa::url::classify_login_redirect;
use time::macros::datetime;

/// HTML-like soup: the pieces Exchange pages are made of, in any order and nesting.
fn soup() -> impl Strategy<Value = String> {
    let piece =
        prop_oneof![
        Just("<form action=\"/owa/auth.owa\" method=\"POST\" name=\"logonForm\">".to_owned()),
        Just("</form>".to_owned()),
        Just("<input type=\"hidden\" name=\"destination\" value=\"https://mail.example.fr/owa/\">"
            .to_owned()),
        Just("<input name=oldPwd type=password>".to_owned()),
        Just("<div id=\"expltxt\">".to_owned()),
        Just("</div>".to_owned()),
        Just("<!-- {57A118C6-2DA9-419d-BE9A-F92B0F9A418B} -->".to_owned()),
        Just("<!--".to_owned()),
        Just("<script>".to_owned()),
        Just("</script".to_owned()),
        Just("<html lang='fr'>".to_owned()),
        Just("&amp;&#x41;&#99999999;&bogus;&".to_owned()),
        Just("\"'=<>/".to_owned()),
        "[a-zA-Z0-9 =\"'<>/&;#!-]{0,40}",
        "\\PC{0,20}",
    ];
    prop::collection::vec(piece, 0..200).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn pages_never_panic_and_stay_bounded(html in soup()) {
        let page = read_page(html.as_bytes(), &["expltxt", "userNameLabel"]).unwrap();
        prop_assert!(page.forms.len() <= 16);
        prop_assert!(page.forms.iter().all(|f| f.inputs.len() <= 64));
        prop_assert!(page.comments.len() <= 64);
        prop_assert!(page.lang.chars().count() <= 16);
    }

    #[test]
    fn arbitrary_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_page(&bytes, &["expltxt"]);
    }

    #[test]
    fn cookies_never_panic_and_the_jar_stays_bounded(
        headers in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..128), 0..80),
        texts in prop::collection::vec("[ -~]{0,80}", 0..80),
    ) {
        let now = datetime!(2026-11-25 12:00 UTC);
        let mut jar = CookieJar::default();
        for header in headers.iter().map(Vec::as_slice).chain(texts.iter().map(String::as_bytes)) {
            jar.receive(header, now);
        }
        prop_assert!(jar.names().len() <= 50);
        let _ = jar.header();
    }

    #[test]
    fn no_accepted_url_leaves_the_server(reference in "\\PC{0,60}", tail in "[a-z0-9./:@%?#&=\\\\-]{0,40}") {
        let owa = OwaEndpoint::parse("https://mail.example.fr/owa").unwrap();
        let page = owa.join("auth/logon.aspx?replaceCurrent=1").unwrap();
        for candidate in [reference.clone(), format!("https://{tail}"), format!("//{tail}"), tail.clone()] {
            if let Ok(url) = owa.resolve(&page, &candidate) {
                prop_assert_eq!(url.scheme(), "https");
                prop_assert_eq!(url.host_str(), Some("mail.example.fr"));
                prop_assert_eq!(url.port_or_known_default(), Some(443));
                prop_assert!(url.username().is_empty() && url.password().is_none());
                let _ = classify_login_redirect(&url);
            }
        }
    }

    #[test]
    fn messages_are_classified_without_panicking(text in "\\PC{0,200}") {
        let _ = classify(&text);
    }
}
