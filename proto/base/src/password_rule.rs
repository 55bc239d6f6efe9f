//! The password rule, as both sides apply it: the server to the provisional passwords it issues,
//! the agent to the personal password before anything is sent to Exchange (which only ever says
//! "InvalidNewPassword"). The server sends each office's rule with each rotation (the contract's
//! `AgentPasswordPolicy`, converted at the gRPC edges); the default is the rule of the letter
//! offices receive: at least 10 characters with a lower-case letter, an upper-case letter, a digit
//! and a special character, printable ASCII only (Exchange carries passwords in the server's ANSI
//! code page). Reasons are in French, for the person choosing the password.

use std::fmt;

/// The shortest minimum length a rule may set (the letter's rule).
pub const MIN_LENGTH_FLOOR: u32 = 10;

/// The rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRule {
    /// Fewest characters.
    pub min_length: u32,
    /// At least one lower-case letter.
    pub require_lower: bool,
    /// At least one upper-case letter.
    pub require_upper: bool,
    /// At least one digit.
    pub require_digit: bool,
    /// At least one special character.
    pub require_special: bool,
}

impl Default for PasswordRule {
    fn default() -> Self {
        PasswordRule {
            min_length: MIN_LENGTH_FLOOR,
            require_lower: true,
            require_upper: true,
            require_digit: true,
            require_special: true,
        }
    }
}

/// The strength estimate a new password must reach by default: zxcvbn's score 3 of 4
/// ("safely unguessable": about 10^8 guesses or more).
pub const DEFAULT_MIN_SCORE: u8 = 3;
/// The highest strength score (zxcvbn's 4: about 10^10 guesses or more).
pub const MAX_SCORE: u8 = 4;

/// The checks of a new personal password beyond the rule's character classes, which an office's
/// policy switches; all on by default. Made by the agent (and the window) before anything is sent
/// to Exchange; provisional passwords, generated at random, are not subject to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrengthChecks {
    /// Refuse a password containing the person's first or last name, the office's name, city or
    /// number, `mailnot`, `notaire`, or the provisional password.
    pub personal_words: bool,
    /// Refuse a password from the list of common passwords.
    pub common_passwords: bool,
    /// The strength estimate (zxcvbn score, 0 to [`MAX_SCORE`]) the password must reach; 0: none.
    pub min_score: u8,
}

impl Default for StrengthChecks {
    fn default() -> Self {
        StrengthChecks {
            personal_words: true,
            common_passwords: true,
            min_score: DEFAULT_MIN_SCORE,
        }
    }
}

impl StrengthChecks {
    /// The same checks with the score capped at [`MAX_SCORE`]: what checks received from elsewhere
    /// (the server, the local socket) become before they are applied.
    pub fn bounded(self) -> StrengthChecks {
        StrengthChecks { min_score: self.min_score.min(MAX_SCORE), ..self }
    }
}

/// One thing wrong with a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Shorter than the minimum.
    TooShort(u32),
    /// A character outside printable ASCII, or a space at either end.
    NotAscii,
    /// No lower-case letter.
    NoLower,
    /// No upper-case letter.
    NoUpper,
    /// No digit.
    NoDigit,
    /// No special character.
    NoSpecial,
    /// The same as the current password.
    SameAsCurrent,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::TooShort(n) => write!(f, "au moins {n} caractères"),
            Violation::NotAscii => {
                f.write_str("sans accent ni caractère spécial hors clavier standard (ASCII)")
            }
            Violation::NoLower => f.write_str("au moins une minuscule"),
            Violation::NoUpper => f.write_str("au moins une majuscule"),
            Violation::NoDigit => f.write_str("au moins un chiffre"),
            Violation::NoSpecial => f.write_str("au moins un caractère spécial"),
            Violation::SameAsCurrent => f.write_str("différent du mot de passe actuel"),
        }
    }
}

impl PasswordRule {
    /// The same rule with its minimum length raised to [`MIN_LENGTH_FLOOR`] when below it: what a
    /// rule received from elsewhere (the server, the local socket) becomes before it is applied.
    pub fn with_floor(self) -> PasswordRule {
        PasswordRule { min_length: self.min_length.max(MIN_LENGTH_FLOOR), ..self }
    }

    /// Every rule `password` breaks; empty when it complies.
    pub fn check(&self, password: &str) -> Vec<Violation> {
        let mut violations = Vec::new();
        if password.chars().count() < self.min_length as usize {
            violations.push(Violation::TooShort(self.min_length));
        }
        if !password.bytes().all(|b| (0x20..0x7f).contains(&b))
            || password.starts_with(' ')
            || password.ends_with(' ')
        {
            violations.push(Violation::NotAscii);
        }
        let has = |f: fn(&u8) -> bool| password.bytes().any(|b| f(&b));
        if self.require_lower && !has(u8::is_ascii_lowercase) {
            violations.push(Violation::NoLower);
        }
        if self.require_upper && !has(u8::is_ascii_uppercase) {
            violations.push(Violation::NoUpper);
        }
        if self.require_digit && !has(u8::is_ascii_digit) {
            violations.push(Violation::NoDigit);
        }
        if self.require_special && !has(u8::is_ascii_punctuation) && !password.contains(' ') {
            violations.push(Violation::NoSpecial);
        }
        violations
    }

    /// Every rule a new password breaks, including being the current one again.
    pub fn check_new(&self, new: &str, current: &str) -> Vec<Violation> {
        let mut violations = self.check(new);
        if new == current {
            violations.push(Violation::SameAsCurrent);
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letters_rule_with_french_reasons() {
        let rule = PasswordRule::default();
        assert!(rule.check_new("Tr0ub4dor&3x", "Provisoire-2026").is_empty());
        assert_eq!(rule.check("court1A!"), [Violation::TooShort(10)]);
        assert_eq!(rule.check("motdepasse1!"), [Violation::NoUpper]);
        assert_eq!(rule.check("Mötdepasse1!"), [Violation::NotAscii]);
        assert_eq!(rule.check("Motdepasse!!"), [Violation::NoDigit]);
        assert_eq!(rule.check("Motdepasse12"), [Violation::NoSpecial]);
        assert_eq!(rule.check("MOTDEPASSE1!"), [Violation::NoLower]);
        assert_eq!(rule.check_new("Tr0ub4dor&3x", "Tr0ub4dor&3x"), [Violation::SameAsCurrent]);
        assert_eq!(Violation::TooShort(12).to_string(), "au moins 12 caractères");
    }

    #[test]
    fn a_received_rule_is_used_but_never_below_the_floor() {
        let received = PasswordRule {
            min_length: 4,
            require_lower: true,
            require_upper: false,
            require_digit: true,
            require_special: false,
        };
        let rule = received.with_floor();
        assert_eq!(rule.min_length, 10);
        assert!(rule.check("motdepasse12").is_empty());
        let longer = PasswordRule { min_length: 14, ..PasswordRule::default() };
        assert_eq!(longer.with_floor(), longer);
    }
}
