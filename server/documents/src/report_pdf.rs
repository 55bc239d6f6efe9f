//! The compliance report as a PDF in French, dated, that an auditor can file: the rule, the
//! fleet's summary, one section per office with its mailboxes that do not comply and since when,
//! and the audit chain's head so the report can be tied to the audit log.

use crate::pdf::{MARGIN, PAGE_WIDTH, Page, date_fr, document, wrap};
use crate::report::{ComplianceReportDoc, MailboxLine, Rule, StateCount};
use crate::{optional_rfc3339, rfc3339};

/// Lowest baseline before a new page starts.
const BOTTOM: f32 = 70.0;

/// How many characters of Helvetica at `size` points fit in `points`: its wide letters (m, w,
/// capitals) are about 0.8 em and its narrow ones 0.25, names and addresses average under 0.55.
fn line_chars(size: f32, points: f32) -> usize {
    (points / (size * 0.55)).floor().max(10.0) as usize
}

/// "2026-03-01T23:59:59.999999Z" → "01/03/2026 23:59 UTC"; empty stays empty.
fn datetime_fr(rfc3339: &str) -> String {
    if rfc3339.is_empty() {
        return String::new();
    }
    let time = rfc3339.get(11..16).unwrap_or("");
    format!("{} {time} UTC", date_fr(rfc3339))
}

fn percent(compliant: u64, total: u64) -> String {
    if total == 0 {
        return "-".to_owned();
    }
    format!("{:.1}", compliant as f64 * 100.0 / total as f64).replace('.', ",")
}

fn counts_fr(counts: &[StateCount]) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|c| c.mailboxes > 0)
        .map(|c| format!("{} : {}", c.state.name_fr(), c.mailboxes))
        .collect();
    if parts.is_empty() { "aucune boîte".to_owned() } else { parts.join(" ; ") }
}

/// Pages written one after the other, a new one when the current is full.
struct Pages {
    done: Vec<Page>,
    page: Page,
    footer: String,
}

impl Pages {
    fn new(footer: String) -> Pages {
        Pages { done: Vec::new(), page: Page::new(), footer }
    }

    /// Makes room for `lines` lines of text, starting a new page if needed.
    fn room(&mut self, lines: f32) {
        if self.page.y - lines * 15.0 < BOTTOM {
            self.turn();
        }
    }

    fn turn(&mut self) {
        let full = std::mem::replace(&mut self.page, Page::new());
        self.done.push(full);
    }

    fn text(&mut self, font: &[u8], size: f32, x: f32, text: &str) {
        self.room(1.0);
        self.page.text(font, size, x, text);
    }

    fn paragraph(&mut self, size: f32, text: &str) {
        self.room(2.0);
        self.page.paragraph(b"F1", size, text);
    }

    /// `text` from `x`, wrapped to the right margin; the lines after the first indented further,
    /// so that each entry of a list stands out.
    fn wrapped(&mut self, font: &[u8], size: f32, x: f32, text: &str) {
        let indent = 12.0;
        let width = line_chars(size, PAGE_WIDTH - MARGIN - x - indent);
        for (n, line) in wrap(text, width).iter().enumerate() {
            self.text(font, size, if n == 0 { x } else { x + indent }, line);
        }
    }

    fn finish(mut self) -> Vec<Page> {
        self.done.push(self.page);
        let total = self.done.len();
        for (n, page) in self.done.iter_mut().enumerate() {
            page.y = BOTTOM - 30.0;
            page.text(b"F1", 8.0, MARGIN, &format!("{} - page {}/{total}", self.footer, n + 1));
        }
        self.done
    }
}

/// The report as a PDF, stating `rule` (the global policy) and made by the server at `server`.
pub fn render(report: &ComplianceReportDoc, rule: &Rule, server: &str) -> Vec<u8> {
    let at = datetime_fr(&rfc3339(report.at));
    let mut pages = Pages::new(format!("Sesame - rapport de conformité au {at}"));
    pages.text(b"F2", 16.0, MARGIN, "Rapport de conformité des mots de passe MAILNOT");
    pages.text(b"F1", 11.0, MARGIN, &format!("Situation au {at}"));
    pages.text(
        b"F1",
        9.0,
        MARGIN,
        &format!(
            "Établi le {} par le serveur Sesame {server}",
            datetime_fr(&optional_rfc3339(report.generated_at))
        ),
    );
    pages.page.gap(8.0);
    pages.paragraph(
        10.0,
        &format!(
            "Règle générale : chaque mot de passe est changé au plus tard {} jours après le dernier \
             changement vérifié (ou après l'inscription de la boîte) ; l'échéance est signalée {} \
             jours avant ; un poste sans nouvelles depuis {} jours est considéré hors ligne. Un \
             office peut avoir sa propre règle. Sont conformes les boîtes « conforme » et « échéance \
             proche ».",
            rule.limit_days, rule.due_soon_days, rule.offline_days
        ),
    );
    let head = report.head.as_ref();
    pages.paragraph(
        9.0,
        &format!(
            "Journal d'audit : ce rapport a été établi quand le dernier enregistrement du journal \
             était le n° {}, d'empreinte SHA-256 {}, signé le {} par la clé d'audit du serveur \
             (identifiant {}). La commande « sesamectl audit verify » vérifie la chaîne et ses \
             signatures jusqu'à cet enregistrement.",
            head.map_or(0, |h| h.seq),
            head.map_or("", |h| h.hash.as_str()),
            datetime_fr(&optional_rfc3339(head.map(|h| h.signed_at))),
            head.map_or("", |h| h.key_id.as_str())
        ),
    );
    let signature = head.map_or("", |h| h.signature.as_str());
    pages.text(b"F1", 7.0, MARGIN, &format!("Signature Ed25519 : {signature}"));
    pages.page.gap(6.0);
    pages.text(b"F2", 13.0, MARGIN, "Synthèse");
    pages.text(
        b"F1",
        10.0,
        MARGIN,
        &format!(
            "{} office(s), {} boîte(s) : {} conforme(s), soit {} % ; {} office(s) entièrement conforme(s).",
            report.offices_reported,
            report.mailboxes,
            report.compliant,
            percent(report.compliant, report.mailboxes),
            report.offices_compliant
        ),
    );
    pages.paragraph(10.0, &format!("Par état : {}.", counts_fr(&report.counts)));
    if let Some(oldest) = report.oldest_verified_change_at {
        pages.text(
            b"F1",
            10.0,
            MARGIN,
            &format!("Plus ancien changement vérifié : {}", date_fr(&rfc3339(oldest))),
        );
    }
    for office in &report.offices {
        pages.room(6.0);
        pages.page.gap(10.0);
        pages.wrapped(b"F2", 12.0, MARGIN, &format!("Office {} - {}", office.crpcen, office.name));
        let mut summary = format!(
            "{} boîte(s), {} conforme(s) ({} %).",
            office.mailboxes,
            office.compliant,
            percent(office.compliant, office.mailboxes)
        );
        if let Some(late_since) = office.late_since {
            summary.push_str(&format!(" En retard depuis le {}.", date_fr(&rfc3339(late_since))));
        }
        pages.text(b"F1", 10.0, MARGIN, &summary);
        pages.paragraph(10.0, &format!("Par état : {}.", counts_fr(&office.counts)));
        let oldest = match office.oldest_verified_change_at {
            None => "aucun".to_owned(),
            Some(at) => date_fr(&rfc3339(at)),
        };
        pages.text(
            b"F1",
            10.0,
            MARGIN,
            &format!(
                "Plus ancien changement vérifié : {oldest} ; jamais changée(s) par Sesame : {}",
                office.never_changed
            ),
        );
        let late: Vec<&MailboxLine> =
            office.mailbox_states.iter().filter(|m| m.non_compliant_since.is_some()).collect();
        if !late.is_empty() {
            pages.text(
                b"F2",
                10.0,
                MARGIN,
                "Boîtes non conformes (personne, adresse, état, depuis, non conforme depuis)",
            );
            for m in late {
                pages.wrapped(b"F1", 9.0, MARGIN + 10.0, &mailbox_line(m));
            }
        }
    }
    document(pages.finish())
}

/// A mailbox that does not comply: who, which address, its state and since when.
fn mailbox_line(m: &MailboxLine) -> String {
    let reason = if m.reason.is_empty() { String::new() } else { format!(" ({})", m.reason) };
    let who = if m.display_name.trim().is_empty() {
        m.address.clone()
    } else {
        format!("{} <{}>", m.display_name.trim(), m.address)
    };
    format!(
        "{who} - {}{reason} - depuis le {} - non conforme depuis le {}",
        m.state.name_fr(),
        date_fr(&optional_rfc3339(m.since)),
        date_fr(&optional_rfc3339(m.non_compliant_since))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings a PDF shows (`(…) Tj` or, with letters outside ASCII, `<hex> Tj`), in order,
    /// as WinAnsi bytes decoded (Latin-1 for the letters these tests use).
    fn shown(pdf: &[u8]) -> Vec<String> {
        let text: String = pdf.iter().map(|&b| b as char).collect();
        let mut lines = Vec::new();
        for shown in text.split(" Tj").map(str::trim_end) {
            if let Some((_, hex)) = shown.rsplit_once('<').filter(|_| shown.ends_with('>')) {
                let hex = &hex[..hex.len() - 1];
                let bytes = (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap() as char);
                lines.push(bytes.collect());
            } else if let Some(start) = shown.rfind("\n(").or_else(|| shown.rfind('(')) {
                let start = if shown[start..].starts_with("\n(") { start + 1 } else { start };
                lines.push(shown[start + 1..shown.len().saturating_sub(1)].to_owned());
            }
        }
        lines
    }

    #[test]
    fn long_mailbox_lines_wrap_and_name_the_person() {
        use time::macros::datetime;

        use crate::report::{MailboxLine, OfficeLine, State};
        let at = datetime!(2026-12-07 10:00 UTC);
        let address = format!("{}.marie-christine@01234.mailnot.fr", "de-la-fontaine-".repeat(4));
        let office = OfficeLine {
            crpcen: "01234".into(),
            name: "Office notarial des Bords de Saône et des Monts du Lyonnais réunis".repeat(2),
            mailboxes: 1,
            compliant: 0,
            counts: Vec::new(),
            oldest_verified_change_at: None,
            never_changed: 1,
            late_since: Some(at),
            mailbox_states: vec![MailboxLine {
                address: address.clone(),
                display_name: "Marie-Christine de La Fontaine-Saint-Exupéry".into(),
                state: State::Overdue,
                reason: String::new(),
                since: Some(at),
                non_compliant_since: Some(at),
                last_verified_change_at: None,
            }],
        };
        let report = ComplianceReportDoc {
            at,
            generated_at: Some(at),
            mailboxes: 1,
            compliant: 0,
            counts: Vec::new(),
            offices_compliant: 0,
            offices_reported: 1,
            oldest_verified_change_at: None,
            offices: vec![office],
            head: None,
        };
        let rule = Rule { due_soon_days: 14, limit_days: 90, offline_days: 30 };
        let lines = shown(&render(&report, &rule, "sesame.example"));
        let all = lines.concat();
        assert!(all.contains("Marie-Christine de La Fontaine-Saint-Exup"), "{lines:?}");
        assert!(all.replace(' ', "").contains(&address.replace(' ', "")), "{lines:?}");
        assert!(all.contains("non conforme depuis le 07/12/2026"), "the date is whole: {lines:?}");
        for line in &lines {
            assert!(line.chars().count() <= line_chars(9.0, PAGE_WIDTH - 2.0 * MARGIN), "{line}");
        }
    }

    #[test]
    fn dates_and_shares_read_in_french() {
        assert_eq!(datetime_fr("2026-03-01T23:59:59.999999Z"), "01/03/2026 23:59 UTC");
        assert_eq!(datetime_fr(""), "");
        assert_eq!(percent(1, 3), "33,3");
        assert_eq!(percent(0, 0), "-");
        assert_eq!(crate::report::State::Overdue.name_fr(), "en retard");
    }
}
