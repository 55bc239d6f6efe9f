//! Tests of the audit chain's hashing and verification.

use time::macros::datetime;

use super::*;

fn chain(n: i64) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH;
    (1..=n)
        .map(|seq| {
            let at = datetime!(2026-11-25 10:00 UTC) + time::Duration::seconds(seq);
            let details = format!("{{\"n\":{seq}}}");
            let target = format!("0000{seq}");
            let fields = RecordFields {
                seq,
                at,
                actor: "system",
                action: "office.create",
                office: Some(&target),
                target: &target,
                details: &details,
            };
            let hash = record_hash(&prev, &fields);
            let record = AuditRecord {
                seq,
                at,
                actor: "system".into(),
                action: "office.create".into(),
                office: Some(target.clone()),
                target,
                details,
                prev_hash: prev,
                hash,
            };
            prev = hash;
            record
        })
        .collect()
}

#[test]
fn an_intact_chain_verifies() {
    let records = chain(5);
    assert_eq!(verify(0, GENESIS_HASH, &records).unwrap(), (5, records[4].hash));
    assert_eq!(verify(0, GENESIS_HASH, &[]).unwrap(), (0, GENESIS_HASH));
}

#[test]
fn every_tampering_is_named_at_the_first_broken_record() {
    let records = chain(5);

    let mut deleted = records.clone();
    deleted.remove(2);
    assert_eq!(
        verify(0, GENESIS_HASH, &deleted),
        Err(ChainBreak::Sequence { expected: 3, found: 4 })
    );

    let mut edited = records.clone();
    edited[1].details = "{\"n\":99}".into();
    assert_eq!(verify(0, GENESIS_HASH, &edited), Err(ChainBreak::Content { seq: 2 }));

    let mut reordered = records.clone();
    reordered.swap(1, 2);
    assert_eq!(
        verify(0, GENESIS_HASH, &reordered),
        Err(ChainBreak::Sequence { expected: 2, found: 3 })
    );

    // A re-numbered deletion still fails: the next record no longer chains.
    let mut renumbered = records.clone();
    renumbered.remove(2);
    for r in &mut renumbered[2..] {
        r.seq -= 1;
    }
    assert_eq!(verify(0, GENESIS_HASH, &renumbered), Err(ChainBreak::Link { seq: 3 }));

    // An inserted record with a recomputed hash still breaks the link of the one after it.
    let mut inserted = records.clone();
    let mut forged = records[1].clone();
    forged.seq = 3;
    forged.prev_hash = records[1].hash;
    inserted.insert(2, forged);
    for r in &mut inserted[3..] {
        r.seq += 1;
    }
    assert!(verify(0, GENESIS_HASH, &inserted).is_err());
}

#[test]
fn field_boundaries_are_unambiguous() {
    let at = datetime!(2026-11-25 10:00 UTC);
    let a = RecordFields {
        seq: 1,
        at,
        actor: "ab",
        action: "c",
        office: None,
        target: "",
        details: "{}",
    };
    let b = RecordFields { actor: "a", action: "bc", ..a };
    let c = RecordFields { office: Some(""), ..a };
    assert_ne!(record_hash(&GENESIS_HASH, &a), record_hash(&GENESIS_HASH, &b));
    assert_ne!(record_hash(&GENESIS_HASH, &a), record_hash(&GENESIS_HASH, &c));
}

#[test]
fn a_head_message_is_fixed_and_domain_separated() {
    let at = datetime!(2026-11-25 09:30:00.123456 UTC);
    let message = head_message(42, &[0xab; 32], at);
    assert_eq!(
        String::from_utf8(message).unwrap(),
        format!("sesame-audit-head-v1\n42\n{}\n1795599000123456\n", "ab".repeat(32))
    );
    let head = SignedHead {
        seq: 42,
        hash: [0xab; 32],
        signed_at: at,
        key_id: "k".to_owned(),
        signature: vec![0; 64],
    };
    assert_eq!(head.message(), head_message(42, &[0xab; 32], at));
    assert_ne!(head_message(42, &[0xab; 32], at), head_message(4, &[0xab; 32], at));
    assert_eq!(
        HeadProblem::HeadsDeleted { seq: 9, newest: 3 }.seq(),
        9,
        "a problem names the head concerned"
    );
}

#[test]
fn every_break_is_reported_and_the_check_goes_on_past_it() {
    let records = chain(8);
    let (seq, hash, breaks) = verify_all(0, GENESIS_HASH, &records);
    assert_eq!((seq, hash, breaks), (8, records[7].hash, vec![]));

    let mut tampered = records.clone();
    tampered[1].details = "{\"n\":99}".into();
    tampered.remove(4);
    tampered[5].prev_hash = [7; 32];
    let (seq, hash, breaks) = verify_all(0, GENESIS_HASH, &tampered);
    assert_eq!((seq, hash), (8, records[7].hash));
    assert_eq!(
        breaks,
        vec![
            ChainBreak::Content { seq: 2 },
            ChainBreak::Sequence { expected: 5, found: 6 },
            ChainBreak::Link { seq: 7 },
            ChainBreak::Content { seq: 7 },
        ]
    );
    assert_eq!(verify(0, GENESIS_HASH, &tampered), Err(breaks[0].clone()), "the first, as before");
    assert_eq!(breaks[1].kind(), "record_missing_or_out_of_place");
}

mod keys {
    use super::super::key_history::*;
    use super::*;

    fn rotation(old: Option<(&str, Option<u8>)>, new_id: &str, new: u8) -> KeyRotation {
        KeyRotation {
            old: old.map(|(id, public)| KnownKey {
                id: id.to_owned(),
                public_key: public.map(|b| vec![b; 32]),
            }),
            new_key_id: new_id.to_owned(),
            new_public_key: vec![new; 32],
        }
    }

    fn as_record(event: &AuditEvent) -> AuditRecord {
        AuditRecord {
            seq: 3,
            at: datetime!(2026-12-07 10:00 UTC),
            actor: event.actor.as_str().to_owned(),
            action: event.action.to_owned(),
            office: None,
            target: event.target.clone(),
            details: event.details.to_string(),
            prev_hash: GENESIS_HASH,
            hash: GENESIS_HASH,
        }
    }

    #[test]
    fn a_rotation_round_trips_through_its_record() {
        for rotation in [
            rotation(Some(("k1", Some(1))), "k2", 2),
            rotation(Some(("k1", None)), "k2", 2),
            rotation(None, "k2", 2),
        ] {
            let event = rotation.event(Actor::system());
            assert_eq!(event.action, KEY_ROTATE_ACTION);
            assert_eq!(event.target, "k2");
            let record = as_record(&event);
            assert_eq!(KeyRotation::from_record(&record), Some(Some(rotation.clone())));
        }
        assert!(rotation(Some(("k1", Some(1))), "k2", 2).old_key_available());
        assert!(!rotation(Some(("k1", None)), "k2", 2).old_key_available());
        let mut record = as_record(&rotation(None, "k2", 2).event(Actor::system()));
        record.details = "{\"new_key_id\":\"k2\",\"new_public_key\":\"0102\"}".to_owned();
        assert_eq!(KeyRotation::from_record(&record), Some(None), "a short key is refused");
        record.action = "office.create".to_owned();
        assert_eq!(KeyRotation::from_record(&record), None);
    }

    #[test]
    fn the_key_in_force_follows_the_rotations() {
        let alone = KeyHistory::new("k1", &[1; 32]);
        assert_eq!(alone.key_for(5, "k1"), KeyVerdict::Verify(&[1; 32]));
        assert_eq!(
            alone.key_for(5, "zz"),
            KeyVerdict::Problem(HeadProblem::UnknownKey { seq: 5, key_id: "zz".to_owned() })
        );

        let mut history = KeyHistory::new("k3", &[3; 32]);
        history.add(10, rotation(Some(("k1", Some(1))), "k2", 2));
        history.add(20, rotation(Some(("k2", None)), "k3", 3));
        assert_eq!(history.key_for(5, "k1"), KeyVerdict::Verify(&[1; 32]));
        // At a rotation record: the old key vouching for it, or the new one.
        assert_eq!(history.key_for(10, "k1"), KeyVerdict::Verify(&[1; 32]));
        assert_eq!(history.key_for(10, "k2"), KeyVerdict::Verify(&[2; 32]));
        assert_eq!(history.key_for(15, "k2"), KeyVerdict::Verify(&[2; 32]));
        // A retired key after its retirement.
        assert_eq!(
            history.key_for(15, "k1"),
            KeyVerdict::Problem(HeadProblem::WrongKey {
                seq: 15,
                key_id: "k1".to_owned(),
                expected: "k2".to_owned()
            })
        );
        // k2's public key came from the rotation that made it: still checked, though lost since.
        assert_eq!(history.key_for(20, "k2"), KeyVerdict::Verify(&[2; 32]));
        assert_eq!(history.key_for(25, "k3"), KeyVerdict::Verify(&[3; 32]));
        assert!(matches!(
            history.key_for(25, "k2"),
            KeyVerdict::Problem(HeadProblem::WrongKey { .. })
        ));
        assert!(matches!(
            history.key_for(25, "k9"),
            KeyVerdict::Problem(HeadProblem::UnknownKey { .. })
        ));
        assert_eq!(history.in_force(5).unwrap().id, "k1");
        assert_eq!(history.in_force(25).unwrap().id, "k3");

        // The first key lost before any rotation recorded it: its heads cannot be checked.
        let mut lost = KeyHistory::new("k2", &[2; 32]);
        lost.add(10, rotation(Some(("k1", None)), "k2", 2));
        assert_eq!(lost.key_for(5, "k1"), KeyVerdict::Lost);
        assert_eq!(lost.key_for(10, "k2"), KeyVerdict::Verify(&[2; 32]));
    }
}
