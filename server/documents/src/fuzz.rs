//! Fuzz targets (bolero, run by `cargo test` for a fixed number of cases; `tests/FUZZING.md` says
//! how to run them longer): the mailbox and office CSV readers on any text, and the writers (CSV, PDF,
//! PowerShell) on any names, addresses and long or control-laden strings.

use bolero::{TypeGenerator, check};
use secrecy::{ExposeSecret, SecretString};
use sesame_base::calendar::FixedCalendar;
use sesame_base::fuzz_tally::Tally;
use sesame_base::password_rule::PasswordRule;
use time::OffsetDateTime;

use crate::csv_out::neutralise;
use crate::mailbox_csv::{CsvError, parse};
use crate::office_csv;
use crate::report::{ComplianceReportDoc, MailboxLine, OfficeLine, Rule, State, StateCount};
use crate::{CsvOut, HeadStamp, Letter, audit_csv, export, letters, report_csv, report_pdf};

fn time(seconds: i64) -> OffsetDateTime {
    // Any instant from year 1 to 9999.
    let span = 315_537_897_599 - -62_135_596_800;
    OffsetDateTime::from_unix_timestamp(-62_135_596_800 + seconds.rem_euclid(span))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How many lines end in `bytes`: at `\n`, `\r\n` or a lone `\r` (as the csv crate ends records).
fn line_breaks(bytes: &[u8]) -> u64 {
    let lone_cr = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    (0..bytes.len()).filter(|&i| bytes[i] == b'\n' || lone_cr(i)).count() as u64
}

#[test]
fn mailbox_csv_reads_any_text_without_panicking() {
    let tally = Tally::new("mailbox_csv_any_text");
    // Seeds: files of the tests (`__fuzz__/mailbox_csv/corpus`).
    check!(name = "mailbox_csv").with_iterations(3_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            let text = String::from_utf8_lossy(bytes);
            let lines = line_breaks(text.as_bytes()) + 1;
            match parse(&text) {
                Ok(csv) => {
                    tally.accepted();
                    assert!(!csv.rows.is_empty());
                    let mut previous = 1;
                    for row in &csv.rows {
                        assert!(
                            row.line > previous && row.line <= lines,
                            "{row:?} after {previous}"
                        );
                        previous = row.line;
                        for cell in [&row.address, &row.display_name, &row.logon_name] {
                            assert_eq!(cell.trim(), cell);
                        }
                    }
                }
                Err(CsvError::Line { line, .. }) => assert!(line <= lines),
                Err(CsvError::Header { found }) => assert!(found.chars().count() <= 80),
                Err(CsvError::Empty) => {}
            }
        })
    });
    println!("{tally}");
}

/// A mailbox CSV file as a spreadsheet writes it: any cells, quoted where CSV needs it.
#[derive(Debug, TypeGenerator)]
struct CsvFile {
    semicolons: bool,
    crlf: bool,
    bom: bool,
    /// Which optional columns, in which order.
    columns: u8,
    rows: Vec<(String, String, String, String)>,
}

#[test]
fn mailbox_csv_reads_back_what_a_spreadsheet_wrote() {
    let tally = Tally::new("mailbox_csv_round_trip");
    check!().with_type::<CsvFile>().with_iterations(1_000).for_each(|file| {
        tally.case(|| {
            let optional: &[&str] = match file.columns % 5 {
                0 => &[],
                1 => &["logon_name"],
                2 => &["local_account"],
                3 => &["logon_name", "local_account"],
                _ => &["local_account", "logon_name"],
            };
            let header: Vec<&str> =
                ["Address", "display_name"].iter().chain(optional).copied().collect();
            let mut writer = csv::WriterBuilder::new()
                .delimiter(if file.semicolons { b';' } else { b',' })
                .terminator(if file.crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_writer(Vec::new());
            writer.write_record(&header).unwrap();
            let mut expected = Vec::new();
            for (address, name, logon, account) in &file.rows {
                let cells = [address.trim(), name.trim(), logon.trim(), account.trim()];
                let written: Vec<&str> = cells[..header.len()].to_vec();
                writer.flush().unwrap();
                let line = line_breaks(writer.get_ref()) + 1;
                writer.write_record(&written).unwrap();
                if written.iter().all(|c| c.is_empty()) {
                    continue;
                }
                let at = |name: &str| {
                    optional.iter().position(|n| *n == name).map_or("", |i| written[i + 2])
                };
                expected.push((
                    line,
                    cells[0].to_owned(),
                    cells[1].to_owned(),
                    at("logon_name").to_owned(),
                    at("local_account").to_owned(),
                ));
            }
            let mut text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            if file.bom {
                text.insert(0, '\u{feff}');
            }
            match parse(&text) {
                Ok(csv) => {
                    let read: Vec<_> = csv
                        .rows
                        .into_iter()
                        .map(|r| (r.line, r.address, r.display_name, r.logon_name, r.local_account))
                        .collect();
                    assert_eq!(read, expected, "{text:?}");
                }
                Err(CsvError::Empty) => assert!(expected.is_empty(), "{text:?}"),
                Err(e) => panic!("{e} in {text:?}"),
            }
        })
    });
    println!("{tally}");
}

#[test]
fn office_csv_reads_any_text_without_panicking() {
    let tally = Tally::new("office_csv_any_text");
    // Seeds: `__fuzz__/office_csv/corpus`.
    check!(name = "office_csv").with_iterations(2_000).for_each(|bytes: &[u8]| {
        tally.case(|| {
            let text = String::from_utf8_lossy(bytes);
            let lines = line_breaks(text.as_bytes()) + 1;
            match office_csv::parse(&text) {
                Ok(csv) => {
                    tally.accepted();
                    assert!(!csv.rows.is_empty());
                    let mut previous = 1;
                    for row in &csv.rows {
                        assert!(
                            row.line > previous && row.line <= lines,
                            "{row:?} after {previous}"
                        );
                        previous = row.line;
                        for cell in [&row.crpcen, &row.name, &row.city] {
                            assert_eq!(cell.trim(), cell);
                        }
                    }
                }
                Err(office_csv::CsvError::Line { line, .. }) => assert!(line <= lines),
                Err(office_csv::CsvError::Header { found }) => {
                    assert!(found.chars().count() <= 80)
                }
                Err(office_csv::CsvError::Empty) => {}
            }
        })
    });
    println!("{tally}");
}

/// An office CSV file as a spreadsheet writes it: any cells, quoted where CSV needs it.
#[derive(Debug, TypeGenerator)]
struct OfficeFile {
    semicolons: bool,
    crlf: bool,
    bom: bool,
    city: bool,
    rows: Vec<(String, String, String)>,
}

#[test]
fn office_csv_reads_back_what_a_spreadsheet_wrote() {
    let tally = Tally::new("office_csv_round_trip");
    check!().with_type::<OfficeFile>().with_iterations(800).for_each(|file| {
        tally.case(|| {
            let header: &[&str] =
                if file.city { &["CRPCEN", "nom", "ville"] } else { &["crpcen", "name"] };
            let mut writer = csv::WriterBuilder::new()
                .delimiter(if file.semicolons { b';' } else { b',' })
                .terminator(if file.crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_writer(Vec::new());
            writer.write_record(header).unwrap();
            let mut expected = Vec::new();
            for (crpcen, name, city) in &file.rows {
                let cells = [crpcen.trim(), name.trim(), city.trim()];
                let written: Vec<&str> = cells[..header.len()].to_vec();
                writer.flush().unwrap();
                let line = line_breaks(writer.get_ref()) + 1;
                writer.write_record(&written).unwrap();
                if written.iter().all(|c| c.is_empty()) {
                    continue;
                }
                let city = if file.city { cells[2] } else { "" };
                expected.push((line, cells[0].to_owned(), cells[1].to_owned(), city.to_owned()));
            }
            let mut text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            if file.bom {
                text.insert(0, '\u{feff}');
            }
            match office_csv::parse(&text) {
                Ok(csv) => {
                    let read: Vec<_> =
                        csv.rows.into_iter().map(|r| (r.line, r.crpcen, r.name, r.city)).collect();
                    assert_eq!(read, expected, "{text:?}");
                }
                Err(office_csv::CsvError::Empty) => assert!(expected.is_empty(), "{text:?}"),
                Err(e) => panic!("{e} in {text:?}"),
            }
        })
    });
    println!("{tally}");
}

#[test]
fn csv_cells_read_back_as_written_and_never_as_formulas() {
    let tally = Tally::new("csv_out");
    check!().with_type::<(Vec<Vec<String>>, u8)>().with_iterations(800).for_each(
        |(records, verbatim)| {
            tally.case(|| {
                let verbatim = [usize::from(*verbatim % 8)];
                // A table: every record as wide as the first (the writer refuses ragged rows).
                let width = records.first().map_or(0, Vec::len).max(1);
                let records: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.resize(width, String::new());
                        r
                    })
                    .collect();
                let mut out = Vec::new();
                let mut csv = CsvOut::new(&mut out);
                for record in &records {
                    csv.record_keeping(record.iter(), &verbatim).unwrap();
                }
                csv.flush().unwrap();
                drop(csv);
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(out.as_slice());
                let read: Vec<Vec<String>> = reader
                    .records()
                    .map(|r| r.unwrap().iter().map(str::to_owned).collect())
                    .collect();
                let expected: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        r.iter()
                            .enumerate()
                            .map(|(i, c)| {
                                if verbatim.contains(&i) {
                                    c.clone()
                                } else {
                                    neutralise(c).into_owned()
                                }
                            })
                            .collect()
                    })
                    .collect();
                assert_eq!(read, expected);
                for (i, cell) in read.iter().flat_map(|r| r.iter().enumerate()) {
                    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
                    assert!(!formula || verbatim.contains(&i), "{cell:?}");
                }
            })
        },
    );
    println!("{tally}");
}

/// One person of the letters and the export, from any strings.
#[derive(Debug, TypeGenerator)]
struct Person {
    address: String,
    display_name: String,
    first_name: String,
    last_name: String,
    password: String,
    expires_at: i64,
}

impl Person {
    fn letter(&self) -> Letter {
        Letter {
            address: self.address.clone(),
            display_name: self.display_name.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            password: SecretString::from(self.password.clone()),
            expires_at: time(self.expires_at),
        }
    }
}

fn assert_is_a_pdf(pdf: &[u8], pages: usize, text_bytes: usize) {
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    let page_objects =
        pdf.windows(11).filter(|w| *w == b"/Type /Page" || *w == b"/Type /Page\n").count();
    // "/Type /Pages" (the tree) matches too.
    assert_eq!(page_objects, pages + 1);
    // Each text byte is written at most 4 times over (escaped), plus each page's fixed text.
    assert!(pdf.len() <= 16_384 + pages * 8_192 + 4 * text_bytes, "{} bytes", pdf.len());
}

#[test]
fn letters_and_exports_are_made_from_any_names() {
    let tally = Tally::new("letters_and_export");
    check!()
        .with_type::<(String, Vec<Person>, (u32, bool, bool, bool, bool))>()
        .with_iterations(100)
        .for_each(|(office, people, (min_length, lower, upper, digit, special))| {
            tally.case(|| {
                let letters: Vec<Letter> = people.iter().map(Person::letter).collect();
                let rule = PasswordRule {
                    min_length: *min_length,
                    require_lower: *lower,
                    require_upper: *upper,
                    require_digit: *digit,
                    require_special: *special,
                };
                let heading = letters::LetterOffice {
                    crpcen: "01234".to_owned(),
                    name: office.clone(),
                    city: office.clone(),
                };
                let printing = letters::Printing {
                    at: time(i64::from(*min_length) * 86_400),
                    calendar: &FixedCalendar(time::macros::offset!(+1)),
                };
                let text: usize = 2 * office.len() * letters.len()
                    + people
                        .iter()
                        .map(|p| p.address.len() + p.display_name.len() + p.password.len())
                        .sum::<usize>();
                let pdf = letters::render(&heading, &letters, &rule, printing);
                assert_is_a_pdf(&pdf, letters.len(), text);

                let csv = export::csv(&letters).unwrap();
                let mut reader = csv::Reader::from_reader(csv.as_bytes());
                let read: Vec<Vec<String>> = reader
                    .records()
                    .map(|r| r.unwrap().iter().map(str::to_owned).collect())
                    .collect();
                let expected: Vec<Vec<String>> = people
                    .iter()
                    .map(|p| {
                        vec![
                            neutralise(&p.address).into_owned(),
                            neutralise(&p.display_name).into_owned(),
                            p.password.clone(),
                            crate::rfc3339(time(p.expires_at)),
                        ]
                    })
                    .collect();
                assert_eq!(read, expected);

                // The display name is the one free text of the script: it stays in its comment.
                // Addresses and passwords are ASCII without controls (the server's address rule
                // and generator); any other character of theirs may be anywhere in a line.
                let plain = |text: &str| -> String {
                    text.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect()
                };
                let letters: Vec<Letter> = letters
                    .into_iter()
                    .map(|l| Letter {
                        address: plain(&l.address),
                        password: SecretString::from(plain(l.password.expose_secret())),
                        ..l
                    })
                    .collect();
                let script = export::powershell("01234", &letters);
                let lines = script.split("\r\n").count();
                assert_eq!(lines, 9 + 6 * letters.len(), "{script:?}");
                assert!(!script.replace("\r\n", "").contains(['\r', '\n']));
            })
        });
    println!("{tally}");
}

/// A mailbox line: address, name, state, reason, since.
type MailboxFields = (String, String, u8, String, Option<i64>);
/// An office line: CRPCEN, name, mailboxes, compliant, its mailboxes.
type OfficeFields = (String, String, u64, u64, Vec<MailboxFields>);

/// A compliance report from any names and counts.
#[derive(Debug, TypeGenerator)]
struct Report {
    at: i64,
    counts: Vec<(u8, u64)>,
    offices: Vec<OfficeFields>,
    head: Option<(i64, String, String, String)>,
    server: String,
}

const STATES: [State; 9] = [
    State::Compliant,
    State::DueSoon,
    State::Overdue,
    State::ProvisionalPending,
    State::ProvisionalExpired,
    State::ChangeFailed,
    State::AgentOffline,
    State::NeverEnrolled,
    State::Unknown,
];

impl Report {
    fn doc(&self) -> ComplianceReportDoc {
        let counts = |counts: &[(u8, u64)]| -> Vec<StateCount> {
            counts
                .iter()
                .map(|(s, n)| StateCount {
                    state: STATES[usize::from(*s) % STATES.len()],
                    mailboxes: *n,
                })
                .collect()
        };
        let offices = self
            .offices
            .iter()
            .map(|(crpcen, name, mailboxes, compliant, lines)| OfficeLine {
                crpcen: crpcen.clone(),
                name: name.clone(),
                mailboxes: *mailboxes,
                compliant: *compliant,
                counts: counts(&self.counts),
                oldest_verified_change_at: None,
                never_changed: 0,
                late_since: Some(time(self.at - 1)),
                mailbox_states: lines
                    .iter()
                    .map(|(address, display_name, state, reason, since)| MailboxLine {
                        address: address.clone(),
                        display_name: display_name.clone(),
                        state: STATES[usize::from(*state) % STATES.len()],
                        reason: reason.clone(),
                        since: since.map(time),
                        non_compliant_since: since.map(time),
                        last_verified_change_at: None,
                    })
                    .collect(),
            })
            .collect();
        ComplianceReportDoc {
            at: time(self.at),
            generated_at: Some(time(self.at)),
            mailboxes: self.counts.iter().map(|(_, n)| *n).fold(0, u64::saturating_add),
            compliant: 0,
            counts: counts(&self.counts),
            offices_compliant: 0,
            offices_reported: self.offices.len() as u64,
            oldest_verified_change_at: None,
            offices,
            head: self.head.as_ref().map(|(seq, hash, key_id, signature)| HeadStamp {
                seq: *seq,
                hash: hash.clone(),
                signed_at: time(self.at),
                key_id: key_id.clone(),
                signature: signature.clone(),
            }),
        }
    }
}

#[test]
fn compliance_reports_are_made_from_any_names_and_counts() {
    let tally = Tally::new("compliance_report");
    check!().with_type::<Report>().with_iterations(60).for_each(|report| {
        tally.case(|| {
            let doc = report.doc();
            let rule = Rule { due_soon_days: 7, limit_days: 90, offline_days: 14 };
            let pdf = report_pdf::render(&doc, &rule, &report.server);
            assert!(pdf.starts_with(b"%PDF-") && pdf.trim_ascii_end().ends_with(b"%%EOF"));
            for mailboxes in [false, true] {
                let mut out = Vec::new();
                report_csv::write(&mut out, &doc, mailboxes).unwrap();
                let rows = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(out.as_slice())
                    .records()
                    .map(|r| r.unwrap().len())
                    .collect::<Vec<_>>();
                let lines: usize = if mailboxes {
                    doc.offices.iter().map(|o| o.mailbox_states.len()).sum()
                } else {
                    doc.offices.len()
                };
                // The header, lines or not, then one row per line, all as wide.
                let expected = lines + 1;
                assert_eq!(rows.len(), expected, "{}", String::from_utf8_lossy(&out));
                assert!(rows.iter().all(|n| *n == rows[0]));
            }
            let mut stamp = Vec::new();
            report_csv::write_stamp(&mut stamp, &doc).unwrap();
            let stamp_rows = csv::Reader::from_reader(stamp.as_slice()).records().count();
            assert_eq!(stamp_rows, 1);
        })
    });
    println!("{tally}");
}

#[test]
fn audit_trails_read_back_as_written() {
    let tally = Tally::new("audit_csv");
    check!()
        .with_type::<Vec<(i64, i64, String, String, String, String, String, String)>>()
        .with_iterations(300)
        .for_each(|records| {
            tally.case(|| {
                let lines: Vec<audit_csv::AuditLine> = records
                    .iter()
                    .map(|(seq, at, actor, action, office, target, details, hash)| {
                        audit_csv::AuditLine {
                            seq: *seq,
                            at: time(*at),
                            actor: actor.clone(),
                            action: action.clone(),
                            office: office.clone(),
                            target: target.clone(),
                            details: details.clone(),
                            hash: hash.clone(),
                        }
                    })
                    .collect();
                let mut out = Vec::new();
                audit_csv::write(&mut out, &lines).unwrap();
                let read: Vec<Vec<String>> = csv::Reader::from_reader(out.as_slice())
                    .records()
                    .map(|r| r.unwrap().iter().map(str::to_owned).collect())
                    .collect();
                let expected: Vec<Vec<String>> = lines
                    .iter()
                    .map(|l| {
                        [
                            &l.seq.to_string(),
                            &crate::rfc3339(l.at),
                            &l.actor,
                            sesame_base::audit_actions::current_name(&l.action),
                            &l.office,
                            &l.target,
                            &l.details,
                            &l.hash,
                        ]
                        .iter()
                        .map(|c| neutralise(c).into_owned())
                        .collect()
                    })
                    .collect();
                assert_eq!(read, expected);
            })
        });
    println!("{tally}");
}
