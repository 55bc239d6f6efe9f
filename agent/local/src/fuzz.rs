//! Fuzz targets of the local protocol's lines (bolero, run by `cargo test` for a fixed number of
//! cases; `tests/FUZZING.md` says how to run them longer): any bytes and JSON made of the
//! protocol's own words decode to a message or a typed error, and read back as themselves; the
//! line reader splits any stream, cut anywhere, exactly as the lines were written.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bolero::{TypeGenerator, check};
use serde_json::Value;
use sesame_base::fuzz_tally::Tally;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::protocol::{DecodeError, Event, MAX_LINE_BYTES, Request, decode, encode};
use crate::wire::{Connection, WireError};

/// Decodes `line` as both ends do; what is accepted encodes to a line that decodes to the same.
fn assert_decodes_consistently(line: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(request) = decode::<Request>(line) {
        accepted = true;
        let encoded = encode(&request);
        let again: Request = decode(&encoded[..encoded.len() - 1]).unwrap();
        assert_eq!(*encode(&again), *encoded);
    }
    if let Ok(event) = decode::<Event>(line) {
        accepted = true;
        let encoded = encode(&event);
        assert!(encoded.len() > 1, "an accepted event always encodes");
        let again: Event = decode(&encoded[..encoded.len() - 1]).unwrap();
        assert_eq!(*encode(&again), *encoded);
    }
    if let Err(DecodeError::UnsupportedVersion(v)) = decode::<Event>(line) {
        assert_ne!(v, crate::protocol::PROTOCOL_VERSION);
    }
    accepted
}

#[test]
fn any_line_decodes_to_a_message_or_a_typed_error() {
    let tally = Tally::new("local_line_any_bytes");
    // Seeds: lines both ends send (`__fuzz__/local_line/corpus`).
    check!(name = "local_line").with_iterations(3_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            if assert_decodes_consistently(bytes) {
                tally.accepted();
            }
        })
    });
    println!("{tally}");
}

#[test]
fn the_seed_lines_are_lines_both_ends_send() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/__fuzz__/local_line/corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let line = std::fs::read(&path).unwrap();
        let request = decode::<Request>(&line).is_ok();
        let event = decode::<Event>(&line).is_ok();
        let other = matches!(decode::<Event>(&line), Err(DecodeError::UnsupportedVersion(2)));
        assert!(request || event || other, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5);
}

/// JSON made of the protocol's own words, so that decoding goes past the envelope.
#[derive(Debug, TypeGenerator)]
enum Json {
    Null,
    Bool(bool),
    Small(u8),
    Number(i64),
    Float(f64),
    Word(u8),
    Text(String),
    Time(i64, i8),
    Array(Vec<Json>),
    Object(Vec<(u8, Json)>),
}

/// The field and variant names of `Request` and `Event` (and the types inside them).
const WORDS: &[&str] = &[
    "status",
    "status_page",
    "page",
    "begin",
    "mailbox",
    "passwords",
    "current_or_provisional",
    "new",
    "confirm",
    "new_password",
    "more_choices",
    "confirm_key_unplugged",
    "cancel",
    "choose_mailbox",
    "choose_mailbox_page",
    "choices",
    "next_page",
    "need_key_confirmation",
    "reason",
    "need_passwords",
    "kind",
    "display_name",
    "policy",
    "need_new_password",
    "may_be_unchanged",
    "refused",
    "progress",
    "done",
    "key_in",
    "error",
    "agent_version",
    "enrolled",
    "key",
    "rotations",
    "last_report",
    "reports_waiting",
    "present",
    "absent",
    "unknown",
    "device",
    "step",
    "due",
    "in_hand",
    "at",
    "delivered",
    "provisional",
    "current",
    "min_length",
    "require_lower",
    "require_upper",
    "require_digit",
    "require_special",
    "pending",
    "started",
    "changed",
    "verified",
    "completed",
    "failed",
    "cancelled",
    "key_present",
    "password",
    "too_short",
    "min",
    "not_ascii",
    "no_lower",
    "no_upper",
    "unknown_mailbox",
    "mailbox_required",
    "busy",
    "waiting_for_unplug",
    "connecting",
    "changing",
    "verifying",
    "line_too_long",
    "bad_message",
    "v",
    "msg",
];

impl Json {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Small(n) => Value::from(*n),
            Json::Number(n) => Value::from(*n),
            Json::Float(f) => Value::from(*f),
            Json::Word(w) => Value::from(WORDS[usize::from(*w) % WORDS.len()]),
            Json::Text(s) => Value::from(s.as_str()),
            Json::Time(seconds, offset) => {
                let at = time::OffsetDateTime::from_unix_timestamp(seconds % 253_402_300_799)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                let offset = time::UtcOffset::from_whole_seconds(i32::from(*offset) * 900)
                    .unwrap_or(time::UtcOffset::UTC);
                let at = at.checked_to_offset(offset).unwrap_or(at);
                Value::from(
                    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                )
            }
            Json::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (WORDS[usize::from(*k) % WORDS.len()].to_owned(), v.value()))
                    .collect(),
            ),
        }
    }
}

#[test]
fn lines_of_the_protocols_words_decode_consistently() {
    let tally = Tally::new("local_line_words");
    check!().with_type::<(Json, u8)>().with_iterations(5_000).for_each(|(msg, version)| {
        tally.case(|| {
            let v = if *version < 200 { 1 } else { u32::from(*version) };
            let line = serde_json::json!({"v": v, "msg": msg.value()}).to_string();
            if assert_decodes_consistently(line.as_bytes()) {
                tally.accepted();
            }
        })
    });
    println!("{tally}");
}

/// A stream that hands out its bytes in the chunks given, and swallows what is written.
struct Chunks(VecDeque<Vec<u8>>);

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(chunk) = self.0.front_mut() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.0.pop_front();
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Chunks {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Lines as a client may send them: any bytes, some near the length limit, cut into chunks.
#[derive(Debug, TypeGenerator)]
struct Stream {
    lines: Vec<(Vec<u8>, u8, bool)>,
    last_unfinished: bool,
    cuts: Vec<u16>,
}

#[derive(Debug, PartialEq, Eq)]
enum Read {
    Line(Result<String, DecodeError>),
    TooLong,
    Truncated,
}

#[test]
fn the_line_reader_splits_any_stream_as_it_was_written() {
    let tally = Tally::new("local_line_reader");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    check!().with_type::<Stream>().with_iterations(1_000).for_each(|stream| {
        tally.case(|| {
            // The lines, with what the reader must make of each.
            let mut bytes = Vec::new();
            let mut expected = Vec::new();
            for (line, long, crlf) in &stream.lines {
                let mut line: Vec<u8> = line.iter().copied().filter(|b| *b != b'\n').collect();
                if *long >= 250 {
                    // Just under, at and over the limit.
                    line.resize(MAX_LINE_BYTES - 1 + usize::from(*long - 250), b'x');
                }
                if *crlf {
                    line.push(b'\r');
                }
                bytes.extend_from_slice(&line);
                if line.len() > MAX_LINE_BYTES {
                    expected.push(Read::TooLong);
                    break;
                }
                bytes.push(b'\n');
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                expected.push(Read::Line(decode::<Event>(&line).map(|e| format!("{e:?}"))));
            }
            if stream.last_unfinished && !matches!(expected.last(), Some(Read::TooLong)) {
                bytes.extend_from_slice(b"{\"v\":1");
                expected.push(Read::Truncated);
            }
            let mut chunks = VecDeque::new();
            let mut rest = bytes.as_slice();
            for cut in &stream.cuts {
                let at = usize::from(*cut).min(rest.len()).max(1).min(rest.len());
                let (chunk, after) = rest.split_at(at);
                chunks.push_back(chunk.to_vec());
                rest = after;
            }
            if !rest.is_empty() {
                chunks.push_back(rest.to_vec());
            }
            let mut connection = Connection::new(Chunks(chunks));
            let read = runtime.block_on(async {
                let mut read = Vec::new();
                loop {
                    match connection.recv::<Event>().await {
                        Ok(Some(event)) => read.push(Read::Line(Ok(format!("{event:?}")))),
                        Ok(None) => break,
                        Err(WireError::Decode(e)) => read.push(Read::Line(Err(e))),
                        Err(WireError::LineTooLong) => {
                            read.push(Read::TooLong);
                            break;
                        }
                        Err(WireError::Truncated) => {
                            read.push(Read::Truncated);
                            break;
                        }
                        Err(WireError::Io(e)) => panic!("{e}"),
                    }
                }
                read
            });
            assert_eq!(read, expected);
        })
    });
    println!("{tally}");
}

#[test]
fn any_new_password_is_checked_without_panicking() {
    use sesame_base::password_rule::{MAX_SCORE, PasswordRule, StrengthChecks};

    use crate::password_check::{PasswordContext, PasswordKind, Typed, check_new_password};

    let tally = Tally::new("password_check");
    check!()
        .with_type::<(String, String, String, String, String, bool, bool, u8)>()
        .with_iterations(400)
        .for_each(|(new, old, mailbox, display_name, office, personal, common, score)| {
            tally.case(|| {
                let checks = StrengthChecks {
                    personal_words: *personal,
                    common_passwords: *common,
                    min_score: *score,
                };
                let (office_name, office_city) = office.split_once('|').unwrap_or((office, ""));
                let context = PasswordContext {
                    kind: if old.len() % 2 == 0 {
                        PasswordKind::Provisional
                    } else {
                        PasswordKind::Current
                    },
                    mailbox,
                    display_name,
                    office_name,
                    office_city,
                };
                let typed = Typed { old, new, confirm: new };
                let problems =
                    check_new_password(&PasswordRule::default(), checks, &context, &typed);
                for problem in &problems {
                    if let crate::password_check::PasswordProblem::TooGuessable { score, min } =
                        problem
                    {
                        assert!(score < min && *min <= MAX_SCORE);
                    }
                    if problem.wants_strength() {
                        assert!(checks.common_passwords || checks.min_score > 0);
                    }
                }
                if !PasswordRule::default().check(new).is_empty() {
                    assert!(!problems.is_empty());
                } else {
                    tally.accepted();
                }
            })
        });
    println!("{tally}");
}
