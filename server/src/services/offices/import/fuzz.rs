//! Fuzz target of the import's rules (bolero, run by `cargo test` for a fixed number of cases;
//! `tests/FUZZING.md` says how to run them longer): rows of any text, or of addresses that are
//! nearly right, are each either kept once or named in the refusal.

use std::collections::HashSet;

use bolero::{TypeGenerator, check};

use super::*;
use sesame_base::fuzz_tally::Tally;

/// A row as a file may hold it.
#[derive(Debug, TypeGenerator)]
struct Row {
    line: u64,
    address: Address,
    display_name: Field,
    logon_name: Field,
    local_account: Field,
}

/// An optional field: empty, plain (valid for every column) or any text.
#[derive(Debug, TypeGenerator)]
enum Field {
    Empty,
    Plain(u16),
    Any(String),
}

impl Field {
    fn text(&self, plain: &str) -> String {
        match self {
            Field::Empty => String::new(),
            Field::Plain(n) => format!("{plain}{n}"),
            Field::Any(text) => text.clone(),
        }
    }
}

/// Any text, or an address built from parts, so that most rules are reached.
#[derive(Debug, TypeGenerator)]
enum Address {
    Any(String),
    Parts { last: String, first: String, office: u32, case: bool },
    Plain { last: u16, first: u16, office: u8 },
    Repeat(u8),
}

fn import() -> MailboxImport {
    MailboxImport::new(MailDomain::parse("mailnot.fr").unwrap())
}

#[test]
fn every_row_is_kept_once_or_named_in_the_refusal() {
    let tally = Tally::new("import_rows");
    check!().with_type::<(bool, Vec<Vec<Row>>)>().with_iterations(1_000).for_each(
        |(clean, chunks)| {
            tally.case(|| {
                let mut import = import();
                let mut sent = 0;
                let mut addresses: Vec<String> = Vec::new();
                for chunk in chunks {
                    let rows: Vec<RawMailboxRow> = chunk
                        .iter()
                        .map(|row| {
                            if *clean {
                                // A file without mistakes: every row valid, every address new.
                                let n = addresses.len();
                                addresses.push(format!("n{n}.p@{:05}.mailnot.fr", 10_000 + n % 7));
                                return RawMailboxRow {
                                    line: row.line,
                                    address: addresses[n].clone(),
                                    display_name: format!("Person {n}"),
                                    logon_name: String::new(),
                                    local_account: Field::Plain(0).text("account"),
                                };
                            }
                            let address = match &row.address {
                                Address::Any(text) => text.clone(),
                                Address::Parts { last, first, office, case } => {
                                    let address = format!(
                                        "{last}.{first}@{:05}.mailnot.fr",
                                        office % 100_000
                                    );
                                    if *case { address.to_uppercase() } else { address }
                                }
                                Address::Plain { last, first, office } => {
                                    format!(
                                        "n{last}.p{first}@{:05}.mailnot.fr",
                                        10_000 + u32::from(*office)
                                    )
                                }
                                Address::Repeat(n) => addresses
                                    .get(usize::from(*n) % addresses.len().max(1))
                                    .cloned()
                                    .unwrap_or_default(),
                            };
                            addresses.push(address.clone());
                            RawMailboxRow {
                                line: row.line,
                                address,
                                display_name: row.display_name.text("Person "),
                                logon_name: row.logon_name.text("ETUDE\\user"),
                                local_account: row.local_account.text("account"),
                            }
                        })
                        .collect();
                    sent += rows.len();
                    import.add_rows(rows).unwrap();
                }
                if import.errors.count == 0 && sent > 0 {
                    tally.accepted();
                }
                assert_eq!(import.received, sent);
                assert_eq!(import.rows.len() + import.errors.count, sent);
                assert_eq!(import.rows.len(), import.lines.len());
                assert!(import.errors.listed.len() <= MAX_LISTED_ERRORS);
                let unique: HashSet<&str> =
                    import.rows.iter().map(|r| r.address.as_str()).collect();
                assert_eq!(unique.len(), import.rows.len(), "an address is kept once");
                for row in &import.rows {
                    assert_eq!(
                        MailboxAddress::parse(row.address.as_str(), &import.domain).unwrap(),
                        row.address
                    );
                }
                if import.errors.count > 0 {
                    let refusal = import.errors.refusal();
                    assert!(refusal.starts_with(&format!("{} invalid line", import.errors.count)));
                    assert!(import.errors.listed.iter().all(|e| refusal.contains(e.as_str())));
                }
            })
        },
    );
    println!("{tally}");
}
