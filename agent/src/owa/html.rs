//! Reading OWA pages without trusting them: a linear, bounded scan of HTML that extracts forms
//! (action, method, every input with its type and value), the marker comments Exchange puts in
//! its pages, and the text of elements identified by id (error messages).
//!
//! It builds no tree and never recurses, so nesting depth costs nothing (a page nested 100,000
//! deep is read in one pass), and it refuses input larger than [`MAX_PAGE_BYTES`]. Character
//! references are decoded in attribute values and texts (`owa::entities`). Element ids are
//! matched ignoring ASCII case (`id="Username"` is `username`), as are form and field names. The
//! OWA client uses it to post "every field of the live form exactly once".

use crate::owa::entities::decode as decode_entities;

/// Largest page accepted, in bytes.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// Most forms, and most inputs per form, kept from one page.
const MAX_FORMS: usize = 16;
const MAX_INPUTS: usize = 64;

/// Why a page was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HtmlError {
    /// The page is larger than [`MAX_PAGE_BYTES`].
    #[error("the page is larger than 2 MiB")]
    TooLarge,
}

/// One `<input>` (or `<button>`/`<select>`/`<textarea>` with a name) of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Its `name`.
    pub name: String,
    /// Its `type`, lower-case (`text` when absent).
    pub kind: String,
    /// Its `value` (entities decoded).
    pub value: String,
    /// Its `id`.
    pub id: String,
}

/// A form as the page declares it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    /// Its `name` attribute.
    pub name: String,
    /// Its `id` attribute.
    pub id: String,
    /// Its `action`, as written (resolve it against the page's URL before use).
    pub action: String,
    /// Its `method`, lower-case (`get` when absent).
    pub method: String,
    /// Its named inputs, in order.
    pub inputs: Vec<Input>,
}

impl Form {
    /// The input with this name.
    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name.eq_ignore_ascii_case(name))
    }
}

/// What was read from a page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The forms, in order.
    pub forms: Vec<Form>,
    /// The contents of the HTML comments (trimmed), e.g. `OwaPage = ASP.auth_logon_aspx`.
    pub comments: Vec<String>,
    /// `(id, text)` of elements with an id, for the ids asked for (spelt as asked for).
    pub texts: Vec<(String, String)>,
    /// The `lang` of the `<html>` element (`fr`, `en-US`), empty when absent.
    pub lang: String,
}

impl Page {
    /// The form with this name or id.
    pub fn form(&self, name_or_id: &str) -> Option<&Form> {
        self.forms.iter().find(|f| {
            f.name.eq_ignore_ascii_case(name_or_id) || f.id.eq_ignore_ascii_case(name_or_id)
        })
    }

    /// Whether a comment contains this text.
    pub fn has_comment(&self, needle: &str) -> bool {
        self.comments.iter().any(|c| c.contains(needle))
    }

    /// The text of the element with this id (ignoring ASCII case), if it was asked for and found.
    pub fn text(&self, id: &str) -> Option<&str> {
        self.texts.iter().find(|(i, _)| i.eq_ignore_ascii_case(id)).map(|(_, t)| t.as_str())
    }
}

/// Parses the attributes of a tag body (`name="x" type=hidden value='y' disabled`).
fn attributes(body: &str) -> Vec<(String, String)> {
    let bytes = body.as_bytes();
    let mut attrs = Vec::new();
    let mut i = 0;
    while i < bytes.len() && attrs.len() < 64 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'/')
        {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = body[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                i += 1;
                let vstart = i;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = decode_entities(&body[vstart..i]);
                i += 1;
            } else {
                let vstart = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = decode_entities(&body[vstart..i]);
            }
        }
        attrs.push((name, value));
    }
    attrs
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
    attrs.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
}

/// The first position of `needle` (ASCII, lower-case) in `haystack`, ignoring ASCII case. Stops
/// at the first match, so skipping successive elements stays linear overall.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

/// Reads a page in one linear pass, collecting the text of the elements whose ids are in
/// `text_ids`.
pub fn read_page(html: &[u8], text_ids: &[&str]) -> Result<Page, HtmlError> {
    if html.len() > MAX_PAGE_BYTES {
        return Err(HtmlError::TooLarge);
    }
    let html = String::from_utf8_lossy(html);
    let mut page = Page::default();
    let mut current: Option<Form> = None;
    // The element whose text is being collected: (id, tag name, text).
    let mut collecting: Option<(String, String, String)> = None;
    let mut rest: &str = &html;
    while let Some(lt) = rest.find('<') {
        if let Some((_, _, text)) = collecting.as_mut() {
            text.push_str(&rest[..lt]);
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").unwrap_or(after.len());
            if page.comments.len() < 64 {
                page.comments.push(after[..end].trim().chars().take(200).collect());
            }
            rest = after.get(end + 3..).unwrap_or("");
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let (closing, tag) = match tag.strip_prefix('/') {
            Some(t) => (true, t),
            None => (false, tag),
        };
        let name_end = tag.find(|c: char| c.is_ascii_whitespace() || c == '/').unwrap_or(tag.len());
        let name = tag[..name_end].to_ascii_lowercase();
        if closing {
            if name == "form" {
                if let Some(form) = current.take()
                    && page.forms.len() < MAX_FORMS
                {
                    page.forms.push(form);
                }
            } else if collecting.as_ref().is_some_and(|(_, t, _)| *t == name)
                && let Some((id, _, text)) = collecting.take()
            {
                let text = decode_entities(&text.split_whitespace().collect::<Vec<_>>().join(" "));
                page.texts.push((id, text));
            }
            continue;
        }
        // Script and style bodies are not markup.
        if name == "script" || name == "style" {
            let end = find_ignore_case(rest.as_bytes(), format!("</{name}").as_bytes())
                .unwrap_or(rest.len());
            rest = rest.get(end..).unwrap_or("");
            continue;
        }
        let attrs = attributes(&tag[name_end..]);
        match name.as_str() {
            "html" if page.lang.is_empty() => {
                page.lang = attr(&attrs, "lang").chars().take(16).collect();
            }
            "form" => {
                if let Some(form) = current.take()
                    && page.forms.len() < MAX_FORMS
                {
                    page.forms.push(form);
                }
                let method = attr(&attrs, "method").to_ascii_lowercase();
                current = Some(Form {
                    name: attr(&attrs, "name").to_owned(),
                    id: attr(&attrs, "id").to_owned(),
                    action: attr(&attrs, "action").to_owned(),
                    method: if method.is_empty() { "get".to_owned() } else { method },
                    inputs: Vec::new(),
                });
            }
            "input" | "button" | "select" | "textarea" => {
                if let Some(form) = current.as_mut()
                    && !attr(&attrs, "name").is_empty()
                    && form.inputs.len() < MAX_INPUTS
                {
                    let kind = attr(&attrs, "type").to_ascii_lowercase();
                    form.inputs.push(Input {
                        name: attr(&attrs, "name").to_owned(),
                        kind: if kind.is_empty() {
                            if name == "input" { "text".to_owned() } else { name.clone() }
                        } else {
                            kind
                        },
                        value: attr(&attrs, "value").to_owned(),
                        id: attr(&attrs, "id").to_owned(),
                    });
                }
            }
            _ => {}
        }
        let id = attr(&attrs, "id");
        if collecting.is_none()
            && !id.is_empty()
            && let Some(wanted) = text_ids.iter().find(|wanted| wanted.eq_ignore_ascii_case(id))
        {
            collecting = Some(((*wanted).to_owned(), name, String::new()));
        }
    }
    if let Some(form) = current.take()
        && page.forms.len() < MAX_FORMS
    {
        page.forms.push(form);
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGON: &str = r#"<!DOCTYPE html><html><head><title>Outlook</title>
<!-- {57A118C6-2DA9-419d-BE9A-F92B0F9A418B} -->
<script>function clkLgn(){ if (a < b && "<form>") {} }</script></head><body>
<form action="/owa/auth.owa" method="POST" name="logonForm" ENCTYPE="application/x-www-form-urlencoded" autocomplete="off">
<input type="hidden" name="destination" value="https://mail.example.fr/owa/">
<input type="hidden" name="flags" value="4"><input type="hidden" name="forcedownlevel" value="0">
<input id="username" name="username" type="text" class="signInInputText" role="textbox">
<input id="password" name="password" type="password" onfocus="g_fFcs=0">
<input id="passwordText" name="passwordText" type="text" style="display: none;">
<div id="signInErrorDiv" class="signInError" role="alert">The user name or password you entered isn&#39;t correct. <b>Try</b> again.</div>
<input name="isUtf8" value="1" type="hidden"/>
</form>
<!-- OwaPage = ASP.auth_logon_aspx -->
</body></html>"#;

    #[test]
    fn the_logon_form_and_its_markers_are_read() {
        let page = read_page(LOGON.as_bytes(), &["signInErrorDiv"]).unwrap();
        assert_eq!(page.forms.len(), 1, "the '<form>' inside the script is not a form");
        let form = page.form("logonForm").unwrap();
        assert_eq!((form.action.as_str(), form.method.as_str()), ("/owa/auth.owa", "post"));
        let names: Vec<&str> = form.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "destination",
                "flags",
                "forcedownlevel",
                "username",
                "password",
                "passwordText",
                "isUtf8"
            ]
        );
        assert_eq!(form.input("destination").unwrap().value, "https://mail.example.fr/owa/");
        assert_eq!(form.input("password").unwrap().kind, "password");
        assert_eq!(form.input("isUtf8").unwrap().value, "1");
        assert!(page.has_comment("{57A118C6-2DA9-419d-BE9A-F92B0F9A418B}"));
        assert!(page.has_comment("OwaPage = ASP.auth_logon_aspx"));
        assert_eq!(
            page.text("signInErrorDiv"),
            Some("The user name or password you entered isn't correct. Try again.")
        );
    }

    #[test]
    fn entities_and_unquoted_attributes_are_decoded() {
        let page = read_page(b"<form action=expiredpassword.aspx?url=%2fowa&amp;x=1 method=post><input name=url value=/owa/auth.owa type=hidden></form>", &[]).unwrap();
        assert_eq!(page.forms[0].action, "expiredpassword.aspx?url=%2fowa&x=1");
        assert_eq!(page.forms[0].inputs[0].value, "/owa/auth.owa");
        assert_eq!(decode_entities("&lt;&#x41;&#66;&bogus;&"), "<AB&bogus;&");
    }

    #[test]
    fn hostile_pages_are_bounded() {
        // 100,000 levels of nesting: one linear pass, no recursion.
        let deep = format!(
            "{}<form name=f><input name=a></form>{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(read_page(deep.as_bytes(), &[]).unwrap().forms[0].inputs.len(), 1);
        // Too large: refused before any work.
        assert_eq!(read_page(&vec![b'a'; MAX_PAGE_BYTES + 1], &[]), Err(HtmlError::TooLarge));
        // Thousands of forms and inputs: only the first ones are kept.
        let many = "<form name=x>".to_owned()
            + &"<input name=i>".repeat(10_000)
            + &"<form name=y>".repeat(1_000);
        let page = read_page(many.as_bytes(), &[]).unwrap();
        assert_eq!(page.forms.len(), MAX_FORMS);
        assert_eq!(page.forms[0].inputs.len(), MAX_INPUTS);
        // A flood of script tags is skipped in one pass, not one pass per tag.
        let scripts = "<script>x</script>".repeat(100_000) + "<form name=s></form>";
        assert_eq!(read_page(scripts.as_bytes(), &[]).unwrap().forms.len(), 1);
        // Unterminated tags and comments end the scan cleanly.
        assert!(read_page(b"<form name=a><input name=b <!-- never closed", &[]).is_ok());
        assert!(read_page("<<<<>>>>é<\u{0}>".as_bytes(), &[]).is_ok());
    }
}
