//! Fuzz targets of the agent's files: the record framing on any bytes, the journal's and the
//! outbox's records as damaged JSON (real records, mutated), and whole files opened from disk. A
//! damaged file must give an error, never a panic or a wrong acceptance.

use bolero::{TypeGenerator, check};
use secrecy::SecretString;
use serde_json::Value;
use sesame_base::rotation::FailureReason;
use sesame_local::account::LocalAccount;
use time::macros::datetime;

use crate::journal::record::{END, HEADER, MAGIC, frame, framed_file, scan};
use crate::journal::{self, Journal, JournalRecord};
use crate::outbox::{self, Outbox};
use crate::rotation::{
    Command, Delivery, Event, Fingerprint, KeyEvidence, KeyGate, Rotation, RotationKind, Verifier,
    handle,
};
use sesame_base::fuzz_tally::Tally;

/// Journal and outbox payloads as the agent writes them, through a rotation's whole life.
fn real_payloads() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let now = datetime!(2026-11-29 03:00 UTC);
    let delivery = Delivery {
        id: sesame_base::ids::RotationId::parse("id", "rot-1").unwrap(),
        mailbox: "dupont.jean@12345.mailnot.fr".to_owned(),
        kind: RotationKind::Provisional,
        provisional: Some(Verifier::new(&SecretString::from("Provisoire-Kx9mPq2vL7wZ4"))),
        bound: Some(LocalAccount::new("jdupont", "Jean Dupont")),
    };
    let evidence = KeyEvidence::PersonConfirmed { at: now, detail: "no USB access".to_owned() };
    let (mut rotation, mut commands) = Rotation::new(delivery, now);
    for event in [
        Event::ChangeRequested {
            key: KeyGate::Absent(evidence),
            typed_matches: true,
            new_password: Fingerprint::from_bytes([7; 32]),
            by: LocalAccount::new("jdupont", ""),
            lockout_threshold: 5,
        },
        Event::OwaChanged { verified: true },
        Event::KeyInserted,
        Event::OwaUnavailable(FailureReason::OwaUnreachable),
    ] {
        let (next, more) = handle(rotation, event, now);
        rotation = next;
        commands.extend(more);
    }
    let mut journal = Vec::new();
    let mut outbox = Vec::new();
    for command in commands {
        match command {
            Command::Journal(record) => journal.push(serde_json::to_vec(&record).unwrap()),
            Command::Report(draft) => {
                let report = outbox::Report::new(draft);
                let evicted: Vec<String> = Vec::new();
                outbox.push(
                    serde_json::to_vec(
                        &serde_json::json!({"Push": {"report": report, "evicted": evicted}}),
                    )
                    .unwrap(),
                );
                outbox.push(
                    serde_json::to_vec(
                        &serde_json::json!({"Ack": {"report_ids": [report.report_id]}}),
                    )
                    .unwrap(),
                );
            }
            _ => {}
        }
    }
    journal.push(serde_json::to_vec(&JournalRecord::Forget { rotation_id: rotation.id }).unwrap());
    outbox.push(br#"{"Dropped":{"count":3}}"#.to_vec());
    (journal, outbox)
}

#[test]
fn the_records_seen_are_real_ones() {
    let (journal, outbox) = real_payloads();
    assert!(journal.len() >= 4, "{}", journal.len());
    assert!(outbox.len() >= 6, "{}", outbox.len());
    assert!(journal.iter().all(|p| journal::decode(p).is_ok()));
    assert_eq!(outbox::replay(outbox.iter().map(Vec::as_slice)).unwrap().len(), 0);
}

/// Changes to a JSON record: which node (by its rank among all nodes), and what becomes of it.
#[derive(Debug, TypeGenerator)]
struct Mutation {
    record: u8,
    node: u16,
    change: Change,
}

#[derive(Debug, TypeGenerator)]
enum Change {
    Remove,
    Null,
    Bool(bool),
    Integer(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    EmptyObject,
    EmptyArray,
    AddKey(String),
    CopyOf(u16),
}

fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                pointers(child, format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn mutate(value: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    pointers(value, String::new(), &mut all);
    let at = all[usize::from(mutation.node) % all.len()].clone();
    let copy =
        |n: u16| value.pointer(&all[usize::from(n) % all.len()]).cloned().unwrap_or(Value::Null);
    let replacement = match &mutation.change {
        Change::Remove => {
            if let Some((parent, last)) = at.rsplit_once('/') {
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => drop(map.remove(&last)),
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
        Change::AddKey(key) => {
            if let Some(Value::Object(map)) = value.pointer_mut(&at) {
                map.insert(key.clone(), Value::Null);
            }
            return;
        }
        Change::Null => Value::Null,
        Change::Bool(b) => Value::Bool(*b),
        Change::Integer(n) => Value::from(*n),
        Change::Unsigned(n) => Value::from(*n),
        Change::Float(f) => Value::from(*f),
        Change::Text(s) => Value::String(s.clone()),
        Change::EmptyObject => Value::Object(Default::default()),
        Change::EmptyArray => Value::Array(Vec::new()),
        Change::CopyOf(n) => copy(*n),
    };
    if let Some(node) = value.pointer_mut(&at) {
        *node = replacement;
    }
}

/// The real payloads with these mutations applied, each to one record.
fn mutated(payloads: &[Vec<u8>], mutations: &[Mutation]) -> Vec<Vec<u8>> {
    let mut values: Vec<Value> =
        payloads.iter().map(|p| serde_json::from_slice(p).unwrap()).collect();
    for mutation in mutations {
        let n = usize::from(mutation.record) % values.len();
        mutate(&mut values[n], mutation);
    }
    values.iter().map(|v| serde_json::to_vec(v).unwrap()).collect()
}

#[test]
fn damaged_journal_records_are_refused_or_read_back_exactly() {
    let tally = Tally::new("journal_records");
    let (journal, _) = real_payloads();
    check!().with_type::<Vec<Mutation>>().with_iterations(3_000).for_each(|mutations| {
        tally.case(|| {
            let payloads = mutated(&journal, mutations);
            if payloads.iter().all(|p| journal::decode(p).is_ok()) {
                tally.accepted();
            }
            for payload in payloads {
                if let Ok(record) = journal::decode(&payload) {
                    // What was accepted is a record the agent could have written: it reads back
                    // as itself.
                    let again = serde_json::to_vec(&record).unwrap();
                    assert_eq!(journal::decode(&again).unwrap(), record);
                }
            }
        })
    });
    println!("{tally}");
}

#[test]
fn damaged_outbox_records_are_refused_or_replayed() {
    let tally = Tally::new("outbox_records");
    let (_, outbox) = real_payloads();
    check!().with_type::<Vec<Mutation>>().with_iterations(3_000).for_each(|mutations| {
        tally.case(|| {
            let payloads = mutated(&outbox, mutations);
            match outbox::replay(payloads.iter().map(Vec::as_slice)) {
                Ok(waiting) => {
                    tally.accepted();
                    assert!(payloads.iter().all(|p| outbox::is_record(p)));
                    assert!(waiting.len() <= payloads.len());
                    for report in waiting {
                        let again = serde_json::to_vec(&report).unwrap();
                        assert_eq!(
                            serde_json::from_slice::<outbox::Report>(&again).unwrap(),
                            report
                        );
                    }
                }
                Err(outbox::OutboxError::Decode { index, .. }) => {
                    assert!(!outbox::is_record(&payloads[index]));
                    assert!(payloads[..index].iter().all(|p| outbox::is_record(p)));
                }
                Err(other) => panic!("{other}"),
            }
        })
    });
    println!("{tally}");
}

/// Damage done to a file's bytes.
#[derive(Debug, TypeGenerator)]
enum Damage {
    Flip { at: u32, bits: u8 },
    Cut { at: u32 },
    ZeroTail { from: u32 },
    Insert { at: u32, bytes: Vec<u8> },
    Drop { at: u32, len: u8 },
}

fn damage(bytes: &mut Vec<u8>, damage: &Damage) {
    let at = |n: u32| usize::try_from(n).unwrap_or(0) % (bytes.len() + 1);
    match damage {
        Damage::Flip { at: n, bits } => {
            let i = at(*n);
            if i < bytes.len() && *bits != 0 {
                bytes[i] ^= bits;
            }
        }
        Damage::Cut { at: n } => bytes.truncate(at(*n)),
        Damage::ZeroTail { from } => {
            let from = at(*from);
            bytes[from..].fill(0);
        }
        Damage::Insert { at: n, bytes: inserted } => {
            let i = at(*n);
            bytes.splice(i..i, inserted.iter().copied());
        }
        Damage::Drop { at: n, len } => {
            let i = at(*n);
            let end = (i + usize::from(*len)).min(bytes.len());
            bytes.drain(i..end);
        }
    }
}

/// Checks what `scan` said of `bytes`: records and lost bytes cover the file in order, and every
/// record read in the current framing is exactly a frame the agent writes.
fn assert_scan_is_exact(bytes: &[u8]) -> crate::journal::record::Scan {
    let scanned = scan(bytes);
    assert_eq!(scanned.size, bytes.len() as u64);
    let mut spans: Vec<(u64, u64)> = scanned.lost.iter().map(|l| (l.offset, l.bytes)).collect();
    for record in &scanned.records {
        let len = if scanned.legacy { 12 } else { HEADER + END.len() } + record.payload.len();
        spans.push((record.offset, len as u64));
        if !scanned.legacy {
            let start = usize::try_from(record.offset).unwrap();
            assert_eq!(&bytes[start..start + len], frame(&record.payload).unwrap().as_slice());
        }
    }
    spans.sort_unstable();
    let mut at = if bytes.starts_with(&MAGIC) { MAGIC.len() as u64 } else { 0 };
    for (offset, len) in spans {
        assert_eq!(offset, at, "{scanned:?}");
        at += len;
    }
    assert_eq!(at, scanned.size, "{scanned:?}");
    scanned
}

#[test]
fn any_bytes_scan_into_exact_records_and_lost_ranges() {
    let tally = Tally::new("record_scan_any_bytes");
    check!().with_iterations(3_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            assert_scan_is_exact(bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(bytes);
            assert_scan_is_exact(&with_magic);
        })
    });
    println!("{tally}");
}

#[test]
fn damaged_record_files_are_cut_only_at_a_torn_tail_and_otherwise_refused() {
    let tally = Tally::new("record_file_damage");
    let (journal, outbox) = real_payloads();
    let payloads: Vec<Vec<u8>> = journal.into_iter().chain(outbox).collect();
    check!().with_type::<(Vec<Damage>, u8)>().with_iterations(3_000).for_each(|(damages, keep)| {
        tally.case(|| {
            let kept = &payloads[..usize::from(*keep) % (payloads.len() + 1)];
            let intact = framed_file(kept.iter().map(Vec::as_slice)).unwrap();
            let mut bytes = intact.clone();
            for d in damages {
                damage(&mut bytes, d);
            }
            let scanned = assert_scan_is_exact(&bytes);
            if bytes == intact {
                assert!(scanned.is_intact());
                let read: Vec<&[u8]> =
                    scanned.records.iter().map(|r| r.payload.as_slice()).collect();
                assert_eq!(read, kept.iter().map(Vec::as_slice).collect::<Vec<_>>());
            }
            if let Ok(valid) = scanned.strict() {
                tally.accepted();
                // Accepted: what is kept is a prefix of the file, whose records are all read.
                let valid = usize::try_from(valid).unwrap();
                assert!(valid <= bytes.len());
                if !scanned.legacy && valid >= MAGIC.len() {
                    let rebuilt = framed_file(scanned.records.iter().map(|r| r.payload.as_slice()));
                    assert_eq!(rebuilt.unwrap(), bytes[..valid]);
                }
            }
        })
    });
    println!("{tally}");
}

#[test]
fn damaged_files_on_disk_open_as_their_records_or_stop_the_agent() {
    let tally = Tally::new("journal_and_outbox_open");
    let (journal, outbox) = real_payloads();
    check!().with_type::<(Vec<Damage>, bool)>().with_iterations(300).for_each(
        |(damages, is_journal)| {
            tally.case(|| {
                let dir = tempfile::tempdir().unwrap();
                let (name, payloads) = if *is_journal {
                    (journal::FILE_NAME, &journal)
                } else {
                    (outbox::FILE_NAME, &outbox)
                };
                let mut bytes = framed_file(payloads.iter().map(Vec::as_slice)).unwrap();
                for d in damages {
                    damage(&mut bytes, d);
                }
                let path = dir.path().join(name);
                std::fs::write(&path, &bytes).unwrap();
                let opened = if *is_journal {
                    Journal::open(dir.path())
                        .map(|j| format!("{:?}", j.rotations().collect::<Vec<_>>()))
                        .map_err(|e| e.to_string())
                } else {
                    Outbox::open(dir.path())
                        .map(|o| format!("{:?}", o.peek(usize::MAX)))
                        .map_err(|e| e.to_string())
                };
                match opened {
                    Ok(state) => {
                        tally.accepted();
                        // Opening again reads the same (the torn tail was cut, a legacy file rewritten).
                        let again = if *is_journal {
                            format!(
                                "{:?}",
                                Journal::open(dir.path()).unwrap().rotations().collect::<Vec<_>>()
                            )
                        } else {
                            format!("{:?}", Outbox::open(dir.path()).unwrap().peek(usize::MAX))
                        };
                        assert_eq!(state, again);
                    }
                    Err(error) if error.contains("is damaged at byte") => {
                        // Refused as damaged: nothing was cut or rewritten.
                        assert_eq!(std::fs::read(&path).unwrap(), bytes);
                    }
                    Err(_) => {
                        // A record that is not one: at most a torn tail was cut (or the framing
                        // renewed), every record is still there.
                        let payloads = |bytes: &[u8]| -> Vec<Vec<u8>> {
                            scan(bytes).records.into_iter().map(|r| r.payload).collect()
                        };
                        assert_eq!(payloads(&std::fs::read(&path).unwrap()), payloads(&bytes));
                    }
                }
            })
        },
    );
    println!("{tally}");
}
