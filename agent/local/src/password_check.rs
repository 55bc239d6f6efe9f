//! The local checks of a new personal password, before anything is sent to the mail server: the
//! office's [`PasswordRule`] (length, classes, printable ASCII), the two typings equal, not the
//! provisional or current password again, and not containing the person's first or last name
//! (read from the address `nom.prenom@…`, case and accents folded, parts of 3 letters or more).
//! Each problem is explained in French by `texts_fr`.

use serde::{Deserialize, Serialize};
use sesame_base::password_rule::{PasswordRule, Violation};

/// Which password the person types first, which is also the rotation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordKind {
    /// After a letter: the provisional password it carries.
    Provisional,
    /// The periodic change: the person's current personal password.
    Current,
}

/// Names shorter than this are not looked for (`Le`, `Da`…).
pub const MIN_NAME_LETTERS: usize = 3;

/// One thing wrong with the new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PasswordProblem {
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum.
        min: u32,
    },
    /// A character outside printable ASCII (an accent…), or a space at either end.
    NotAscii,
    /// No lower-case letter.
    NoLower,
    /// No upper-case letter.
    NoUpper,
    /// No digit.
    NoDigit,
    /// No special character.
    NoSpecial,
    /// The two typings of the new password differ.
    ConfirmationDiffers,
    /// The new password is the provisional one.
    SameAsProvisional,
    /// The new password is the current one.
    SameAsCurrent,
    /// The new password contains the person's first or last name.
    ContainsName,
}

impl From<Violation> for PasswordProblem {
    fn from(violation: Violation) -> Self {
        match violation {
            Violation::TooShort(min) => PasswordProblem::TooShort { min },
            Violation::NotAscii => PasswordProblem::NotAscii,
            Violation::NoLower => PasswordProblem::NoLower,
            Violation::NoUpper => PasswordProblem::NoUpper,
            Violation::NoDigit => PasswordProblem::NoDigit,
            Violation::NoSpecial => PasswordProblem::NoSpecial,
            Violation::SameAsCurrent => PasswordProblem::SameAsCurrent,
        }
    }
}

/// The three typings to check.
pub struct Typed<'a> {
    /// The provisional or current password.
    pub old: &'a str,
    /// The new password.
    pub new: &'a str,
    /// The new password again.
    pub confirm: &'a str,
}

impl std::fmt::Debug for Typed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Typed(***)")
    }
}

/// Every problem with the new password for `mailbox`; empty when it may be sent.
pub fn check_new_password(
    rule: &PasswordRule,
    kind: PasswordKind,
    mailbox: &str,
    typed: &Typed<'_>,
) -> Vec<PasswordProblem> {
    let mut problems = Vec::new();
    if typed.new != typed.confirm {
        problems.push(PasswordProblem::ConfirmationDiffers);
    }
    problems.extend(rule.check(typed.new).into_iter().map(PasswordProblem::from));
    if typed.new == typed.old {
        problems.push(match kind {
            PasswordKind::Provisional => PasswordProblem::SameAsProvisional,
            PasswordKind::Current => PasswordProblem::SameAsCurrent,
        });
    }
    if contains_name(mailbox, typed.new) {
        problems.push(PasswordProblem::ContainsName);
    }
    problems
}

/// Whether `password` contains a name of the address `nom.prenom@…` (case and accents folded).
pub fn contains_name(mailbox: &str, password: &str) -> bool {
    let folded = fold(password);
    names_in_address(mailbox).iter().any(|name| folded.contains(name.as_str()))
}

/// The names of the address's local part, folded, of [`MIN_NAME_LETTERS`] letters or more:
/// `Le-Gall.Jean-Pierre@…` gives `gall`, `legall`, `jean`, `pierre`, `jeanpierre`.
pub fn names_in_address(mailbox: &str) -> Vec<String> {
    let local = mailbox.split('@').next().unwrap_or_default();
    let mut names = Vec::new();
    let mut push = |candidate: String| {
        if candidate.chars().filter(|c| c.is_alphabetic()).count() >= MIN_NAME_LETTERS
            && !names.contains(&candidate)
        {
            names.push(candidate);
        }
    };
    for name in local.split(['.', '_', '+']) {
        let folded = fold(name);
        for part in folded.split(|c: char| !c.is_alphanumeric()) {
            push(part.to_owned());
        }
        push(folded.chars().filter(|c| c.is_alphanumeric()).collect());
    }
    names
}

/// Lower case with the accents of French (and neighbouring) letters removed.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => folded.push('a'),
            'ç' => folded.push('c'),
            'è' | 'é' | 'ê' | 'ë' => folded.push('e'),
            'ì' | 'í' | 'î' | 'ï' => folded.push('i'),
            'ñ' => folded.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => folded.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => folded.push('u'),
            'ý' | 'ÿ' => folded.push('y'),
            'æ' => folded.push_str("ae"),
            'œ' => folded.push_str("oe"),
            'ß' => folded.push_str("ss"),
            other => folded.push(other),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ADDRESS: &str = "Dupont.Helene@12345.mailnot.fr";

    fn check(kind: PasswordKind, old: &str, new: &str, confirm: &str) -> Vec<PasswordProblem> {
        check_new_password(&PasswordRule::default(), kind, ADDRESS, &Typed { old, new, confirm })
    }

    #[test]
    fn a_good_password_passes() {
        assert_eq!(
            check(PasswordKind::Provisional, "Xq7!provisoire-16", "Tr0ub4dor&3x", "Tr0ub4dor&3x"),
            []
        );
    }

    #[test]
    fn each_problem_is_found() {
        use PasswordProblem::*;
        let p = PasswordKind::Provisional;
        assert_eq!(check(p, "old", "Tr0ub4dor&3x", "Tr0ub4dor&3y"), [ConfirmationDiffers]);
        assert_eq!(check(p, "Tr0ub4dor&3x", "Tr0ub4dor&3x", "Tr0ub4dor&3x"), [SameAsProvisional]);
        let c = PasswordKind::Current;
        assert_eq!(check(c, "Tr0ub4dor&3x", "Tr0ub4dor&3x", "Tr0ub4dor&3x"), [SameAsCurrent]);
        assert_eq!(check(p, "old", "court1A!", "court1A!"), [TooShort { min: 10 }]);
        assert_eq!(check(p, "old", "Dupont2026!!", "Dupont2026!!"), [ContainsName]);
        assert_eq!(check(p, "old", "xHELENE-2026", "xHELENE-2026"), [ContainsName]);
        assert_eq!(check(p, "old", "Mötdepasse1!", "Mötdepasse1!"), [NotAscii]);
    }

    #[test]
    fn names_are_folded_and_short_ones_ignored() {
        assert_eq!(names_in_address("Le.Gall@1.mailnot.fr"), ["gall"]);
        assert_eq!(
            names_in_address("Le-Gall.Jean-Pierre@1.mailnot.fr"),
            ["gall", "legall", "jean", "pierre", "jeanpierre"]
        );
        assert_eq!(names_in_address("Bézier.Noël@1.mailnot.fr"), ["bezier", "noel"]);
        assert!(contains_name("Bézier.Noël@1.mailnot.fr", "XnOEl2026!!"));
        assert!(contains_name("Bézier.Noël@1.mailnot.fr", "Mon-BEZIER-1!"));
        assert!(!contains_name("Le.Bo@1.mailnot.fr", "Lebo-2026!!"));
    }

    proptest! {
        #[test]
        fn a_password_holding_a_name_is_always_refused(
            prefix in "[A-Z0-9!]{0,6}", suffix in "[a-z0-9#]{0,6}", upper in any::<bool>()
        ) {
            let name = if upper { "DUPONT" } else { "dupont" };
            let new = format!("{prefix}{name}{suffix}");
            let problems = check(PasswordKind::Current, "old-password", &new, &new);
            prop_assert!(problems.contains(&PasswordProblem::ContainsName));
        }

        #[test]
        fn differing_typings_are_always_refused(new in "[ -~]{0,20}", other in "[ -~]{0,20}") {
            prop_assume!(new != other);
            let problems = check(PasswordKind::Provisional, "p", &new, &other);
            prop_assert!(problems.contains(&PasswordProblem::ConfirmationDiffers));
        }

        #[test]
        fn a_refused_password_is_never_waved_through(new in "[ -~]{0,20}") {
            let rule = PasswordRule::default();
            let problems = check(PasswordKind::Current, "Ancien-Mot2passe", &new, &new);
            if !rule.check(&new).is_empty() || new == "Ancien-Mot2passe" {
                prop_assert!(!problems.is_empty());
            }
        }
    }
}
