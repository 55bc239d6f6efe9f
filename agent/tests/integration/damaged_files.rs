//! The real `sesame-agent run` and `journal-recover` binaries against a state directory whose
//! `rotations.journal` or `reports.outbox` was damaged from outside, as a fault would: a byte
//! changed (offset 2, a middle record) refuses the start naming the file and the offset, keeps a
//! copy and cuts nothing; the recovery keeps the records before and after the damage and says
//! what was lost; a file cut mid-record (a crash) is still cut by the service, which starts.
//! No server is needed: the service fails before contacting anything.

// Reason: a test fails by panicking; it waits on plain threads (no runtime), so it sleeps.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sesame_agent::journal::record::{MAGIC, frame};
use sesame_agent::journal::{self, Journal, JournalRecord};
use sesame_agent::outbox::{self, Outbox};
use sesame_agent::rotation::{Delivery, ReportDraft, Rotation, RotationKind};
use sesame_base::rotation::Step;
use time::macros::datetime;

const ROTATIONS: usize = 5;

fn agent(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesame-agent"));
    command
        .arg("--state-dir")
        .arg(state)
        .arg("--socket")
        .arg(state.join("agent.sock"))
        .env_remove("SESAME_AGENT_CONFIG")
        .stdin(Stdio::null());
    command
}

fn mailbox(n: usize) -> String {
    format!("nom{n}.prenom@12345.mailnot.fr")
}

fn rotation(n: usize) -> Rotation {
    let delivery = Delivery {
        id: sesame_base::ids::RotationId::parse("id", &format!("rot-{n}")).unwrap(),
        mailbox: mailbox(n),
        kind: RotationKind::Periodic,
        provisional: None,
        bound: None,
    };
    Rotation::new(delivery, datetime!(2026-12-01 03:00 UTC)).0
}

/// A journal of one snapshot per rotation; the offsets where each record starts.
fn write_journal(state: &Path) -> Vec<usize> {
    let mut journal = Journal::open(state).unwrap();
    let mut starts = Vec::new();
    for n in 0..ROTATIONS {
        starts.push(journal.size() as usize);
        journal.record(&JournalRecord::Snapshot(Box::new(rotation(n)))).unwrap();
    }
    starts
}

/// An outbox of one Started report per rotation; the offsets where each record starts.
fn write_outbox(state: &Path) -> Vec<usize> {
    let mut outbox = Outbox::open(state).unwrap();
    let mut starts = Vec::new();
    let mut size = MAGIC.len();
    for n in 0..ROTATIONS {
        starts.push(size);
        let draft = ReportDraft {
            rotation_id: sesame_base::ids::RotationId::parse("id", &format!("rot-{n}")).unwrap(),
            step: Step::Started,
            occurred_at: datetime!(2026-12-01 03:00 UTC),
            key_evidence: None,
            detail: format!("report {n}"),
            local_account: None,
        };
        outbox.push(draft).unwrap();
        size = fs::metadata(state.join(outbox::FILE_NAME)).unwrap().len() as usize;
    }
    starts
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    fs::write(path, &bytes).unwrap();
    bytes
}

/// Runs `sesame-agent run`, which must exit by itself within a minute.
fn run_refused(state: &Path) -> Output {
    let child =
        agent(state).arg("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let output = wait_bounded(child);
    assert!(!output.status.success(), "the agent started on a damaged file");
    output
}

fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("still running: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn copies(state: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}.damaged-");
    fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
        .collect()
}

fn recover(state: &Path) -> String {
    let output = agent(state).arg("journal-recover").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The refusal names the file and the offset, a copy of the damaged bytes exists (0600), and
/// the file was not cut.
fn assert_refused(state: &Path, name: &str, damaged: &[u8], offset: usize) {
    let output = run_refused(state);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = state.join(name);
    assert!(
        stderr.contains(&format!("{} is damaged at byte {offset} ", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("journal-recover"), "{stderr}");
    assert_eq!(fs::read(&path).unwrap(), damaged, "the file was changed");
    let copies = copies(state, name);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(fs::read(&copies[0]).unwrap(), damaged);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(fs::metadata(&copies[0]).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(stderr.contains(&copies[0].display().to_string()), "{stderr}");
    // A second start (systemd's restart) refuses the same way and keeps no second copy.
    let again = run_refused(state);
    assert!(String::from_utf8_lossy(&again.stderr).contains("is damaged at byte"));
    assert_eq!(self::copies(state, name).len(), 1);
}

fn rotation_ids(state: &Path) -> Vec<String> {
    Journal::open(state).unwrap().rotations().map(|r| r.id.to_string()).collect()
}

#[test]
fn a_byte_changed_at_offset_2_of_the_journal_stops_the_agent_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    write_journal(state);
    let path = state.join(journal::FILE_NAME);
    let damaged = flip(&path, 2);
    // Offset 2 is in the file's magic: the damage starts at byte 0.
    assert_refused(state, journal::FILE_NAME, &damaged, 0);
    let report = recover(state);
    assert!(report.contains("Bytes 0..8 (8 bytes) lost"), "{report}");
    assert!(report.contains(&format!("{ROTATIONS} records kept")), "{report}");
    for n in 0..ROTATIONS {
        assert!(report.contains(&mailbox(n)), "{report}");
    }
    let expected: Vec<String> = (0..ROTATIONS).map(|n| format!("rot-{n}")).collect();
    assert_eq!(rotation_ids(state), expected);
}

/// The finding as filed: a journal of the previous framing (an upgraded workstation's, no
/// length check) with a bit flipped at offset 2 used to be emptied at the next start.
#[test]
fn offset_2_of_a_journal_in_the_previous_framing_stops_the_agent_and_recovery_keeps_the_rest() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let mut bytes = Vec::new();
    let mut starts = Vec::new();
    for n in 0..ROTATIONS {
        starts.push(bytes.len());
        let record = JournalRecord::Snapshot(Box::new(rotation(n)));
        let payload = serde_json::to_vec(&record).unwrap();
        let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let digest = Sha256::new().chain_update(len).chain_update(&payload).finalize();
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&digest[..8]);
        bytes.extend_from_slice(&payload);
    }
    let path = state.join(journal::FILE_NAME);
    fs::write(&path, &bytes).unwrap();
    let damaged = flip(&path, 2);
    assert_refused(state, journal::FILE_NAME, &damaged, 0);
    let report = recover(state);
    assert!(report.contains("in the previous framing"), "{report}");
    assert!(
        report.contains(&format!("Bytes 0..{} ({} bytes) lost", starts[1], starts[1])),
        "{report}"
    );
    assert_eq!(rotation_ids(state), ["rot-1", "rot-2", "rot-3", "rot-4"]);
    assert!(fs::read(&path).unwrap().starts_with(&MAGIC), "rewritten in the current framing");
}

#[test]
fn a_byte_changed_in_a_middle_journal_record_stops_the_agent_and_recovery_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let starts = write_journal(state);
    let path = state.join(journal::FILE_NAME);
    let damaged_at = starts[2];
    let frame_len = starts[3] - starts[2];
    // The middle record's length: it used to be taken for a torn tail.
    let damaged = flip(&path, damaged_at + 2);
    assert_refused(state, journal::FILE_NAME, &damaged, damaged_at);

    let help = agent(state).args(["journal-recover", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("damaged") && help.contains("sesamectl mailbox show"), "{help}");

    let report = recover(state);
    let lost = format!(
        "Bytes {damaged_at}..{} ({frame_len} bytes) lost: a record length that does not match",
        damaged_at + frame_len
    );
    assert!(report.contains(&lost), "{report}");
    assert!(report.contains(&format!("{} records kept", ROTATIONS - 1)), "{report}");
    // The rotations before the damage may have moved on; those after are as the file says.
    assert!(
        report.contains(
            "rot-0 nom0.prenom@12345.mailnot.fr step Pending (its last record precedes lost bytes"
        ),
        "{report}"
    );
    assert!(report.contains("rot-4 nom4.prenom@12345.mailnot.fr step Pending\n"), "{report}");
    assert!(!report.contains("rot-2 "), "{report}");
    assert!(report.contains("sesamectl mailbox show"), "{report}");
    assert_eq!(rotation_ids(state), ["rot-0", "rot-1", "rot-3", "rot-4"]);
    // Recovering again finds nothing to do; the service starts.
    let again = recover(state);
    assert!(again.contains("intact (4 records), nothing to do"), "{again}");
    let service = Service::start(state);
    drop(service);
}

#[test]
fn a_byte_changed_in_the_outbox_stops_the_agent_and_recovery_keeps_the_reports_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let starts = write_outbox(state);
    let path = state.join(outbox::FILE_NAME);
    let damaged_at = starts[1];
    // A byte inside the second report's payload.
    let damaged = flip(&path, damaged_at + 30);
    assert_refused(state, outbox::FILE_NAME, &damaged, damaged_at);
    let report = recover(state);
    assert!(report.contains("a record whose checksum does not match"), "{report}");
    assert!(report.contains("Reports still waiting for the server: 4"), "{report}");
    for n in [0, 2, 3, 4] {
        assert!(report.contains(&format!("rotation rot-{n} step Started")), "{report}");
    }
    assert!(!report.contains("rotation rot-1 "), "{report}");
    assert!(report.contains("never reach the server"), "{report}");
    let outbox = Outbox::open(state).unwrap();
    let details: Vec<String> = outbox.peek(10).into_iter().map(|r| r.detail).collect();
    assert_eq!(details, ["report 0", "report 2", "report 3", "report 4"]);
}

#[test]
fn a_journal_cut_mid_record_is_cut_with_a_warning_and_the_agent_starts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let starts = write_journal(state);
    let path = state.join(journal::FILE_NAME);
    let bytes = fs::read(&path).unwrap();
    let last = starts[ROTATIONS - 1];
    fs::write(&path, &bytes[..last + (bytes.len() - last) / 2]).unwrap();
    write_outbox(state);
    let outbox_path = state.join(outbox::FILE_NAME);
    let outbox_bytes = fs::read(&outbox_path).unwrap();
    // The outbox's last record was being written when the power went: zero-filled.
    let mut zeroed = outbox_bytes.clone();
    let frame_len = frame(&[0u8; 10]).unwrap().len();
    zeroed.extend_from_slice(&vec![0u8; frame_len + 40]);
    fs::write(&outbox_path, &zeroed).unwrap();

    let service = Service::start(state);
    // While it runs, the recovery refuses to touch its files.
    let output = agent(state).arg("journal-recover").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("stop it first"));
    let stderr = service.stop();
    assert!(stderr.contains("torn last record cut off"), "{stderr}");
    assert_eq!(fs::read(&path).unwrap(), bytes[..last], "cut at the last whole record");
    assert_eq!(fs::read(&outbox_path).unwrap(), outbox_bytes);
    assert_eq!(rotation_ids(state).len(), ROTATIONS - 1);
    assert!(copies(state, journal::FILE_NAME).is_empty());
}

/// A running `sesame-agent run`, killed when dropped.
struct Service {
    child: Option<Child>,
}

impl Service {
    /// Starts the service and waits for its socket.
    fn start(state: &Path) -> Service {
        let socket = state.join("agent.sock");
        let child = agent(state).arg("run").stderr(Stdio::piped()).stdout(Stdio::null()).spawn();
        let mut service = Service { child: Some(child.unwrap()) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let child = service.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                let output = service.child.take().unwrap().wait_with_output().unwrap();
                panic!("exited with {status}: {}", String::from_utf8_lossy(&output.stderr));
            }
            assert!(Instant::now() < deadline, "the service did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        service
    }

    /// Stops it and returns what it logged.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
