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
