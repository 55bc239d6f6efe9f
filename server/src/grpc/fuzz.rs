//! Fuzz targets of the gRPC edge (bolero, run by `cargo test` for a fixed number of cases;
//! `tests/FUZZING.md` says how to run them longer): every request of the contract decoded from
//! any bytes, the check-in and the step reports from any fields (their times included) into
//! domain types, and the request fields' parsers on any text. No panic; what is accepted holds
//! the bounds the rest of the server relies on, and parses again as itself.

use bolero::{TypeGenerator, check};
use prost::Message;
use sesame_proto::v1 as pb;

use super::agent::reports::parse_reports;
use super::check_in::check_in;
use super::parse;
use crate::domain::account::LocalAccount;
use crate::domain::identifier::{AdminName, LocalAccountId, PageToken, ReportId, RotationId};
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress, Text};
use crate::domain::page::{ReportCursor, RotationCursor};
use crate::domain::settings::{LogonName, OwaUrl};
use sesame_base::fuzz_tally::Tally;

/// Decodes `bytes` as a `T`; what decodes encodes to bytes that decode to the same request.
fn decodes_consistently<T: Message + Default + PartialEq>(bytes: &[u8]) -> Option<T> {
    let request = T::decode(bytes).ok()?;
    let again = T::decode(request.encode_to_vec().as_slice()).expect("re-encoded request decodes");
    assert!(again == request, "{}", std::any::type_name::<T>());
    Some(request)
}

/// Every request type of the contract (tidy keeps the list whole: `every_request_is_fuzzed`).
macro_rules! every_request {
    ($bytes:expr) => {{
        let bytes: &[u8] = $bytes;
        decodes_consistently::<pb::WhoAmIRequest>(bytes);
        decodes_consistently::<pb::CreateOfficeRequest>(bytes);
        decodes_consistently::<pb::GetOfficeRequest>(bytes);
        decodes_consistently::<pb::ListOfficesRequest>(bytes);
        decodes_consistently::<pb::ImportMailboxesRequest>(bytes);
        decodes_consistently::<pb::ImportOfficesRequest>(bytes);
        decodes_consistently::<pb::ListMailboxesRequest>(bytes);
        decodes_consistently::<pb::CreateEnrollmentTokenRequest>(bytes);
        decodes_consistently::<pb::ListEnrollmentTokensRequest>(bytes);
        decodes_consistently::<pb::RevokeEnrollmentTokenRequest>(bytes);
        decodes_consistently::<pb::ListWorkstationsRequest>(bytes);
        decodes_consistently::<pb::RevokeWorkstationRequest>(bytes);
        decodes_consistently::<pb::UnlockWorkstationRequest>(bytes);
        decodes_consistently::<pb::ListAdminsRequest>(bytes);
        decodes_consistently::<pb::RevokeAdminRequest>(bytes);
        decodes_consistently::<pb::SetWebPasswordRequest>(bytes);
        decodes_consistently::<pb::BeginTotpEnrolmentRequest>(bytes);
        decodes_consistently::<pb::ConfirmTotpRequest>(bytes);
        decodes_consistently::<pb::ListWebSessionsRequest>(bytes);
        decodes_consistently::<pb::RevokeWebSessionsRequest>(bytes);
        decodes_consistently::<pb::GetPasswordPolicyRequest>(bytes);
        decodes_consistently::<pb::SetPasswordPolicyRequest>(bytes);
        decodes_consistently::<pb::IssueProvisionalRequest>(bytes);
        decodes_consistently::<pb::CancelProvisionalRequest>(bytes);
        decodes_consistently::<pb::ReissueProvisionalRequest>(bytes);
        decodes_consistently::<pb::ListRotationsRequest>(bytes);
        decodes_consistently::<pb::DiscloseProvisionalRequest>(bytes);
        decodes_consistently::<pb::AssignWorkstationRequest>(bytes);
        decodes_consistently::<pb::GetWorkstationRequest>(bytes);
        decodes_consistently::<pb::UnassignWorkstationRequest>(bytes);
        decodes_consistently::<pb::ListAuditRecordsRequest>(bytes);
        decodes_consistently::<pb::VerifyAuditRequest>(bytes);
        decodes_consistently::<pb::GetOwaUrlRequest>(bytes);
        decodes_consistently::<pb::SetOwaUrlRequest>(bytes);
        decodes_consistently::<pb::SetMailboxLogonRequest>(bytes);
        decodes_consistently::<pb::SetMailboxAccountRequest>(bytes);
        decodes_consistently::<pb::GetMailboxRequest>(bytes);
        decodes_consistently::<pb::GetOfficeReadinessRequest>(bytes);
        decodes_consistently::<pb::GetCompliancePolicyRequest>(bytes);
        decodes_consistently::<pb::SetCompliancePolicyRequest>(bytes);
        decodes_consistently::<pb::GetComplianceReportRequest>(bytes);
        decodes_consistently::<pb::GetServerInfoRequest>(bytes);
        decodes_consistently::<pb::EnrollRequest>(bytes);
        decodes_consistently::<pb::RenewRequest>(bytes);
        decodes_consistently::<pb::GetRecoveryChallengeRequest>(bytes);
        decodes_consistently::<pb::RecoverRequest>(bytes);
        decodes_consistently::<pb::GetPendingRotationsRequest>(bytes);
        if let Some(request) = decodes_consistently::<pb::HeartbeatRequest>(bytes) {
            let _ = check_in(request);
        }
        if let Some(request) = decodes_consistently::<pb::ReportStepsRequest>(bytes) {
            let _ = parse_reports(request);
        }
    }};
}

#[test]
fn every_request_decodes_from_any_bytes_without_panicking() {
    let tally = Tally::new("grpc_requests_any_bytes");
    check!().with_iterations(2_000).for_each(|bytes: &[u8]| tally.case(|| every_request!(bytes)));
    println!("{tally}");
}

#[test]
fn every_request_is_fuzzed() {
    let contract: String = ["admin.proto", "agent.proto"]
        .iter()
        .map(|file| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../proto/sesame/v1")
                    .join(file),
            )
            .unwrap()
        })
        .collect();
    let this = include_str!("fuzz.rs");
    for line in contract.lines().filter(|l| l.trim_start().starts_with("rpc ")) {
        let request = line.split('(').nth(1).unwrap().split(')').next().unwrap();
        let request = request.trim_start_matches("stream ").trim();
        assert!(this.contains(&format!("pb::{request}>")), "{request} is not fuzzed");
    }
}

/// A time as an agent may send it: any text, or RFC 3339 from any fields, any offset, the edges
/// of the calendar included.
#[derive(Debug, TypeGenerator)]
enum Stamp {
    Empty,
    Any(String),
    Rfc3339 { date: Day, seconds: Seconds, nanos: u32, offset_minutes: i16 },
}

#[derive(Debug, TypeGenerator)]
enum Day {
    Edge(u8),
    Any { year: u16, month: u8, day: u8 },
}

#[derive(Debug, TypeGenerator)]
enum Seconds {
    Edge(bool),
    Any(u32),
}

impl Stamp {
    fn text(&self, tame: bool) -> String {
        match self {
            Stamp::Empty => String::new(),
            Stamp::Any(_) if tame => "2026-11-25T09:30:00Z".to_owned(),
            Stamp::Any(text) => text.clone(),
            Stamp::Rfc3339 { date, seconds, nanos, offset_minutes } => {
                let (year, month, day) = match date {
                    Day::Edge(n) => [(0, 1, 1), (9999, 12, 31), (1970, 1, 1)][usize::from(*n) % 3],
                    Day::Any { year, month, day } => (year % 10_000, 1 + month % 12, 1 + day % 31),
                };
                let s = match seconds {
                    Seconds::Edge(late) => {
                        if *late {
                            86_399
                        } else {
                            0
                        }
                    }
                    Seconds::Any(s) => s % 86_400,
                };
                let offset = i32::from(*offset_minutes) % (24 * 60);
                let sign = if offset < 0 { '-' } else { '+' };
                format!(
                    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}{sign}{:02}:{:02}",
                    s / 3600,
                    s / 60 % 60,
                    s % 60,
                    nanos % 1_000_000_000,
                    offset.abs() / 60,
                    offset.abs() % 60
                )
            }
        }
    }
}

/// A text field: empty, plain words, or any text.
#[derive(Debug, TypeGenerator)]
enum Field {
    Empty,
    Plain(u16),
    Any(String),
}

impl Field {
    /// The field's text; `tame` turns any text into plain words, so that a whole request is
    /// valid often enough for the checks after the first field to run.
    fn text(&self, tame: bool) -> String {
        match self {
            Field::Empty => String::new(),
            Field::Plain(n) => format!("plain words {n}"),
            Field::Any(_) if tame => "plain words".to_owned(),
            Field::Any(text) => text.clone(),
        }
    }
}

/// A check-in from any fields.
#[derive(Debug, TypeGenerator)]
struct Heartbeat {
    tame: bool,
    agent_version: Field,
    key: Option<(i32, Field, Field, Stamp)>,
    readiness: Option<Readiness>,
    rotations: Vec<(Id, i32, i32)>,
}

/// A look at OWA from any fields.
#[derive(Debug, TypeGenerator)]
struct Readiness {
    url: Field,
    checked_at: Stamp,
    reachable: bool,
    certificate_valid: bool,
    forms_based: bool,
    logon_format: i32,
    language: Field,
    problem: Field,
}

#[test]
fn any_check_in_is_checked_into_bounded_fields() {
    let tally = Tally::new("grpc_check_in");
    check!().with_type::<Heartbeat>().with_iterations(10_000).for_each(|h| {
        tally.case(|| {
            let request = pb::HeartbeatRequest {
                agent_version: h.agent_version.text(h.tame),
                key: h.key.as_ref().map(|(presence, device, reason, since)| pb::KeyState {
                    presence: presence.rem_euclid(5),
                    device: device.text(h.tame),
                    reason: reason.text(h.tame),
                    since: since.text(h.tame),
                }),
                readiness: h.readiness.as_ref().map(|r| pb::OwaReadiness {
                    owa_url: r.url.text(h.tame),
                    checked_at: r.checked_at.text(h.tame),
                    reachable: r.reachable,
                    certificate_valid: r.certificate_valid,
                    forms_based: r.forms_based,
                    logon_format: r.logon_format.rem_euclid(5),
                    language: r.language.text(h.tame),
                    problem: r.problem.text(h.tame),
                }),
                rotations: h
                    .rotations
                    .iter()
                    .map(|(id, step, failure)| pb::RotationProgress {
                        rotation_id: id.text(h.tame),
                        step: step.rem_euclid(8),
                        failure: failure.rem_euclid(12),
                    })
                    .collect(),
            };
            if let Ok(checked) = check_in(request) {
                tally.accepted();
                let key = checked.key.as_ref();
                assert!(key.and_then(|k| k.since).is_none_or(|t| t.offset().is_utc()));
                let readiness = checked.readiness.as_ref();
                assert!(readiness.and_then(|r| r.checked_at).is_none_or(|t| t.offset().is_utc()));
                for text in readiness.iter().flat_map(|r| [&r.owa_url, &r.language, &r.problem]) {
                    assert!(!text.chars().any(char::is_control), "{text:?}");
                }
            }
        })
    });
    println!("{tally}");
}

/// A step report from any fields.
#[derive(Debug, TypeGenerator)]
struct StepReport {
    tame: bool,
    report_id: Id,
    rotation_id: Id,
    step: i32,
    failure: i32,
    key_evidence: Option<(i32, Stamp, Field)>,
    occurred_at: Stamp,
    detail: Field,
    local_account: Option<(Field, Field)>,
}

#[derive(Debug, TypeGenerator)]
enum Id {
    Any(String),
    Minted([u8; 16]),
}

impl Id {
    fn text(&self, tame: bool) -> String {
        match self {
            Id::Any(text) if !tame => text.clone(),
            Id::Any(text) => ReportId::mint([text.len() as u8; 16]).into_string(),
            Id::Minted(random) => ReportId::mint(*random).into_string(),
        }
    }
}

#[test]
fn any_step_reports_are_checked_into_bounded_reports() {
    let tally = Tally::new("grpc_step_reports");
    check!().with_type::<Vec<StepReport>>().with_iterations(5_000).for_each(|reports| {
        tally.case(|| {
            // A tame first report makes a short request, so that all of it is valid often enough.
            let tame = reports.first().is_some_and(|r| r.tame);
            let reports = &reports[..if tame { reports.len().min(2) } else { reports.len() }];
            let request = pb::ReportStepsRequest {
                reports: reports
                    .iter()
                    .map(|r| pb::StepReport {
                        report_id: r.report_id.text(r.tame),
                        rotation_id: r.rotation_id.text(r.tame),
                        step: r.step.rem_euclid(8),
                        failure: r.failure.rem_euclid(12),
                        key_evidence: r.key_evidence.as_ref().map(|(kind, at, detail)| {
                            pb::KeyEvidence {
                                kind: kind.rem_euclid(4),
                                observed_at: at.text(r.tame),
                                detail: detail.text(r.tame),
                            }
                        }),
                        occurred_at: r.occurred_at.text(r.tame),
                        detail: r.detail.text(r.tame),
                        local_account: r.local_account.as_ref().map(|(id, detail)| {
                            pb::LocalAccount {
                                id: id.text(r.tame).replace(' ', "-"),
                                detail: detail.text(r.tame),
                            }
                        }),
                    })
                    .collect(),
            };
            if let Ok(parsed) = parse_reports(request) {
                tally.accepted();
                assert!(!parsed.is_empty() && parsed.len() <= reports.len());
                for report in parsed {
                    assert!(report.occurred_at.offset().is_utc());
                    assert!(report.detail.chars().count() <= 500);
                    assert!(!report.detail.chars().any(char::is_control));
                    assert_eq!(
                        ReportId::parse("id", report.report_id.as_str()).unwrap(),
                        report.report_id
                    );
                }
            }
        })
    });
    println!("{tally}");
}

#[test]
fn request_fields_parse_into_values_that_parse_again_as_themselves() {
    let tally = Tally::new("grpc_fields");
    let domain = MailDomain::parse("mailnot.fr").unwrap();
    check!().with_type::<(String, u8)>().with_iterations(5_000).for_each(|(text, shape)| {
        tally.case(|| {
            // Any text, or text in the shape of an address, so that the rules past `@` are reached.
            let mut word: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
            if word.is_empty() {
                word = format!("w{}", text.len());
            }
            let text = match shape % 5 {
                0 => text.clone(),
                1 => format!("{text}@01234.mailnot.fr"),
                2 => format!("dupont.{text}"),
                3 => format!("{word}.{word}-x@01234.mailnot.fr"),
                _ => format!("ETUDE\\{word}"),
            };
            let text = text.as_str();
            if let Ok(c) = parse::crpcen("crpcen", text) {
                assert_eq!(Crpcen::parse(c.as_str()).unwrap(), c);
                assert!(c.as_str().len() == 5 && c.as_str().bytes().all(|b| b.is_ascii_digit()));
            }
            let _ = parse::optional_crpcen("crpcen", text);
            if let Ok(id) = parse::workstation_id("workstation_id", text) {
                assert!(!id.as_str().chars().any(char::is_control));
            }
            if let Ok(name) = parse::admin_name("name", text) {
                assert_eq!(AdminName::parse("name", name.as_str()).unwrap(), name);
            }
            if let Ok(Some(token)) = parse::page_token("page_token", text) {
                assert_eq!(PageToken::parse_optional("t", token.as_str()).unwrap(), Some(token));
            }
            if let Ok(Some(cursor)) = parse::rotation_cursor("page_token", text) {
                assert_eq!(
                    RotationCursor::parse_optional("t", &cursor.token()).unwrap(),
                    Some(cursor)
                );
            }
            if let Ok(Some(cursor)) = parse::report_cursor("page_token", text) {
                assert_eq!(
                    ReportCursor::parse_optional("t", &cursor.token()).unwrap(),
                    Some(cursor)
                );
            }
            if let Ok(address) = MailboxAddress::parse(text, &domain) {
                tally.accepted();
                assert_eq!(MailboxAddress::parse(address.as_str(), &domain).unwrap(), address);
                assert_eq!(MailboxAddress::parse_stored(address.as_str()).unwrap(), address);
            }
            let _ = MailboxAddress::parse_stored(text);
            if let Ok(t) = Text::parse("display_name", text) {
                assert_eq!(Text::parse("display_name", t.as_str()).unwrap(), t);
            }
            if let Ok(d) = MailDomain::parse(text) {
                assert_eq!(MailDomain::parse(d.as_str()).unwrap(), d);
            }
            if let Ok(name) = LogonName::parse(text) {
                assert_eq!(LogonName::parse(name.as_str()).unwrap(), name);
            }
            if let Ok(url) = OwaUrl::parse(text) {
                assert_eq!(OwaUrl::parse(url.as_str()).unwrap(), url);
            }
            if let Ok(id) = LocalAccountId::parse("local_account", text) {
                assert_eq!(LocalAccountId::parse("local_account", id.as_str()).unwrap(), id);
            }
            let _ = LocalAccount::parse("id", text, "detail", text);
            let _ = RotationId::parse("rotation_id", text);
        })
    });
    println!("{tally}");
}
