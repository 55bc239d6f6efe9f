//! The live checklist of the new password, computed by the agent's own local check
//! (`password_check::check_new_password`), so the window never disagrees with the service: each
//! line of the rule (length, lower, upper, digit, special, no accent, not the name, not the old
//! one, both typings equal) is met or not as the person types.

use sesame_base::password_rule::PasswordRule;
use sesame_local::password_check::{PasswordProblem, Typed, check_new_password};
use sesame_local::protocol::{PasswordKind, WirePolicy};

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it says.
    pub text: String,
    /// Whether the typed password meets it.
    pub met: bool,
}

/// The checklist for `new` (and `confirm`, `old`) under `policy`.
pub fn checklist(
    policy: WirePolicy,
    kind: PasswordKind,
    mailbox: &str,
    old: &str,
    new: &str,
    confirm: &str,
) -> Vec<Item> {
    let rule = PasswordRule::from(policy);
    let problems = check_new_password(&rule, kind, mailbox, &Typed { old, new, confirm });
    let has = |wanted: fn(&PasswordProblem) -> bool| problems.iter().any(wanted);
    let mut items = vec![Item {
        text: format!("au moins {} caractères", rule.min_length),
        met: !has(|p| matches!(p, PasswordProblem::TooShort { .. })),
    }];
    for (required, text, problem) in [
        (rule.require_lower, "une minuscule", PasswordProblem::NoLower),
        (rule.require_upper, "une majuscule", PasswordProblem::NoUpper),
        (rule.require_digit, "un chiffre", PasswordProblem::NoDigit),
        (
            rule.require_special,
            "un caractère spécial (par exemple ! ? - _ #)",
            PasswordProblem::NoSpecial,
        ),
    ] {
        if required {
            items.push(Item { text: text.to_owned(), met: !problems.contains(&problem) });
        }
    }
    items.push(Item {
        text: "aucun accent".to_owned(),
        met: !problems.contains(&PasswordProblem::NotAscii),
    });
    items.push(Item {
        text: "ni votre nom ni votre prénom".to_owned(),
        met: !problems.contains(&PasswordProblem::ContainsName),
    });
    items.push(Item {
        text: match kind {
            PasswordKind::Provisional => "différent du mot de passe provisoire".to_owned(),
            PasswordKind::Current => "différent du mot de passe actuel".to_owned(),
        },
        met: !new.is_empty()
            && !has(|p| {
                matches!(p, PasswordProblem::SameAsProvisional | PasswordProblem::SameAsCurrent)
            }),
    });
    items.push(Item {
        text: "les deux saisies identiques".to_owned(),
        met: !new.is_empty() && !problems.contains(&PasswordProblem::ConfirmationDiffers),
    });
    items
}

/// Whether every line is met.
pub fn all_met(items: &[Item]) -> bool {
    items.iter().all(|item| item.met)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> WirePolicy {
        PasswordRule::default().into()
    }

    fn unmet(items: &[Item]) -> Vec<&str> {
        items.iter().filter(|i| !i.met).map(|i| i.text.as_str()).collect()
    }

    #[test]
    fn each_line_follows_the_typing() {
        let m = "dupont.helene@1.mailnot.fr";
        let k = PasswordKind::Provisional;
        let empty = checklist(policy(), k, m, "Prov-123456", "", "");
        assert_eq!(empty.len(), 9);
        assert!(!all_met(&empty));
        let good = checklist(policy(), k, m, "Prov-123456", "Tr0ub4dor&3x", "Tr0ub4dor&3x");
        assert!(all_met(&good), "{:?}", unmet(&good));
        let items = checklist(policy(), k, m, "x", "dupontéa", "dupontéb");
        assert_eq!(
            unmet(&items),
            [
                "au moins 10 caractères",
                "une majuscule",
                "un chiffre",
                "un caractère spécial (par exemple ! ? - _ #)",
                "aucun accent",
                "ni votre nom ni votre prénom",
                "les deux saisies identiques"
            ]
        );
        let same = checklist(
            policy(),
            PasswordKind::Current,
            m,
            "Tr0ub4dor&3x",
            "Tr0ub4dor&3x",
            "Tr0ub4dor&3x",
        );
        assert_eq!(unmet(&same), ["différent du mot de passe actuel"]);
    }
}
