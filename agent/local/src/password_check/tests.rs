//! The local checks: each problem found, the strength checks on and off, and properties.

use proptest::prelude::*;

use super::*;

const ADDRESS: &str = "Dupont.Helene@12345.mailnot.fr";
/// Strong enough for every check.
const GOOD: &str = "Tulipe-Ancre-Violon-72";

fn check_with(
    checks: StrengthChecks,
    kind: PasswordKind,
    old: &str,
    new: &str,
    confirm: &str,
) -> Vec<PasswordProblem> {
    let context = PasswordContext {
        kind,
        mailbox: ADDRESS,
        display_name: "Hélène Dupont",
        office_name: "SCP Lefèvre et Associés",
        office_city: "Saint-Malo",
    };
    check_new_password(&PasswordRule::default(), checks, &context, &Typed { old, new, confirm })
}

fn check(kind: PasswordKind, old: &str, new: &str, confirm: &str) -> Vec<PasswordProblem> {
    check_with(StrengthChecks::default(), kind, old, new, confirm)
}

fn new_only(new: &str) -> Vec<PasswordProblem> {
    check(PasswordKind::Provisional, "Xq7!provisoire-16", new, new)
}

#[test]
fn a_good_password_passes() {
    assert_eq!(check(PasswordKind::Provisional, "Xq7!provisoire-16", GOOD, GOOD), []);
    assert_eq!(new_only("hR4#vLp9!tWq2"), []);
    // The end-to-end tests' periodic password.
    assert_eq!(new_only("Printemps#Violons-27"), []);
}

#[test]
fn each_problem_is_found() {
    use PasswordProblem::*;
    let p = PasswordKind::Provisional;
    let other = "Tulipe-Ancre-Violon-73";
    assert_eq!(check(p, "old", GOOD, other), [ConfirmationDiffers]);
    // The provisional password is also one of the person's words: the estimate knows it.
    assert!(check(p, GOOD, GOOD, GOOD).starts_with(&[SameAsProvisional]));
    let c = PasswordKind::Current;
    assert_eq!(check(c, GOOD, GOOD, GOOD), [SameAsCurrent]);
    let weak = TooGuessable { score: 0, min: 3 };
    assert!(check(p, "old", "court1A!", "court1A!").starts_with(&[TooShort { min: 10 }]));
    assert!(check(p, "old", "Mötdepasse1!", "Mötdepasse1!").starts_with(&[NotAscii]));
    assert!(new_only("Dupont-Violon-Tulipe-72").contains(&ContainsName));
    assert!(new_only("Ancre-xHELENE-2026").contains(&ContainsName));
    assert_ne!(weak, TooGuessable { score: 1, min: 3 });
}

#[test]
fn the_issues_examples_are_refused_with_their_reasons() {
    use PasswordProblem::*;
    let notaire = new_only("Notaire2026!");
    assert!(notaire.contains(&ContainsPersonalWord { kind: PersonalWordKind::Profession }));
    let context =
        PasswordContext::of_mailbox(PasswordKind::Current, "dupont.jean@14032.mailnot.fr");
    let typed = Typed { old: "old", new: "Dupont.Jean1", confirm: "Dupont.Jean1" };
    let problems =
        check_new_password(&PasswordRule::default(), StrengthChecks::default(), &context, &typed);
    assert_eq!(problems, [ContainsName]);
    for common in ["Azerty123!", "Motdepasse1!", "P@ssw0rd2024"] {
        let problems = new_only(common);
        assert!(problems.contains(&CommonPassword), "{common}: {problems:?}");
        assert!(problems.iter().any(PasswordProblem::wants_strength));
    }
    let office = new_only("Lefevre-Ancre-Violon-72");
    assert_eq!(office, [ContainsPersonalWord { kind: PersonalWordKind::Office }]);
    let number = new_only("Tulipe-Ancre-12345-Violon");
    assert_eq!(number, [ContainsPersonalWord { kind: PersonalWordKind::OfficeNumber }]);
    let provisional = new_only("Xq7!provisoire-16-Violon");
    assert_eq!(provisional, [ContainsPersonalWord { kind: PersonalWordKind::Provisional }]);
}

#[test]
fn the_policy_switches_the_strength_checks_off() {
    let off = StrengthChecks { personal_words: false, common_passwords: false, min_score: 0 };
    let p = PasswordKind::Provisional;
    for weak in ["Notaire2026!", "Azerty123!", "Lefevre2026!"] {
        assert_eq!(check_with(off, p, "Xq7!provisoire-16", weak, weak), [], "{weak}");
    }
    // The names of the address stay refused: the letter's rule.
    let name = "Dupont2026!!";
    assert_eq!(check_with(off, p, "old", name, name), [PasswordProblem::ContainsName]);
    // A score above the highest is capped.
    let strict = StrengthChecks { min_score: 9, ..StrengthChecks::default() };
    assert_eq!(check_with(strict, p, "old", GOOD, GOOD), []);
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
