//! The AdminService RPCs about provisional passwords and the audit trail.
//! They are methods of [`AdminApi`]; `grpc::admin` delegates to them.

use std::collections::HashSet;

use sesame_proto::v1 as pb;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::admin::{Admin, Permission};
use crate::audit::{self, Actor, GENESIS_HASH};
use crate::domain::{Crpcen, Mailbox, MailboxAddress};
use crate::grpc::AdminApi;
use crate::grpc::parse;
use crate::grpc::rfc3339;
use crate::grpc::status::ApiError;
use crate::password::PasswordPolicy;
use crate::rotation::{Disclosure, NewRotation, Rotation, RotationStatus, new_rotation_id};
use crate::services::access;
use crate::store;

/// Largest page of audit records.
const MAX_AUDIT_PAGE: u32 = 5_000;

pub(super) fn rotation_to_pb(r: Rotation) -> pb::RotationInfo {
    pb::RotationInfo {
        id: r.id,
        mailbox: r.address.to_string(),
        office: r.office.to_string(),
        display_name: r.display_name,
        status: r.status.as_str().to_owned(),
        issued_by: r.issued_by,
        issued_at: rfc3339(r.issued_at),
        expires_at: rfc3339(r.expires_at),
        delivered_at: r.delivered_at.map(rfc3339).unwrap_or_default(),
        closed_at: r.closed_at.map(rfc3339).unwrap_or_default(),
    }
}

pub(super) fn policy_to_pb(p: PasswordPolicy) -> pb::PasswordPolicy {
    pb::PasswordPolicy {
        min_length: p.min_length,
        require_lower: p.require_lower,
        require_upper: p.require_upper,
        require_digit: p.require_digit,
        require_special: p.require_special,
        provisional_length: p.provisional_length,
    }
}

/// Which mailboxes a request names: one, or an office's.
enum Target {
    Mailbox(Mailbox),
    Office(Crpcen),
}

impl Target {
    fn office(&self) -> &Crpcen {
        match self {
            Target::Mailbox(m) => m.address.office(),
            Target::Office(o) => o,
        }
    }
}

impl AdminApi {
    fn parse_address(&self, value: &str) -> Result<MailboxAddress, ApiError> {
        MailboxAddress::parse(value, &self.state.mail_domain)
            .map_err(|e| ApiError::invalid(format!("mailbox: {e}")))
    }

    async fn mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, ApiError> {
        match self.state.store.get_mailbox(address).await {
            Ok(m) => Ok(m),
            Err(store::Error::NotFound) => {
                Err(ApiError::NotFound(format!("mailbox {address} does not exist")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Resolves "exactly one of mailbox and office", authorizing a change there.
    async fn target<T>(
        &self,
        request: &Request<T>,
        mailbox: &str,
        office: &str,
    ) -> Result<(Admin, Target), ApiError> {
        match (mailbox.trim().is_empty(), office.trim().is_empty()) {
            (false, true) => {
                let address = self.parse_address(mailbox)?;
                let admin = self.authorize(request, Permission::Write(address.office())).await?;
                Ok((admin, Target::Mailbox(self.mailbox(&address).await?)))
            }
            (true, false) => {
                let office = parse::crpcen("office", office)?;
                let admin = self.authorize(request, Permission::Write(&office)).await?;
                match self.state.store.get_office(&office).await {
                    Ok(_) => Ok((admin, Target::Office(office))),
                    Err(store::Error::NotFound) => {
                        Err(ApiError::NotFound(format!("office {office} does not exist")))
                    }
                    Err(other) => Err(other.into()),
                }
            }
            _ => Err(ApiError::invalid("give exactly one of mailbox and office")),
        }
    }

    async fn office_mailboxes(&self, office: &Crpcen) -> Result<Vec<Mailbox>, ApiError> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|m: &Mailbox| m.address.to_string());
            let page =
                self.state.store.list_mailboxes(Some(office), after.as_deref(), 5_000).await?;
            let done = page.len() < 5_000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Opens a rotation for each mailbox, with a fresh provisional password sealed in escrow.
    async fn open_for(
        &self,
        admin: &Admin,
        office: &Crpcen,
        mailboxes: &[Mailbox],
    ) -> Result<Vec<Rotation>, ApiError> {
        let now = self.state.clock.now();
        let policy = self.state.store.password_policy(Some(office)).await?;
        let mut rotations = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            let id = new_rotation_id();
            let password = policy.generate_provisional();
            let sealed = self
                .state
                .escrow
                .seal(&password, mailbox.id, &id)
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            rotations.push(NewRotation {
                id,
                mailbox_id: mailbox.id,
                sealed,
                expires_at: now + self.state.provisional_validity,
            });
        }
        match self.state.store.open_rotations(&rotations, &Actor::admin(admin), now).await {
            Ok(()) => {}
            Err(store::Error::Conflict) => {
                return Err(ApiError::AlreadyExists(
                    "a rotation is already open for one of these mailboxes; cancel or reissue it"
                        .to_owned(),
                ));
            }
            Err(other) => return Err(other.into()),
        }
        let ids: HashSet<&str> = rotations.iter().map(|r| r.id.as_str()).collect();
        let mut opened = self.state.store.list_rotations(Some(office), true).await?;
        opened.retain(|r| ids.contains(r.id.as_str()));
        opened.sort_by(|a, b| a.address.as_str().cmp(b.address.as_str()));
        Ok(opened)
    }

    pub(super) async fn get_password_policy_impl(
        &self,
        request: Request<pb::GetPasswordPolicyRequest>,
    ) -> Result<Response<pb::GetPasswordPolicyResponse>, Status> {
        let office = parse::optional_crpcen("office", &request.get_ref().office)?;
        self.authorize(&request, Permission::Read(office.as_ref())).await?;
        let policy =
            self.state.store.password_policy(office.as_ref()).await.map_err(ApiError::from)?;
        Ok(Response::new(pb::GetPasswordPolicyResponse { policy: Some(policy_to_pb(policy)) }))
    }

    pub(super) async fn set_password_policy_impl(
        &self,
        request: Request<pb::SetPasswordPolicyRequest>,
    ) -> Result<Response<pb::SetPasswordPolicyResponse>, Status> {
        let office = parse::optional_crpcen("office", &request.get_ref().office)?;
        let permission = office.as_ref().map_or(Permission::Global, Permission::Write);
        let admin = self.authorize(&request, permission).await?;
        let p = request.into_inner().policy.ok_or_else(|| ApiError::invalid("policy: required"))?;
        let policy = PasswordPolicy {
            min_length: p.min_length,
            require_lower: p.require_lower,
            require_upper: p.require_upper,
            require_digit: p.require_digit,
            require_special: p.require_special,
            provisional_length: p.provisional_length,
        };
        policy.validate().map_err(|e| ApiError::invalid(format!("policy: {e}")))?;
        if let Some(office) = &office
            && let Err(store::Error::NotFound) = self.state.store.get_office(office).await
        {
            return Err(ApiError::NotFound(format!("office {office} does not exist")).into());
        }
        self.state
            .store
            .set_password_policy(
                office.as_ref(),
                &policy,
                &Actor::admin(&admin),
                self.state.clock.now(),
            )
            .await
            .map_err(ApiError::from)?;
        tracing::info!(admin = %admin.name, office = ?office.as_ref().map(ToString::to_string), "policy set");
        Ok(Response::new(pb::SetPasswordPolicyResponse {}))
    }

    pub(super) async fn issue_provisional_impl(
        &self,
        request: Request<pb::IssueProvisionalRequest>,
    ) -> Result<Response<pb::IssueProvisionalResponse>, Status> {
        let (admin, target) =
            self.target(&request, &request.get_ref().mailbox, &request.get_ref().office).await?;
        let (candidates, skipped) = match &target {
            Target::Mailbox(mailbox) => {
                if self
                    .state
                    .store
                    .open_rotation(mailbox.id)
                    .await
                    .map_err(ApiError::from)?
                    .is_some()
                {
                    return Err(ApiError::AlreadyExists(format!(
                        "a rotation is already open for {}; cancel or reissue it",
                        mailbox.address
                    ))
                    .into());
                }
                (vec![mailbox.clone()], Vec::new())
            }
            Target::Office(office) => {
                let open: HashSet<i64> = self
                    .state
                    .store
                    .list_rotations(Some(office), true)
                    .await
                    .map_err(ApiError::from)?
                    .iter()
                    .map(|r| r.mailbox_id)
                    .collect();
                let (skipped, candidates): (Vec<Mailbox>, Vec<Mailbox>) = self
                    .office_mailboxes(office)
                    .await?
                    .into_iter()
                    .partition(|m| open.contains(&m.id));
                (candidates, skipped.into_iter().map(|m| m.address.to_string()).collect())
            }
        };
        let issued = if candidates.is_empty() {
            Vec::new()
        } else {
            self.open_for(&admin, target.office(), &candidates).await?
        };
        tracing::info!(admin = %admin.name, office = %target.office(), issued = issued.len(), skipped = skipped.len(), "rotations opened");
        Ok(Response::new(pb::IssueProvisionalResponse {
            issued: issued.into_iter().map(rotation_to_pb).collect(),
            skipped,
        }))
    }

    pub(super) async fn cancel_provisional_impl(
        &self,
        request: Request<pb::CancelProvisionalRequest>,
    ) -> Result<Response<pb::CancelProvisionalResponse>, Status> {
        let (admin, target) =
            self.target(&request, &request.get_ref().mailbox, &request.get_ref().office).await?;
        let ids: Vec<String> = match &target {
            Target::Mailbox(mailbox) => self
                .state
                .store
                .open_rotation(mailbox.id)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(|r| r.id)
                .collect(),
            Target::Office(office) => self
                .state
                .store
                .list_rotations(Some(office), true)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(|r| r.id)
                .collect(),
        };
        let cancelled = self
            .state
            .store
            .close_rotations(
                &ids,
                RotationStatus::Cancelled,
                &Actor::admin(&admin),
                self.state.clock.now(),
            )
            .await
            .map_err(ApiError::from)?;
        tracing::info!(admin = %admin.name, office = %target.office(), cancelled, "rotations cancelled");
        Ok(Response::new(pb::CancelProvisionalResponse { cancelled }))
    }

    pub(super) async fn reissue_provisional_impl(
        &self,
        request: Request<pb::ReissueProvisionalRequest>,
    ) -> Result<Response<pb::ReissueProvisionalResponse>, Status> {
        let (admin, target) = self.target(&request, &request.get_ref().mailbox, "").await?;
        let Target::Mailbox(mailbox) = target else {
            return Err(ApiError::invalid("mailbox: required").into());
        };
        if let Some(open) =
            self.state.store.open_rotation(mailbox.id).await.map_err(ApiError::from)?
        {
            self.state
                .store
                .close_rotations(
                    &[open.id],
                    RotationStatus::Cancelled,
                    &Actor::admin(&admin),
                    self.state.clock.now(),
                )
                .await
                .map_err(ApiError::from)?;
        }
        let rotation = self
            .open_for(&admin, mailbox.address.office(), std::slice::from_ref(&mailbox))
            .await?
            .into_iter()
            .next();
        tracing::info!(admin = %admin.name, mailbox = %mailbox.address, "rotation reissued");
        Ok(Response::new(pb::ReissueProvisionalResponse { rotation: rotation.map(rotation_to_pb) }))
    }

    pub(super) async fn list_rotations_impl(
        &self,
        request: Request<pb::ListRotationsRequest>,
    ) -> Result<Response<pb::ListRotationsResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let office = parse::optional_crpcen("office", &request.get_ref().office)?;
        let open_only = request.get_ref().open_only;
        let mut rotations = Vec::new();
        for office in access::listing_scope(&admin, office.as_ref())? {
            rotations.extend(
                self.state
                    .store
                    .list_rotations(office.as_ref(), open_only)
                    .await
                    .map_err(ApiError::from)?,
            );
        }
        Ok(Response::new(pb::ListRotationsResponse {
            rotations: rotations.into_iter().map(rotation_to_pb).collect(),
        }))
    }

    pub(super) async fn disclose_provisional_impl(
        &self,
        request: Request<pb::DiscloseProvisionalRequest>,
    ) -> Result<Response<pb::DiscloseProvisionalResponse>, Status> {
        let office = parse::crpcen("office", &request.get_ref().office)?;
        let admin = self.authorize(&request, Permission::Write(&office)).await?;
        let disclosure = match request.get_ref().purpose() {
            pb::DisclosurePurpose::Export => Disclosure::Export(&office),
            pb::DisclosurePurpose::Letters => Disclosure::Letters(&office),
            pb::DisclosurePurpose::Unspecified => {
                return Err(ApiError::invalid("purpose: export or letters").into());
            }
        };
        let policy =
            self.state.store.password_policy(Some(&office)).await.map_err(ApiError::from)?;
        // The audit record is committed before anything is decrypted or returned.
        let sealed = self
            .state
            .store
            .disclose_rotations(disclosure, &Actor::admin(&admin), self.state.clock.now())
            .await
            .map_err(ApiError::from)?;
        let passwords: Vec<pb::ProvisionalPassword> =
            crate::grpc::open_all(&self.state.escrow, sealed)?
                .into_iter()
                .map(|(rotation, password)| pb::ProvisionalPassword {
                    rotation_id: rotation.id,
                    last_name: rotation.address.last_name().to_owned(),
                    first_name: rotation.address.first_name().to_owned(),
                    mailbox: rotation.address.to_string(),
                    display_name: rotation.display_name,
                    provisional_password: secrecy::ExposeSecret::expose_secret(&password)
                        .to_owned(),
                    expires_at: rfc3339(rotation.expires_at),
                })
                .collect();
        tracing::info!(admin = %admin.name, %office, action = disclosure.action(), count = passwords.len(), "escrow disclosed");
        Ok(Response::new(pb::DiscloseProvisionalResponse {
            passwords,
            policy: Some(policy_to_pb(policy)),
        }))
    }

    pub(super) async fn list_audit_records_impl(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        let req = request.get_ref();
        let office = parse::optional_crpcen("office", &req.office)?;
        let since = parse_since(&req.since)?;
        let limit = match req.limit {
            0 => 1_000,
            n if n <= MAX_AUDIT_PAGE => n,
            _ => return Err(ApiError::invalid(format!("limit: at most {MAX_AUDIT_PAGE}")).into()),
        };
        let mut records = Vec::new();
        for office in access::listing_scope(&admin, office.as_ref())? {
            let mut after = req.after_seq;
            // Skip what is older than `since`, a page at a time.
            loop {
                let page = self
                    .state
                    .store
                    .audit_records(office.as_ref(), after, limit)
                    .await
                    .map_err(ApiError::from)?;
                let done = page.len() < limit as usize;
                after = page.last().map_or(after, |r| r.seq);
                records.extend(page.into_iter().filter(|r| since.is_none_or(|s| r.at >= s)));
                if done || records.len() >= limit as usize {
                    break;
                }
            }
        }
        records.sort_by_key(|r| r.seq);
        records.truncate(limit as usize);
        Ok(Response::new(pb::ListAuditRecordsResponse {
            records: records
                .into_iter()
                .map(|r| pb::AuditRecord {
                    seq: r.seq,
                    at: r
                        .at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    actor: r.actor,
                    action: r.action,
                    office: r.office.unwrap_or_default(),
                    target: r.target,
                    details: r.details,
                    prev_hash: hex::encode(r.prev_hash),
                    hash: hex::encode(r.hash),
                })
                .collect(),
        }))
    }

    pub(super) async fn verify_audit_impl(
        &self,
        request: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        let admin = self.authenticate(&request).await?;
        if !admin.may(Permission::Read(None)) {
            return Err(access::denied(&Permission::Read(None)).into());
        }
        let (mut seq, mut hash, mut checked) = (0, GENESIS_HASH, 0u64);
        loop {
            let page = self
                .state
                .store
                .audit_records(None, seq, MAX_AUDIT_PAGE)
                .await
                .map_err(ApiError::from)?;
            if page.is_empty() {
                break;
            }
            match audit::verify(seq, hash, &page) {
                Ok((s, h)) => {
                    checked += page.len() as u64;
                    (seq, hash) = (s, h);
                }
                Err(broken) => {
                    let first = match broken {
                        audit::ChainBreak::Sequence { expected, .. } => expected,
                        audit::ChainBreak::Link { seq } | audit::ChainBreak::Content { seq } => seq,
                    };
                    tracing::error!(first_broken = first, problem = %broken, "the audit chain is broken");
                    return Ok(Response::new(pb::VerifyAuditResponse {
                        intact: false,
                        records: checked,
                        first_broken_seq: first,
                        problem: broken.to_string(),
                    }));
                }
            }
        }
        Ok(Response::new(pb::VerifyAuditResponse {
            intact: true,
            records: checked,
            first_broken_seq: 0,
            problem: String::new(),
        }))
    }
}

/// Parses `since`: empty, an RFC 3339 time, or a date (midnight UTC).
fn parse_since(value: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        return Ok(Some(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| ApiError::invalid("since: expected YYYY-MM-DD or an RFC 3339 time"))
}
