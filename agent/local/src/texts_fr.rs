//! Every word the person reads from `sesame-agent change` and `status`, in plain, calm French for
//! people who are not technicians: one place to reread and correct them. The service decides
//! (typed events, `protocol`); this file only says it.

use sesame_base::calendar::{Calendar, day_fr, moment_fr};
use sesame_base::password_rule::PasswordRule;
use sesame_base::rotation::{FailureReason, Step};

use crate::password_check::{PasswordProblem, PersonalWordKind};
use crate::protocol::{
    KeyStatus, MailboxChoice, PasswordKind, ProgressStep, Refusal, ServiceError, StatusReport,
    WirePolicy,
};

/// The service did not answer in time.
pub const SERVICE_SILENT: &str = "Le service Sesame ne répond plus. Dans quelques minutes, \
     lancez « sesame-agent status » pour savoir où en est votre changement ; si cela se \
     reproduit, contactez votre support informatique.";
/// The service closed the connection or answered nonsense.
pub const SERVICE_BROKE_OFF: &str = "Le service Sesame a interrompu l'échange. Votre mot de passe \
     n'a pas été changé par cette commande. Réessayez dans quelques minutes ; si cela se \
     reproduit, contactez votre support informatique.";
/// The person gave up or did not answer.
pub const CANCELLED: &str = "Changement abandonné. Rien n'a été modifié.";
/// Asked for a mailbox number.
pub const CHOOSE_MAILBOX_PROMPT: &str = "Numéro de la boîte à traiter : ";
/// Asked whether the key is unplugged.
pub const KEY_CONFIRM_PROMPT: &str = "Votre clé REAL est-elle bien débranchée ? (oui/non) : ";
/// When the answer was neither yes nor no.
pub const ANSWER_YES_OR_NO: &str = "Répondez « oui » ou « non ».";
/// `--key-unplugged` was given.
pub const KEY_CONFIRMED_BY_FLAG: &str =
    "Vous avez confirmé (option --key-unplugged) que la clé REAL est débranchée.";
/// No terminal and no `--key-unplugged`.
pub const KEY_CONFIRMATION_NEEDS_FLAG: &str = "Sans terminal, cette confirmation se donne avec \
     l'option --key-unplugged, une fois la clé REAL débranchée. Rien n'a été modifié.";
/// The new password, typed again to verify an interrupted change.
pub const NEW_PASSWORD_AGAIN_PROMPT: &str = "Nouveau mot de passe personnel : ";
/// The new password, first typing.
pub const NEW_PASSWORD_PROMPT: &str = "Nouveau mot de passe personnel : ";
/// The new password, second typing.
pub const CONFIRM_PASSWORD_PROMPT: &str = "Confirmez le nouveau mot de passe personnel : ";

/// The first password asked.
pub fn old_password_prompt(kind: PasswordKind) -> &'static str {
    match kind {
        PasswordKind::Provisional => "Mot de passe provisoire (indiqué sur le courrier) : ",
        PasswordKind::Current => "Mot de passe actuel de votre courrier : ",
    }
}

/// The service cannot be reached.
pub fn unreachable(detail: &str) -> String {
    format!(
        "Le service Sesame ne répond pas sur ce poste ({detail}). Vérifiez que le poste a bien \
         démarré, puis réessayez dans quelques minutes ; si cela se reproduit, contactez votre \
         support informatique. Rien n'a été modifié."
    )
}

/// Standard input or the terminal ended before the three passwords.
pub fn input_ended(detail: &str) -> String {
    format!("La saisie s'est arrêtée avant la fin ({detail}). Rien n'a été envoyé.")
}

/// A problem with the session.
pub fn service_error(error: ServiceError) -> String {
    let what = match error {
        ServiceError::UnsupportedVersion { .. } => {
            "Cette commande et le service Sesame ne sont pas de la même version. Contactez votre \
             support informatique."
        }
        ServiceError::LineTooLong | ServiceError::BadMessage | ServiceError::UnexpectedRequest => {
            "Le service Sesame n'a pas compris la demande. Contactez votre support informatique."
        }
        ServiceError::TimedOut => {
            "Le service Sesame a attendu trop longtemps votre réponse. Relancez la commande quand \
             vous serez prêt."
        }
        ServiceError::Internal => {
            "Le service Sesame a rencontré un problème. Réessayez dans quelques minutes ; si cela \
             se reproduit, contactez votre support informatique."
        }
        ServiceError::ShuttingDown => {
            "Le service Sesame est en train de s'arrêter. Réessayez dans quelques minutes."
        }
        ServiceError::TooManySessions => {
            "Trop de fenêtres ou de commandes Sesame sont ouvertes en même temps sur ce poste. \
             Fermez celles dont vous n'avez plus besoin, puis réessayez dans un instant."
        }
    };
    format!("{what} Votre mot de passe n'a pas été changé par cette commande.")
}

/// A step of the change.
pub fn progress(step: ProgressStep) -> &'static str {
    match step {
        ProgressStep::WaitingForUnplug => {
            "Débranchez votre clé REAL. Sesame attend qu'elle soit retirée pour continuer."
        }
        ProgressStep::KeyAbsent => "Votre clé REAL est bien débranchée.",
        ProgressStep::KeyConfirmed => {
            "Votre confirmation que la clé REAL est débranchée est notée."
        }
        ProgressStep::PasswordsAccepted => "Les mots de passe saisis conviennent.",
        ProgressStep::Connecting => "Connexion à votre messagerie…",
        ProgressStep::Changing => "Changement du mot de passe en cours…",
        ProgressStep::Changed => "La messagerie a accepté le nouveau mot de passe.",
        ProgressStep::Verifying => "Vérification du nouveau mot de passe…",
        ProgressStep::Verified => "Le nouveau mot de passe fonctionne.",
    }
}

/// The end of a successful change.
pub fn done(mailbox: &str, key_in: bool) -> String {
    if key_in {
        format!(
            "Le mot de passe de {mailbox} a été changé et vérifié. Votre clé REAL a été rebranchée \
             pendant le changement : ce n'est pas grave. Saisissez maintenant le nouveau mot de \
             passe dans Outlook."
        )
    } else {
        format!(
            "Le mot de passe de {mailbox} a été changé et vérifié. Saisissez-le maintenant dans \
             Outlook, puis rebranchez votre clé REAL."
        )
    }
}

/// What to do when a password is too easy to guess or too common.
pub const STRENGTH_SUGGESTION: &str = "Ajoutez un mot que personne ne devinerait, ou assemblez \
     trois mots sans rapport : Tulipe-Ancre-Violon-72.";

/// What the new password must contain.
pub fn policy(policy: WirePolicy) -> String {
    let rule = PasswordRule::from(policy);
    let mut parts = vec![format!("au moins {} caractères", rule.min_length)];
    for (required, text) in [
        (rule.require_lower, "une minuscule"),
        (rule.require_upper, "une majuscule"),
        (rule.require_digit, "un chiffre"),
        (rule.require_special, "un caractère spécial (par exemple ! ? - _ #)"),
    ] {
        if required {
            parts.push(text.to_owned());
        }
    }
    let checks = policy.strength();
    let mut refused = vec!["votre nom ni votre prénom"];
    if checks.personal_words {
        refused = vec![
            "votre nom ni votre prénom",
            "ni le nom, la ville ou le numéro de l'office",
            "ni « mailnot » ni « notaire »",
        ];
    }
    let mut text = format!(
        "Le nouveau mot de passe doit comporter {}, sans accent, et ne contenir ni {}.",
        parts.join(", "),
        refused.join(", ")
    );
    if checks.common_passwords {
        text.push_str(" Ce ne doit pas être un mot de passe courant.");
    }
    if checks.min_score > 0 {
        text.push_str(" Il doit être assez difficile à deviner.");
    }
    text
}

/// Before the three passwords.
pub fn need_passwords(
    kind: PasswordKind,
    mailbox: &str,
    display_name: &str,
    rule: WirePolicy,
) -> Vec<String> {
    let who = if display_name.is_empty() {
        mailbox.to_owned()
    } else {
        format!("{display_name} ({mailbox})")
    };
    let first = match kind {
        PasswordKind::Provisional => {
            "Saisissez le mot de passe provisoire de votre courrier, tel qu'il figure sur la lettre \
             reçue, puis votre nouveau mot de passe personnel, deux fois."
        }
        PasswordKind::Current => {
            "Saisissez le mot de passe actuel de votre courrier, puis votre nouveau mot de passe \
             personnel, deux fois."
        }
    };
    vec![
        format!("Changement du mot de passe de la messagerie {}.", de(&who)),
        first.to_owned(),
        policy(rule),
        "Les caractères ne s'affichent pas pendant la saisie : c'est normal.".to_owned(),
    ]
}

/// One problem with the new password.
pub fn password_problem(problem: PasswordProblem) -> String {
    match problem {
        PasswordProblem::TooShort { min } => format!("il doit comporter au moins {min} caractères"),
        PasswordProblem::NotAscii => {
            "il ne doit contenir ni accent ni caractère absent d'un clavier standard, ni espace au \
             début ou à la fin"
                .to_owned()
        }
        PasswordProblem::NoLower => "il doit contenir au moins une minuscule".to_owned(),
        PasswordProblem::NoUpper => "il doit contenir au moins une majuscule".to_owned(),
        PasswordProblem::NoDigit => "il doit contenir au moins un chiffre".to_owned(),
        PasswordProblem::NoSpecial => {
            "il doit contenir au moins un caractère spécial (par exemple ! ? - _ #)".to_owned()
        }
        PasswordProblem::ConfirmationDiffers => {
            "les deux saisies du nouveau mot de passe sont différentes".to_owned()
        }
        PasswordProblem::SameAsProvisional => {
            "il doit être différent du mot de passe provisoire de la lettre".to_owned()
        }
        PasswordProblem::SameAsCurrent => {
            "il doit être différent de votre mot de passe actuel".to_owned()
        }
        PasswordProblem::ContainsName => {
            "il ne doit contenir ni votre nom ni votre prénom".to_owned()
        }
        PasswordProblem::ContainsPersonalWord { kind } => personal_word(kind).to_owned(),
        PasswordProblem::CommonPassword => {
            "c'est un mot de passe courant, parmi les premiers qu'essaient les pirates, même avec \
             des chiffres ou des symboles ajoutés"
                .to_owned()
        }
        PasswordProblem::TooGuessable { .. } => {
            "il est trop facile à deviner (mots du dictionnaire, suites de touches, dates ou \
             prénoms se devinent vite)"
                .to_owned()
        }
    }
}

fn personal_word(kind: PersonalWordKind) -> &'static str {
    match kind {
        PersonalWordKind::Name => "il ne doit contenir ni votre nom ni votre prénom",
        PersonalWordKind::Office => "il ne doit contenir ni le nom ni la ville de l'office",
        PersonalWordKind::OfficeNumber => "il ne doit pas contenir le numéro de l'office (CRPCEN)",
        PersonalWordKind::Profession => "il ne doit contenir ni « mailnot » ni « notaire »",
        PersonalWordKind::Provisional => {
            "il ne doit pas reprendre le mot de passe provisoire de la lettre"
        }
    }
}

/// Why the service will not go on, and what to do.
pub fn refusal(refusal: &Refusal) -> Vec<String> {
    let text = |s: &str| vec![s.to_owned()];
    match refusal {
        Refusal::KeyPresent { .. } => text(
            "Votre clé REAL est branchée. Débranchez votre clé REAL, puis relancez le changement. \
             Rien n'a été modifié.",
        ),
        Refusal::KeyPluggedDuringChange => text(
            "La clé REAL a été branchée pendant le changement. L'étape en cours s'est terminée, \
             mais Sesame s'est arrêté là. Débranchez la clé et relancez le changement : Sesame \
             reprendra où il en était.",
        ),
        Refusal::NotEnrolled => text(
            "Ce poste n'est pas encore inscrit auprès de Sesame. Contactez votre support \
             informatique.",
        ),
        Refusal::NothingPending => text(
            "Aucun changement de mot de passe n'est prévu sur ce poste pour le moment. Il n'y a \
             rien à faire.",
        ),
        Refusal::MailboxRequired(choices) => mailbox_required(choices),
        Refusal::UnknownMailbox { mailbox } => vec![format!(
            "Aucun changement n'est prévu sur ce poste pour la boîte {mailbox}. Vérifiez \
             l'adresse. Rien n'a été modifié."
        )],
        Refusal::AccountNotBound => text(
            "Le changement périodique de mot de passe de cette boîte n'est encore rattaché à \
             aucune session de ce poste : Sesame ne peut pas savoir qui en est le titulaire. \
             Demandez à l'administrateur de rattacher votre session à votre boîte, ou de vous \
             envoyer un nouveau courrier. Rien n'a été envoyé à la messagerie.",
        ),
        Refusal::CurrentPasswordLimit => text(
            "La messagerie a déjà refusé aujourd'hui le mot de passe actuel de cette boîte. Pour \
             ne pas bloquer votre compte, Sesame n'essaiera pas de nouveau avant demain. \
             Attendez demain pour recommencer avec votre mot de passe actuel, ou demandez à \
             l'administrateur. Rien n'a été envoyé à la messagerie.",
        ),
        Refusal::Busy => text(
            "Un changement de mot de passe est déjà en cours sur ce poste. Attendez qu'il se \
             termine.",
        ),
        Refusal::ProvisionalMismatch => text(
            "Le mot de passe provisoire saisi ne correspond pas à celui de la lettre. Vérifiez-le \
             (attention aux majuscules, aux chiffres 0 et 1 et aux lettres O et l) et \
             recommencez. Rien n'a été envoyé à la messagerie.",
        ),
        Refusal::Password(problems) => {
            let mut lines = vec!["Ce nouveau mot de passe ne convient pas :".to_owned()];
            lines.extend(problems.iter().map(|p| format!("  - {}", password_problem(*p))));
            if problems.iter().any(PasswordProblem::wants_strength) {
                lines.push(STRENGTH_SUGGESTION.to_owned());
            }
            lines.push("Choisissez-en un autre. Rien n'a été envoyé à la messagerie.".to_owned());
            lines
        }
        Refusal::CurrentPasswordRefused => text(
            "La messagerie a refusé le mot de passe actuel (ou provisoire). Votre mot de passe \
             n'a pas changé. Ne réessayez pas plusieurs fois de suite : votre compte pourrait \
             être bloqué. Contactez votre support informatique.",
        ),
        Refusal::NewPasswordRefused => text(
            "La messagerie a refusé le nouveau mot de passe (trop proche d'un ancien, ou changé \
             trop récemment). Votre mot de passe n'a pas changé. Choisissez-en un autre.",
        ),
        Refusal::AccountLocked => text(
            "Votre compte de messagerie est bloqué. Votre mot de passe n'a pas changé. Contactez \
             votre support informatique.",
        ),
        Refusal::OwaUnreachable => text(
            "La messagerie ne répond pas. Vérifiez la connexion à Internet du poste, puis \
             réessayez plus tard. Votre mot de passe n'a pas changé.",
        ),
        Refusal::OwaUntrusted => text(
            "Le serveur de messagerie joint n'est pas celui attendu : par sécurité, Sesame n'a \
             rien envoyé. Votre mot de passe n'a pas changé. Contactez votre support \
             informatique.",
        ),
        Refusal::OwaUnexpected => text(
            "La messagerie a répondu d'une façon que Sesame ne connaît pas. Votre mot de passe \
             n'a pas changé. Contactez votre support informatique.",
        ),
        Refusal::LogonNameMissing => text(
            "Votre messagerie demande un identifiant de connexion que Sesame ne connaît pas \
             encore pour cette boîte. Rien n'a été envoyé. Contactez votre support informatique.",
        ),
        Refusal::NeedsHuman => text(
            "Sesame ne peut pas savoir avec certitude si le mot de passe a changé. Ne \
             recommencez pas : contactez votre support informatique, qui vérifiera.",
        ),
        Refusal::LocalStorage => text(
            "Sesame n'a pas pu enregistrer son suivi sur ce poste, il n'a donc rien tenté. Votre \
             mot de passe n'a pas changé. Contactez votre support informatique.",
        ),
    }
}

fn choice_lines(choices: &[MailboxChoice]) -> impl Iterator<Item = String> + '_ {
    choices.iter().enumerate().map(|(i, c)| {
        if c.display_name.is_empty() {
            format!("  {}. {}", i + 1, c.mailbox)
        } else {
            format!("  {}. {} ({})", i + 1, c.mailbox, c.display_name)
        }
    })
}

/// Several mailboxes pending, on a terminal.
pub fn choose_mailbox(choices: &[MailboxChoice]) -> Vec<String> {
    let mut lines =
        vec!["Plusieurs boîtes de messagerie attendent un changement sur ce poste :".to_owned()];
    lines.extend(choice_lines(choices));
    lines
}

/// Several mailboxes pending, without a terminal.
pub fn mailbox_required(choices: &[MailboxChoice]) -> Vec<String> {
    let mut lines = choose_mailbox(choices);
    lines.push(
        "Indiquez laquelle avec l'option --mailbox ADRESSE. Rien n'a été modifié.".to_owned(),
    );
    lines
}

/// The answer was not a number of the list.
pub fn not_a_choice(count: usize) -> String {
    format!("Répondez par un numéro entre 1 et {count}.")
}

/// The service cannot see the key.
pub fn key_unknown(reason: &str) -> Vec<String> {
    vec![
        format!("Sesame ne peut pas vérifier lui-même si votre clé REAL est branchée ({reason})."),
        "Débranchez votre clé REAL si ce n'est pas déjà fait. Votre confirmation sera enregistrée."
            .to_owned(),
    ]
}

/// "de Paul Martin", "d'Élodie Martin", "d'Hélène Dupont": the preposition, elided before a vowel
/// or a mute h as French writes it (names are taken as starting with a mute h, as almost all
/// first names do).
pub fn de(name: &str) -> String {
    let elides = name.chars().next().is_some_and(|first| {
        let folded = crate::password_check::fold(&first.to_string());
        folded.starts_with(['a', 'e', 'i', 'o', 'u', 'y', 'h'])
    });
    if elides { format!("d'{name}") } else { format!("de {name}") }
}

/// `oui`/`non` (and `o`/`n`, `yes`/`no`).
pub fn yes_or_no(answer: &str) -> Option<bool> {
    match answer.trim().to_lowercase().as_str() {
        "oui" | "o" | "yes" | "y" => Some(true),
        "non" | "n" | "no" => Some(false),
        _ => None,
    }
}

fn key_status(key: &KeyStatus) -> String {
    match key {
        KeyStatus::Present { device } => format!("branchée ({device})"),
        KeyStatus::Absent => "débranchée".to_owned(),
        KeyStatus::Unknown { reason } if reason.is_empty() => {
            "état inconnu : Sesame ne peut pas la voir sur ce poste".to_owned()
        }
        KeyStatus::Unknown { reason } => format!(
            "état inconnu : Sesame ne peut pas la voir sur ce poste (détail pour votre \
             informaticien : {reason})"
        ),
    }
}

fn failure_reason(failure: FailureReason) -> &'static str {
    match failure {
        FailureReason::KeyPresent => "la clé REAL était branchée",
        FailureReason::NewPasswordRefused => "la messagerie a refusé le nouveau mot de passe",
        FailureReason::CurrentPasswordRefused => "la messagerie a refusé le mot de passe actuel",
        FailureReason::OwaUnreachable => "la messagerie ne répondait pas",
        FailureReason::OwaUntrusted => "le serveur de messagerie n'était pas celui attendu",
        FailureReason::OwaUnexpected => "réponse inattendue de la messagerie",
        FailureReason::LogonNameMissing => "identifiant de connexion manquant",
        FailureReason::NeedsHuman => "à vérifier par le support",
        FailureReason::LocalStorage => "suivi impossible à enregistrer sur le poste",
        FailureReason::Cancelled => "abandonné",
    }
}

/// A rotation step, for `status`.
pub fn step_status(step: Step) -> String {
    match step {
        Step::Pending => "en attente : lancez « sesame-agent change »".to_owned(),
        Step::Started => "commencé".to_owned(),
        Step::Changed => "changé, vérification en attente".to_owned(),
        Step::Verified => {
            "changé et vérifié ; à saisir dans Outlook, puis rebrancher la clé REAL".to_owned()
        }
        Step::Completed => "terminé".to_owned(),
        Step::Failed(failure) => format!("interrompu : {}", failure_reason(failure)),
    }
}

/// `sesame-agent status`; dates in the person's `calendar` (their time zone).
pub fn status(report: &StatusReport, calendar: &dyn Calendar) -> Vec<String> {
    let mut lines = vec![format!("Sesame, version {}", report.agent_version)];
    if !report.enrolled {
        lines.push("Ce poste n'est pas encore inscrit auprès de Sesame.".to_owned());
    }
    lines.push(format!("Clé REAL : {}", key_status(&report.key)));
    if report.rotations.is_empty() {
        lines.push("Aucun changement de mot de passe en attente.".to_owned());
    } else {
        lines.push("Changements de mot de passe :".to_owned());
        for rotation in &report.rotations {
            let kind = match rotation.kind {
                PasswordKind::Provisional => "après courrier",
                PasswordKind::Current => "périodique",
            };
            let due = rotation
                .due
                .map(|due| format!(", à faire avant le {}", day_fr(due, calendar)))
                .unwrap_or_default();
            lines.push(format!(
                "  - {} ({kind}{due}) : {}",
                rotation.mailbox,
                step_status(rotation.step)
            ));
        }
    }
    match &report.last_report {
        Some(last) => {
            lines.push(format!(
                "Dernier compte rendu : {} le {}, {} ({})",
                last.mailbox,
                moment_fr(last.at, calendar),
                step_status(last.step),
                if last.delivered { "reçu par le serveur" } else { "pas encore transmis" }
            ));
        }
        None => lines.push("Aucun compte rendu envoyé pour le moment.".to_owned()),
    }
    if report.reports_waiting > 0 {
        lines.push(format!(
            "{} compte(s) rendu(s) en attente d'envoi au serveur.",
            report.reports_waiting
        ));
    }
    lines
}

/// An interrupted change must be verified with the new password.
pub fn need_new_password(mailbox: &str, may_be_unchanged: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "Le changement du mot de passe de {mailbox} a été interrompu et a peut-être eu lieu. \
         Pour le vérifier, Sesame a besoin du nouveau mot de passe que vous aviez choisi \
         (une seule tentative de connexion)."
    )];
    if may_be_unchanged {
        lines.push(
            "Si vous n'aviez pas changé votre mot de passe, laissez la réponse vide et validez."
                .to_owned(),
        );
    }
    lines
}

#[cfg(test)]
mod elision_tests {
    #[test]
    fn de_is_elided_before_a_vowel_or_a_mute_h() {
        assert_eq!(super::de("Élodie Martin"), "d'Élodie Martin");
        assert_eq!(super::de("Hélène Dupont"), "d'Hélène Dupont");
        assert_eq!(super::de("anne.leroy@01234.mailnot.fr"), "d'anne.leroy@01234.mailnot.fr");
        assert_eq!(super::de("Paul Martin"), "de Paul Martin");
        assert_eq!(super::de(""), "de ");
    }
}
