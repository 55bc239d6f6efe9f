//! The readiness rule: each blocker on its own, and a ready workstation; check-ins folded.

use time::macros::datetime;

use super::*;

fn ready_look(url: &str) -> OwaReadiness {
    OwaReadiness {
        owa_url: url.to_owned(),
        checked_at: None,
        reachable: true,
        certificate_valid: true,
        forms_based: true,
        logon_format: LogonFormat::Email,
        language: "fr".to_owned(),
        problem: String::new(),
    }
}

fn mailbox(address: &str, logon: Option<&str>) -> AssignedMailbox {
    AssignedMailbox {
        address: address.to_owned(),
        logon_name: logon.map(|l| LogonName::parse(l).unwrap()),
    }
}

#[test]
fn readiness_blockers() {
    let url = OwaUrl::default_url();
    let now = datetime!(2026-11-29 10:00 UTC);
    let seen = datetime!(2026-11-29 09:59 UTC);
    let minute = time::Duration::seconds(60);
    let boxes =
        [mailbox("a.b@12345.mailnot.fr", None), mailbox("c.d@12345.mailnot.fr", Some("D\\cd"))];

    let look = ready_look(url.as_str());
    assert!(blockers(seen, Some(&look), &url, &boxes, now, minute).is_empty());

    assert_eq!(blockers(seen, None, &url, &boxes, now, minute), ["no OWA check reported yet"]);

    let silent = blockers(datetime!(2026-11-29 09:56 UTC), Some(&look), &url, &boxes, now, minute);
    assert_eq!(silent, ["agent silent since 2026-11-29T09:56:00Z"]);
    assert!(
        blockers(datetime!(2026-11-29 09:57 UTC), Some(&look), &url, &boxes, now, minute)
            .is_empty()
    );

    let mut bad = ready_look("https://other.example.fr/owa");
    bad.reachable = false;
    bad.certificate_valid = false;
    bad.forms_based = false;
    bad.logon_format = LogonFormat::DomainUser;
    let found = blockers(seen, Some(&bad), &url, &boxes, now, minute);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found[0].starts_with("checked another address"));
    assert_eq!(found[1], "OWA unreachable");
    assert_eq!(
        found[4],
        "mailbox a.b@12345.mailnot.fr needs a logon name: OWA asks for DOMAIN\\user"
    );
}

#[test]
fn key_descriptions() {
    let state = |presence| KeyState { presence, since: None };
    assert_eq!(
        state(KeyPresence::Present { device: "08e6:3437".into() }).describe(),
        "present 08e6:3437"
    );
    assert_eq!(state(KeyPresence::Absent).describe(), "absent");
    assert_eq!(
        state(KeyPresence::Unknown { reason: "no USB access".into() }).describe(),
        "unknown: no USB access"
    );
}

#[test]
fn check_ins_fold_into_the_last_with_every_report_kept() {
    let t0 = time::macros::datetime!(2026-11-25 09:30 UTC);
    let key = KeyState { presence: KeyPresence::Absent, since: None };
    let mut record = CheckInRecord::new("ws-1", "s1", Some("0.1.0"), t0)
        .with_key(Some(key.clone()))
        .with_readiness(Some(ready_look("https://owa.example/owa")));
    record.absorb(CheckInRecord::new("ws-1", "s1", None, t0 + time::Duration::seconds(1)));
    assert_eq!(record.seen_at, t0 + time::Duration::seconds(1));
    assert_eq!(record.agent_version.as_deref(), Some("0.1.0"), "an absent version keeps the last");
    assert_eq!(record.key, Some((key, t0)), "an absent key state keeps the last, with its time");
    assert!(record.readiness.is_some());
    assert_eq!(record.other_serial, None);

    // A renewal in the window: both serials are kept, the later one first.
    let present = KeyState { presence: KeyPresence::Present { device: "d".into() }, since: None };
    let later = t0 + time::Duration::seconds(2);
    record.absorb(
        CheckInRecord::new("ws-1", "s2", Some("0.2.0"), later).with_key(Some(present.clone())),
    );
    assert_eq!((record.serial.as_str(), record.other_serial.as_deref()), ("s2", Some("s1")));
    assert_eq!(record.agent_version.as_deref(), Some("0.2.0"));
    assert_eq!(record.key, Some((present, later)));
    record.absorb(CheckInRecord::new("ws-1", "s2", None, later));
    assert_eq!(record.other_serial.as_deref(), Some("s1"), "the renewal's serial is still kept");
}
