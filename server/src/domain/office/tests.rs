//! Tests of the domain parsers.

use super::*;

fn domain() -> MailDomain {
    MailDomain::default()
}

#[test]
fn crpcen_is_five_digits_kept_as_text() {
    assert_eq!(Crpcen::parse("01234").unwrap().as_str(), "01234");
    assert_eq!(Crpcen::parse(" 75001 ").unwrap().as_str(), "75001");
    for bad in ["", "1234", "123456", "12a45", "１２３４５", "-1234", "12 34"] {
        assert!(Crpcen::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn address_is_parsed_case_insensitively() {
    let a = MailboxAddress::parse("Dupont.Jean@01234.MAILNOT.fr", &domain()).unwrap();
    assert_eq!(a.as_str(), "dupont.jean@01234.mailnot.fr");
    assert_eq!(a.office().as_str(), "01234");
    assert_eq!(a.last_name(), "dupont");
    assert_eq!(a.first_name(), "jean");
    let b = MailboxAddress::parse("le-goff.jean-marc@75001.mailnot.fr", &domain()).unwrap();
    assert_eq!((b.last_name(), b.first_name()), ("le-goff", "jean-marc"));
    let c = MailboxAddress::parse("martin.paul2@75001.mailnot.fr", &domain()).unwrap();
    assert_eq!(c.first_name(), "paul2");
}

#[test]
fn malformed_addresses_are_refused_with_a_reason() {
    let cases = [
        "dupont.jean",
        "dupontjean@01234.mailnot.fr",
        ".jean@01234.mailnot.fr",
        "dupont.@01234.mailnot.fr",
        "dupont.jean@1234.mailnot.fr",
        "dupont.jean@01234.example.fr",
        "dupont.jean@01234",
        "dupont..jean@01234.mailnot.fr",
        "dupont.jean--x@01234.mailnot.fr",
        "dupönt.jean@01234.mailnot.fr",
        "dupont.jean@01234.mailnot.fr@x",
        "dupont jean@01234.mailnot.fr",
    ];
    for bad in cases {
        let err = MailboxAddress::parse(bad, &domain()).unwrap_err();
        assert!(matches!(err, ParseError::Address { .. }), "{bad:?} gave {err:?}");
    }
    let long = format!("{}.jean@01234.mailnot.fr", "a".repeat(300));
    assert!(MailboxAddress::parse(&long, &domain()).is_err());
}

#[test]
fn the_domain_suffix_is_configurable() {
    let d = MailDomain::parse("notaires.example").unwrap();
    assert!(MailboxAddress::parse("a.b@01234.notaires.example", &d).is_ok());
    assert!(MailboxAddress::parse("a.b@01234.mailnot.fr", &d).is_err());
    assert!(MailDomain::parse("nodot").is_err());
    assert!(MailDomain::parse("bad_label.fr").is_err());
}

#[test]
fn text_fields_are_trimmed_and_bounded() {
    assert_eq!(Text::parse("name", "  Office Dupont ").unwrap().as_str(), "Office Dupont");
    assert!(Text::parse("name", "   ").is_err());
    assert!(Text::parse("name", "a\u{1b}[31m").is_err());
    assert!(Text::parse("name", &"é".repeat(201)).is_err());
    assert_eq!(Text::parse_optional("city", "").unwrap(), None);
}

#[test]
fn text_refuses_bidirectional_and_invisible_format_characters() {
    let bad = [
        "Étude\u{202E}gnp.exe",
        "\u{202A}Dupont",
        "Dupont\u{202B}",
        "Du\u{202C}pont",
        "Du\u{202D}pont",
        "Du\u{2066}pont\u{2069}",
        "Du\u{2067}pont",
        "Du\u{2068}pont",
        "Du\u{200E}pont",
        "Du\u{200F}pont",
        "Du\u{061C}pont",
        "Du\u{200B}pont",
        "Du\u{200C}pont",
        "Du\u{200D}pont",
        "Du\u{2060}pont",
        "\u{FEFF}Dupont",
        "Du\u{00AD}pont",
        "Du\u{E0041}pont",
    ];
    for value in bad {
        let err = Text::parse("name", value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid name: contains invisible formatting or bidirectional characters",
            "{value:?}"
        );
        assert!(Text::parse_optional("city", value).is_err(), "{value:?}");
    }
    for good in ["Étude Dupont & Associés", "Saint-Étienne", "Ōsaka 大阪", "O'Brien", "Mañana"]
    {
        assert_eq!(Text::parse("name", good).unwrap().as_str(), good);
    }
}
