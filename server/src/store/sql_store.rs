//! [`SqlStore`]: the one implementation of [`Store`], for SQLite and PostgreSQL alike. Each method
//! forwards to the method of the same name on [`Db`], written once in the file of its aggregate
//! (`offices.rs`, `admins.rs`, `workstations.rs`, `rotations.rs`, `reports.rs`, `settings.rs`,
//! `accounts.rs`, `check_ins.rs`, `audit.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{ColumnIndex, Encode, Executor, Type};
use time::OffsetDateTime;

use super::changes::{Change, ChangeFeed};
pub(super) use super::db::Db;
use super::dialect::{Dialect, Value};
use super::{Error, PoolUsage, Store};
use crate::domain::account::LocalAccount;
use crate::domain::admin::{Admin, NewAdmin};
use crate::domain::audit::{Actor, AuditEvent, AuditRecord, SignedHead};
use crate::domain::checkin::{AssignedMailbox, CheckInRecord, CheckInState};
use crate::domain::compliance::{CompliancePolicy, FleetSummary, MailboxStanding, OfficeCounts};
use crate::domain::identifier::{AdminName, PageToken, WorkstationId};
use crate::domain::office::{
    Crpcen, ImportReport, Mailbox, MailboxAddress, NewMailbox, NewOffice, Office,
};
use crate::domain::page::RotationCursor;
use crate::domain::password::PasswordPolicy;
use crate::domain::rotation::{
    Disclosure, MailboxHistory, NewRotation, PendingRotations, ReportOutcome, Rotation,
    RotationStatus, Sealed, StepReport,
};
use crate::domain::settings::{LogonName, OwaUrl};
use crate::domain::token::TokenHash;
use crate::domain::workstation::{
    EnrollmentToken, IssuedCertificate, NewEnrollmentToken, NewWorkstation, Workstation,
    WorkstationStatus,
};

/// The store on database `D`. Built by `sqlite::connect` and `postgres::connect`.
#[derive(Debug)]
pub(super) struct SqlStore<D: sqlx::Database> {
    pub(super) db: Db<D>,
}

impl<D: sqlx::Database> SqlStore<D> {
    /// The store over these connections (migrated already).
    pub(super) fn new(db: Db<D>) -> SqlStore<D> {
        SqlStore { db }
    }
}

#[async_trait]
impl<D> Store for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D> + ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D>,
    for<'a> &'a [u8]: Encode<'a, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    i64: Value<D>,
    bool: Value<D>,
    String: Value<D>,
    Vec<u8>: Value<D>,
    OffsetDateTime: Value<D>,
{
    // === Offices and mailboxes (`store/offices.rs`) ===

    async fn create_office(
        &self,
        office: &NewOffice,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Office, Error> {
        self.db.create_office(office, actor, at).await
    }

    async fn get_office(&self, crpcen: &Crpcen) -> Result<Office, Error> {
        self.db.get_office(crpcen).await
    }

    async fn list_offices(&self) -> Result<Vec<Office>, Error> {
        self.db.list_offices().await
    }

    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error> {
        self.db.import_mailboxes(rows, dry_run, actor, at).await
    }

    async fn list_mailboxes(
        &self,
        office: Option<&Crpcen>,
        after: Option<&PageToken>,
        limit: u32,
    ) -> Result<Vec<Mailbox>, Error> {
        self.db.list_mailboxes(office, after, limit).await
    }

    async fn get_mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, Error> {
        self.db.get_mailbox(address).await
    }

    // === Administrators and enrollment tokens (`store/admins.rs`) ===

    async fn create_admin(
        &self,
        admin: &NewAdmin,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Admin, Error> {
        self.db.create_admin(admin, actor, at).await
    }

    async fn admin_by_token(&self, token_hash: &TokenHash) -> Result<Admin, Error> {
        self.db.admin_by_token(token_hash).await
    }

    async fn list_admins(&self) -> Result<Vec<Admin>, Error> {
        self.db.list_admins().await
    }

    async fn revoke_admin(
        &self,
        name: &AdminName,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.revoke_admin(name, actor, at).await
    }

    async fn create_enrollment_token(
        &self,
        token: &NewEnrollmentToken,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<EnrollmentToken, Error> {
        self.db.create_enrollment_token(token, actor, at).await
    }

    async fn list_enrollment_tokens(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<Vec<EnrollmentToken>, Error> {
        self.db.list_enrollment_tokens(office).await
    }

    async fn get_enrollment_token(&self, id: i64) -> Result<EnrollmentToken, Error> {
        self.db.get_enrollment_token(id).await
    }

    async fn revoke_enrollment_token(
        &self,
        id: i64,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.revoke_enrollment_token(id, actor, at).await
    }

    async fn enrollment_office(&self, token_hash: &TokenHash) -> Result<Crpcen, Error> {
        self.db.enrollment_office(token_hash).await
    }

    // === Workstations: enrollment, certificates, recovery challenges, assignments (`store/workstations.rs`) ===

    async fn enroll_workstation(
        &self,
        token_hash: &TokenHash,
        workstation: &NewWorkstation,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        self.db.enroll_workstation(token_hash, workstation, at).await
    }

    async fn get_workstation(&self, id: &WorkstationId) -> Result<Workstation, Error> {
        self.db.get_workstation(id).await
    }

    async fn list_workstations(&self, office: Option<&Crpcen>) -> Result<Vec<Workstation>, Error> {
        self.db.list_workstations(office).await
    }

    async fn replace_certificate(
        &self,
        id: &WorkstationId,
        presented_serial: Option<&str>,
        certificate: &IssuedCertificate,
        action: &'static str,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        self.db.replace_certificate(id, presented_serial, certificate, action, at).await
    }

    async fn set_workstation_status(
        &self,
        id: &WorkstationId,
        status: WorkstationStatus,
        reason: Option<&str>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Workstation, Error> {
        self.db.set_workstation_status(id, status, reason, actor, at).await
    }

    async fn add_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.add_recovery_challenge(id, challenge, expires_at, now).await
    }

    async fn take_recovery_challenge(
        &self,
        id: &WorkstationId,
        challenge: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.db.take_recovery_challenge(id, challenge, now).await
    }

    async fn assign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.assign_mailbox(workstation_id, mailbox, actor, at).await
    }

    async fn unassign_mailbox(
        &self,
        workstation_id: &WorkstationId,
        mailbox: &Mailbox,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.unassign_mailbox(workstation_id, mailbox, actor, at).await
    }

    // === Rotations and escrow: password policies, rotations, disclosure (`store/rotations.rs`) ===

    async fn password_policy(&self, office: Option<&Crpcen>) -> Result<PasswordPolicy, Error> {
        self.db.password_policy(office).await
    }

    async fn set_password_policy(
        &self,
        office: Option<&Crpcen>,
        policy: &PasswordPolicy,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.set_password_policy(office, policy, actor, at).await
    }

    async fn open_rotations(
        &self,
        rotations: &[NewRotation],
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.open_rotations(rotations, actor, at).await
    }

    async fn list_rotations(
        &self,
        office: Option<&Crpcen>,
        open_only: bool,
        after: Option<&RotationCursor>,
        limit: u32,
    ) -> Result<Vec<Rotation>, Error> {
        self.db.list_rotations(office, open_only, after, limit).await
    }

    async fn open_rotation(&self, mailbox_id: i64) -> Result<Option<Rotation>, Error> {
        self.db.open_rotation(mailbox_id).await
    }

    async fn close_rotations(
        &self,
        ids: &[String],
        status: RotationStatus,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<u64, Error> {
        self.db.close_rotations(ids, status, actor, at).await
    }

    async fn expire_rotations(&self, now: OffsetDateTime) -> Result<u64, Error> {
        self.db.expire_rotations(now).await
    }

    async fn rotation_counts(&self) -> Result<Vec<(RotationStatus, u64)>, Error> {
        self.db.rotation_counts().await
    }

    async fn disclose_rotations(
        &self,
        disclosure: Disclosure<'_>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<(Rotation, Sealed)>, Error> {
        self.db.disclose_rotations(disclosure, actor, at).await
    }

    // === Step reports, periodic rotations, mailbox history (`store/reports.rs`) ===

    async fn record_reports(
        &self,
        workstation_id: &WorkstationId,
        reports: &[StepReport],
        at: OffsetDateTime,
    ) -> Result<Vec<ReportOutcome>, Error> {
        self.db.record_reports(workstation_id.as_str(), reports, at).await
    }

    async fn deliver_periodic(
        &self,
        workstation_id: &WorkstationId,
        validity: time::Duration,
        at: OffsetDateTime,
    ) -> Result<Vec<Rotation>, Error> {
        self.db.deliver_periodic(workstation_id.as_str(), validity, at).await
    }

    async fn pending_rotations(
        &self,
        workstation_id: &WorkstationId,
        at: OffsetDateTime,
    ) -> Result<PendingRotations, Error> {
        self.db.pending_rotations(workstation_id.as_str(), at).await
    }

    async fn mailbox_history(&self, mailbox_id: i64) -> Result<MailboxHistory, Error> {
        self.db.mailbox_history(mailbox_id).await
    }

    // === Settings: the OWA address, logon names (`store/settings.rs`) ===

    async fn owa_urls(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<(Option<OwaUrl>, Option<OwaUrl>), Error> {
        self.db.owa_urls(office).await
    }

    async fn set_owa_url(
        &self,
        office: Option<&Crpcen>,
        url: Option<&OwaUrl>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.set_owa_url(office, url, actor, at).await
    }

    async fn set_mailbox_logon(
        &self,
        address: &MailboxAddress,
        logon_name: Option<&LogonName>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Mailbox, Error> {
        self.db.set_mailbox_logon(address, logon_name, actor, at).await
    }

    // === Local accounts (`store/accounts.rs`) ===

    async fn set_mailbox_account(
        &self,
        mailbox: &Mailbox,
        workstation_id: Option<&WorkstationId>,
        account: Option<&LocalAccount>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.set_mailbox_account(mailbox, workstation_id, account, actor, at).await
    }

    async fn bound_accounts(
        &self,
        workstation_id: &WorkstationId,
    ) -> Result<HashMap<i64, LocalAccount>, Error> {
        self.db.bound_accounts(workstation_id.as_str()).await
    }

    // === Check-ins (`store/check_ins.rs`) ===

    async fn record_check_ins(
        &self,
        records: &[CheckInRecord],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        self.db.record_check_ins(records, at).await
    }

    async fn check_ins(&self, office: Option<&Crpcen>) -> Result<Vec<CheckInState>, Error> {
        self.db.check_ins(office).await
    }

    async fn assignments(&self, office: &Crpcen) -> Result<Vec<(String, AssignedMailbox)>, Error> {
        self.db.assignments(office).await
    }

    // === Compliance (`store/compliance.rs`) ===

    async fn compliance_policies(&self) -> Result<super::Policies, Error> {
        self.db.compliance_policies().await
    }

    async fn set_compliance_policy(
        &self,
        scope: super::PolicyScope<'_>,
        policy: Option<CompliancePolicy>,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.db.set_compliance_policy(scope, policy, actor, at).await
    }

    async fn sweep_compliance(&self, at: OffsetDateTime) -> Result<u64, Error> {
        self.db.sweep_compliance(at).await
    }

    async fn compliance_counts(
        &self,
        office: Option<&Crpcen>,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<OfficeCounts>, Error> {
        self.db.compliance_counts(office, at).await
    }

    async fn compliance_summary(&self, at: Option<OffsetDateTime>) -> Result<FleetSummary, Error> {
        self.db.compliance_summary(at).await
    }

    async fn compliance_mailboxes(
        &self,
        office: &Crpcen,
        at: Option<OffsetDateTime>,
    ) -> Result<Vec<MailboxStanding>, Error> {
        self.db.compliance_mailboxes(office, at).await
    }

    async fn compliance_mailbox_page(
        &self,
        office: Option<&Crpcen>,
        at: OffsetDateTime,
        after: Option<&MailboxAddress>,
        limit: u32,
    ) -> Result<Vec<MailboxStanding>, Error> {
        self.db.compliance_mailbox_page(office, at, after, limit).await
    }

    async fn compliance_office_page(
        &self,
        at: OffsetDateTime,
        after: Option<&Crpcen>,
        limit: u32,
    ) -> Result<Vec<OfficeCounts>, Error> {
        self.db.compliance_office_page(at, after, limit).await
    }

    async fn compliance_counts_between(
        &self,
        first: &Crpcen,
        last: &Crpcen,
        at: OffsetDateTime,
    ) -> Result<Vec<OfficeCounts>, Error> {
        self.db.compliance_counts_between(first, last, at).await
    }

    // === Audit (`store/audit.rs`) ===

    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, Error> {
        self.db.audit_head().await
    }

    async fn append_audit_event(
        &self,
        event: &AuditEvent,
        at: OffsetDateTime,
    ) -> Result<(i64, [u8; 32]), Error> {
        self.db.append_audit_event(event, at).await
    }

    async fn latest_audit_record(&self, action: &str) -> Result<Option<AuditRecord>, Error> {
        self.db.latest_audit_record(action).await
    }

    async fn audit_records(
        &self,
        office: Option<&Crpcen>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, Error> {
        self.db.audit_records(office, after_seq, limit).await
    }

    async fn insert_signed_head(&self, head: &SignedHead) -> Result<SignedHead, Error> {
        self.db.insert_signed_head(head).await
    }

    async fn signed_heads(&self, after_seq: i64, limit: u32) -> Result<Vec<SignedHead>, Error> {
        self.db.signed_heads(after_seq, limit).await
    }

    async fn latest_signed_head(&self) -> Result<Option<SignedHead>, Error> {
        self.db.latest_signed_head().await
    }

    // === Change notices between servers (`store/changes.rs`) ===

    fn shares_changes(&self) -> bool {
        D::SHARED
    }

    async fn notify_changed(&self, change: &Change) -> Result<(), Error> {
        D::notify_changed(self.db.writer(), &change.payload()).await
    }

    async fn listen_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, Error> {
        D::listen_changes(self.db.writer()).await
    }

    // === Operations ===

    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(self.db.reader()).await?;
        Ok(())
    }

    fn pool_usage(&self) -> PoolUsage {
        self.db.pool_usage()
    }

    // === Lifecycle ===

    async fn close(&self) {
        self.db.close().await
    }
}
