//! Tests of the journal and its record file: torn tails at every offset (cut short or
//! zero-filled), any single changed byte detected, a damaged length refused with a copy kept, the
//! previous framing read and rewritten, reading past damage, reopening after many records,
//! compaction, file modes, and no secret in the file.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use secrecy::SecretString;
use sesame_base::rotation::FailureReason;
use time::macros::datetime;

use super::record::{
    Damage, END, HEADER, MAGIC, RecordError, RecordFile, crc32c, frame, framed_file, keep_copy,
    scan,
};
use super::*;
use crate::rotation::{Delivery, Event, Fingerprint, KeyEvidence, KeyGate, RotationKind, Verifier};

const PROVISIONAL: &str = "Provisoire-Kx9mPq2vL7wZ4";

fn rotation(n: usize) -> Rotation {
    let provisional = Some(Verifier::new(&SecretString::from(PROVISIONAL)));
    let delivery = Delivery {
        id: sesame_base::ids::RotationId::parse("id", &format!("rot-{n}")).unwrap(),
        mailbox: format!("p{n}.n@12345.mailnot.fr"),
        kind: RotationKind::Provisional,
        provisional,
        bound: None,
    };
    Rotation::new(delivery, datetime!(2026-11-29 03:00 UTC)).0
}

fn snapshot(n: usize) -> JournalRecord {
    JournalRecord::Snapshot(Box::new(rotation(n)))
}

#[test]
fn records_survive_a_reopen_in_order_and_the_last_snapshot_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    for n in 0..500 {
        journal.record(&snapshot(n % 50)).unwrap();
    }
    let mut moved = rotation(7);
    moved.attempts = 2;
    journal.record(&JournalRecord::Snapshot(Box::new(moved.clone()))).unwrap();
    journal
        .record(&JournalRecord::Forget {
            rotation_id: sesame_base::ids::RotationId::parse("id", "rot-8").unwrap(),
        })
        .unwrap();
    drop(journal);
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.rotations().count(), 49);
    assert_eq!(journal.get("rot-7"), Some(&moved));
    assert!(journal.get("rot-8").is_none());
}

#[test]
fn a_corrupt_record_in_the_middle_is_refused_and_a_copy_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    for n in 0..3 {
        journal.record(&snapshot(n)).unwrap();
    }
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    bytes[MAGIC.len() + HEADER + 5] ^= 0x01; // inside the first payload
    fs::write(&path, &bytes).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    let JournalError::Record(RecordError::Corrupt { offset, damage, copy: Some(copy), .. }) =
        &error
    else {
        panic!("{error}")
    };
    assert_eq!((*offset, *damage), (MAGIC.len() as u64, Damage::Checksum));
    assert_eq!(fs::read(copy).unwrap(), bytes, "the copy is the damaged file");
    assert_eq!(fs::read(&path).unwrap(), bytes, "nothing was cut");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()) && text.contains("byte 8"), "{text}");
    assert!(text.contains("journal-recover") && text.contains(".damaged-"), "{text}");
}

/// The finding of issue 19: a bit flipped at offset 2 emptied the file at the next start.
#[test]
fn a_damaged_length_is_refused_not_taken_for_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    for n in 0..3 {
        journal.record(&snapshot(n)).unwrap();
    }
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let good = fs::read(&path).unwrap();
    // Offset 2 (the file's magic now) and the first record's length (its third byte).
    for (at, expected) in [(2, 0), (MAGIC.len() + 2, MAGIC.len() as u64)] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let error = Journal::open(dir.path()).unwrap_err();
        assert!(
            matches!(error, JournalError::Record(RecordError::Corrupt { offset, .. }) if offset == expected),
            "{error}"
        );
        assert_eq!(fs::read(&path).unwrap(), bytes, "nothing was cut");
    }
}

/// The same damage in a file of the previous framing (an upgraded workstation's).
#[test]
fn a_damaged_length_in_the_previous_framing_is_refused_and_a_good_file_converted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let payloads: Vec<Vec<u8>> =
        (0..3).map(|n| serde_json::to_vec(&snapshot(n)).unwrap()).collect();
    let legacy: Vec<u8> = payloads.iter().flat_map(|p| legacy_frame(p)).collect();
    let mut bytes = legacy.clone();
    bytes[2] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, JournalError::Record(RecordError::Corrupt { offset: 0, .. })),
        "{error}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes, "nothing was cut");
    // An intact file of the previous framing, with a torn tail: read, then rewritten.
    let mut torn = legacy.clone();
    torn.extend_from_slice(&legacy_frame(b"{\"unfinished")[..20]);
    fs::write(&path, &torn).unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.rotations().count(), 3);
    drop(journal);
    assert_eq!(fs::read(&path).unwrap(), framed_file(payloads.iter().map(Vec::as_slice)).unwrap());
}

fn legacy_frame(payload: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let digest = Sha256::new().chain_update(len).chain_update(payload).finalize();
    [&len[..], &digest[..8], payload].concat()
}

#[test]
fn a_zero_filled_tail_is_cut_off_but_a_changed_last_record_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.record(&snapshot(1)).unwrap();
    journal.record(&snapshot(2)).unwrap();
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let good = fs::read(&path).unwrap();
    let mut bytes = good.clone();
    bytes.extend_from_slice(&[0u8; 100]);
    fs::write(&path, &bytes).unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.rotations().count(), 2);
    assert_eq!(fs::read(&path).unwrap(), good);
    // Appending after the cut leaves a clean file.
    journal.record(&snapshot(3)).unwrap();
    drop(journal);
    assert_eq!(Journal::open(dir.path()).unwrap().rotations().count(), 3);
    // A byte changed in the last record, even followed by zeros, is damage.
    let mut bytes = good.clone();
    let last = bytes.len() - END.len() - 3;
    bytes[last] ^= 0x20;
    bytes.extend_from_slice(&[0u8; 100]);
    fs::write(&path, &bytes).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(matches!(error, JournalError::Record(RecordError::Corrupt { .. })), "{error}");
}

#[test]
fn a_service_restarting_in_a_loop_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.record(&snapshot(1)).unwrap();
    journal.record(&snapshot(2)).unwrap();
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    bytes[MAGIC.len() + 1] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    for _ in 0..3 {
        assert!(Journal::open(dir.path()).is_err());
    }
    let copies: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rotations.journal.damaged-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(&copies[0])).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The same file keeps its copy; other bytes at the same time get their own.
    let first = dir.path().join(&copies[0]);
    assert_eq!(keep_copy(&path, &bytes).unwrap(), first);
    let second = keep_copy(&path, b"other bytes").unwrap();
    assert_eq!(second.file_name().unwrap().to_string_lossy(), format!("{}-2", copies[0]));
}

#[test]
fn reading_past_damage_finds_the_records_after_it() {
    let payloads: Vec<Vec<u8>> =
        (0..5).map(|n| format!("{{\"record\":{n}}}").into_bytes()).collect();
    let good = framed_file(payloads.iter().map(Vec::as_slice)).unwrap();
    let second = MAGIC.len() + frame(&payloads[0]).unwrap().len();
    let mut bytes = good.clone();
    bytes[second + 2] ^= 0x04; // the second record's length
    let read = scan(&bytes);
    let kept: Vec<Vec<u8>> = read.records.iter().map(|r| r.payload.clone()).collect();
    assert_eq!(kept, [&payloads[..1], &payloads[2..]].concat());
    assert_eq!(read.lost.len(), 1);
    assert_eq!(read.lost[0].offset, second as u64);
    assert_eq!(read.lost[0].bytes, frame(&payloads[1]).unwrap().len() as u64);
    assert_eq!(read.lost[0].damage, Damage::Length);
    assert!(!read.lost[0].torn);
    assert!(read.strict().is_err());
}

#[test]
fn the_length_check_is_crc32c() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283); // the standard check value
    let framed = frame(b"abc").unwrap();
    assert_eq!(framed[4..8], crc32c(&[3, 0, 0, 0]).to_le_bytes());
    assert_eq!(framed[framed.len() - END.len()..], END);
}

#[test]
fn compaction_keeps_the_state_and_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open_with_bound(dir.path(), 16 * 1024).unwrap();
    for n in 0..400 {
        journal.record(&snapshot(n % 5)).unwrap();
    }
    assert!(journal.size() < 16 * 1024, "compacted: {} bytes", journal.size());
    let before: Vec<Rotation> = journal.rotations().cloned().collect();
    journal.compact().unwrap();
    drop(journal);
    let journal = Journal::open(dir.path()).unwrap();
    let after: Vec<Rotation> = journal.rotations().cloned().collect();
    assert_eq!(before, after);
    assert_eq!(after.len(), 5);
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[cfg(unix)]
#[test]
fn the_journal_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.record(&snapshot(1)).unwrap();
    journal.compact().unwrap();
    let mode = fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn no_password_reaches_the_journal_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    let r = rotation(1);
    let new_password = SecretString::from("MonNouveauMotDePasse-2026");
    let key = crate::rotation::FingerprintKey::random();
    let request = Event::ChangeRequested {
        key: KeyGate::Absent(KeyEvidence::ObservedAbsent { at: r.updated_at }),
        typed_matches: r.provisional.as_ref().unwrap().matches(&SecretString::from(PROVISIONAL)),
        new_password: key.fingerprint(&new_password),
        by: sesame_local::account::LocalAccount::new("marie", "uid 1001"),
        lockout_threshold: crate::rotation::limit::DEFAULT_LOCKOUT_THRESHOLD,
    };
    let (r, commands) = crate::rotation::handle(r, request, r_now());
    for command in commands {
        if let crate::rotation::Command::Journal(record) = command {
            journal.record(&record).unwrap();
        }
    }
    assert_eq!(r.phase, crate::rotation::Phase::Changing);
    journal.compact().unwrap();
    let bytes = fs::read(dir.path().join(FILE_NAME)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [PROVISIONAL, "Kx9mPq2vL7wZ4", "MonNouveauMotDePasse", "Provisoire"] {
        assert!(!text.contains(secret), "{secret} found in the journal");
    }
    let _ = Fingerprint::from_bytes([0; 32]);
}

fn r_now() -> time::OffsetDateTime {
    datetime!(2026-11-29 03:01 UTC)
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_a_typed_unwritable_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.record(&snapshot(1)).unwrap();
    let path = dir.path().join(FILE_NAME);
    drop(journal);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    // Root ignores modes: then there is nothing to observe here.
    if fs::OpenOptions::new().write(true).open(&path).is_ok() {
        return;
    }
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(error.is_unwritable() || matches!(error, JournalError::Record(RecordError::Io { .. })));
}

fn write_records(path: &Path, payloads: &[Vec<u8>]) -> Vec<usize> {
    let mut file = RecordFile::open(path).unwrap().0;
    let mut ends = Vec::new();
    for payload in payloads {
        file.append(payload).unwrap();
        ends.push(file.size() as usize);
    }
    ends
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Cutting the file at every byte offset inside the last record keeps exactly the records
    /// before it, and the file is appendable afterwards.
    #[test]
    fn a_torn_last_record_is_cut_at_every_offset(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..48), 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records");
        let ends = write_records(&path, &payloads);
        let full = fs::read(&path).unwrap();
        let last_start = if ends.len() > 1 { ends[ends.len() - 2] } else { MAGIC.len() };
        for cut in last_start..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (mut file, records) = RecordFile::open(&path).unwrap();
            prop_assert_eq!(&records[..], &payloads[..payloads.len() - 1]);
            prop_assert_eq!(file.size() as usize, last_start);
            file.append(b"after").unwrap();
            drop(file);
            let (_, records) = RecordFile::open(&path).unwrap();
            prop_assert_eq!(records.last().map(Vec::as_slice), Some(&b"after"[..]));
        }
    }

    /// Zero-filling the file from any offset inside the last record (blocks allocated, never
    /// written, at a crash) keeps exactly the records before it.
    #[test]
    fn a_zero_filled_last_record_is_cut_at_every_offset(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..48), 1..5),
        extra in 0usize..64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records");
        let ends = write_records(&path, &payloads);
        let full = fs::read(&path).unwrap();
        let last_start = if ends.len() > 1 { ends[ends.len() - 2] } else { MAGIC.len() };
        for zero_from in last_start..full.len() - 1 {
            let mut bytes = full.clone();
            bytes[zero_from..].fill(0);
            bytes.resize(full.len() + extra, 0);
            fs::write(&path, &bytes).unwrap();
            let (file, records) = RecordFile::open(&path).unwrap();
            prop_assert_eq!(&records[..], &payloads[..payloads.len() - 1]);
            prop_assert_eq!(file.size() as usize, last_start);
        }
    }

    /// Any single changed byte of a whole file is detected: the file is refused, not cut, and a
    /// copy of it is kept.
    #[test]
    fn any_single_changed_byte_is_detected(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..4),
        at in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let good = framed_file(payloads.iter().map(Vec::as_slice)).unwrap();
        let at = at.index(good.len());
        let mut bytes = good.clone();
        bytes[at] = bytes[at].wrapping_add(delta);
        prop_assert!(scan(&bytes).strict().is_err(), "byte {} changed, not detected", at);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records");
        fs::write(&path, &bytes).unwrap();
        let error = RecordFile::open(&path).unwrap_err();
        let is_corrupt = matches!(error, RecordError::Corrupt { copy: Some(_), .. });
        prop_assert!(is_corrupt, "{}", error);
        prop_assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    /// Parsing never panics on arbitrary bytes, and a valid file reads back.
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = scan(&bytes);
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = scan(&with_magic);
        let file = framed_file([bytes.as_slice()]).unwrap();
        let read = scan(&file);
        prop_assert_eq!(read.strict(), Ok(file.len() as u64));
        prop_assert_eq!(read.records.len(), 1);
        prop_assert_eq!(&read.records[0].payload, &bytes);
    }
}

/// Every single-byte change of a small file, exhaustively (the property test samples).
#[test]
fn every_single_changed_byte_of_a_small_file_is_detected() {
    let payloads: [&[u8]; 3] = [b"{\"a\":1}", b"", b"{\"c\":[1,2,3]}"];
    let good = framed_file(payloads).unwrap();
    for at in 0..good.len() {
        for value in 0..=255u8 {
            if value == good[at] {
                continue;
            }
            let mut bytes = good.clone();
            bytes[at] = value;
            assert!(scan(&bytes).strict().is_err(), "byte {at} set to {value:#x}: not detected");
        }
    }
}

/// A snapshot as agents wrote it before `Step` and `FailureReason` were shared (the variant
/// names, `{"Failed":"OwaUnreachable"}`), byte for byte as one was written.
const SNAPSHOT_BEFORE_SHARED_STEPS: &str = concat!(
    r#"{"Snapshot":{"id":"rot-old","mailbox":"dupont.helene@12345.mailnot.fr","kind":"Periodic","#,
    r#""phase":{"Failed":"OwaUnreachable"},"attempts":1,"refusals":0,"provisional":null,"#,
    r#""evidence":{"PersonConfirmed":{"at":[2026,333,3,5,0,0,0,0,0],"#,
    r#""detail":"bus USB illisible"}},"#,
    r#""updated_at":[2026,333,3,0,0,0,0,0,0],"bound":{"id":"marie","detail":"uid 1001"},"#,
    r#""started_by":{"id":"marie","detail":"uid 1001"},"refused_current":null}}"#,
);

#[test]
fn a_journal_written_before_the_shared_steps_is_read() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(FILE_NAME),
        framed_file([SNAPSHOT_BEFORE_SHARED_STEPS.as_bytes()]).unwrap(),
    )
    .unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    let old = journal.get("rot-old").expect("the old snapshot").clone();
    assert_eq!(old.phase, crate::rotation::Phase::Failed(FailureReason::OwaUnreachable));
    assert_eq!(old.kind, RotationKind::Periodic);
    assert_eq!(old.started_by.as_ref().map(|a| a.id.as_str()), Some("marie"));
    assert!(matches!(old.evidence, Some(KeyEvidence::PersonConfirmed { .. })));

    // Written again, it takes the stored names; both read back the same.
    journal.record(&JournalRecord::Snapshot(Box::new(old.clone()))).unwrap();
    drop(journal);
    let bytes = fs::read(dir.path().join(FILE_NAME)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(r#""phase":{"Failed":"owa_unreachable"}"#), "{text}");
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.get("rot-old"), Some(&old));
}
