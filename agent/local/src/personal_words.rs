//! The person's own words, which a new personal password must not contain and which the strength
//! estimate is told about: the first and last names (from the address `nom.prenom@CRPCEN.…` and
//! the display name), the office's name and city (words of [`MIN_WORD_LETTERS`] letters or more,
//! but for a few words every office name has: `scp`, `office`, `les`…), the office's number (the
//! CRPCEN of the address), `mailnot`, `notaire`, and the provisional password. Words are folded
//! (lower case, no accents); the password is looked at folded, and again with the common "leet"
//! substitutions undone (`N0t@ire` is `notaire`); numbers are looked for as typed.

use serde::{Deserialize, Serialize};

use crate::common_passwords::unleet;

/// Words shorter than this are not looked for (`Le`, `Da`…).
pub const MIN_WORD_LETTERS: usize = 3;

/// The words of the profession and of the mail service, refused in any password.
pub const PROFESSION_WORDS: [&str; 2] = ["mailnot", "notaire"];

/// Words of office names and cities that say nothing of this office in particular.
const OFFICE_STOP_WORDS: &[&str] = &[
    "les",
    "des",
    "aux",
    "sur",
    "sous",
    "scp",
    "sel",
    "selarl",
    "selas",
    "sarl",
    "sas",
    "snc",
    "office",
    "offices",
    "etude",
    "etudes",
    "notarial",
    "notariale",
    "notariat",
    "notaires",
    "associe",
    "associes",
    "associee",
    "associees",
    "maitre",
    "maitres",
    "societe",
    "civile",
    "professionnelle",
    "groupe",
];

/// Which kind of personal word a password contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalWordKind {
    /// The person's first or last name.
    Name,
    /// The office's name or city.
    Office,
    /// The office's number (CRPCEN).
    OfficeNumber,
    /// `mailnot` or `notaire`.
    Profession,
    /// The provisional password of the letter.
    Provisional,
}

/// What the words are read from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// The mailbox address.
    pub mailbox: &'a str,
    /// The person's name as the office knows it (may be empty).
    pub display_name: &'a str,
    /// The office's name (may be empty).
    pub office_name: &'a str,
    /// The office's city (may be empty).
    pub office_city: &'a str,
}

/// The person's words, folded, each with its kind. Holds the provisional password: not `Debug`.
pub struct PersonalWords {
    words: Vec<(PersonalWordKind, String)>,
}

impl PersonalWords {
    /// The words of `sources`, and `provisional` when the person types one.
    pub fn new(sources: &Sources<'_>, provisional: Option<&str>) -> PersonalWords {
        let mut words = Vec::new();
        let mut push = |kind: PersonalWordKind, word: String| {
            if !word.is_empty() && !words.iter().any(|(_, w)| *w == word) {
                words.push((kind, word));
            }
        };
        for name in names_in_address(sources.mailbox) {
            push(PersonalWordKind::Name, name);
        }
        for name in words_of(sources.display_name) {
            push(PersonalWordKind::Name, name);
        }
        for word in words_of(sources.office_name).into_iter().chain(words_of(sources.office_city)) {
            if !OFFICE_STOP_WORDS.contains(&word.as_str()) {
                push(PersonalWordKind::Office, word);
            }
        }
        if let Some(number) = office_number(sources.mailbox) {
            push(PersonalWordKind::OfficeNumber, number);
        }
        for word in PROFESSION_WORDS {
            push(PersonalWordKind::Profession, word.to_owned());
        }
        if let Some(provisional) = provisional.filter(|p| !p.is_empty()) {
            push(PersonalWordKind::Provisional, fold(provisional));
        }
        PersonalWords { words }
    }

    /// The kinds of word `password` contains, each once, in the order of [`PersonalWordKind`].
    pub fn found_in(&self, password: &str) -> Vec<PersonalWordKind> {
        let folded = fold(password);
        let forms = [unleet(&folded, 'i'), unleet(&folded, 'l')];
        let mut kinds: Vec<PersonalWordKind> = Vec::new();
        for (kind, word) in &self.words {
            let found = match kind {
                PersonalWordKind::OfficeNumber | PersonalWordKind::Provisional => {
                    folded.contains(word.as_str())
                }
                _ => {
                    folded.contains(word.as_str())
                        || forms.iter().any(|f| f.contains(word.as_str()))
                }
            };
            if found && !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
        kinds.sort_by_key(|kind| *kind as u8);
        kinds
    }

    /// The words, for the strength estimate's user inputs.
    pub fn words(&self) -> Vec<String> {
        self.words.iter().map(|(_, word)| word.clone()).collect()
    }
}

impl std::fmt::Debug for PersonalWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalWords(***)")
    }
}

impl Drop for PersonalWords {
    fn drop(&mut self) {
        for (_, word) in &mut self.words {
            zeroize::Zeroize::zeroize(word);
        }
    }
}

/// The names of the address's local part, folded, of [`MIN_WORD_LETTERS`] letters or more:
/// `Le-Gall.Jean-Pierre@…` gives `gall`, `legall`, `jean`, `pierre`, `jeanpierre`.
pub fn names_in_address(mailbox: &str) -> Vec<String> {
    let local = mailbox.split('@').next().unwrap_or_default();
    let mut names = Vec::new();
    let mut push = |candidate: String| {
        if candidate.chars().filter(|c| c.is_alphabetic()).count() >= MIN_WORD_LETTERS
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

/// The words of `text` (a name, a city), folded, of [`MIN_WORD_LETTERS`] letters or more.
pub fn words_of(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in fold(text).split(|c: char| !c.is_alphabetic()) {
        if word.chars().count() >= MIN_WORD_LETTERS && !words.iter().any(|w| w == word) {
            words.push(word.to_owned());
        }
    }
    words
}

/// The office's number: the digits of the address's first domain label (`…@14032.mailnot.fr`).
pub fn office_number(mailbox: &str) -> Option<String> {
    let (_, domain) = mailbox.split_once('@')?;
    let label = domain.split('.').next()?;
    (label.len() >= MIN_WORD_LETTERS && label.bytes().all(|b| b.is_ascii_digit()))
        .then(|| label.to_owned())
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
    use super::*;

    const SOURCES: Sources<'static> = Sources {
        mailbox: "dupont.jean@14032.mailnot.fr",
        display_name: "Jean-Édouard Dupont",
        office_name: "SCP Lefèvre et Associés",
        office_city: "Saint-Malo",
    };

    fn found(password: &str) -> Vec<PersonalWordKind> {
        PersonalWords::new(&SOURCES, Some("Xq7!provisoire-16")).found_in(password)
    }

    #[test]
    fn every_kind_of_word_is_found_folded_and_unleeted() {
        use PersonalWordKind::*;
        assert_eq!(found("Dupont.Jean1"), [Name]);
        assert_eq!(found("x-EDOUARD-9!"), [Name]);
        assert_eq!(found("Lefevre-2026!"), [Office]);
        assert_eq!(found("Malo#Plage99"), [Office]);
        assert_eq!(found("Bureau-14032!"), [OfficeNumber]);
        assert_eq!(found("Notaire2026!"), [Profession]);
        assert_eq!(found("N0t@ire-2026"), [Profession]);
        assert_eq!(found("MAILNOT.pw9"), [Profession]);
        assert_eq!(found("aXq7!provisoire-16b"), [Provisional]);
        assert_eq!(found("Dupont-Notaire-14032"), [Name, OfficeNumber, Profession]);
        assert_eq!(found("Tulipe-Ancre-Violon-72"), []);
        // Words every office name has are not the office's own.
        assert_eq!(found("Les-Associes-Scp-42"), []);
    }

    #[test]
    fn words_are_folded_and_short_ones_ignored() {
        assert_eq!(names_in_address("Le.Gall@1.mailnot.fr"), ["gall"]);
        assert_eq!(
            names_in_address("Le-Gall.Jean-Pierre@1.mailnot.fr"),
            ["gall", "legall", "jean", "pierre", "jeanpierre"]
        );
        assert_eq!(names_in_address("Bézier.Noël@1.mailnot.fr"), ["bezier", "noel"]);
        assert_eq!(words_of("Saint-Étienne-du-Rouvray"), ["saint", "etienne", "rouvray"]);
        assert_eq!(office_number("a.b@14032.mailnot.fr").as_deref(), Some("14032"));
        assert_eq!(office_number("a.b@mailnot.fr"), None);
        let words = PersonalWords::new(&Sources::default(), None);
        assert_eq!(words.words(), ["mailnot", "notaire"]);
    }
}
