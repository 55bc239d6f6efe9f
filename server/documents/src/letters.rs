//! The letters sent to each person, as a PDF: one page per person, in French, with the mailbox,
//! the provisional password, and what to do, rewritten from today's paper letter for Sesame.
//!
//! Each letter names the office (its name and city, the CRPCEN as a reference), the day it was
//! printed and until when the password is valid, both in the calendar of whoever prints it (a
//! [`Calendar`] and the time passed in: time is a parameter), and what to do when the window does
//! not open. Whatever the length of the names and addresses (200 characters, 254 for an address,
//! 128 for a password), a letter stays on one page: long lines wrap, words longer than a line are
//! cut, and the text gets smaller when it would not fit.
//!
//! The PDF is laid out by `pdf` (standard fonts, nothing to install). [`Letter`] is also what the
//! export for the mail administrator (`export`) takes.

use secrecy::{ExposeSecret, SecretString};
use sesame_base::calendar::{Calendar, day_fr, moment_fr};
use sesame_base::password_rule::PasswordRule;
use time::OffsetDateTime;

use crate::pdf::{BOTTOM, MARGIN, Page};

/// One person's provisional password, as disclosed for the letters or the export.
#[derive(Debug, Clone)]
pub struct Letter {
    /// The MAILNOT address.
    pub address: String,
    /// The person's name, as the letter addresses them.
    pub display_name: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The provisional password (never in `Debug`).
    pub password: SecretString,
    /// When it runs out.
    pub expires_at: OffsetDateTime,
}

/// The office the letters come from, as the letters name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterOffice {
    /// Its CRPCEN, the reference.
    pub crpcen: String,
    /// Its name ("Office notarial Dupont & Associés").
    pub name: String,
    /// Its city; empty when unknown.
    pub city: String,
}

impl LetterOffice {
    /// "Office notarial Dupont & Associés, Lyon (CRPCEN 14032)"; without the city when it is
    /// unknown.
    pub fn heading(&self) -> String {
        let name = match self.name.trim() {
            "" => "Office notarial",
            name => name,
        };
        match self.city.trim() {
            "" => format!("{name} (CRPCEN {})", self.crpcen),
            city => format!("{name}, {city} (CRPCEN {})", self.crpcen),
        }
    }
}

/// When and where the letters are printed: the time the command runs and the calendar (time
/// zone) of whoever prints them.
#[derive(Debug, Clone, Copy)]
pub struct Printing<'a> {
    /// When they are printed.
    pub at: OffsetDateTime,
    /// The printer's calendar: the day printed and the expiry are written in it.
    pub calendar: &'a dyn Calendar,
}

/// What every letter of one printing shares.
struct Common<'a> {
    office: &'a str,
    printed_on: String,
    policy: &'a PasswordRule,
    calendar: &'a dyn Calendar,
}

/// Body sizes tried in turn until the letter fits on its page.
const BODY_SIZES: [f32; 5] = [11.0, 10.0, 9.0, 8.0, 7.0];

fn letter(person: &Letter, common: &Common<'_>) -> Page {
    let mut last = Page::new();
    for body in BODY_SIZES {
        let page = letter_at(person, common, body);
        if page.y >= BOTTOM {
            return page;
        }
        last = page;
    }
    last
}

/// Body text, wrapped to the margins, then a little space.
fn paragraph(page: &mut Page, size: f32, text: &str) {
    page.lines(b"F1", size, MARGIN, text);
    page.gap(size * 0.5);
}

fn letter_at(person: &Letter, common: &Common<'_>, body: f32) -> Page {
    let policy = common.policy;
    let big = body + 1.0;
    let mut page = Page::new();
    page.text(b"F2", body + 4.0, MARGIN, "Changement de votre mot de passe de messagerie MAILNOT");
    page.lines(b"F2", big, MARGIN, common.office);
    page.lines(
        b"F1",
        body - 1.0,
        MARGIN,
        &format!("Courrier personnel et confidentiel. Imprimé le {}.", common.printed_on),
    );
    page.gap(body + 4.0);
    page.lines(b"F1", big, MARGIN, &format!("À l'attention de : {}", person.display_name));
    page.lines(b"F1", big, MARGIN, &format!("Adresse MAILNOT : {}", person.address));
    page.gap(body / 2.0);
    page.text(b"F1", big, MARGIN, "Mot de passe provisoire :");
    page.password(MARGIN + 20.0, body + 5.0, person.password.expose_secret());
    page.text(
        b"F1",
        body - 1.0,
        MARGIN,
        &format!("Valable jusqu'au {}.", moment_fr(person.expires_at, common.calendar)),
    );
    page.gap(body + 4.0);
    page.text(b"F2", big + 1.0, MARGIN, "Ce que vous allez faire");
    page.gap(body / 3.0);
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
        "1. Votre poste de travail vous guide : un rappel « Sesame : mot de passe à changer » \
         s'affiche à l'écran ; cliquez dessus, la fenêtre Sesame s'ouvre pour le changement de votre \
         mot de passe. Gardez ce courrier à portée de main.",
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
        paragraph(&mut page, body, step);
    }
    page.gap(body * 0.7);
    page.text(b"F2", big, MARGIN, "Si la fenêtre Sesame ne s'ouvre pas");
    paragraph(
        &mut page,
        body,
        "Ouvrez un terminal (menu des applications, « Terminal ») et tapez la commande \
         sesame-window puis Entrée : la fenêtre Sesame s'ouvre. Vous pouvez aussi taper \
         sesame-agent change : les mêmes étapes se font alors dans le terminal. Si rien ne \
         fonctionne, appelez votre administrateur informatique, ce courrier en main ; ne lui \
         donnez jamais votre mot de passe personnel.",
    );
    page.gap(body * 0.7);
    page.text(b"F2", big, MARGIN, "À savoir");
    paragraph(
        &mut page,
        body,
        "Votre mot de passe personnel ne quitte jamais votre poste : personne, pas même le service informatique, ne \
         le connaît. Ne le communiquez à personne. Il est conseillé de le changer tous les 90 jours ; Sesame vous le \
         proposera.",
    );
    paragraph(
        &mut page,
        body,
        "Détruisez ce courrier une fois l'opération terminée. En cas de difficulté, contactez votre administrateur \
         informatique.",
    );
    page
}

/// The letters of an office, one page per person; `policy` is the rule the personal password
/// must follow; `printing` says when, and in whose calendar, they are printed.
pub fn render(
    office: &LetterOffice,
    passwords: &[Letter],
    policy: &PasswordRule,
    printing: Printing<'_>,
) -> Vec<u8> {
    let heading = office.heading();
    let common = Common {
        office: &heading,
        printed_on: day_fr(printing.at, printing.calendar),
        policy,
        calendar: printing.calendar,
    };
    let pages: Vec<Page> = passwords.iter().map(|p| letter(p, &common)).collect();
    crate::pdf::document(pages)
}

#[cfg(test)]
mod tests {
    use sesame_base::calendar::FixedCalendar;
    use time::macros::{datetime, offset};

    use super::*;

    fn office(name: &str, city: &str) -> LetterOffice {
        LetterOffice { crpcen: "14032".to_owned(), name: name.to_owned(), city: city.to_owned() }
    }

    #[test]
    fn the_office_is_named_with_its_city_and_its_crpcen() {
        assert_eq!(
            office("Office notarial Dupont & Associés", "Lyon").heading(),
            "Office notarial Dupont & Associés, Lyon (CRPCEN 14032)"
        );
        assert_eq!(office("Étude Martin", " ").heading(), "Étude Martin (CRPCEN 14032)");
        assert_eq!(office("", "").heading(), "Office notarial (CRPCEN 14032)");
    }

    #[test]
    fn the_longest_names_stay_on_one_page() {
        let rule = PasswordRule {
            min_length: 128,
            require_lower: true,
            require_upper: true,
            require_digit: true,
            require_special: true,
        };
        let heading = office(&"ÉTUDE DE MAÎTRES WWW ".repeat(10), &"SAINT-MAMMÈS ".repeat(16));
        let calendar = FixedCalendar(offset!(+1));
        let common = Common {
            office: &heading.heading(),
            printed_on: day_fr(datetime!(2026-12-07 23:30 UTC), &calendar),
            policy: &rule,
            calendar: &calendar,
        };
        assert_eq!(common.printed_on, "8 décembre 2026", "the printer's day, not UTC's");
        let ordinary = Letter {
            address: "dupont.jean@14032.mailnot.fr".to_owned(),
            display_name: "Jean Dupont".to_owned(),
            first_name: "Jean".to_owned(),
            last_name: "Dupont".to_owned(),
            password: SecretString::from("aB3#xyzPQRS7k-mn"),
            expires_at: datetime!(2026-12-21 23:30 UTC),
        };
        let longest = Letter {
            address: format!("{}@14032.mailnot.fr", "m".repeat(235)),
            display_name: "MAXIMILIEN-WILLIAM ".repeat(11),
            password: SecretString::from("W".repeat(128)),
            ..ordinary.clone()
        };
        for person in [&ordinary, &longest] {
            let page = letter(person, &common);
            assert!(page.y >= BOTTOM, "the letter runs off its page ({})", page.y);
        }
        // An ordinary office and person: the full size fits.
        let heading = office("Office notarial Dupont & Associés", "Lyon").heading();
        let common = Common { office: &heading, ..common };
        assert!(letter_at(&ordinary, &common, BODY_SIZES[0]).y >= BOTTOM, "ordinary: full size");
    }
}
