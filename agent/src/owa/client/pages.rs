//! Reading Exchange's pages and filling their forms: the user-name format a page asks for and the
//! language its texts are in, the Exchange build its resource paths name, and the body that posts
//! every field of a live form exactly once.

use crate::owa::html::{Form, Page};
use crate::owa::http::FormBody;

use super::{LogonFormat, OwaError, USER_LABEL_ID};

/// Fragments of the user-name label (lower-case, apostrophes straightened) that name an address.
const ADDRESS_WORDS: &[&str] = &["mail", "courrier", "messagerie", "adresse", "address", "@"];
/// Fragments that name a bare user name.
const USER_NAME_WORDS: &[&str] = &["user name", "username", "nom d'utilisateur", "utilisateur"];

/// The label's text, lower-case, with typographic apostrophes and spaces made plain.
fn plain_label(page: &Page) -> Option<String> {
    let label = page.text(USER_LABEL_ID)?;
    Some(
        label
            .chars()
            .map(|c| match c {
                '\u{2019}' | '\u{2018}' | '\u{b4}' => '\'',
                '\u{a0}' | '\u{202f}' | '\u{2009}' => ' ',
                c => c,
            })
            .collect::<String>()
            .to_lowercase(),
    )
}

/// The user-name format a page asks for, from the text of its `userNameLabel` (PROTOCOL.md,
/// "User-name formats"): a backslash ("Domain\\user name:", "Domaine\\nom d'utilisateur :") is
/// `DOMAIN\\user`; an address ("Email address:", "Adresse de courrier :", "Adresse de messagerie
/// :") is the principal name; "User name:" / "Nom d'utilisateur :" alone is the bare user name.
/// `None` when there is no label or it says none of these.
pub(super) fn logon_format(page: &Page) -> Option<LogonFormat> {
    let label = plain_label(page)?;
    if label.contains('\\') {
        Some(LogonFormat::FullDomain)
    } else if ADDRESS_WORDS.iter().any(|w| label.contains(w)) {
        Some(LogonFormat::PrincipalName)
    } else if USER_NAME_WORDS.iter().any(|w| label.contains(w)) {
        Some(LogonFormat::UserName)
    } else {
        None
    }
}

/// The language of a page without `lang` or `Content-Language`, from its user-name label.
pub(super) fn language_of_texts(page: &Page) -> Option<&'static str> {
    let label = plain_label(page)?;
    if ["domaine", "utilisateur", "adresse", "courrier", "messagerie"]
        .iter()
        .any(|w| label.contains(w))
    {
        Some("fr")
    } else if ["domain", "user name", "address"].iter().any(|w| label.contains(w)) {
        Some("en")
    } else {
        None
    }
}

/// The Exchange build named in a logon page's resource paths (`/owa/auth/15.1.2507/themes/…`).
pub(super) fn version_in_paths(body: &[u8]) -> Option<String> {
    const PREFIX: &[u8] = b"/owa/auth/";
    let mut at = 0;
    while let Some(found) = body[at..].windows(PREFIX.len()).position(|w| w == PREFIX) {
        let start = at + found + PREFIX.len();
        let version: String = body[start..]
            .iter()
            .take(24)
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .map(|b| char::from(*b))
            .collect();
        if version.contains('.') && body.get(start + version.len()) == Some(&b'/') {
            return Some(version);
        }
        at = start;
    }
    None
}

/// Encodes every field of a live form once, filling the named ones. Buttons and unticked boxes
/// are not sent, as a browser does not send them; duplicates are refused (Exchange would answer
/// 400 or ignore the post).
pub(super) fn fill_form(form: &Form, fill: &[(&str, &str)]) -> Result<FormBody, OwaError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut fields = Vec::new();
    for input in &form.inputs {
        if matches!(input.kind.as_str(), "submit" | "button" | "image" | "reset" | "file")
            || matches!(input.kind.as_str(), "checkbox" | "radio")
        {
            continue;
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&input.name)) {
            return Err(OwaError::UnexpectedPage(format!(
                "the form has the field {} twice",
                input.name
            )));
        }
        seen.push(&input.name);
        let value = fill
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&input.name))
            .map_or(input.value.as_str(), |(_, value)| *value);
        fields.push((input.name.as_str(), value));
    }
    for (name, _) in fill {
        if form.input(name).is_none() {
            return Err(OwaError::UnexpectedPage(format!("the form has no field {name}")));
        }
    }
    Ok(FormBody::encode(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owa::html::Input;

    fn input(name: &str, kind: &str, value: &str) -> Input {
        Input { name: name.into(), kind: kind.into(), value: value.into(), id: String::new() }
    }

    #[test]
    fn every_field_of_the_live_form_is_posted_once() {
        let form = Form {
            name: "logonForm".into(),
            method: "post".into(),
            action: "/owa/auth.owa".into(),
            inputs: vec![
                input("destination", "hidden", "https://mail.example.fr/owa/"),
                input("flags", "hidden", "4"),
                input("forcedownlevel", "hidden", "0"),
                input("username", "text", ""),
                input("password", "password", ""),
                input("passwordText", "text", ""),
                input("trusted", "checkbox", "4"),
                input("go", "submit", "sign in"),
                input("isUtf8", "hidden", "1"),
            ],
            ..Form::default()
        };
        let body = fill_form(&form, &[("username", "a@b.fr"), ("password", "p&q")]).unwrap();
        assert_eq!(
            body.as_str_for_tests(),
            "destination=https%3A%2F%2Fmail.example.fr%2Fowa%2F&flags=4&forcedownlevel=0&\
             username=a%40b.fr&password=p%26q&passwordText=&isUtf8=1"
        );
    }

    #[test]
    fn duplicate_or_missing_fields_are_refused() {
        let mut form = Form {
            inputs: vec![input("username", "text", ""), input("username", "text", "")],
            ..Form::default()
        };
        assert!(matches!(fill_form(&form, &[]), Err(OwaError::UnexpectedPage(_))));
        form.inputs.pop();
        assert!(matches!(
            fill_form(&form, &[("oldPwd", "x")]),
            Err(OwaError::UnexpectedPage(m)) if m.contains("oldPwd")
        ));
    }

    fn labelled(label: &str) -> Page {
        crate::owa::html::read_page(
            format!(
                "<html><body><form name=logonForm><DIV class=signInInputLabel ID=\"UserNameLabel\" \
                 aria-hidden=true>{label}</DIV><input id=Username name=UserName></form></body></html>"
            )
            .as_bytes(),
            super::super::TEXT_IDS,
        )
        .unwrap()
    }

    #[test]
    fn the_logon_format_is_read_from_the_label_in_both_languages() {
        for (label, format, language) in [
            ("Domain\\user name:", Some(LogonFormat::FullDomain), Some("en")),
            ("Domaine\\nom d&#39;utilisateur&#160;:", Some(LogonFormat::FullDomain), Some("fr")),
            ("Domaine\\nom d&rsquo;utilisateur :", Some(LogonFormat::FullDomain), Some("fr")),
            ("Email address:", Some(LogonFormat::PrincipalName), Some("en")),
            ("E-mail address:", Some(LogonFormat::PrincipalName), Some("en")),
            ("Adresse de courrier :", Some(LogonFormat::PrincipalName), Some("fr")),
            ("Adresse de messagerie&nbsp;:", Some(LogonFormat::PrincipalName), Some("fr")),
            ("User name:", Some(LogonFormat::UserName), Some("en")),
            ("Nom d&#39;utilisateur :", Some(LogonFormat::UserName), Some("fr")),
            ("Identifiant", None, None),
        ] {
            let page = labelled(label);
            assert_eq!(logon_format(&page), format, "{label}");
            assert_eq!(language_of_texts(&page), language, "{label}");
        }
        assert_eq!(logon_format(&Page::default()), None);
    }

    #[test]
    fn the_build_is_read_from_resource_paths() {
        assert_eq!(
            version_in_paths(b"<link href=\"/owa/auth/15.1.2507/themes/resources/logon.css\">"),
            Some("15.1.2507".to_owned())
        );
        assert_eq!(version_in_paths(b"/owa/auth/logon.aspx /owa/auth/15/x"), None);
    }
}
