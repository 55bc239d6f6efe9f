//! Authentication comes first: every AdminService RPC called without a valid credential, and every
//! AgentService RPC that needs a client certificate called without one, answers UNAUTHENTICATED
//! whatever garbage its fields hold. The RPCs are read from the contract, so a new one cannot be
//! left out.

use std::collections::BTreeSet;

use sesame_proto::v1 as pb;
use sesame_proto::v1::admin_service_client::AdminServiceClient;
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::{channel, contract_rpcs, status_code};
use crate::TestServer;

/// Field values no handler should ever look at before it knows who is calling: empty, malformed,
/// NUL and control bytes, bidirectional overrides, injections, far too long.
fn garbage() -> Vec<String> {
    vec![
        String::new(),
        "x".into(),
        "\0".into(),
        "01234\0".into(),
        "7500\u{1}".into(),
        "a.b@01234.mailnot.fr\0".into(),
        "not an address@@".into(),
        "ws-\u{202e}0000000000000000".into(),
        "'; DROP TABLE offices; --".into(),
        "../../../etc/passwd".into(),
        "é".repeat(20_000),
    ]
}

/// Sets (or leaves out) the `authorization` metadata entry of every request.
#[derive(Clone)]
struct Authorization(Option<MetadataValue<Ascii>>);

impl Interceptor for Authorization {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Admin = AdminServiceClient<InterceptedService<Channel, Authorization>>;

/// Bad import rows over two chunks, one of them a dry run.
fn bad_import(
    g: &str,
    absurd: bool,
) -> tokio_stream::Iter<std::vec::IntoIter<pb::ImportMailboxesRequest>> {
    let row = |line| pb::MailboxRow {
        line,
        address: g.to_owned(),
        display_name: g.to_owned(),
        logon_name: g.to_owned(),
        local_account: g.to_owned(),
    };
    let line = if absurd { u64::MAX } else { 0 };
    tokio_stream::iter(vec![
        pb::ImportMailboxesRequest { rows: vec![row(line), row(line)], dry_run: absurd },
        pb::ImportMailboxesRequest { rows: vec![row(1)], dry_run: !absurd },
        pb::ImportMailboxesRequest {
            rows: vec![
                pb::MailboxRow {
                    line: 1,
                    address: "\0".into(),
                    display_name: "@".into(),
                    ..Default::default()
                };
                1_000
            ],
            dry_run: false,
        },
    ])
}

/// Calls one AdminService RPC with garbage `g` in every string field and, when `absurd`, the
/// largest (else zero) numbers and an enum value the contract does not know; returns its code.
async fn call_admin(client: &mut Admin, rpc: &str, g: &str, absurd: bool) -> Code {
    let s = || g.to_owned();
    let n32 = if absurd { u32::MAX } else { 0 };
    let n64 = if absurd { u64::MAX } else { 0 };
    let seq = if absurd { i64::MIN } else { -1 };
    let purpose = if absurd { 999 } else { pb::DisclosurePurpose::Unspecified.into() };
    let policy = absurd.then_some(pb::PasswordPolicy {
        min_length: n32,
        require_lower: true,
        require_upper: true,
        require_digit: true,
        require_special: true,
        provisional_length: 0,
        ..Default::default()
    });
    match rpc {
        "WhoAmI" => status_code(client.who_am_i(pb::WhoAmIRequest {}).await),
        "CreateOffice" => status_code(
            client
                .create_office(pb::CreateOfficeRequest { crpcen: s(), name: s(), city: s() })
                .await,
        ),
        "GetOffice" => status_code(client.get_office(pb::GetOfficeRequest { crpcen: s() }).await),
        "ListOffices" => status_code(client.list_offices(pb::ListOfficesRequest {}).await),
        "ImportMailboxes" => status_code(client.import_mailboxes(bad_import(g, absurd)).await),
        "ImportOffices" => {
            let row = |line| pb::OfficeRow { line, crpcen: s(), name: s(), city: s() };
            let line = if absurd { u64::MAX } else { 0 };
            let chunks = vec![
                pb::ImportOfficesRequest { rows: vec![row(line), row(line)], dry_run: absurd },
                pb::ImportOfficesRequest { rows: vec![row(1)], dry_run: !absurd },
            ];
            status_code(client.import_offices(tokio_stream::iter(chunks)).await)
        }
        "GetWorkstation" => status_code(
            client.get_workstation(pb::GetWorkstationRequest { id: s(), rotations: n32 }).await,
        ),
        "ListMailboxes" => status_code(
            client
                .list_mailboxes(pb::ListMailboxesRequest {
                    office: s(),
                    page_size: n32,
                    page_token: s(),
                })
                .await,
        ),
        "CreateEnrollmentToken" => status_code(
            client
                .create_enrollment_token(pb::CreateEnrollmentTokenRequest {
                    office: s(),
                    uses: n32,
                    ttl_seconds: n64,
                })
                .await,
        ),
        "ListEnrollmentTokens" => status_code(
            client.list_enrollment_tokens(pb::ListEnrollmentTokensRequest { office: s() }).await,
        ),
        "RevokeEnrollmentToken" => status_code(
            client.revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest { id: n64 }).await,
        ),
        "ListWorkstations" => {
            status_code(client.list_workstations(pb::ListWorkstationsRequest { office: s() }).await)
        }
        "RevokeWorkstation" => {
            status_code(client.revoke_workstation(pb::RevokeWorkstationRequest { id: s() }).await)
        }
        "UnlockWorkstation" => {
            status_code(client.unlock_workstation(pb::UnlockWorkstationRequest { id: s() }).await)
        }
        "SetWebPassword" => {
            status_code(client.set_web_password(pb::SetWebPasswordRequest { password: s() }).await)
        }
        "BeginTotpEnrolment" => {
            status_code(client.begin_totp_enrolment(pb::BeginTotpEnrolmentRequest {}).await)
        }
        "ConfirmTotp" => {
            status_code(client.confirm_totp(pb::ConfirmTotpRequest { code: s() }).await)
        }
        "ListWebSessions" => {
            status_code(client.list_web_sessions(pb::ListWebSessionsRequest { admin: s() }).await)
        }
        "RevokeWebSessions" => status_code(
            client
                .revoke_web_sessions(pb::RevokeWebSessionsRequest {
                    id: n64,
                    all: absurd,
                    admin: s(),
                })
                .await,
        ),
        "ListAdmins" => status_code(client.list_admins(pb::ListAdminsRequest {}).await),
        "RevokeAdmin" => {
            status_code(client.revoke_admin(pb::RevokeAdminRequest { name: s() }).await)
        }
        "GetPasswordPolicy" => status_code(
            client.get_password_policy(pb::GetPasswordPolicyRequest { office: s() }).await,
        ),
        "SetPasswordPolicy" => status_code(
            client.set_password_policy(pb::SetPasswordPolicyRequest { office: s(), policy }).await,
        ),
        "IssueProvisional" => status_code(
            client
                .issue_provisional(pb::IssueProvisionalRequest { mailbox: s(), office: s() })
                .await,
        ),
        "CancelProvisional" => status_code(
            client
                .cancel_provisional(pb::CancelProvisionalRequest { mailbox: s(), office: s() })
                .await,
        ),
        "ReissueProvisional" => status_code(
            client.reissue_provisional(pb::ReissueProvisionalRequest { mailbox: s() }).await,
        ),
        "ListRotations" => status_code(
            client
                .list_rotations(pb::ListRotationsRequest {
                    office: s(),
                    open_only: absurd,
                    page_size: u32::MAX,
                    page_token: s(),
                })
                .await,
        ),
        "DiscloseProvisional" => status_code(
            client
                .disclose_provisional(pb::DiscloseProvisionalRequest { office: s(), purpose })
                .await,
        ),
        "AssignWorkstation" => status_code(
            client
                .assign_workstation(pb::AssignWorkstationRequest {
                    workstation_id: s(),
                    mailbox: s(),
                    mailboxes: vec![s(), s()],
                })
                .await,
        ),
        "UnassignWorkstation" => status_code(
            client
                .unassign_workstation(pb::UnassignWorkstationRequest {
                    workstation_id: s(),
                    mailbox: s(),
                })
                .await,
        ),
        "ListAuditRecords" => status_code(
            client
                .list_audit_records(pb::ListAuditRecordsRequest {
                    office: s(),
                    since: s(),
                    after_seq: seq,
                    limit: n32,
                })
                .await,
        ),
        "VerifyAudit" => status_code(client.verify_audit(pb::VerifyAuditRequest {}).await),
        "GetOwaUrl" => status_code(client.get_owa_url(pb::GetOwaUrlRequest { office: s() }).await),
        "SetOwaUrl" => {
            status_code(client.set_owa_url(pb::SetOwaUrlRequest { office: s(), url: s() }).await)
        }
        "SetMailboxLogon" => status_code(
            client
                .set_mailbox_logon(pb::SetMailboxLogonRequest { mailbox: s(), logon_name: s() })
                .await,
        ),
        "SetMailboxAccount" => status_code(
            client
                .set_mailbox_account(pb::SetMailboxAccountRequest {
                    mailbox: s(),
                    workstation_id: s(),
                    account_id: s(),
                    account_detail: s(),
                })
                .await,
        ),
        "GetMailbox" => {
            status_code(client.get_mailbox(pb::GetMailboxRequest { mailbox: s() }).await)
        }
        "GetOfficeReadiness" => status_code(
            client.get_office_readiness(pb::GetOfficeReadinessRequest { office: s() }).await,
        ),
        "GetCompliancePolicy" => status_code(
            client.get_compliance_policy(pb::GetCompliancePolicyRequest { office: s() }).await,
        ),
        "SetCompliancePolicy" => status_code(
            client
                .set_compliance_policy(pb::SetCompliancePolicyRequest {
                    office: s(),
                    policy: None,
                    inherit: false,
                })
                .await,
        ),
        "GetComplianceReport" => status_code(
            client
                .get_compliance_report(pb::GetComplianceReportRequest {
                    office: s(),
                    at: s(),
                    mailboxes: true,
                    summary_only: true,
                    page_size: u32::MAX,
                    page_token: s(),
                })
                .await,
        ),
        other => panic!(
            "AdminService.{other} is missing from the authentication test: add it with garbage fields"
        ),
    }
}

async fn every_admin_rpc_authenticates_before_it_looks_at_its_fields(server: &TestServer) {
    let audit_before = server.sesamectl(&["audit", "verify"]).await.unwrap();
    let forged = format!("Bearer sesame_admin_{}", "cd".repeat(32));
    let credentials = [
        None,
        Some("Bearer ".to_owned()),
        Some("Basic YWRtaW46YWRtaW4=".to_owned()),
        Some("Bearer sesame_admin_".to_owned()),
        Some(forged),
    ];
    for authorization in credentials {
        let header = authorization.as_deref().map(|a| a.parse().unwrap());
        let mut client =
            AdminServiceClient::with_interceptor(channel(server).await, Authorization(header));
        for rpc in contract_rpcs("AdminService") {
            for g in garbage() {
                for absurd in [false, true] {
                    assert_eq!(
                        call_admin(&mut client, &rpc, &g, absurd).await,
                        Code::Unauthenticated,
                        "{rpc} with {authorization:?}, absurd numbers {absurd}, fields {:?}",
                        g.chars().take(40).collect::<String>()
                    );
                }
            }
        }
    }
    assert!(
        server.sesamectl(&["office", "list"]).await.unwrap().ends_with("0 office(s)\n"),
        "nothing was created"
    );
    let audit_after = server.sesamectl(&["audit", "verify"]).await.unwrap();
    assert_eq!(audit_after, audit_before, "nothing was audited");
}

/// The AgentService RPCs that work without a client certificate (a token, a signature, nothing).
const WITHOUT_CERTIFICATE: [&str; 4] =
    ["Enroll", "GetRecoveryChallenge", "GetServerInfo", "Recover"];

/// Calls one AgentService RPC that needs a certificate with garbage `g` in its fields.
async fn call_agent(client: &mut AgentServiceClient<Channel>, rpc: &str, g: &str) -> Code {
    match rpc {
        "Renew" => status_code(client.renew(pb::RenewRequest {}).await),
        "Heartbeat" => status_code(
            client
                .heartbeat(pb::HeartbeatRequest {
                    agent_version: g.to_owned(),
                    ..Default::default()
                })
                .await,
        ),
        "GetPendingRotations" => {
            status_code(client.get_pending_rotations(pb::GetPendingRotationsRequest {}).await)
        }
        "ReportSteps" => status_code(
            client
                .report_steps(pb::ReportStepsRequest {
                    reports: vec![pb::StepReport {
                        report_id: g.to_owned(),
                        rotation_id: g.to_owned(),
                        step: 99,
                        occurred_at: g.to_owned(),
                        detail: g.to_owned(),
                        ..Default::default()
                    }],
                })
                .await,
        ),
        other => panic!(
            "AgentService.{other} is missing from the authentication test: add it with garbage \
             fields, or to WITHOUT_CERTIFICATE if anyone may call it"
        ),
    }
}

async fn every_agent_rpc_but_four_needs_a_client_certificate(server: &TestServer) {
    let exempt: BTreeSet<String> = WITHOUT_CERTIFICATE.iter().map(|r| (*r).to_owned()).collect();
    let rpcs = contract_rpcs("AgentService");
    assert!(exempt.is_subset(&rpcs), "the exempt RPCs exist");
    let mut client = AgentServiceClient::new(channel(server).await);
    for rpc in rpcs.difference(&exempt) {
        for g in garbage() {
            assert_eq!(
                call_agent(&mut client, rpc, &g).await,
                Code::Unauthenticated,
                "{rpc} without a certificate, fields {:?}",
                g.chars().take(40).collect::<String>()
            );
        }
    }
    let workstations = server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap();
    assert_eq!(workstations.trim(), "[]", "nothing was enrolled");
}

on_both_backends!(
    every_admin_rpc_authenticates_before_it_looks_at_its_fields,
    every_agent_rpc_but_four_needs_a_client_certificate
);
