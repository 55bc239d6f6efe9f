//! The window's own words: titles, buttons, the checklist and the dates, in plain French. Every
//! step, refusal and error the terminal already says comes from `sesame_local::texts_fr`
//! and is not rewritten here.

use sesame_base::rotation::Step;
use sesame_local::protocol::{KeyStatus, PasswordKind, RotationStatus};
use sesame_local::texts_fr;
use time::{Date, OffsetDateTime};

use sesame_base::calendar::Calendar;

/// The window's title.
pub const WINDOW_TITLE: &str = "Sesame : changement du mot de passe de messagerie";
/// Buttons.
pub const START: &str = "Commencer";
/// Buttons.
pub const NEXT: &str = "Suivant";
/// Buttons.
pub const SUBMIT: &str = "Valider";
/// Buttons.
pub const AGAIN: &str = "Recommencer";
/// Buttons.
pub const CLOSE: &str = "Fermer";
/// Buttons.
pub const OUTLOOK_DONE: &str = "C'est fait";
/// While the service is asked.
pub const LOADING: &str = "Sesame vérifie où en est votre changement de mot de passe…";
/// While the service works and no step has been said yet.
pub const WAITING: &str = "Un instant, Sesame s'en occupe…";
/// The spinner's accessible name while the service works.
pub const WORKING_SPINNER: &str = "Changement en cours…";
/// The spinner's accessible name while the key is awaited.
pub const WAITING_FOR_KEY: &str = "En attente de la clé REAL";
/// Key screen.
pub const UNPLUG_TITLE: &str = "Retirez votre clé REAL";
/// Key screen.
pub const UNPLUG_BODY: &str = "Retirez votre clé REAL de l'ordinateur. Sesame le voit tout seul : \
     le bouton « Suivant » devient disponible dès que la clé est retirée.";
/// Key screen, when Sesame cannot see the key.
pub const KEY_CONFIRM: &str = "J'ai bien retiré ma clé REAL";
/// Passwords screen.
pub const PASSWORDS_TITLE: &str = "Vos mots de passe";
/// Passwords screen.
pub const SHOW_PASSWORDS: &str = "Afficher les mots de passe";
/// Passwords screen.
pub const CHECKLIST_TITLE: &str = "Le nouveau mot de passe :";
/// Interrupted change screen.
pub const NEW_PASSWORD_TITLE: &str = "Vérification du changement interrompu";
/// Progress screen.
pub const WORKING_TITLE: &str = "Changement en cours";
/// Refusal screen.
pub const REFUSED_TITLE: &str = "Le changement n'a pas pu se faire";
/// Outlook screen.
pub const OUTLOOK_TITLE: &str = "Ouvrez Outlook et saisissez votre nouveau mot de passe";
/// Outlook screen.
pub const OUTLOOK_BODY: &str = "Ouvrez Outlook. Quand il vous demande votre mot de passe, \
     saisissez le nouveau mot de passe que vous venez de choisir, puis cliquez sur « C'est fait ».";
/// Key back screen.
pub const REPLUG_TITLE: &str = "Remettez votre clé REAL";
/// Key back screen.
pub const REPLUG_BODY: &str = "Rebranchez maintenant votre clé REAL. Sesame le verra tout seul.";
/// Last screen.
pub const FINISHED_TITLE: &str = "C'est terminé";
/// Last screen.
pub const FINISHED_BODY: &str = "Votre mot de passe de messagerie est changé, Outlook le connaît et \
     votre clé REAL est en place. Vous pouvez fermer cette fenêtre.";
/// Choice screen.
pub const CHOOSE_TITLE: &str = "Quelle boîte de messagerie ?";
/// Unreachable / idle screens.
pub const NOTHING_TITLE: &str = "Rien à faire pour le moment";
/// Unreachable screen.
pub const UNREACHABLE_TITLE: &str = "Le service Sesame ne répond pas";

/// A terminal prompt as a field label: without the trailing " : ".
pub fn label(prompt: &str) -> &str {
    prompt.trim_end_matches([' ', ':'])
}

/// The first password's label.
pub fn old_password_label(kind: PasswordKind) -> &'static str {
    label(texts_fr::old_password_prompt(kind))
}

/// The new password's label.
pub fn new_password_label() -> &'static str {
    label(texts_fr::NEW_PASSWORD_PROMPT)
}

/// The confirmation's label.
pub fn confirm_password_label() -> &'static str {
    label(texts_fr::CONFIRM_PASSWORD_PROMPT)
}

/// "Étape n sur 6".
pub fn step_of(n: u8) -> String {
    format!("Étape {n} sur 6")
}

/// The live key state.
pub fn key_state(key: Option<&KeyStatus>) -> String {
    match key {
        Some(KeyStatus::Present { .. }) => "Votre clé REAL est encore branchée.".to_owned(),
        Some(KeyStatus::Absent) => "Votre clé REAL est retirée. Vous pouvez continuer.".to_owned(),
        Some(KeyStatus::Unknown { .. }) | None => {
            "Sesame ne peut pas voir votre clé REAL sur ce poste : cochez la case ci-dessous une \
             fois la clé retirée."
                .to_owned()
        }
    }
}

/// `15 décembre 2026` (`sesame_base::calendar`, the words `sesame-agent status` uses too).
pub fn date(date: Date) -> String {
    sesame_base::calendar::date_fr(date)
}

/// Whole days from `now` to `due` in the person's calendar (negative when past).
pub fn days_left(due: OffsetDateTime, now: OffsetDateTime, calendar: &dyn Calendar) -> i64 {
    (calendar.day_of(due) - calendar.day_of(now)).whole_days()
}

/// "dans 3 jours", "aujourd'hui", "depuis 2 jours".
pub fn days_phrase(days: i64) -> String {
    match days {
        0 => "aujourd'hui".to_owned(),
        1 => "demain".to_owned(),
        d if d > 1 => format!("dans {d} jours"),
        -1 => "depuis hier".to_owned(),
        d => format!("depuis {} jours", -d),
    }
}

/// The first screen: why this is happening, and when it is due.
pub fn why(rotation: &RotationStatus, now: OffsetDateTime, calendar: &dyn Calendar) -> Vec<String> {
    let who = if rotation.display_name.is_empty() {
        rotation.mailbox.clone()
    } else {
        format!("{} ({})", rotation.display_name, rotation.mailbox)
    };
    let mut lines = vec![match rotation.kind {
        PasswordKind::Provisional => format!(
            "Votre office a demandé un nouveau mot de passe pour la messagerie {}. Vous avez \
             reçu un courrier qui indique un mot de passe provisoire : gardez-le sous la main.",
            texts_fr::de(&who)
        ),
        PasswordKind::Current => format!(
            "Le mot de passe de la messagerie {} doit être changé régulièrement : c'est le \
             moment. Gardez votre mot de passe actuel en tête.",
            texts_fr::de(&who)
        ),
    }];
    if let Some(due) = rotation.due {
        let days = days_left(due, now, calendar);
        let when = if days >= 0 { "À faire avant le" } else { "C'était à faire avant le" };
        lines.push(format!("{when} {} ({}).", date(calendar.day_of(due)), days_phrase(days)));
    }
    match rotation.step {
        Step::Pending | Step::Completed => {}
        other => lines.push(format!("Dernier état : {}.", texts_fr::step_status(other))),
    }
    lines.push(
        "Sesame vous guide pas à pas : retirer la clé REAL, choisir le nouveau mot de passe, \
         laisser Sesame le changer, le saisir dans Outlook, remettre la clé. Comptez cinq \
         minutes."
            .to_owned(),
    );
    lines
}

/// The reminder notification's body.
pub fn reminder(mailbox: &str, days: i64) -> String {
    let due = if days >= 0 {
        format!("à faire {}", days_phrase(days))
    } else {
        format!("en retard {}", days_phrase(days))
    };
    format!(
        "Le mot de passe de la messagerie {mailbox} doit être changé ({due}). Cliquez ici pour \
         ouvrir la fenêtre Sesame."
    )
}

/// The reminder's title.
pub const REMINDER_TITLE: &str = "Sesame : mot de passe à changer";

#[cfg(test)]
mod tests {
    use sesame_local::protocol::{PasswordKind, RotationStatus};
    use time::macros::{datetime, offset};

    use super::*;
    use sesame_base::calendar::FixedCalendar;

    #[test]
    fn the_due_date_is_the_persons_day() {
        // Due at 23:30 UTC on 4 December: 5 December in Paris (UTC+1 in winter).
        let rotation = RotationStatus {
            mailbox: "m@1.mailnot.fr".to_owned(),
            display_name: String::new(),
            kind: PasswordKind::Current,
            step: Step::Pending,
            due: Some(datetime!(2026-12-04 23:30 UTC)),
            in_hand: false,
        };
        let now = datetime!(2026-12-01 09:00 UTC);
        let paris = why(&rotation, now, &FixedCalendar(offset!(+1))).join("\n");
        assert!(paris.contains("À faire avant le 5 décembre 2026 (dans 4 jours)."), "{paris}");
        let utc = why(&rotation, now, &FixedCalendar(time::UtcOffset::UTC)).join("\n");
        assert!(utc.contains("À faire avant le 4 décembre 2026 (dans 3 jours)."), "{utc}");
    }
}
