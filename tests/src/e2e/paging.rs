//! Bounded answers and spreadsheet-safe exports, through sesamectl and the contract: rotations,
//! mailboxes and the compliance report's mailboxes listed a page at a time (more than one page,
//! each row once, CSV written page by page), page tokens tampered with refused, an older client
//! still answered; and display names that a spreadsheet would run as formulas written neutralised
//! in every CSV sesamectl prints.

use std::collections::BTreeSet;
use std::io::{self, Write};

use sesame_proto::v1 as pb;
use tonic::Code;

use crate::{TestServer, write_file};

/// An output that notes how many lines it held at each flush: sesamectl flushes its CSV after each
/// page it writes.
#[derive(Default)]
struct FlushLog {
    bytes: Vec<u8>,
    lines_at_flush: Vec<usize>,
}

impl Write for FlushLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let lines = self.bytes.iter().filter(|b| **b == b'\n').count();
        if self.lines_at_flush.last() != Some(&lines) {
            self.lines_at_flush.push(lines);
        }
        Ok(())
    }
}

/// Runs sesamectl with the bootstrap credentials into a [`FlushLog`].
async fn sesamectl_logged(server: &TestServer, args: &[&str]) -> FlushLog {
    let credentials = server.credentials.to_str().unwrap();
    let mut argv = vec!["sesamectl", "--credentials", credentials];
    argv.extend_from_slice(args);
    let cli = <sesamectl::Cli as clap::Parser>::try_parse_from(argv).unwrap();
    let mut log = FlushLog::default();
    let calendar = sesame_base::calendar::LocalCalendar::new();
    let now = sesame_base::clock::Clock::now(&sesame_base::clock::SystemClock);
    let term = sesamectl::Terminal { out: &mut log, progress: false, now, calendar: &calendar };
    sesamectl::run(cli, term).await.unwrap();
    log
}

/// The rows of a CSV text, header first.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The values of the column named `name`, one per data row.
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let index = rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}"));
    rows[1..].iter().map(|r| r[index].clone()).collect()
}

/// Office 01234 with `n` mailboxes (and 75001 with two), imported through sesamectl.
async fn fleet(server: &TestServer, n: usize) {
    server.sesamectl(&["office", "add", "01234", "--name", "Étude"]).await.unwrap();
    server.sesamectl(&["office", "add", "75001", "--name", "Autre"]).await.unwrap();
    let mut csv = String::from("address,display_name\n");
    for i in 0..n {
        csv.push_str(&format!("p{i:03}.nom@01234.mailnot.fr,Personne {i}\n"));
    }
    csv.push_str("a.autre@75001.mailnot.fr,A\nb.autre@75001.mailnot.fr,B\n");
    let file = write_file(server.data_dir(), "people.csv", &csv);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
}

async fn long_listings_come_in_pages_and_csv_is_written_page_by_page(server: &TestServer) {
    fleet(server, 25).await;
    server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--office", "75001"]).await.unwrap();

    // 27 rotations, 10 a page: three pages, each written (and flushed) as it arrives.
    let log =
        sesamectl_logged(server, &["--page-size", "10", "provisional", "list", "-o", "csv"]).await;
    assert_eq!(log.lines_at_flush, [11, 21, 28], "header and 10 rows, 10 rows, 7 rows");
    let rows = csv_rows(&String::from_utf8(log.bytes).unwrap());
    let ids: BTreeSet<String> = column(&rows, "id").into_iter().collect();
    assert_eq!(ids.len(), 27, "each rotation exactly once");
    let json = server.sesamectl(&["--page-size", "4", "provisional", "list", "-o", "json"]).await;
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&json.unwrap()).unwrap().len(), 27);

    let log =
        sesamectl_logged(server, &["--page-size", "10", "mailbox", "list", "-o", "csv"]).await;
    assert_eq!(log.lines_at_flush, [11, 21, 28]);

    // The report's mailboxes: one line each, page by page; the table and JSON put them together.
    let args = ["--page-size", "10", "report", "--mailboxes", "-o", "csv"];
    let log = sesamectl_logged(server, &args).await;
    assert_eq!(log.lines_at_flush, [11, 21, 28]);
    let rows = csv_rows(&String::from_utf8(log.bytes).unwrap());
    let addresses: BTreeSet<String> = column(&rows, "address").into_iter().collect();
    assert_eq!(addresses.len(), 27);
    let log = sesamectl_logged(server, &["--page-size", "1", "report", "-o", "csv"]).await;
    assert_eq!(log.lines_at_flush, [2, 3], "one office a page");
    let json = server.sesamectl(&["--page-size", "7", "report", "--office", "01234", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json.await.unwrap()).unwrap();
    assert_eq!(report["per_office"].as_array().unwrap().len(), 1, "one office, merged");
    assert_eq!(report["per_office"][0]["mailboxes"].as_u64(), Some(25));
    assert_eq!(report["mailbox_states"].as_array().unwrap().len(), 25);
    assert_eq!(report["mailboxes"].as_u64(), Some(25));

    // The contract: tampered tokens are refused; a client that asks no page gets one answer.
    let mut client = sesamectl::connect(&server.read_credentials()).await.unwrap();
    let first = pb::ListRotationsRequest { page_size: 5, ..Default::default() };
    let page = client.list_rotations(first.clone()).await.unwrap().into_inner();
    assert_eq!(page.rotations.len(), 5);
    let token = &page.next_page_token;
    let half = token[..token.len() / 2].to_owned();
    for token in [format!("d{}", &token[1..]), half, "rot-1".to_owned(), "é".to_owned()] {
        let tampered = pb::ListRotationsRequest { page_token: token, ..first.clone() };
        let status = client.list_rotations(tampered).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with("page_token: "), "{status:?}");
    }
    let too_big = pb::ListRotationsRequest { page_size: 5_001, ..Default::default() };
    assert_eq!(client.list_rotations(too_big).await.unwrap_err().code(), Code::InvalidArgument);
    let report =
        pb::GetComplianceReportRequest { mailboxes: true, page_size: 5, ..Default::default() };
    let page = client.get_compliance_report(report.clone()).await.unwrap().into_inner();
    assert_eq!(page.mailboxes, 27, "the summary is on the first page");
    let mut token = page.next_page_token.into_bytes();
    token[6] ^= 0x01;
    let tampered = pb::GetComplianceReportRequest {
        page_token: String::from_utf8(token).unwrap(),
        ..report.clone()
    };
    let status = client.get_compliance_report(tampered).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let older_client = pb::GetComplianceReportRequest { mailboxes: true, ..Default::default() };
    let whole = client.get_compliance_report(older_client).await.unwrap().into_inner();
    let lines: usize = whole.offices.iter().map(|o| o.mailbox_states.len()).sum();
    assert_eq!((lines, whole.next_page_token.as_str()), (27, ""));
}

/// Display names a spreadsheet would run: the four an import accepts (tab and carriage return are
/// refused as control characters before they are stored).
const FORMULAS: [&str; 4] = ["=HYPERLINK(\"http://x\",\"y\")", "+33 1 23 45", "-2+3", "@SUM(A1)"];

async fn csv_outputs_neutralise_formulas(server: &TestServer) {
    server.sesamectl(&["office", "add", "01234", "--name", "=1+1"]).await.unwrap();
    let mut csv = String::from("address,display_name\n");
    for (i, name) in FORMULAS.iter().enumerate() {
        csv.push_str(&format!("p{i}.nom@01234.mailnot.fr,\"{}\"\n", name.replace('"', "\"\"")));
    }
    let file = write_file(server.data_dir(), "people.csv", &csv);
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    server.sesamectl(&["provisional", "issue", "--office", "01234"]).await.unwrap();
    let expected: Vec<String> = FORMULAS.iter().map(|f| format!("'{f}")).collect();

    let listed = server.sesamectl(&["mailbox", "list", "-o", "csv"]).await.unwrap();
    assert_eq!(column(&csv_rows(&listed), "display_name"), expected, "{listed}");
    let report = server.sesamectl(&["report", "--office", "01234", "-o", "csv"]).await.unwrap();
    assert_eq!(column(&csv_rows(&report), "display_name"), expected, "{report}");
    let report = server.sesamectl(&["report", "--mailboxes", "-o", "csv"]).await.unwrap();
    assert_eq!(column(&csv_rows(&report), "display_name"), expected, "{report}");
    let offices = server.sesamectl(&["report", "-o", "csv"]).await.unwrap();
    assert_eq!(column(&csv_rows(&offices), "name"), ["'=1+1"], "{offices}");
    let rotations = server.sesamectl(&["provisional", "list", "-o", "csv"]).await.unwrap();
    let mut names = column(&csv_rows(&rotations), "display_name");
    names.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(names, sorted, "{rotations}");
    // JSON and tables are not spreadsheets: the names stay as registered.
    let json = server.sesamectl(&["mailbox", "list", "-o", "json"]).await.unwrap();
    assert!(json.contains("\"display_name\": \"-2+3\""), "{json}");

    // The export for Exchange: names neutralised, passwords exactly as the letters print them.
    let path = server.data_dir().join("export.csv");
    let mut args = vec!["provisional", "export", "--office", "01234", "--format", "csv", "--out"];
    args.push(path.to_str().unwrap());
    server.sesamectl(&args).await.unwrap();
    let export = csv_rows(&std::fs::read_to_string(&path).unwrap());
    let mut names = column(&export, "display_name");
    names.sort();
    assert_eq!(names, sorted);
    for password in column(&export, "provisional_password") {
        assert_eq!(password.len(), 16, "{password}");
        assert!(!password.starts_with(['\'', '=', '+', '-', '@']), "{password}");
    }
}

on_both_backends!(
    long_listings_come_in_pages_and_csv_is_written_page_by_page,
    csv_outputs_neutralise_formulas,
);
