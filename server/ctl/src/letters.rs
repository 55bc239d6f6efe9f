//! The letters sent to each person, as a PDF: one page per person, in French, with the mailbox,
//! the provisional password, and what to do, rewritten from today's paper letter for Sesame.
//!
//! The PDF uses the standard Helvetica and Courier fonts in WinAnsi encoding, so it needs no font
//! file and prints anywhere.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use sesame_proto::v1 as pb;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 60.0;
const WRAP: usize = 88;

/// Encodes text in WinAnsi (Windows-1252), the encoding of the standard PDF fonts.
fn winansi(text: &str) -> Vec<u8> {
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

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
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

/// Writes text top-down on a page.
struct Page {
    content: Content,
    y: f32,
}

impl Page {
    fn new() -> Page {
        Page { content: Content::new(), y: PAGE_HEIGHT - MARGIN }
    }

    fn text(&mut self, font: &[u8], size: f32, x: f32, text: &str) {
        self.content.begin_text();
        self.content.set_font(Name(font), size);
        self.content.next_line(x, self.y);
        self.content.show(Str(&winansi(text)));
        self.content.end_text();
        self.y -= size * 1.45;
    }

    fn paragraph(&mut self, font: &[u8], size: f32, text: &str) {
        for line in wrap(text, WRAP) {
            self.text(font, size, MARGIN, &line);
        }
        self.y -= size * 0.5;
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }
}

fn date_fr(rfc3339: &str) -> String {
    // "2026-12-09T10:00:00Z" → "09/12/2026"
    let date = rfc3339.get(..10).unwrap_or(rfc3339);
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => date.to_owned(),
    }
}

fn letter(person: &pb::ProvisionalPassword, office: &str, policy: &pb::PasswordPolicy) -> Page {
    let mut page = Page::new();
    page.text(b"F2", 15.0, MARGIN, "Changement de votre mot de passe de messagerie MAILNOT");
    page.text(
        b"F1",
        10.0,
        MARGIN,
        &format!("Office {office} - courrier personnel et confidentiel"),
    );
    page.gap(18.0);
    page.text(b"F1", 12.0, MARGIN, &format!("À l'attention de : {}", person.display_name));
    page.text(b"F1", 12.0, MARGIN, &format!("Adresse MAILNOT : {}", person.mailbox));
    page.gap(6.0);
    page.text(b"F1", 12.0, MARGIN, "Mot de passe provisoire :");
    page.text(b"F3", 16.0, MARGIN + 20.0, &person.provisional_password);
    page.text(
        b"F1",
        10.0,
        MARGIN,
        &format!("Valable jusqu'au {} inclus.", date_fr(&person.expires_at)),
    );
    page.gap(20.0);
    page.text(b"F2", 13.0, MARGIN, "Ce que vous allez faire");
    page.gap(4.0);
    let mut rules = vec![format!("au moins {} caractères", policy.min_length)];
    if policy.require_lower {
        rules.push("une minuscule".into());
    }
    if policy.require_upper {
        rules.push("une majuscule".into());
    }
    if policy.require_digit {
        rules.push("un chiffre".into());
    }
    if policy.require_special {
        rules.push("un caractère spécial (par exemple ! # $ % & * + - = ? @ _)".into());
    }
    let steps = [
        "1. Votre poste de travail vous guide : une fenêtre Sesame s'ouvre pour le changement de votre mot de passe. \
         Gardez ce courrier à portée de main.",
        "2. Quand Sesame vous le demande, RETIREZ VOTRE CLÉ REAL de l'ordinateur. Sesame ne commence rien tant que la \
         clé est branchée.",
        "3. Saisissez le mot de passe provisoire ci-dessus, puis choisissez votre mot de passe PERSONNEL et saisissez-le \
         deux fois.",
        &format!(
            "   Votre mot de passe personnel doit comporter {}, sans accent.",
            rules.join(", ")
        ),
        "4. Sesame change le mot de passe sur la messagerie et vérifie qu'il fonctionne. Retenez bien votre nouveau \
         mot de passe : Outlook vous le demandera dans une fenêtre, saisissez-le et validez.",
        "5. Ne REMETTEZ VOTRE CLÉ REAL qu'à la fin, quand Sesame l'indique et qu'Outlook affiche de nouveau vos \
         messages.",
    ];
    for step in steps {
        page.paragraph(b"F1", 11.0, step);
    }
    page.gap(8.0);
    page.text(b"F2", 12.0, MARGIN, "À savoir");
    page.paragraph(
        b"F1",
        11.0,
        "Votre mot de passe personnel ne quitte jamais votre poste : personne, pas même le service informatique, ne \
         le connaît. Ne le communiquez à personne. Il est conseillé de le changer tous les 90 jours ; Sesame vous le \
         proposera.",
    );
    page.paragraph(
        b"F1",
        11.0,
        "Détruisez ce courrier une fois l'opération terminée. En cas de difficulté, contactez votre administrateur \
         informatique.",
    );
    page
}

/// The letters of an office, one page per person.
pub(crate) fn render(
    office: &str,
    passwords: &[pb::ProvisionalPassword],
    policy: &pb::PasswordPolicy,
) -> Vec<u8> {
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
    let pages: Vec<(Ref, Ref, &pb::ProvisionalPassword)> =
        passwords.iter().map(|p| (alloc(), alloc(), p)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|(page, _, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (font, _, base) in &fonts {
        pdf.type1_font(*font).base_font(Name(base)).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (page_id, content_id, person) in &pages {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (font, name, _) in &fonts {
            font_dict.pair(Name(*name), *font);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        let content = letter(person, office, policy).content.finish();
        pdf.stream(*content_id, &content);
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
        assert_eq!(date_fr("2026-12-09T10:00:00Z"), "09/12/2026");
    }
}
