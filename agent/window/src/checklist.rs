//! The live checklist of the new password, computed by the agent's own local check
//! (`password_check::check_new_password`, with the policy's strength checks and the office's
//! words the service sent), so the window never disagrees with the service: each line of the rule
//! (length, lower, upper, digit, special, no accent, not the name, not the old one, both typings
//! equal) and, when the policy asks for them, the strength checks (none of the office's words nor
//! `mailnot`/`notaire`, not a common password, hard enough to guess) is met or not as the person
//! types. When the password is too easy to guess or too common, the strength line carries the
//! suggestion of `texts_fr`.

use sesame_base::password_rule::PasswordRule;
use sesame_local::password_check::{
    PasswordContext, PasswordProblem, PersonalWordKind, Typed, check_new_password,
};
use sesame_local::protocol::PasswordKind;
use sesame_local::texts_fr;

use crate::flow::PasswordsAsked;

/// The strength line.
pub const STRENGTH_LINE: &str = "assez difficile à deviner";
/// The common-password line.
pub const COMMON_LINE: &str = "pas un mot de passe courant";
/// The office-and-profession line.
pub const OFFICE_LINE: &str = "ni le nom ni le numéro de l'office, ni « mailnot » ni « notaire »";

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it says.
    pub text: String,
    /// Whether the typed password meets it.
    pub met: bool,
}

/// The checklist for `new` (and `confirm`, `old`) under what the service `asked`.
pub fn checklist(asked: &PasswordsAsked, old: &str, new: &str, confirm: &str) -> Vec<Item> {
    let rule = PasswordRule::from(asked.policy);
    let checks = asked.policy.strength();
    let kind = asked.kind;
    let context = PasswordContext {
        kind,
        mailbox: &asked.mailbox,
        display_name: &asked.display_name,
        office_name: &asked.office_name,
        office_city: &asked.office_city,
    };
    let problems = check_new_password(&rule, checks, &context, &Typed { old, new, confirm });
    let has = |wanted: &dyn Fn(&PasswordProblem) -> bool| problems.iter().any(wanted);
    let mut items = vec![Item {
        text: format!("au moins {} caractères", rule.min_length),
        met: !has(&|p| matches!(p, PasswordProblem::TooShort { .. })),
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
    if checks.personal_words {
        let office = |p: &PasswordProblem| {
            matches!(
                p,
                PasswordProblem::ContainsPersonalWord {
                    kind: PersonalWordKind::Office
                        | PersonalWordKind::OfficeNumber
                        | PersonalWordKind::Profession
                }
            )
        };
        items.push(Item { text: OFFICE_LINE.to_owned(), met: !has(&office) });
    }
    let provisional_inside =
        PasswordProblem::ContainsPersonalWord { kind: PersonalWordKind::Provisional };
    items.push(Item {
        text: match kind {
            PasswordKind::Provisional => "différent du mot de passe provisoire".to_owned(),
            PasswordKind::Current => "différent du mot de passe actuel".to_owned(),
        },
        met: !new.is_empty()
            && !has(&|p| {
                matches!(p, PasswordProblem::SameAsProvisional | PasswordProblem::SameAsCurrent)
                    || *p == provisional_inside
            }),
    });
    if checks.common_passwords {
        items.push(Item {
            text: COMMON_LINE.to_owned(),
            met: !new.is_empty() && !problems.contains(&PasswordProblem::CommonPassword),
        });
    }
    if checks.min_score > 0 {
        let met = !has(&|p| matches!(p, PasswordProblem::TooGuessable { .. }));
        // The suggestion, once the person has typed enough for the rule.
        let suggest =
            !met || (!new.is_empty() && problems.contains(&PasswordProblem::CommonPassword));
        let text = if suggest && new.chars().count() >= rule.min_length as usize {
            format!("{STRENGTH_LINE}. {}", texts_fr::STRENGTH_SUGGESTION)
        } else {
            STRENGTH_LINE.to_owned()
        };
        items.push(Item { text, met });
    }
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
mod tests;
