//! The letters sent to each person, as a PDF: one page per person, in French, with the mailbox,
//! the provisional password, and what to do, rewritten from today's paper letter for Sesame.
//!
//! The PDF is laid out by `pdf` (standard fonts, nothing to install). [`Letter`] is also what the
//! export for the mail administrator (`export`) takes.

use secrecy::{ExposeSecret, SecretString};
use sesame_base::password_rule::PasswordRule;
use time::OffsetDateTime;

use crate::pdf::{MARGIN, Page, date_fr};
use crate::rfc3339;

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

fn letter(person: &Letter, office: &str, policy: &PasswordRule) -> Page {
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
    page.text(b"F1", 12.0, MARGIN, &format!("Adresse MAILNOT : {}", person.address));
    page.gap(6.0);
    page.text(b"F1", 12.0, MARGIN, "Mot de passe provisoire :");
    page.text(b"F3", 16.0, MARGIN + 20.0, person.password.expose_secret());
    page.text(
        b"F1",
        10.0,
        MARGIN,
        &format!("Valable jusqu'au {} inclus.", date_fr(&rfc3339(person.expires_at))),
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

/// The letters of an office, one page per person; `policy` is the rule the personal password
/// must follow.
pub fn render(office: &str, passwords: &[Letter], policy: &PasswordRule) -> Vec<u8> {
    let pages: Vec<Page> = passwords.iter().map(|p| letter(p, office, policy)).collect();
    crate::pdf::document(pages)
}
