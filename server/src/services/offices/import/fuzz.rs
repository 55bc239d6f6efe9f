//! Fuzz target of the import's rules (bolero, run by `cargo test` for a fixed number of cases;
//! `tests/FUZZING.md` says how to run them longer): rows of any text, or of addresses that are
//! nearly right, are each either kept once or named in the refusal.

use std::collections::HashSet;

use bolero::{TypeGenerator, check};

use super::*;
use crate::fuzz::Tally;

/// A row as a file may hold it.
#[derive(Debug, TypeGenerator)]
struct Row {
    line: u64,
    address: Address,
    display_name: String,
    logon_name: String,
    local_account: String,
}

/// Any text, or an address built from parts, so that most rules are reached.
#[derive(Debug, TypeGenerator)]
enum Address {
    Any(String),
    Parts { last: String, first: String, office: u32, case: bool },
    Repeat(u8),
}

fn import() -> MailboxImport {
    MailboxImport {
        domain: MailDomain::parse("mailnot.fr").unwrap(),
        received: 0,
        rows: Vec::new(),
        lines: Vec::new(),
        first_line_of: HashMap::new(),
        errors: Vec::new(),
        error_count: 0,
    }
}

#[test]
fn every_row_is_kept_once_or_named_in_the_refusal() {
    let tally = Tally::new("import_rows");
    check!().with_type::<Vec<Vec<Row>>>().with_iterations(1_000).for_each(|chunks| {
        tally.case(|| {
            let mut import = import();
            let mut sent = 0;
            let mut addresses: Vec<String> = Vec::new();
            for chunk in chunks {
                let rows: Vec<RawMailboxRow> = chunk
                    .iter()
                    .map(|row| {
                        let address = match &row.address {
                            Address::Any(text) => text.clone(),
                            Address::Parts { last, first, office, case } => {
                                let address =
                                    format!("{last}.{first}@{:05}.mailnot.fr", office % 100_000);
                                if *case { address.to_uppercase() } else { address }
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
                            display_name: row.display_name.clone(),
                            logon_name: row.logon_name.clone(),
                            local_account: row.local_account.clone(),
                        }
                    })
                    .collect();
                sent += rows.len();
                import.add_rows(rows).unwrap();
            }
            assert_eq!(import.received, sent);
            assert_eq!(import.rows.len() + import.error_count, sent);
            assert_eq!(import.rows.len(), import.lines.len());
            assert!(import.errors.len() <= MAX_LISTED_ERRORS);
            let unique: HashSet<&str> = import.rows.iter().map(|r| r.address.as_str()).collect();
            assert_eq!(unique.len(), import.rows.len(), "an address is kept once");
            for row in &import.rows {
                assert_eq!(
                    MailboxAddress::parse(row.address.as_str(), &import.domain).unwrap(),
                    row.address
                );
            }
            if import.error_count > 0 {
                let refusal = import.refusal();
                assert!(refusal.starts_with(&format!("{} invalid line", import.error_count)));
                assert!(import.errors.iter().all(|e| refusal.contains(e.as_str())));
            }
        })
    });
}
