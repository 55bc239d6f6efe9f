//! `sesame-agent journal-recover`: salvages a damaged `rotations.journal` and `reports.outbox`.
//!
//! For each file: when every byte reads as records the agent understands, nothing is done.
//! Otherwise a copy of the file is kept beside it (`crate::journal::record::keep_copy`, the
//! same copy the refusing service made), every record that can be read is kept, reading past
//! damage by resynchronising on the next valid record (`crate::journal::record::scan`), and
//! the file is rewritten with them, atomically, in the current framing. The [`Recovery`] says
//! exactly what was lost (each range: offset, bytes, why) and what could be read: the
//! rotations as the kept journal records leave them (flagging those whose last record precedes
//! lost bytes: their later steps may be what was lost), and the reports still waiting, so that
//! the administrator knows which mailboxes to check on the server (`sesamectl mailbox show`).
//! The service must be stopped meanwhile (the command refuses when its socket answers).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sesame_base::rotation::Step;
use time::format_description::well_known::Rfc3339;

use crate::journal::record::{self, Damage, END, HEADER, Lost, RecordError};
use crate::journal::{self, JournalRecord};
use crate::outbox::{self, Report};
use sesame_base::ids::RotationId;

/// What the command did to one file.
#[derive(Debug)]
pub struct FileRecovery {
    /// The file.
    pub path: PathBuf,
    /// What was found and done.
    pub outcome: Outcome,
}

/// What was found in one file and done with it.
#[derive(Debug)]
pub enum Outcome {
    /// No such file: nothing to do.
    Absent,
    /// Every record reads: nothing done.
    Intact {
        /// How many records.
        records: usize,
    },
    /// Rewritten with the records that could be read.
    Recovered(Salvage),
}

/// A file rewritten with what could be read.
#[derive(Debug)]
pub struct Salvage {
    /// The copy of the file as it was.
    pub copy: PathBuf,
    /// Its size.
    pub size: u64,
    /// It was in the previous framing.
    pub legacy: bool,
    /// Records kept (written back).
    pub kept: usize,
    /// The ranges that held nothing readable, in order.
    pub lost: Vec<Lost>,
    /// What the kept records say.
    pub read: Read,
}

/// What the kept records of a file say.
#[derive(Debug)]
pub enum Read {
    /// The journal's rotations, as the kept records leave them.
    Rotations(Vec<RotationRead>),
    /// The outbox's reports still waiting, oldest first.
    Reports(Vec<Report>),
}

/// One rotation as the kept journal records leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRead {
    /// The server's rotation id.
    pub id: RotationId,
    /// The mailbox.
    pub mailbox: String,
    /// The step the journal says it reached.
    pub step: Step,
    /// Where its last kept record starts.
    pub last_record_at: u64,
    /// Lost bytes follow its last kept record: it may have moved on since.
    pub maybe_stale: bool,
}

/// What the command did to both files.
#[derive(Debug)]
pub struct Recovery {
    /// `rotations.journal`.
    pub journal: FileRecovery,
    /// `reports.outbox`.
    pub outbox: FileRecovery,
}

/// Salvages the journal and the outbox in `state_dir` (the service stopped).
pub fn recover(state_dir: &Path) -> Result<Recovery, RecordError> {
    let journal = salvage(&state_dir.join(journal::FILE_NAME), Kind::Journal)?;
    let outbox = salvage(&state_dir.join(outbox::FILE_NAME), Kind::Outbox)?;
    Ok(Recovery { journal, outbox })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Journal,
    Outbox,
}

impl Kind {
    fn understands(self, payload: &[u8]) -> bool {
        match self {
            Kind::Journal => journal::decode(payload).is_ok(),
            Kind::Outbox => outbox::is_record(payload),
        }
    }
}

fn salvage(path: &Path, kind: Kind) -> Result<FileRecovery, RecordError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(FileRecovery { path: path.to_owned(), outcome: Outcome::Absent });
        }
        Err(source) => {
            return Err(RecordError::Io { action: "read", path: path.to_owned(), source });
        }
    };
    let scan = record::scan(&bytes);
    let mut lost = scan.lost.clone();
    let mut kept = Vec::new();
    for record in scan.records {
        if kind.understands(&record.payload) {
            kept.push(record);
        } else {
            let frame = if scan.legacy { 12 } else { HEADER + END.len() };
            let bytes = (frame + record.payload.len()) as u64;
            lost.push(Lost {
                offset: record.offset,
                bytes,
                damage: Damage::Undecodable,
                torn: false,
            });
        }
    }
    lost.sort_by_key(|l| l.offset);
    if lost.is_empty() {
        let outcome = Outcome::Intact { records: kept.len() };
        return Ok(FileRecovery { path: path.to_owned(), outcome });
    }
    let copy = record::keep_copy(path, &bytes)?;
    let file = record::framed_file(kept.iter().map(|r| r.payload.as_slice()))?;
    record::write_file(path, &file)?;
    let read = match kind {
        Kind::Journal => Read::Rotations(rotations(&kept, &lost)),
        Kind::Outbox => Read::Reports(
            outbox::replay(kept.iter().map(|r| r.payload.as_slice())).unwrap_or_default(),
        ),
    };
    let salvage =
        Salvage { copy, size: scan.size, legacy: scan.legacy, kept: kept.len(), lost, read };
    Ok(FileRecovery { path: path.to_owned(), outcome: Outcome::Recovered(salvage) })
}

/// The rotations the kept journal records leave, each with where its last record is.
fn rotations(kept: &[record::Record], lost: &[Lost]) -> Vec<RotationRead> {
    let mut live = BTreeMap::new();
    let mut last_at = BTreeMap::new();
    for record in kept {
        let Ok(entry) = journal::decode(&record.payload) else { continue };
        let id = match &entry {
            JournalRecord::Snapshot(rotation) => rotation.id.clone(),
            JournalRecord::Forget { rotation_id } => rotation_id.clone(),
        };
        last_at.insert(id, record.offset);
        journal::apply(&mut live, entry);
    }
    live.into_values()
        .map(|rotation| {
            let last_record_at = last_at.get(&rotation.id).copied().unwrap_or(0);
            RotationRead {
                maybe_stale: lost.iter().any(|l| l.offset > last_record_at),
                step: rotation.step(),
                id: rotation.id,
                mailbox: rotation.mailbox,
                last_record_at,
            }
        })
        .collect()
}

impl Recovery {
    /// Whether any record was lost (beyond a torn last record).
    pub fn lost_records(&self) -> bool {
        [&self.journal, &self.outbox]
            .iter()
            .any(|f| matches!(&f.outcome, Outcome::Recovered(s) if s.lost.iter().any(|l| !l.torn)))
    }

    /// Says, for an administrator, what was found, kept and lost, and what to check.
    pub fn write_report(&self, out: &mut dyn Write) -> io::Result<()> {
        for file in [&self.journal, &self.outbox] {
            file.write_report(out)?;
        }
        if self.lost_records() {
            writeln!(out)?;
            writeln!(
                out,
                "Records were lost. Check on the server each mailbox and rotation listed above \
                 (sesamectl mailbox show ADDRESS). A rotation whose records were all in the lost \
                 bytes is not listed: compare with the mailboxes assigned to this workstation \
                 and the open rotations of its office (sesamectl provisional list --office \
                 OFFICE --open). The service can be started again."
            )?;
        }
        Ok(())
    }
}

fn step_name(step: &Step) -> String {
    match step {
        Step::Failed(reason) => format!("Failed ({reason:?})"),
        other => format!("{other:?}"),
    }
}

impl FileRecovery {
    fn write_report(&self, out: &mut dyn Write) -> io::Result<()> {
        let path = self.path.display();
        let salvage = match &self.outcome {
            Outcome::Absent => return writeln!(out, "{path}: absent, nothing to do."),
            Outcome::Intact { records } => {
                return writeln!(out, "{path}: intact ({records} records), nothing to do.");
            }
            Outcome::Recovered(salvage) => salvage,
        };
        let framing = if salvage.legacy { ", in the previous framing" } else { "" };
        writeln!(out, "{path}: damaged ({} bytes{framing}).", salvage.size)?;
        writeln!(out, "  A copy of it as it was is kept as {}.", salvage.copy.display())?;
        for lost in &salvage.lost {
            let kind =
                if lost.torn { "a torn last record (an unfinished write), cut" } else { "lost" };
            writeln!(
                out,
                "  Bytes {}..{} ({} bytes) {kind}: {}.",
                lost.offset,
                lost.offset + lost.bytes,
                lost.bytes,
                lost.damage
            )?;
        }
        writeln!(out, "  {} records kept and written back in a good file.", salvage.kept)?;
        match &salvage.read {
            Read::Rotations(rotations) => {
                writeln!(out, "  Rotations as the kept records leave them: {}", rotations.len())?;
                for r in rotations {
                    let stale = if r.maybe_stale {
                        " (its last record precedes lost bytes: it may have moved on since)"
                    } else {
                        ""
                    };
                    writeln!(out, "    {} {} step {}{stale}", r.id, r.mailbox, step_name(&r.step))?;
                }
            }
            Read::Reports(reports) => {
                writeln!(out, "  Reports still waiting for the server: {}", reports.len())?;
                for report in reports {
                    let at = report.occurred_at.format(&Rfc3339).unwrap_or_default();
                    writeln!(
                        out,
                        "    report {} rotation {} step {} at {at}",
                        report.report_id,
                        report.rotation_id,
                        step_name(&report.step)
                    )?;
                }
                if salvage.lost.iter().any(|l| !l.torn) {
                    writeln!(
                        out,
                        "  Reports queued in the lost bytes never reach the server; reports \
                         acknowledged there may be sent again (the server ignores duplicates)."
                    )?;
                }
            }
        }
        Ok(())
    }
}
