//! The strength estimate of a new personal password: zxcvbn's score (0 to 4, from the number of
//! guesses an attacker would need), with the person's own words (names, office, provisional
//! password: `password_check::personal_words`) as its user inputs, so a password built on them
//! scores low. Only the first [`MAX_ESTIMATED_CHARS`] characters are estimated, so that a long
//! password stays quick to check at each keystroke; a longer one only gets stronger.

/// The characters estimated, at most.
pub const MAX_ESTIMATED_CHARS: usize = 40;

/// zxcvbn's score of `password` (0 to 4), its matching made aware of `personal_words`.
pub fn score(password: &str, personal_words: &[String]) -> u8 {
    if password.is_empty() {
        return 0;
    }
    let estimated: String = password.chars().take(MAX_ESTIMATED_CHARS).collect();
    let inputs: Vec<&str> = personal_words.iter().map(String::as_str).collect();
    u8::from(zxcvbn::zxcvbn(&estimated, &inputs).score())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_score_low_and_strong_ones_high() {
        let none: Vec<String> = Vec::new();
        assert_eq!(score("", &none), 0);
        assert!(score("Azerty123!", &none) < 3);
        assert!(score("Tulipe-Ancre-Violon-72", &none) >= 3);
        assert!(score("hR4#vLp9!tWq2", &none) >= 3);
        let words = vec!["dupont".to_owned(), "jean".to_owned(), "notaire".to_owned()];
        assert!(score("Notaire2026!", &words) < 3);
        assert!(score("Dupont.Jean1", &words) < score("Dupont.Jean1", &[]));
    }

    #[test]
    fn a_long_password_is_estimated_on_its_first_characters() {
        let long = "Tulipe-Ancre-Violon-72".repeat(6);
        assert!(score(&long, &[]) >= 3);
    }
}
