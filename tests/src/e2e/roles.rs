//! Administrator roles: an office administrator and an auditor tried against every AdminService
//! RPC. The list of RPCs is read from the contract itself, so a new RPC cannot be left out.

use std::collections::BTreeSet;

use sesame_base::credentials::Credentials;
use sesame_proto::v1 as pb;
use sesame_server::domain::admin::AdminRole;
use sesame_server::domain::office::Crpcen;
use sesamectl::{AdminClient, connect};
use tonic::Code;

use super::identity::{token, try_enroll};
use crate::TestServer;

/// The RPCs of AdminService, from the .proto files.
fn admin_rpcs() -> BTreeSet<String> {
    super::contract_rpcs("AdminService")
}

async fn admin(server: &TestServer, name: &str, role: AdminRole, offices: &[&str]) -> AdminClient {
    let dir = server.data_dir().join(format!("{name}.credentials"));
    let offices = offices.iter().map(|o| Crpcen::parse(o).unwrap()).collect();
    sesame_server::provision_admin(
        &server.config(),
        name,
        role,
        offices,
        &dir,
        std::sync::Arc::new(server.clock.clone()),
    )
    .await
    .unwrap();
    connect(&Credentials::read(&dir).unwrap()).await.unwrap()
}

/// Things that belong to the other office (75001).
struct Theirs {
    token_id: u64,
    workstation_id: String,
}

/// Calls one RPC about the other office's things and returns its code.
async fn call(client: &mut AdminClient, rpc: &str, theirs: &Theirs) -> Code {
    fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
        r.map(|_| Code::Ok).unwrap_or_else(|s| s.code())
    }
    let office = "75001".to_owned();
    match rpc {
        "WhoAmI" => code(client.who_am_i(pb::WhoAmIRequest {}).await),
        "CreateOffice" => code(
            client
                .create_office(pb::CreateOfficeRequest {
                    crpcen: "99999".into(),
                    name: "X".into(),
                    city: String::new(),
                })
                .await,
        ),
        "GetOffice" => code(client.get_office(pb::GetOfficeRequest { crpcen: office }).await),
        "ListOffices" => code(client.list_offices(pb::ListOfficesRequest {}).await),
        "ImportOffices" => {
            let rows = vec![pb::OfficeRow {
                line: 2,
                crpcen: "99998".into(),
                name: "X".into(),
                city: String::new(),
            }];
            code(
                client
                    .import_offices(tokio_stream::iter(vec![pb::ImportOfficesRequest {
                        rows,
                        dry_run: false,
                    }]))
                    .await,
            )
        }
        "GetWorkstation" => code(
            client
                .get_workstation(pb::GetWorkstationRequest {
                    id: theirs.workstation_id.clone(),
                    rotations: 0,
                })
                .await,
        ),
        "ImportMailboxes" => {
            let rows = vec![pb::MailboxRow {
                line: 2,
                address: "a.b@75001.mailnot.fr".into(),
                display_name: "A B".into(),
                ..Default::default()
            }];
            code(
                client
                    .import_mailboxes(tokio_stream::iter(vec![pb::ImportMailboxesRequest {
                        rows,
                        dry_run: false,
                    }]))
                    .await,
            )
        }
        "ListMailboxes" => code(
            client.list_mailboxes(pb::ListMailboxesRequest { office, ..Default::default() }).await,
        ),
        "CreateEnrollmentToken" => code(
            client
                .create_enrollment_token(pb::CreateEnrollmentTokenRequest {
                    office,
                    uses: 1,
                    ttl_seconds: 0,
                })
                .await,
        ),
        "ListEnrollmentTokens" => {
            code(client.list_enrollment_tokens(pb::ListEnrollmentTokensRequest { office }).await)
        }
        "RevokeEnrollmentToken" => code(
            client
                .revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest { id: theirs.token_id })
                .await,
        ),
        "ListWorkstations" => {
            code(client.list_workstations(pb::ListWorkstationsRequest { office }).await)
        }
        "RevokeWorkstation" => code(
            client
                .revoke_workstation(pb::RevokeWorkstationRequest {
                    id: theirs.workstation_id.clone(),
                })
                .await,
        ),
        "UnlockWorkstation" => code(
            client
                .unlock_workstation(pb::UnlockWorkstationRequest {
                    id: theirs.workstation_id.clone(),
                })
                .await,
        ),
        "SetWebPassword" => code(
            client
                .set_web_password(pb::SetWebPasswordRequest {
                    password: "a long enough password".into(),
                })
                .await,
        ),
        "BeginTotpEnrolment" => {
            code(client.begin_totp_enrolment(pb::BeginTotpEnrolmentRequest {}).await)
        }
        "ConfirmTotp" => {
            code(client.confirm_totp(pb::ConfirmTotpRequest { code: "abcdef".into() }).await)
        }
        "ListWebSessions" => code(
            client
                .list_web_sessions(pb::ListWebSessionsRequest { admin: "bootstrap".into() })
                .await,
        ),
        "RevokeWebSessions" => code(
            client
                .revoke_web_sessions(pb::RevokeWebSessionsRequest {
                    id: 0,
                    all: true,
                    admin: "bootstrap".into(),
                })
                .await,
        ),
        "ListAdmins" => code(client.list_admins(pb::ListAdminsRequest {}).await),
        "RevokeAdmin" => {
            code(client.revoke_admin(pb::RevokeAdminRequest { name: "bootstrap".into() }).await)
        }
        "GetPasswordPolicy" => {
            code(client.get_password_policy(pb::GetPasswordPolicyRequest { office }).await)
        }
        "SetPasswordPolicy" => code(
            client
                .set_password_policy(pb::SetPasswordPolicyRequest {
                    office,
                    policy: Some(pb::PasswordPolicy {
                        min_length: 12,
                        provisional_length: 16,
                        ..Default::default()
                    }),
                })
                .await,
        ),
        "IssueProvisional" => code(
            client
                .issue_provisional(pb::IssueProvisionalRequest { office, ..Default::default() })
                .await,
        ),
        "CancelProvisional" => code(
            client
                .cancel_provisional(pb::CancelProvisionalRequest { office, ..Default::default() })
                .await,
        ),
        "ReissueProvisional" => code(
            client
                .reissue_provisional(pb::ReissueProvisionalRequest {
                    mailbox: "a.b@75001.mailnot.fr".into(),
                })
                .await,
        ),
        "ListRotations" => {
            let request = pb::ListRotationsRequest { office, ..Default::default() };
            code(client.list_rotations(request).await)
        }
        "DiscloseProvisional" => code(
            client
                .disclose_provisional(pb::DiscloseProvisionalRequest {
                    office,
                    purpose: pb::DisclosurePurpose::Export.into(),
                })
                .await,
        ),
        "AssignWorkstation" => code(
            client
                .assign_workstation(pb::AssignWorkstationRequest {
                    workstation_id: theirs.workstation_id.clone(),
                    mailbox: "a.b@75001.mailnot.fr".into(),
                    mailboxes: Vec::new(),
                })
                .await,
        ),
        "UnassignWorkstation" => code(
            client
                .unassign_workstation(pb::UnassignWorkstationRequest {
                    workstation_id: theirs.workstation_id.clone(),
                    mailbox: "a.b@75001.mailnot.fr".into(),
                })
                .await,
        ),
        "ListAuditRecords" => code(
            client
                .list_audit_records(pb::ListAuditRecordsRequest { office, ..Default::default() })
                .await,
        ),
        "VerifyAudit" => code(client.verify_audit(pb::VerifyAuditRequest {}).await),
        "GetOwaUrl" => code(client.get_owa_url(pb::GetOwaUrlRequest { office }).await),
        "SetOwaUrl" => code(
            client
                .set_owa_url(pb::SetOwaUrlRequest {
                    office,
                    url: "https://owa.example.fr/owa".into(),
                })
                .await,
        ),
        "SetMailboxLogon" => code(
            client
                .set_mailbox_logon(pb::SetMailboxLogonRequest {
                    mailbox: "a.b@75001.mailnot.fr".into(),
                    logon_name: "ETUDE\\ab".into(),
                })
                .await,
        ),
        "SetMailboxAccount" => code(
            client
                .set_mailbox_account(pb::SetMailboxAccountRequest {
                    mailbox: "a.b@75001.mailnot.fr".into(),
                    workstation_id: theirs.workstation_id.clone(),
                    account_id: "jdupont".into(),
                    account_detail: String::new(),
                })
                .await,
        ),
        "GetMailbox" => code(
            client
                .get_mailbox(pb::GetMailboxRequest { mailbox: "a.b@75001.mailnot.fr".into() })
                .await,
        ),
        "GetOfficeReadiness" => {
            code(client.get_office_readiness(pb::GetOfficeReadinessRequest { office }).await)
        }
        "GetCompliancePolicy" => {
            code(client.get_compliance_policy(pb::GetCompliancePolicyRequest { office }).await)
        }
        "SetCompliancePolicy" => code(
            client
                .set_compliance_policy(pb::SetCompliancePolicyRequest {
                    office,
                    policy: Some(pb::CompliancePolicy {
                        due_soon_days: 7,
                        limit_days: 60,
                        offline_days: 5,
                    }),
                    inherit: false,
                })
                .await,
        ),
        "GetComplianceReport" => code(
            client
                .get_compliance_report(pb::GetComplianceReportRequest {
                    office,
                    ..Default::default()
                })
                .await,
        ),
        other => panic!(
            "AdminService.{other} is missing from the role test: add it with its expected codes"
        ),
    }
}

async fn office_admins_and_auditors_are_held_to_their_scope(server: &TestServer) {
    use Code::{Ok, PermissionDenied as Denied};
    // (RPC, office administrator of 01234 about office 75001, auditor)
    let expected: &[(&str, Code, Code)] = &[
        ("WhoAmI", Ok, Ok),
        ("CreateOffice", Denied, Denied),
        ("GetOffice", Denied, Ok),
        ("ListOffices", Ok, Ok),
        ("ImportMailboxes", Denied, Denied),
        ("ImportOffices", Denied, Denied),
        ("GetWorkstation", Denied, Ok),
        ("ListMailboxes", Denied, Ok),
        ("CreateEnrollmentToken", Denied, Denied),
        ("ListEnrollmentTokens", Denied, Ok),
        ("RevokeEnrollmentToken", Denied, Denied),
        ("ListWorkstations", Denied, Ok),
        ("RevokeWorkstation", Denied, Denied),
        ("UnlockWorkstation", Denied, Denied),
        ("ListAdmins", Denied, Denied),
        ("RevokeAdmin", Denied, Denied),
        // Its own web sign-in: every administrator; another's sessions: global administrators only.
        ("SetWebPassword", Ok, Ok),
        ("BeginTotpEnrolment", Ok, Ok),
        ("ConfirmTotp", Code::InvalidArgument, Code::InvalidArgument),
        ("ListWebSessions", Denied, Denied),
        ("RevokeWebSessions", Denied, Denied),
        ("GetPasswordPolicy", Denied, Ok),
        ("SetPasswordPolicy", Denied, Denied),
        ("IssueProvisional", Denied, Denied),
        ("CancelProvisional", Denied, Denied),
        ("ReissueProvisional", Denied, Denied),
        ("ListRotations", Denied, Ok),
        ("DiscloseProvisional", Denied, Denied),
        ("AssignWorkstation", Denied, Denied),
        ("UnassignWorkstation", Denied, Denied),
        ("ListAuditRecords", Denied, Ok),
        ("VerifyAudit", Denied, Ok),
        ("GetOwaUrl", Denied, Ok),
        ("SetOwaUrl", Denied, Denied),
        ("SetMailboxLogon", Denied, Denied),
        ("SetMailboxAccount", Denied, Denied),
        ("GetOfficeReadiness", Denied, Ok),
        ("GetCompliancePolicy", Denied, Ok),
        ("SetCompliancePolicy", Denied, Denied),
        ("GetComplianceReport", Denied, Ok),
        // No such mailbox: the auditor may look, and learns it does not exist.
        ("GetMailbox", Denied, Code::NotFound),
    ];
    let covered: BTreeSet<String> = expected.iter().map(|(rpc, _, _)| (*rpc).to_owned()).collect();
    assert_eq!(covered, admin_rpcs(), "every AdminService RPC is tried");

    server.sesamectl(&["office", "add", "01234", "--name", "Mine"]).await.unwrap();
    let their_token = token(server, "75001", &["--uses", "2"]).await;
    let dir = tempfile::tempdir().unwrap();
    try_enroll(server, &sesame_agent::identity::StateDir::new(dir.path()), &their_token)
        .await
        .unwrap();
    let ws: Vec<serde_json::Value> = serde_json::from_str(
        &server.sesamectl(&["workstation", "list", "-o", "json"]).await.unwrap(),
    )
    .unwrap();
    let tokens: Vec<serde_json::Value> =
        serde_json::from_str(&server.sesamectl(&["token", "list", "-o", "json"]).await.unwrap())
            .unwrap();
    let theirs = Theirs {
        token_id: tokens[0]["id"].as_u64().unwrap(),
        workstation_id: ws[0]["id"].as_str().unwrap().to_owned(),
    };

    let mut office_admin = admin(server, "marie.office", AdminRole::Office, &["01234"]).await;
    let mut auditor = admin(server, "paul.auditor", AdminRole::Auditor, &[]).await;
    for (rpc, as_office_admin, as_auditor) in expected {
        assert_eq!(
            call(&mut office_admin, rpc, &theirs).await,
            *as_office_admin,
            "{rpc} as an office administrator"
        );
        assert_eq!(call(&mut auditor, rpc, &theirs).await, *as_auditor, "{rpc} as an auditor");
    }

    // Nothing about another office leaks: a missing office, token or workstation looks the same as
    // an existing one of another office.
    let missing_office =
        office_admin.get_office(pb::GetOfficeRequest { crpcen: "99999".into() }).await.unwrap_err();
    assert_eq!(missing_office.code(), Denied);
    let missing_token = office_admin
        .revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest { id: 999 })
        .await
        .unwrap_err();
    assert_eq!(missing_token.code(), Denied);
    let missing_ws = office_admin
        .revoke_workstation(pb::RevokeWorkstationRequest { id: "ws-0000000000000000".into() })
        .await
        .unwrap_err();
    assert_eq!(missing_ws.code(), Denied);

    // Within its office the office administrator works, and sees only its office.
    let offices =
        office_admin.list_offices(pb::ListOfficesRequest {}).await.unwrap().into_inner().offices;
    assert_eq!(offices.iter().map(|o| o.crpcen.as_str()).collect::<Vec<_>>(), ["01234"]);
    office_admin
        .create_enrollment_token(pb::CreateEnrollmentTokenRequest {
            office: "01234".into(),
            uses: 1,
            ttl_seconds: 0,
        })
        .await
        .unwrap();
    let visible = office_admin
        .list_enrollment_tokens(pb::ListEnrollmentTokensRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(visible.tokens.iter().all(|t| t.office == "01234") && visible.tokens.len() == 1);
    assert!(
        office_admin
            .list_workstations(pb::ListWorkstationsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .workstations
            .is_empty()
    );
    let rows = vec![pb::MailboxRow {
        line: 2,
        address: "a.b@01234.mailnot.fr".into(),
        display_name: "A B".into(),
        ..Default::default()
    }];
    office_admin
        .import_mailboxes(tokio_stream::iter(vec![pb::ImportMailboxesRequest {
            rows,
            dry_run: false,
        }]))
        .await
        .unwrap();

    // The auditor reads everything and changes nothing.
    let all = auditor
        .list_workstations(pb::ListWorkstationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.workstations.len(), 1);
    assert_eq!(ws[0]["status"], "active", "the refused revocations changed nothing");

    // A revoked administrator is shut out at once.
    server.sesamectl(&["admin", "revoke", "paul.auditor"]).await.unwrap();
    assert_eq!(
        auditor.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let admins = server.sesamectl(&["admin", "list"]).await.unwrap();
    assert!(
        admins.contains("marie.office") && admins.contains("01234") && admins.contains("revoked"),
        "{admins}"
    );
}

async fn every_admin_rpc_refuses_a_forged_credential(server: &TestServer) {
    let mut credentials = server.read_credentials();
    credentials.token = secrecy::SecretString::from(format!("sesame_admin_{}", "ab".repeat(32)));
    let mut forged = connect(&credentials).await.unwrap();
    let theirs = Theirs { token_id: 1, workstation_id: "ws-0000000000000000".into() };
    for rpc in admin_rpcs() {
        assert_eq!(
            call(&mut forged, &rpc, &theirs).await,
            Code::Unauthenticated,
            "{rpc} with a forged token"
        );
    }
    assert!(
        server.sesamectl(&["office", "list"]).await.unwrap().ends_with("0 office(s)\n"),
        "nothing was created"
    );
}

on_both_backends!(
    office_admins_and_auditors_are_held_to_their_scope,
    every_admin_rpc_refuses_a_forged_credential
);
