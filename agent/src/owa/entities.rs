//! Decoding HTML character references in untrusted pages, so that texts are matched as a person
//! reads them: .NET writes `é` as `&#233;` (`HttpUtility.HtmlEncode` encodes every character from
//! U+00A0 to U+00FF numerically), other servers as `&eacute;` or `&#xE9;`.
//!
//! Decoded: every numeric reference (decimal or hexadecimal, with the HTML rules for the code
//! points that are not characters: NUL, surrogates and values past U+10FFFF become U+FFFD, and
//! 0x80–0x9F are read as Windows-1252, as browsers do), and the named references of the Latin-1
//! set plus `&amp; &lt; &gt; &quot; &apos;` and a few typographic ones French texts use. A
//! reference must end with `;`; anything else (an unknown name, a missing `;`, a number too long)
//! is left as written. One linear pass; the output is never longer than the input (a reference
//! takes at least 4 bytes, a character at most 4), and no reference is looked at beyond
//! [`MAX_REFERENCE`] bytes.

/// The longest reference looked at, `&` and `;` included (`&#4294967295;` fits).
const MAX_REFERENCE: usize = 13;

/// Named references and their characters: the HTML 4 Latin-1 set (U+00A0–U+00FF), the XML five,
/// and the typographic ones French texts use.
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("iexcl", '¡'),
    ("cent", '¢'),
    ("pound", '£'),
    ("curren", '¤'),
    ("yen", '¥'),
    ("brvbar", '¦'),
    ("sect", '§'),
    ("uml", '¨'),
    ("copy", '©'),
    ("ordf", 'ª'),
    ("laquo", '«'),
    ("not", '¬'),
    ("shy", '\u{ad}'),
    ("reg", '®'),
    ("macr", '¯'),
    ("deg", '°'),
    ("plusmn", '±'),
    ("sup2", '²'),
    ("sup3", '³'),
    ("acute", '´'),
    ("micro", 'µ'),
    ("para", '¶'),
    ("middot", '·'),
    ("cedil", '¸'),
    ("sup1", '¹'),
    ("ordm", 'º'),
    ("raquo", '»'),
    ("frac14", '¼'),
    ("frac12", '½'),
    ("frac34", '¾'),
    ("iquest", '¿'),
    ("Agrave", 'À'),
    ("Aacute", 'Á'),
    ("Acirc", 'Â'),
    ("Atilde", 'Ã'),
    ("Auml", 'Ä'),
    ("Aring", 'Å'),
    ("AElig", 'Æ'),
    ("Ccedil", 'Ç'),
    ("Egrave", 'È'),
    ("Eacute", 'É'),
    ("Ecirc", 'Ê'),
    ("Euml", 'Ë'),
    ("Igrave", 'Ì'),
    ("Iacute", 'Í'),
    ("Icirc", 'Î'),
    ("Iuml", 'Ï'),
    ("ETH", 'Ð'),
    ("Ntilde", 'Ñ'),
    ("Ograve", 'Ò'),
    ("Oacute", 'Ó'),
    ("Ocirc", 'Ô'),
    ("Otilde", 'Õ'),
    ("Ouml", 'Ö'),
    ("times", '×'),
    ("Oslash", 'Ø'),
    ("Ugrave", 'Ù'),
    ("Uacute", 'Ú'),
    ("Ucirc", 'Û'),
    ("Uuml", 'Ü'),
    ("Yacute", 'Ý'),
    ("THORN", 'Þ'),
    ("szlig", 'ß'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("atilde", 'ã'),
    ("auml", 'ä'),
    ("aring", 'å'),
    ("aelig", 'æ'),
    ("ccedil", 'ç'),
    ("egrave", 'è'),
    ("eacute", 'é'),
    ("ecirc", 'ê'),
    ("euml", 'ë'),
    ("igrave", 'ì'),
    ("iacute", 'í'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("eth", 'ð'),
    ("ntilde", 'ñ'),
    ("ograve", 'ò'),
    ("oacute", 'ó'),
    ("ocirc", 'ô'),
    ("otilde", 'õ'),
    ("ouml", 'ö'),
    ("divide", '÷'),
    ("oslash", 'ø'),
    ("ugrave", 'ù'),
    ("uacute", 'ú'),
    ("ucirc", 'û'),
    ("uuml", 'ü'),
    ("yacute", 'ý'),
    ("thorn", 'þ'),
    ("yuml", 'ÿ'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Yuml", 'Ÿ'),
    ("euro", '€'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("hellip", '…'),
    ("thinsp", '\u{2009}'),
];

/// What browsers read for the C1 code points 0x80–0x9F given numerically (Windows-1252).
const WINDOWS_1252: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// The character a numeric reference's digits (after `#`) stand for; `None` if they are not a
/// number.
fn numeric(digits: &str) -> Option<char> {
    let (digits, radix) = match digits.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16),
        None => (digits, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // At most 9 hexadecimal or 11 decimal digits reach here (MAX_REFERENCE): u64 cannot overflow.
    let code = u64::from_str_radix(digits, radix).ok()?;
    Some(match u32::try_from(code) {
        Ok(0) | Err(_) => char::REPLACEMENT_CHARACTER,
        Ok(c @ 0x80..=0x9f) => WINDOWS_1252[(c - 0x80) as usize],
        Ok(c) => char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER),
    })
}

/// The character the reference body (between `&` and `;`) stands for.
fn reference(body: &str) -> Option<char> {
    match body.strip_prefix('#') {
        Some(digits) => numeric(digits),
        None => NAMED.iter().find(|(name, _)| *name == body).map(|(_, c)| *c),
    }
}

/// `raw` with its character references decoded (see the module's documentation).
pub fn decode(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // `&` and `;` are ASCII, so these byte offsets are character boundaries.
        let window = &rest.as_bytes()[..rest.len().min(MAX_REFERENCE)];
        let decoded = window
            .iter()
            .position(|b| *b == b';')
            .and_then(|end| Some((reference(&rest[1..end])?, end + 1)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dotnet_and_named_references_are_decoded() {
        assert_eq!(
            decode("Votre mot de passe a &#233;t&#233; modifi&#233;."),
            "Votre mot de passe a été modifié."
        );
        assert_eq!(decode("&eacute;&Eacute;&#xE9;&#XE9;&#xe9;&agrave;&ccedil;&oelig;"), "éÉéééàçœ");
        assert_eq!(decode("isn&#39;t &amp; &lt;b&gt; &quot;x&quot; &apos;"), "isn't & <b> \"x\" '");
        assert_eq!(decode("nom&nbsp;:"), "nom\u{a0}:");
        assert_eq!(decode("&#146;&#128;"), "’€", "C1 code points read as Windows-1252");
        assert_eq!(
            decode("&#0;&#xD800;&#x110000;&#4294967295;"),
            "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn anything_else_is_left_as_written() {
        for text in [
            "&",
            "&;",
            "&#;",
            "&#x;",
            "&bogus;",
            "&eacute",
            "& eacute;",
            "&#12a;",
            "&#x0000000000e9;",
            "&#42949672960;",
            "a&&b",
            "&é;",
        ] {
            assert_eq!(decode(text), text);
        }
        assert_eq!(decode("&&amp;"), "&&");
        assert_eq!(decode("&lt&gt;"), "&lt>");
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_bounded(text in ".{0,200}") {
            let out = decode(&text);
            prop_assert!(out.len() <= text.len());
        }

        #[test]
        fn reference_soup_never_panics(parts in proptest::collection::vec(
            prop_oneof![
                Just("&".to_owned()), Just(";".to_owned()), Just("#".to_owned()),
                Just("x".to_owned()), Just("é".to_owned()), "[0-9a-fA-F]{1,12}",
                "[a-zA-Z]{1,8}",
            ], 0..40)) {
            let text = parts.concat();
            let out = decode(&text);
            prop_assert!(out.len() <= text.len());
            if !text.contains('&') { prop_assert_eq!(out, text); }
        }
    }
}
