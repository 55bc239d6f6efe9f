//! Password policy and provisional passwords.
//!
//! Exchange carries passwords in the server's ANSI code page, so passwords are printable ASCII
//! only. Provisional passwords are drawn from the operating system's CSPRNG by rejection sampling
//! (no modulo bias) over an alphabet without the characters people confuse on paper (0/O, 1/l/I)
//! and without characters that break CSV, PowerShell or a French keyboard layout in surprising
//! ways (quotes, backslash, backtick, spaces, ';', ',').

use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;

pub use sesame_base::password_rule::{
    DEFAULT_MIN_SCORE, MAX_SCORE, MIN_LENGTH_FLOOR, PasswordRule, StrengthChecks, Violation,
};
/// The longest password length a policy may set.
pub const MAX_LENGTH: u32 = 128;

const LOWER: &str = "abcdefghijkmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGIT: &str = "23456789";
const SPECIAL: &str = "!#$%&*+-=?@_";
/// What a provisional password never starts with: what makes a spreadsheet read a cell as a
/// formula.
const FORMULA_LEADS: [char; 4] = ['=', '+', '-', '@'];

/// The characters provisional passwords are made of.
pub fn provisional_alphabet() -> String {
    format!("{LOWER}{UPPER}{DIGIT}{SPECIAL}")
}

/// An office's (or the global) password policy: the rule personal and provisional passwords must
/// follow, the length of the provisional passwords Sesame generates, and the strength checks the
/// agent makes of a new personal password (agents receive them with every rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// What a password must contain; its minimum length is at least [`MIN_LENGTH_FLOOR`].
    pub rule: PasswordRule,
    /// Length of the provisional passwords Sesame generates.
    pub provisional_length: u32,
    /// The checks of a personal password beyond the rule (personal words, common passwords, a
    /// minimum strength score); provisional passwords are not subject to them.
    pub strength: StrengthChecks,
}

impl Default for PasswordPolicy {
    /// The letter's rule: 10 characters with a lower-case letter, an upper-case letter, a digit and
    /// a special character; provisional passwords of 16; every strength check on, score 3.
    fn default() -> PasswordPolicy {
        PasswordPolicy {
            rule: PasswordRule::default(),
            provisional_length: 16,
            strength: StrengthChecks::default(),
        }
    }
}

/// Why a policy or a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The minimum length is out of range.
    #[error("the minimum length must be between 10 and 128")]
    MinLength,
    /// The provisional length is shorter than the minimum or too long.
    #[error(
        "provisional passwords must be at least as long as the minimum length, and at most 128"
    )]
    ProvisionalLength,
    /// The minimum strength score is above the highest score.
    #[error("the minimum strength must be a score from 0 to 4, not {0}")]
    MinStrength(u32),
}

impl PasswordPolicy {
    /// Checks the policy's own bounds.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(MIN_LENGTH_FLOOR..=MAX_LENGTH).contains(&self.rule.min_length) {
            return Err(PolicyError::MinLength);
        }
        if self.provisional_length < self.rule.min_length || self.provisional_length > MAX_LENGTH {
            return Err(PolicyError::ProvisionalLength);
        }
        if self.strength.min_score > MAX_SCORE {
            return Err(PolicyError::MinStrength(u32::from(self.strength.min_score)));
        }
        Ok(())
    }

    /// Every rule the password breaks; empty when it complies.
    pub fn check(&self, password: &str) -> Vec<Violation> {
        self.rule.check(password)
    }

    /// A new provisional password that complies with the policy and with every character class
    /// (whatever the policy requires, provisional passwords always mix all four).
    pub fn generate_provisional(&self) -> SecretString {
        let alphabet = provisional_alphabet().into_bytes();
        let length = self.provisional_length.max(MIN_LENGTH_FLOOR) as usize;
        let all_classes =
            PasswordRule { min_length: self.rule.min_length, ..PasswordRule::default() };
        loop {
            let candidate: zeroize::Zeroizing<Vec<u8>> = zeroize::Zeroizing::new(
                (0..length).map(|_| alphabet[uniform(alphabet.len())]).collect(),
            );
            // The alphabet is ASCII, so the bytes are always valid UTF-8.
            // Never a formula character first: the export for Exchange keeps passwords exact,
            // and a spreadsheet must not read one as a formula (`sesamectl`'s CSV rule).
            if let Ok(text) = std::str::from_utf8(&candidate)
                && all_classes.check(text).is_empty()
                && !text.starts_with(FORMULA_LEADS)
            {
                return SecretString::from(text.to_owned());
            }
        }
    }
}

/// A uniform index below `n` from the OS CSPRNG, by rejection sampling.
fn uniform(n: usize) -> usize {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        // The OS generator does not fail on supported platforms; if it ever did, retrying is the
        // only safe answer (a password must never come from a weaker source).
        let Ok(value) = OsRng.try_next_u32() else { continue };
        if value < zone {
            return (value % n) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn every_generated_password_meets_the_policy_and_the_whole_alphabet_is_used() {
        let policy = PasswordPolicy::default();
        let mut seen = BTreeSet::new();
        for _ in 0..5_000 {
            let password = policy.generate_provisional();
            let text = password.expose_secret();
            assert_eq!(text.len(), 16);
            assert!(policy.check(text).is_empty(), "{:?}", policy.check(text));
            assert!(!text.starts_with(FORMULA_LEADS), "a spreadsheet would read it as a formula");
            seen.extend(text.chars());
        }
        let alphabet: BTreeSet<char> = provisional_alphabet().chars().collect();
        assert_eq!(seen, alphabet, "every character of the alphabet appears, and nothing else");
        for confusable in ['0', 'O', '1', 'l', 'I'] {
            assert!(!alphabet.contains(&confusable));
        }
        let longer = PasswordPolicy {
            rule: PasswordRule { min_length: 20, ..policy.rule },
            provisional_length: 24,
            ..policy
        };
        assert_eq!(longer.generate_provisional().expose_secret().len(), 24);
    }

    #[test]
    fn the_letters_rules_are_checked_with_french_reasons() {
        let policy = PasswordPolicy::default();
        assert!(policy.check("Tr0ub4dor&3x").is_empty());
        assert_eq!(policy.check("court1A!"), [Violation::TooShort(10)]);
        assert_eq!(policy.check("motdepasse1!"), [Violation::NoUpper]);
        assert_eq!(policy.check("Mötdepasse1!"), [Violation::NotAscii]);
        assert_eq!(policy.check("Motdepasse!!"), [Violation::NoDigit]);
        assert_eq!(policy.check("Motdepasse12"), [Violation::NoSpecial]);
        assert_eq!(Violation::NoUpper.to_string(), "au moins une majuscule");
        let lax = PasswordPolicy {
            rule: PasswordRule { require_special: false, ..policy.rule },
            ..policy
        };
        assert!(lax.check("Motdepasse12").is_empty());
    }

    #[test]
    fn policies_cannot_go_below_the_floor() {
        assert_eq!(
            PasswordPolicy {
                rule: PasswordRule { min_length: 8, ..Default::default() },
                ..Default::default()
            }
            .validate(),
            Err(PolicyError::MinLength)
        );
        assert_eq!(
            PasswordPolicy {
                rule: PasswordRule { min_length: 20, ..Default::default() },
                provisional_length: 16,
                ..Default::default()
            }
            .validate(),
            Err(PolicyError::ProvisionalLength)
        );
        assert!(PasswordPolicy::default().validate().is_ok());
    }

    #[test]
    fn every_strength_check_is_on_by_default_and_the_score_stops_at_four() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.strength,
            StrengthChecks { personal_words: true, common_passwords: true, min_score: 3 }
        );
        let with_score = |min_score| PasswordPolicy {
            strength: StrengthChecks { min_score, ..policy.strength },
            ..policy
        };
        for score in 0..=MAX_SCORE {
            assert!(with_score(score).validate().is_ok(), "score {score}");
        }
        let refused = with_score(5).validate().expect_err("a score of 5 does not exist");
        assert_eq!(refused, PolicyError::MinStrength(5));
        assert_eq!(refused.to_string(), "the minimum strength must be a score from 0 to 4, not 5");
        let none = PasswordPolicy {
            strength: StrengthChecks {
                personal_words: false,
                common_passwords: false,
                min_score: 0,
            },
            ..policy
        };
        assert!(none.validate().is_ok(), "every check may be turned off");
    }
}
