//! Tests of the journal and its record file: torn tails at every offset, a corrupt middle,
//! reopening after many records, compaction, file modes, and no secret in the file.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use secrecy::SecretString;
use time::macros::datetime;

use super::record::{HEADER, RecordError, RecordFile, frame, parse};
use super::*;
use crate::rotation::{Delivery, Event, Fingerprint, KeyEvidence, KeyGate, RotationKind, Verifier};

const PROVISIONAL: &str = "Provisoire-Kx9mPq2vL7wZ4";

fn rotation(n: usize) -> Rotation {
    let provisional = Some(Verifier::new(&SecretString::from(PROVISIONAL)));
    let delivery = Delivery {
        id: format!("rot-{n}"),
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
    journal.record(&JournalRecord::Forget { rotation_id: "rot-8".into() }).unwrap();
    drop(journal);
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.rotations().count(), 49);
    assert_eq!(journal.get("rot-7"), Some(&moved));
    assert!(journal.get("rot-8").is_none());
}

#[test]
fn a_corrupt_record_in_the_middle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    for n in 0..3 {
        journal.record(&snapshot(n)).unwrap();
    }
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    bytes[HEADER + 5] ^= 0x01; // inside the first payload
    fs::write(&path, &bytes).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, JournalError::Record(RecordError::Corrupt { offset: 0, .. })),
        "{error}"
    );
}

#[test]
fn a_corrupt_last_record_and_a_zero_filled_tail_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.record(&snapshot(1)).unwrap();
    journal.record(&snapshot(2)).unwrap();
    drop(journal);
    let path = dir.path().join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    bytes.extend_from_slice(&[0u8; 100]);
    fs::write(&path, &bytes).unwrap();
    let mut journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.rotations().count(), 1);
    // Appending after the cut leaves a clean file.
    journal.record(&snapshot(3)).unwrap();
    drop(journal);
    assert_eq!(Journal::open(dir.path()).unwrap().rotations().count(), 2);
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
        by: crate::local::account::LocalAccount::new("marie", "uid 1001"),
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
        let last_start = if ends.len() > 1 { ends[ends.len() - 2] } else { 0 };
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

    /// Parsing never panics on arbitrary bytes, and a valid frame sequence parses back.
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes);
        let framed = frame(&bytes).unwrap();
        prop_assert_eq!(parse(&framed), Ok((vec![bytes.clone()], framed.len())));
    }
}
