//! The AdminService RPCs about the password policy and provisional passwords: authenticate,
//! convert, call `services::rotations`, convert back.

use secrecy::{ExposeSecret, SecretString};
use sesame_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::domain::office::{MailDomain, MailboxAddress};
use crate::domain::password::{PasswordPolicy, PasswordRule, PolicyError, StrengthChecks};
use crate::domain::rotation::Rotation;
use crate::grpc::{parse, rfc3339};
use crate::services::Error;
use crate::services::rotations::{DisclosurePurpose, RotationPageRequest, Target};

pub(super) async fn get_password_policy(
    api: &AdminApi,
    request: Request<pb::GetPasswordPolicyRequest>,
) -> Result<Response<pb::GetPasswordPolicyResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::optional_crpcen("office", &request.get_ref().office)?;
    let policy = api.state.password_policy(&admin, office.as_ref()).await?;
    Ok(Response::new(pb::GetPasswordPolicyResponse { policy: Some(policy_to_pb(policy)) }))
}

pub(super) async fn set_password_policy(
    api: &AdminApi,
    request: Request<pb::SetPasswordPolicyRequest>,
) -> Result<Response<pb::SetPasswordPolicyResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.into_inner();
    let office = parse::optional_crpcen("office", &req.office)?;
    let policy = policy_from_pb(req.policy.ok_or_else(|| Error::invalid("policy: required"))?)?;
    api.state.set_password_policy(&admin, office.as_ref(), &policy).await?;
    Ok(Response::new(pb::SetPasswordPolicyResponse {}))
}

pub(super) async fn issue_provisional(
    api: &AdminApi,
    request: Request<pb::IssueProvisionalRequest>,
) -> Result<Response<pb::IssueProvisionalResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let target = target(&req.mailbox, &req.office, &api.state.mail_domain)?;
    let issued = api.state.open_rotations(&admin, &target).await?;
    Ok(Response::new(pb::IssueProvisionalResponse {
        issued: issued.issued.into_iter().map(rotation_to_pb).collect(),
        skipped: issued.skipped.iter().map(ToString::to_string).collect(),
    }))
}

pub(super) async fn cancel_provisional(
    api: &AdminApi,
    request: Request<pb::CancelProvisionalRequest>,
) -> Result<Response<pb::CancelProvisionalResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let target = target(&req.mailbox, &req.office, &api.state.mail_domain)?;
    let cancelled = api.state.cancel_rotations(&admin, &target).await?;
    Ok(Response::new(pb::CancelProvisionalResponse { cancelled }))
}

pub(super) async fn reissue_provisional(
    api: &AdminApi,
    request: Request<pb::ReissueProvisionalRequest>,
) -> Result<Response<pb::ReissueProvisionalResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let Target::Mailbox(address) = target(&request.get_ref().mailbox, "", &api.state.mail_domain)?
    else {
        return Err(Error::invalid("mailbox: required").into());
    };
    let rotation = api.state.reissue_rotation(&admin, &address).await?;
    Ok(Response::new(pb::ReissueProvisionalResponse { rotation: rotation.map(rotation_to_pb) }))
}

pub(super) async fn list_rotations(
    api: &AdminApi,
    request: Request<pb::ListRotationsRequest>,
) -> Result<Response<pb::ListRotationsResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let req = request.get_ref();
    let office = parse::optional_crpcen("office", &req.office)?;
    let page = RotationPageRequest {
        size: req.page_size,
        after: parse::rotation_cursor("page_token", &req.page_token)?,
    };
    let page = api.state.list_rotations(&admin, office.as_ref(), req.open_only, &page).await?;
    Ok(Response::new(pb::ListRotationsResponse {
        rotations: page.rotations.into_iter().map(rotation_to_pb).collect(),
        next_page_token: page.next.map(|cursor| cursor.token()).unwrap_or_default(),
    }))
}

pub(super) async fn disclose_provisional(
    api: &AdminApi,
    request: Request<pb::DiscloseProvisionalRequest>,
) -> Result<Response<pb::DiscloseProvisionalResponse>, Status> {
    let admin = api.authenticate(&request).await?;
    let office = parse::crpcen("office", &request.get_ref().office)?;
    let purpose = match request.get_ref().purpose() {
        pb::DisclosurePurpose::Export => DisclosurePurpose::Export,
        pb::DisclosurePurpose::Letters => DisclosurePurpose::Letters,
        pb::DisclosurePurpose::Unspecified => {
            return Err(Error::invalid("purpose: export or letters").into());
        }
    };
    let disclosed = api.state.disclose_provisional(&admin, &office, purpose).await?;
    Ok(Response::new(pb::DiscloseProvisionalResponse {
        passwords: disclosed.passwords.into_iter().map(password_to_pb).collect(),
        policy: Some(policy_to_pb(disclosed.policy)),
    }))
}

/// "Exactly one of mailbox and office".
fn target(mailbox: &str, office: &str, domain: &MailDomain) -> Result<Target, Error> {
    match (mailbox.trim().is_empty(), office.trim().is_empty()) {
        (false, true) => MailboxAddress::parse(mailbox, domain)
            .map(Target::Mailbox)
            .map_err(|e| Error::invalid(format!("mailbox: {e}"))),
        (true, false) => parse::crpcen("office", office).map(Target::Office),
        _ => Err(Error::invalid("give exactly one of mailbox and office")),
    }
}

fn password_to_pb((rotation, password): (Rotation, SecretString)) -> pb::ProvisionalPassword {
    pb::ProvisionalPassword {
        rotation_id: rotation.id.to_string(),
        last_name: rotation.address.last_name().to_owned(),
        first_name: rotation.address.first_name().to_owned(),
        mailbox: rotation.address.to_string(),
        display_name: rotation.display_name,
        provisional_password: password.expose_secret().to_owned(),
        expires_at: rfc3339(rotation.expires_at),
    }
}

/// A rotation for administrators (never its password).
pub(super) fn rotation_to_pb(r: Rotation) -> pb::RotationInfo {
    pb::RotationInfo {
        id: r.id.to_string(),
        mailbox: r.address.to_string(),
        office: r.office.to_string(),
        display_name: r.display_name,
        status: r.status.as_str().to_owned(),
        issued_by: r.issued_by,
        issued_at: rfc3339(r.issued_at),
        expires_at: rfc3339(r.expires_at),
        delivered_at: r.delivered_at.map(rfc3339).unwrap_or_default(),
        closed_at: r.closed_at.map(rfc3339).unwrap_or_default(),
        kind: r.kind.as_str().to_owned(),
        last_step: r.last_step.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        last_step_at: r.last_step_at.map(rfc3339).unwrap_or_default(),
        workstation_id: r.workstation_id.unwrap_or_default(),
        failure: r
            .last_step
            .and_then(|s| s.failure())
            .map(|f| f.as_str().to_owned())
            .unwrap_or_default(),
    }
}

fn policy_to_pb(p: PasswordPolicy) -> pb::PasswordPolicy {
    pb::PasswordPolicy {
        min_length: p.rule.min_length,
        require_lower: p.rule.require_lower,
        require_upper: p.rule.require_upper,
        require_digit: p.rule.require_digit,
        require_special: p.rule.require_special,
        provisional_length: p.provisional_length,
        refuse_personal_words: Some(p.strength.personal_words),
        refuse_common_passwords: Some(p.strength.common_passwords),
        min_strength: Some(u32::from(p.strength.min_score)),
    }
}

/// The policy as given (a rule below the floor, a score above 4, are refused by the service's
/// validation; a score beyond `u8` is refused here with the same message). A strength check
/// absent from the request is on, and an absent minimum strength is 3: a client that predates
/// them never turns them off.
fn policy_from_pb(p: pb::PasswordPolicy) -> Result<PasswordPolicy, Error> {
    let rule = PasswordRule {
        min_length: p.min_length,
        require_lower: p.require_lower,
        require_upper: p.require_upper,
        require_digit: p.require_digit,
        require_special: p.require_special,
    };
    let defaults = StrengthChecks::default();
    let min_score = match p.min_strength {
        None => defaults.min_score,
        Some(score) => u8::try_from(score)
            .map_err(|_| Error::invalid(format!("policy: {}", PolicyError::MinStrength(score))))?,
    };
    let strength = StrengthChecks {
        personal_words: p.refuse_personal_words.unwrap_or(defaults.personal_words),
        common_passwords: p.refuse_common_passwords.unwrap_or(defaults.common_passwords),
        min_score,
    };
    Ok(PasswordPolicy { rule, provisional_length: p.provisional_length, strength })
}
