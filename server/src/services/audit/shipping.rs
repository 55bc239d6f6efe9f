//! Shipping the audit trail out of the database: each record, once, in order, as one JSON line
//! appended to a file (for a collector on another machine) and/or sent to the local syslog socket
//! (RFC 3164 style, facility authpriv), so that a copy outlives whoever can write the database.
//!
//! [`Services::run_shipper`] tails `audit_log` by sequence number (records are committed in
//! sequence order: appends lock the table). It remembers how far it got in a position file in the
//! data directory, written after the lines are flushed; for the file, the last line's sequence
//! number counts too, so a crash between the two repeats nothing, and a torn last line is cut. A
//! graceful stop ships what is committed and stops between batches; a crash can repeat at most
//! the syslog lines of one batch. With several servers on one database, let only one ship.
//!
//! A line carries the record's fields as stored (`details` is the JSON text exactly as hashed),
//! so a collector can recompute the chain; records hold no secret.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use crate::domain::audit::AuditRecord;
use crate::services::Services;

/// How often the shipper looks for new records.
const POLL: Duration = Duration::from_secs(1);
/// Records read and shipped at a time.
const BATCH: u32 = 1_000;
/// The longest syslog line; a longer record is sent with its details left out (the file keeps
/// them).
const SYSLOG_MAX: usize = 60 * 1024;
/// Facility authpriv (10), severity informational (6).
const SYSLOG_PRIORITY: u8 = 10 * 8 + 6;
/// How far back from its end the shipped file is read for its last line.
const TAIL_WINDOW: u64 = 1024 * 1024;

/// Where audit records are shipped.
#[derive(Debug, Clone, Default)]
pub struct Shipping {
    /// A file each record is appended to, as one JSON line.
    pub file: Option<ShipTarget>,
    /// The local syslog socket each record is sent to.
    pub syslog: Option<ShipTarget>,
}

/// One destination and the file keeping how far the shipper got.
#[derive(Debug, Clone)]
pub struct ShipTarget {
    /// The file, or the syslog socket.
    pub path: PathBuf,
    /// The position file (in the data directory): the last sequence number shipped.
    pub position: PathBuf,
}

/// The kinds of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// A file of JSON lines.
    File,
    /// The local syslog socket.
    Syslog,
}

impl Services {
    /// Ships every record to `target`, polling for new ones, until `shutdown` turns true (then
    /// ships what is committed and returns). Failures are logged and retried at the next poll.
    pub async fn run_shipper(
        self: Arc<Self>,
        sink: Sink,
        target: ShipTarget,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut position = match start_position(sink, &target) {
            Ok(position) => position,
            Err(error) => {
                tracing::error!(path = %target.path.display(), %error, "cannot ship the audit trail");
                return;
            }
        };
        loop {
            self.ship_committed(sink, &target, &mut position).await;
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {
                    self.ship_committed(sink, &target, &mut position).await;
                    return;
                }
            }
        }
    }

    /// Ships the records after `position`, batch after batch, until none is left or one fails.
    async fn ship_committed(&self, sink: Sink, target: &ShipTarget, position: &mut i64) {
        loop {
            let batch = match self.store.audit_records(None, *position, BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(error = %sesame_base::error_chain::chain(&error), "cannot read the audit trail to ship it");
                    return;
                }
            };
            let Some(last) = batch.last().map(|r| r.seq) else { return };
            let (shipped, error) = match sink {
                Sink::File => match append_lines(&target.path, &batch) {
                    Ok(()) => (Some(last), None),
                    Err(error) => (None, Some(error)),
                },
                Sink::Syslog => send_to_syslog(&target.path, &batch).await,
            };
            if let Some(seq) = shipped {
                *position = seq;
                if let Err(error) = write_position(&target.position, seq) {
                    tracing::warn!(path = %target.position.display(), %error, "cannot note how far the audit trail was shipped");
                }
            }
            if let Some(error) = error {
                tracing::warn!(path = %target.path.display(), %error, "cannot ship the audit trail");
                return;
            }
            if batch.len() < BATCH as usize {
                return;
            }
        }
    }
}

/// One record as a JSON line (without the newline).
pub fn record_line(record: &AuditRecord) -> String {
    serde_json::json!({
        "seq": record.seq,
        "at": record.at.format(&Rfc3339).unwrap_or_default(),
        "actor": record.actor,
        "action": record.action,
        "office": record.office,
        "target": record.target,
        "details": record.details,
        "prev_hash": hex::encode(record.prev_hash),
        "hash": hex::encode(record.hash),
    })
    .to_string()
}

/// Where to start: after the last record shipped, by the position file and (for a file) its last
/// complete line, whichever is further; a torn last line is cut first.
fn start_position(sink: Sink, target: &ShipTarget) -> std::io::Result<i64> {
    let noted = match std::fs::read_to_string(&target.position) {
        Ok(text) => text.trim().parse::<i64>().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not hold a sequence number", target.position.display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let in_file = match sink {
        Sink::File => last_line_seq(&target.path)?,
        Sink::Syslog => 0,
    };
    Ok(noted.max(in_file))
}

/// The sequence number of the file's last complete line (0 for a missing or empty file), after
/// cutting an incomplete last line.
fn last_line_seq(path: &Path) -> std::io::Result<i64> {
    let mut file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let complete = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if complete == 0 && start > 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the last line of {} is longer than {TAIL_WINDOW} bytes", path.display()),
        ));
    }
    if complete < tail.len() {
        let cut = start + complete as u64;
        tracing::warn!(path = %path.display(), bytes = len - cut, "cutting an incomplete last line from the shipped audit file");
        file.set_len(cut)?;
        file.sync_all()?;
    }
    let lines = &tail[..complete];
    let last = lines[..lines.len().saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(lines, |i| &lines[i + 1..]);
    if last.is_empty() {
        return Ok(0);
    }
    #[derive(serde::Deserialize)]
    struct Line {
        seq: i64,
    }
    serde_json::from_slice::<Line>(last).map(|line| line.seq).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the last line of {} is not a shipped audit record", path.display()),
        )
    })
}

/// Appends the records' lines to the file (created 0640), flushed to disk, or none of them: a
/// failed append is cut off. The file is opened for each batch, so that a log rotation that
/// renames it is followed.
fn append_lines(path: &Path, records: &[AuditRecord]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    let mut file = options.open(path)?;
    let before = file.metadata()?.len();
    let mut text = String::new();
    for record in records {
        text.push_str(&record_line(record));
        text.push('\n');
    }
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_data());
    if written.is_err() {
        // A full disk may have taken part of the batch: cut it off, so that the retry appends
        // whole lines after whole lines.
        let _ = file.set_len(before).and_then(|()| file.sync_data());
    }
    written
}

/// Sends one datagram per record; returns the last sequence number sent and the error that
/// stopped it, if one did.
#[cfg(unix)]
async fn send_to_syslog(
    socket: &Path,
    records: &[AuditRecord],
) -> (Option<i64>, Option<std::io::Error>) {
    let datagram = match tokio::net::UnixDatagram::unbound() {
        Ok(datagram) => datagram,
        Err(error) => return (None, Some(error)),
    };
    let mut sent = None;
    for record in records {
        if let Err(error) = datagram.send_to(syslog_line(record).as_bytes(), socket).await {
            return (sent, Some(error));
        }
        sent = Some(record.seq);
    }
    (sent, None)
}

#[cfg(not(unix))]
async fn send_to_syslog(
    _socket: &Path,
    _records: &[AuditRecord],
) -> (Option<i64>, Option<std::io::Error>) {
    (None, Some(std::io::Error::other("syslog shipping needs a Unix socket")))
}

/// `<86>sesame-audit: {json}`: the local socket stamps the time and host itself.
pub fn syslog_line(record: &AuditRecord) -> String {
    let line = record_line(record);
    let line = if line.len() <= SYSLOG_MAX {
        line
    } else {
        let mut shortened = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
        shortened["details"] = serde_json::Value::Null;
        shortened["details_left_out"] = true.into();
        shortened.to_string()
    };
    format!("<{SYSLOG_PRIORITY}>sesame-audit: {line}")
}

fn write_position(path: &Path, seq: i64) -> std::io::Result<()> {
    sesame_base::private_file::write_private(path, format!("{seq}\n").as_bytes())
}

#[cfg(test)]
mod tests;
