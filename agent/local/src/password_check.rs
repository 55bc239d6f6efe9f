//! The local checks of a new personal password, before anything is sent to the mail server: the
//! office's [`PasswordRule`] (length, classes, printable ASCII), the two typings equal, not the
//! provisional or current password again, and not containing the person's first or last name
//! (read from the address `nom.prenom@…`, case and accents folded, parts of 3 letters or more).
//! Then the [`StrengthChecks`] the office's policy switches (all on when it says nothing): none of
//! the person's other words (`personal_words`: the display name, the office's name, city and
//! number, `mailnot`, `notaire`, the provisional password), not a common password
//! (`common_passwords`), and a strength estimate (`strength`) of at least `min_score`. The
//! service, the window and `sesame-agent change` all call [`check_new_password`], so they agree;
//! the service's call is the one that decides. Each problem is explained in French by `texts_fr`.

use serde::{Deserialize, Serialize};
use sesame_base::password_rule::{PasswordRule, StrengthChecks, Violation};

pub use crate::personal_words::{PersonalWordKind, fold, names_in_address};
use crate::personal_words::{PersonalWords, Sources};
use crate::{common_passwords, strength};

/// Which password the person types first, which is also the rotation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordKind {
    /// After a letter: the provisional password it carries.
    Provisional,
    /// The periodic change: the person's current personal password.
    Current,
}

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
    /// The new password contains another of the person's words (never [`PersonalWordKind::Name`],
    /// which is [`PasswordProblem::ContainsName`]).
    ContainsPersonalWord {
        /// Which kind of word.
        kind: PersonalWordKind,
    },
    /// The new password is, or is built on, a common password.
    CommonPassword,
    /// The strength estimate is below the policy's minimum.
    TooGuessable {
        /// The estimate (0 to 4).
        score: u8,
        /// The minimum.
        min: u8,
    },
}

impl PasswordProblem {
    /// Whether a stronger password, rather than another rule, is what this problem asks for: the
    /// explanation then comes with a suggestion.
    pub fn wants_strength(&self) -> bool {
        matches!(self, PasswordProblem::CommonPassword | PasswordProblem::TooGuessable { .. })
    }
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

/// Whose password it is: what the personal words are read from.
#[derive(Debug, Clone, Copy)]
pub struct PasswordContext<'a> {
    /// Which password the person types first.
    pub kind: PasswordKind,
    /// The mailbox address.
    pub mailbox: &'a str,
    /// The person's name as the office knows it (may be empty).
    pub display_name: &'a str,
    /// The office's name (may be empty: an older server).
    pub office_name: &'a str,
    /// The office's city (may be empty).
    pub office_city: &'a str,
}

impl<'a> PasswordContext<'a> {
    /// A context with only the mailbox known.
    pub fn of_mailbox(kind: PasswordKind, mailbox: &'a str) -> PasswordContext<'a> {
        PasswordContext { kind, mailbox, display_name: "", office_name: "", office_city: "" }
    }

    fn sources(&self) -> Sources<'a> {
        Sources {
            mailbox: self.mailbox,
            display_name: self.display_name,
            office_name: self.office_name,
            office_city: self.office_city,
        }
    }
}

/// Every problem with the new password; empty when it may be sent. `checks` is bounded here.
pub fn check_new_password(
    rule: &PasswordRule,
    checks: StrengthChecks,
    context: &PasswordContext<'_>,
    typed: &Typed<'_>,
) -> Vec<PasswordProblem> {
    let checks = checks.bounded();
    let kind = context.kind;
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
    let provisional = (kind == PasswordKind::Provisional).then_some(typed.old);
    let words = PersonalWords::new(&context.sources(), provisional);
    if checks.personal_words {
        for found in words.found_in(typed.new) {
            if found == PersonalWordKind::Provisional && typed.new == typed.old {
                continue;
            }
            problems.push(match found {
                PersonalWordKind::Name => PasswordProblem::ContainsName,
                kind => PasswordProblem::ContainsPersonalWord { kind },
            });
        }
    } else if contains_name(context.mailbox, typed.new) {
        problems.push(PasswordProblem::ContainsName);
    }
    if checks.common_passwords && common_passwords::is_common(typed.new) {
        problems.push(PasswordProblem::CommonPassword);
    }
    if checks.min_score > 0 {
        let score = strength::score(typed.new, &words.words());
        if score < checks.min_score {
            problems.push(PasswordProblem::TooGuessable { score, min: checks.min_score });
        }
    }
    problems
}

/// Whether `password` contains a name of the address `nom.prenom@…` (case and accents folded).
pub fn contains_name(mailbox: &str, password: &str) -> bool {
    let folded = fold(password);
    names_in_address(mailbox).iter().any(|name| folded.contains(name.as_str()))
}

#[cfg(test)]
mod tests;
