//! Reading Exchange's pages and filling their forms: the user-name format a page asks for, the
//! Exchange build its resource paths name, and the body that posts every field of a live form
//! exactly once.

use crate::owa::html::{Form, Page};
use crate::owa::http::FormBody;

use super::{LogonFormat, OwaError, USER_LABEL_ID};

/// The user-name format a page asks for, from its label ("Domain\\user name" or an address).
pub(super) fn logon_format(page: &Page) -> Option<LogonFormat> {
    let label = page.text(USER_LABEL_ID)?;
    Some(if label.contains('\\') { LogonFormat::FullDomain } else { LogonFormat::PrincipalName })
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

    #[test]
    fn the_build_is_read_from_resource_paths() {
        assert_eq!(
            version_in_paths(b"<link href=\"/owa/auth/15.1.2507/themes/resources/logon.css\">"),
            Some("15.1.2507".to_owned())
        );
        assert_eq!(version_in_paths(b"/owa/auth/logon.aspx /owa/auth/15/x"), None);
    }
}
