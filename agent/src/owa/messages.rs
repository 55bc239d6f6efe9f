//! What the messages on Exchange's expired-password page mean.
//!
//! The change page always answers 200 and re-renders itself with a localised message
//! (PROTOCOL.md, "Outcomes of a change and their messages"). Its exact French texts are not
//! public: the keys below are the English texts known from Exchange 2010–2019 and their French
//! equivalents as we expect them, matched as fragments, case-insensitively. A message that matches
//! nothing is *not guessed*: the client reports the change as unknown, to be reconciled, and never
//! retries it. When the real server's pages are captured (PROTOCOL.md, "Still unknown: capture
//! from the real server"), their texts go here, with a test.

/// What a message on the change page says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangePageMessage {
    /// "Your password has been changed."
    Changed,
    /// The two new passwords differ (PasswordConflict).
    PasswordConflict,
    /// The new password breaks the domain policy: length, complexity, history or minimum age
    /// (InvalidNewPassword; Exchange cannot tell them apart).
    InvalidNewPassword,
    /// The account is locked (LockedOut).
    LockedOut,
    /// The user name or current password is wrong (InvalidCredentials).
    InvalidCredentials,
}

/// Fragments of each message, English then French, lower-case. The order matters: the first
/// match wins, and the success text is checked first.
const KEYS: &[(ChangePageMessage, &[&str])] = &[
    (ChangePageMessage::Changed, &["password has been changed", "mot de passe a été modifié"]),
    (
        ChangePageMessage::PasswordConflict,
        &["don't match", "do not match", "don&#39;t match", "ne correspondent pas"],
    ),
    (
        ChangePageMessage::InvalidNewPassword,
        &["minimum security requirements", "exigences minimales de sécurité"],
    ),
    (ChangePageMessage::LockedOut, &["has been locked", "locked out", "a été verrouillé"]),
    (
        ChangePageMessage::InvalidCredentials,
        &["isn't correct", "is not correct", "isn&#39;t correct", "est incorrect"],
    ),
];

/// The meaning of a message (character references already decoded), if it is one we know.
/// Typographic apostrophes and non-breaking spaces (French puts one before `:`) count as plain.
pub fn classify(text: &str) -> Option<ChangePageMessage> {
    let text: String = text
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '\u{a0}' | '\u{202f}' => ' ',
            c => c,
        })
        .collect::<String>()
        .to_lowercase();
    KEYS.iter()
        .find(|(_, fragments)| fragments.iter().any(|f| text.contains(f)))
        .map(|(message, _)| *message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_messages_in_both_languages() {
        for (text, expected) in [
            (
                "The user name or password you entered isn't correct. Try entering it again.",
                ChangePageMessage::InvalidCredentials,
            ),
            (
                "Le nom d'utilisateur ou le mot de passe que vous avez entré est incorrect.",
                ChangePageMessage::InvalidCredentials,
            ),
            (
                "The passwords you entered don't match. Type them again.",
                ChangePageMessage::PasswordConflict,
            ),
            (
                "Les mots de passe que vous avez entrés ne correspondent pas.",
                ChangePageMessage::PasswordConflict,
            ),
            (
                "The password you entered doesn't meet the minimum security requirements.",
                ChangePageMessage::InvalidNewPassword,
            ),
            (
                "Le mot de passe ne respecte pas les exigences minimales de sécurité.",
                ChangePageMessage::InvalidNewPassword,
            ),
            ("Votre compte a été verrouillé.", ChangePageMessage::LockedOut),
            (
                "Your password has been changed. Click OK to sign in with your new password.",
                ChangePageMessage::Changed,
            ),
            ("Votre mot de passe a été modifié.", ChangePageMessage::Changed),
            ("Votre mot de passe a\u{a0}été modifié.", ChangePageMessage::Changed),
            ("Les mots de passe ne correspondent\u{202f}pas.", ChangePageMessage::PasswordConflict),
            (
                crate::owa::entities::decode(
                    "Le nom d&#39;utilisateur ou le mot de passe est incorrect.",
                )
                .as_str(),
                ChangePageMessage::InvalidCredentials,
            ),
            (
                crate::owa::entities::decode("Votre compte a &#233;t&#233; verrouill&eacute;.")
                    .as_str(),
                ChangePageMessage::LockedOut,
            ),
        ] {
            assert_eq!(classify(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn unknown_messages_are_not_guessed() {
        assert_eq!(classify("Une erreur inattendue s'est produite."), None);
        assert_eq!(classify(""), None);
    }
}
