//! The PDF primitives the documents (the letters, the compliance report) share: A4 pages
//! written top-down in the standard Helvetica and Courier fonts, in WinAnsi encoding, so that a
//! document needs no font file and prints anywhere.
//!
//! Fonts: `F1` Helvetica, `F2` Helvetica-Bold, `F3` Courier-Bold.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

pub(crate) const PAGE_WIDTH: f32 = 595.0;
pub(crate) const PAGE_HEIGHT: f32 = 842.0;
pub(crate) const MARGIN: f32 = 60.0;
pub(crate) const WRAP: usize = 88;
/// The lowest a line's baseline may go, from the bottom of the page, before a page is full.
pub(crate) const BOTTOM: f32 = 40.0;

/// Encodes text in WinAnsi (Windows-1252), the encoding of the standard PDF fonts.
pub(crate) fn winansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            '\u{a0}'..='\u{ff}' | ' '..='~' => c as u8,
            _ => b'?',
        })
        .collect()
}

/// The text in lines of at most `width` characters, broken between words; a word longer than a
/// line (an address, a hash) is cut where the line ends.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        words.extend(chars.chunks(width).map(|c| c.iter().collect::<String>()));
    }
    for word in &words {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The width of `c` in Helvetica, in ems, rounded up (the standard fonts' metrics, by class):
/// enough to wrap a line before it leaves the page, whatever its letters.
fn helvetica_em(c: char) -> f32 {
    match c {
        ' ' | 'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | 'í' | 'ì' | 'î'
        | 'ï' => 0.28,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '-' | '/' => 0.34,
        'm' | 'M' | 'W' | '%' | '@' | 'Æ' | 'Œ' | 'æ' | 'œ' => 1.02,
        'w' => 0.73,
        'a'..='z' | '0'..='9' | '\u{e0}'..='\u{ff}' => 0.56,
        _ => 0.78,
    }
}

/// The width of `text` in points, in `font` at `size` (`F3`, Courier, is monospaced; the bold
/// Helvetica is taken a tenth wider than the regular).
pub(crate) fn width(font: &[u8], size: f32, text: &str) -> f32 {
    let ems: f32 = match font {
        b"F3" => 0.6 * text.chars().count() as f32,
        b"F2" => 1.1 * text.chars().map(helvetica_em).sum::<f32>(),
        _ => text.chars().map(helvetica_em).sum(),
    };
    ems * size
}

/// `text` cut into lines no wider than `max` points: at spaces, and inside a word that is wider
/// than a line by itself.
pub(crate) fn wrap_to(font: &[u8], size: f32, max: f32, text: &str) -> Vec<String> {
    let fits = |line: &str| width(font, size, line) <= max;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let joined = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if !fits(&line) && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Writes text top-down on a page.
pub(crate) struct Page {
    content: Content,
    /// The baseline of the next line, from the bottom of the page.
    pub(crate) y: f32,
}

impl Page {
    pub(crate) fn new() -> Page {
        Page { content: Content::new(), y: PAGE_HEIGHT - MARGIN }
    }

    pub(crate) fn text(&mut self, font: &[u8], size: f32, x: f32, text: &str) {
        self.content.begin_text();
        self.content.set_font(Name(font), size);
        self.content.next_line(x, self.y);
        self.content.show(Str(&winansi(text)));
        self.content.end_text();
        self.y -= size * 1.45;
    }

    pub(crate) fn paragraph(&mut self, font: &[u8], size: f32, text: &str) {
        for line in wrap(text, WRAP) {
            self.text(font, size, MARGIN, &line);
        }
        self.y -= size * 0.5;
    }

    /// `text` from `x`, wrapped to the right margin (see [`wrap_to`]).
    pub(crate) fn lines(&mut self, font: &[u8], size: f32, x: f32, text: &str) {
        for line in wrap_to(font, size, PAGE_WIDTH - MARGIN - x, text) {
            self.text(font, size, x, &line);
        }
    }

    /// A password in Courier from `x`: at `size` when it fits on the line, else smaller (down to
    /// 10 points), cut into lines when it does not fit even then. Never wrapped at its spaces.
    pub(crate) fn password(&mut self, x: f32, size: f32, text: &str) {
        let room = PAGE_WIDTH - MARGIN - x;
        let size = (room / (0.6 * text.chars().count().max(1) as f32)).clamp(10.0, size);
        let per_line = ((room / (0.6 * size)) as usize).max(1);
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(per_line) {
            self.text(b"F3", size, x, &chunk.iter().collect::<String>());
        }
    }

    pub(crate) fn gap(&mut self, points: f32) {
        self.y -= points;
    }
}

pub(crate) fn date_fr(rfc3339: &str) -> String {
    // "2026-12-09T10:00:00Z" → "09/12/2026"
    let date = rfc3339.get(..10).unwrap_or(rfc3339);
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => date.to_owned(),
    }
}

/// A PDF of these pages, in order.
pub(crate) fn document(pages: Vec<Page>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let fonts = [
        (Ref::new(3), b"F1", b"Helvetica".as_slice()),
        (Ref::new(4), b"F2", b"Helvetica-Bold"),
        (Ref::new(5), b"F3", b"Courier-Bold"),
    ];
    let mut next = 6;
    let mut alloc = || {
        next += 1;
        Ref::new(next)
    };
    let pages: Vec<(Ref, Ref, Page)> = pages.into_iter().map(|p| (alloc(), alloc(), p)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|(page, _, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (font, _, base) in &fonts {
        pdf.type1_font(*font).base_font(Name(base)).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (page_id, content_id, content) in pages {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (font, name, _) in &fonts {
            font_dict.pair(Name(*name), *font);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_encoded_for_the_standard_fonts_and_wrapped() {
        assert_eq!(winansi("clé à ç’…"), [b'c', b'l', 0xE9, b' ', 0xE0, b' ', 0xE7, 0x92, 0x85]);
        assert_eq!(winansi("☃"), b"?");
        let lines = wrap(&"mot ".repeat(60), 20);
        assert!(lines.iter().all(|l| l.len() <= 20));
        let long = format!("{}@01234.mailnot.fr - en retard", "tres-long-nom".repeat(8));
        let lines = wrap(&long, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), long.replace(' ', ""));
        assert_eq!(date_fr("2026-12-09T10:00:00Z"), "09/12/2026");
    }

    #[test]
    fn measured_lines_never_leave_the_page() {
        let room = PAGE_WIDTH - 2.0 * MARGIN;
        for text in [
            "ÉTUDE ".repeat(40),
            "W".repeat(300),
            format!("{}@01234.mailnot.fr", "m".repeat(240)),
            "Office notarial Dupont & Associés, Lyon".to_owned(),
        ] {
            for font in [b"F1", b"F2", b"F3"] {
                let lines = wrap_to(font, 12.0, room, &text);
                assert!(lines.iter().all(|l| width(font, 12.0, l) <= room), "{lines:?}");
                let kept: String = lines.concat().split_whitespace().collect();
                let given: String = text.split_whitespace().collect();
                assert_eq!(kept, given, "nothing is lost");
            }
        }
        assert_eq!(wrap_to(b"F1", 10.0, room, "deux mots"), ["deux mots"]);
    }
}
