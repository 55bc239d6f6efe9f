//! How the dashboard writes values in French: compliance states, dates and times (UTC, said so),
//! percentages.

use time::OffsetDateTime;

use sesame_base::rotation::{FailureReason, Step};

use crate::domain::audit::SignedHead;
use crate::domain::check_in::{KeyPresence, KeyState};
use crate::domain::compliance::ComplianceState;
use crate::domain::rotation::RotationStatus;

/// A compliance state in French (the documents' words).
pub(crate) fn state_fr(state: ComplianceState) -> &'static str {
    super::documents::state(state).name_fr()
}

/// The state named `name` (its stored name), if it is one.
pub(crate) fn state_named(name: &str) -> Option<ComplianceState> {
    ComplianceState::ALL.into_iter().find(|s| s.as_str() == name)
}

/// "07/12/2026".
pub(crate) fn date_fr(at: OffsetDateTime) -> String {
    format!("{:02}/{:02}/{}", at.day(), u8::from(at.month()), at.year())
}

/// "07/12/2026 14:03 UTC".
pub(crate) fn datetime_fr(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", date_fr(at), at.hour(), at.minute())
}

/// An optional time, or a dash.
pub(crate) fn maybe_datetime_fr(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "—".to_owned(), datetime_fr)
}

/// "87 %" (rounded down, so that 100 % means every one); a dash when there is nothing.
pub(crate) fn percent(part: u64, whole: u64) -> String {
    match (part * 100).checked_div(whole) {
        Some(share) => format!("{share} %"),
        None => "—".to_owned(),
    }
}

/// A rotation's status in French.
pub(crate) fn status_fr(status: RotationStatus) -> &'static str {
    match status {
        RotationStatus::Issued => "ouverte",
        RotationStatus::Delivered => "remise au poste",
        RotationStatus::Completed => "terminée",
        RotationStatus::Failed => "échouée",
        RotationStatus::Cancelled => "annulée",
        RotationStatus::Expired => "expirée",
    }
}

/// A reported step in French.
pub(crate) fn step_fr(step: Step) -> String {
    match step {
        Step::Pending => "en attente".to_owned(),
        Step::Started => "commencée (clé REAL retirée)".to_owned(),
        Step::Changed => "mot de passe changé sur Exchange".to_owned(),
        Step::Verified => "changement vérifié".to_owned(),
        Step::Completed => "terminée".to_owned(),
        Step::Failed(reason) => format!("échec : {}", reason_fr(reason)),
    }
}

/// Why a rotation stopped, in French.
pub(crate) fn reason_fr(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::KeyPresent => "clé REAL branchée",
        FailureReason::NewPasswordRefused => "nouveau mot de passe refusé par Exchange",
        FailureReason::CurrentPasswordRefused => "mot de passe actuel refusé par Exchange",
        FailureReason::OwaUnreachable => "OWA injoignable",
        FailureReason::OwaUntrusted => "certificat ou hôte d'OWA non reconnu",
        FailureReason::OwaUnexpected => "réponse d'OWA inattendue",
        FailureReason::LogonNameMissing => "nom de connexion manquant",
        FailureReason::NeedsHuman => "une personne doit intervenir",
        FailureReason::LocalStorage => "le poste n'a pas pu écrire son journal",
        FailureReason::Cancelled => "abandonnée ou annulée",
    }
}

/// The clé REAL's state in French.
pub(crate) fn key_fr(key: Option<&KeyState>) -> String {
    match key.map(|k| &k.presence) {
        None => "non signalé".to_owned(),
        Some(KeyPresence::Present { .. }) => "branchée".to_owned(),
        Some(KeyPresence::Absent) => "retirée".to_owned(),
        Some(KeyPresence::Unknown { reason }) => format!("inconnu ({reason})"),
    }
}

/// A signed audit head, as exports and pages name it: "enregistrement n° 42, empreinte
/// 3f2a…, signée le 07/12/2026 14:03 UTC par la clé k1".
pub(crate) fn head_fr(head: &SignedHead) -> String {
    format!(
        "enregistrement n° {}, empreinte {}, signée le {} par la clé {}",
        head.seq,
        head.hash_hex(),
        datetime_fr(head.signed_at),
        head.key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dates_and_percentages_read_as_in_france() {
        assert_eq!(datetime_fr(datetime!(2026-12-07 09:05 +01:00)), "07/12/2026 08:05 UTC");
        assert_eq!(percent(999, 1000), "99 %");
        assert_eq!(percent(0, 0), "—");
        assert_eq!(state_named("overdue"), Some(ComplianceState::Overdue));
        assert_eq!(state_named("nope"), None);
    }
}
