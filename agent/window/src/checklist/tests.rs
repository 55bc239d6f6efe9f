//! The checklist: each line follows the typing, the strength lines follow the policy.

use sesame_base::password_rule::StrengthChecks;
use sesame_local::protocol::WirePolicy;

use super::*;

const GOOD: &str = "Tulipe-Ancre-Violon-72";

fn asked(kind: PasswordKind, checks: StrengthChecks) -> PasswordsAsked {
    PasswordsAsked {
        kind,
        mailbox: "dupont.helene@14032.mailnot.fr".to_owned(),
        display_name: "Hélène Dupont".to_owned(),
        policy: WirePolicy::new(PasswordRule::default(), checks),
        office_name: "SCP Lefèvre et Associés".to_owned(),
        office_city: "Saint-Malo".to_owned(),
    }
}

fn unmet(items: &[Item]) -> Vec<&str> {
    items.iter().filter(|i| !i.met).map(|i| i.text.as_str()).collect()
}

#[test]
fn each_line_follows_the_typing() {
    let a = asked(PasswordKind::Provisional, StrengthChecks::default());
    let empty = checklist(&a, "Prov-123456", "", "");
    assert_eq!(empty.len(), 12);
    assert!(!all_met(&empty));
    let good = checklist(&a, "Prov-123456", GOOD, GOOD);
    assert!(all_met(&good), "{:?}", unmet(&good));
    let items = checklist(&a, "x", "dupontéa", "dupontéb");
    assert_eq!(
        unmet(&items),
        [
            "au moins 10 caractères",
            "une majuscule",
            "un chiffre",
            "un caractère spécial (par exemple ! ? - _ #)",
            "aucun accent",
            "ni votre nom ni votre prénom",
            STRENGTH_LINE,
            "les deux saisies identiques"
        ]
    );
    let current = asked(PasswordKind::Current, StrengthChecks::default());
    let same = checklist(&current, GOOD, GOOD, GOOD);
    assert_eq!(unmet(&same)[0], "différent du mot de passe actuel");
}

#[test]
fn the_strength_lines_refuse_the_issues_examples() {
    let a = asked(PasswordKind::Provisional, StrengthChecks::default());
    let notaire = checklist(&a, "Prov-123456", "Notaire2026!", "Notaire2026!");
    assert!(unmet(&notaire).contains(&OFFICE_LINE), "{:?}", unmet(&notaire));
    let common = checklist(&a, "Prov-123456", "Azerty123!", "Azerty123!");
    let lines = unmet(&common);
    assert!(lines.contains(&COMMON_LINE), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("Tulipe-Ancre-Violon-72")), "{lines:?}");
    let office = checklist(&a, "Prov-123456", "Malo-Ancre-Violon-72", "Malo-Ancre-Violon-72");
    assert_eq!(unmet(&office), [OFFICE_LINE]);
    let number = checklist(&a, "Prov-123456", "Ancre-14032-Violon!", "Ancre-14032-Violon!");
    assert_eq!(unmet(&number), [OFFICE_LINE]);
}

#[test]
fn a_policy_without_strength_checks_shows_only_the_rule() {
    let off = StrengthChecks { personal_words: false, common_passwords: false, min_score: 0 };
    let a = asked(PasswordKind::Provisional, off);
    let items = checklist(&a, "Prov-123456", "Notaire2026!", "Notaire2026!");
    assert_eq!(items.len(), 9);
    assert!(all_met(&items), "{:?}", unmet(&items));
}
