//! Offices and their mailboxes: registration, listings, and the all-or-nothing import, whose flow
//! (plan, missing offices, report, audit records) is written once; only its bulk statements are the
//! dialect's. [`OfficeStore`] is what the rest of the server calls; it is implemented here once for
//! both databases, on `Db<D>`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use sesame_store_macros::sql_impl;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::Error;
use super::db::Db;
use super::rows::{MAILBOX_COLUMNS, MailboxRow, OFFICE_SELECT, OfficeRow};
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::identifier::PageToken;
use crate::domain::office::{
    Crpcen, ImportReport, Mailbox, MailboxAddress, NewMailbox, NewOffice, Office,
};

/// Offices one statement of an office import registers.
const OFFICE_INSERT_ROWS: usize = 1_000;

/// Offices and their mailboxes; a part of [`Store`](super::Store).
#[async_trait]
pub trait OfficeStore: Send + Sync {
    /// Registers an office. [`Error::Conflict`] if its CRPCEN is taken.
    async fn create_office(
        &self,
        office: &NewOffice,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Office, Error>;

    /// Imports offices in one transaction: registers the new ones, updates those whose name (or
    /// city, where the row gives one) changed, leaves identical ones alone; one audit record per
    /// office written. With `dry_run` it only counts. The rows must have distinct CRPCENs.
    /// [`Error::Conflict`] (and nothing written) if another writer registered one of them
    /// meanwhile.
    async fn import_offices(
        &self,
        rows: &[NewOffice],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error>;

    /// One office, with its mailbox count. [`Error::NotFound`] if there is none.
    async fn get_office(&self, crpcen: &Crpcen) -> Result<Office, Error>;

    /// Every office, ordered by CRPCEN.
    async fn list_offices(&self) -> Result<Vec<Office>, Error>;

    /// Imports mailboxes in one transaction: creates the new ones, updates changed display names
    /// (and the logon names and default local accounts the rows give), leaves identical ones
    /// alone. With `dry_run` it only counts. The rows must have distinct
    /// addresses. [`Error::MissingOffices`] (and nothing written) if an office does not exist.
    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error>;

    /// Mailboxes ordered by address, of one office or of all, starting after the address `after`,
    /// at most `limit`.
    async fn list_mailboxes(
        &self,
        office: Option<&Crpcen>,
        after: Option<&PageToken>,
        limit: u32,
    ) -> Result<Vec<Mailbox>, Error>;

    /// One mailbox. [`Error::NotFound`] if there is none.
    async fn get_mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, Error>;
}

#[sql_impl]
impl<D> OfficeStore for Db<D> {
    async fn create_office(
        &self,
        office: &NewOffice,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<Office, Error> {
        let mut tx = self.writer().begin().await?;
        let city = office.city.as_ref().map(|c| c.as_str());
        sqlx::query("INSERT INTO offices (crpcen, name, city, created_at) VALUES ($1, $2, $3, $4)")
            .bind(office.crpcen.as_str())
            .bind(office.name.as_str())
            .bind(city)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "office.create",
            office: Some(office.crpcen.clone()),
            target: office.crpcen.to_string(),
            details: serde_json::json!({ "name": office.name.as_str(), "city": city }),
        };
        Self::commit(tx, &[event], at).await?;
        Ok(Office {
            crpcen: office.crpcen.clone(),
            name: office.name.to_string(),
            city: office.city.as_ref().map(ToString::to_string),
            mailbox_count: 0,
            created_at: at,
        })
    }

    async fn import_offices(
        &self,
        rows: &[NewOffice],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error> {
        let mut tx = self.writer().begin().await?;
        // Every registered office: a few hundred kilobytes for the whole country.
        let existing: HashMap<String, (String, Option<String>)> =
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT crpcen, name, city FROM offices",
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(crpcen, name, city)| (crpcen, (name, city)))
            .collect();
        let mut create = Vec::new();
        let mut update = Vec::new();
        let mut unchanged = 0;
        for row in rows {
            match existing.get(row.crpcen.as_str()) {
                None => create.push(row),
                Some((name, city))
                    if name == row.name.as_str()
                        && row
                            .city
                            .as_ref()
                            .is_none_or(|c| city.as_deref() == Some(c.as_str())) =>
                {
                    unchanged += 1
                }
                Some(_) => update.push(row),
            }
        }
        let report =
            ImportReport { created: create.len() as u64, updated: update.len() as u64, unchanged };
        if dry_run {
            return Ok(report);
        }
        // Several rows a statement: four parameters each, far below either database's limit.
        for chunk in create.chunks(OFFICE_INSERT_ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, $1)", 3 * i + 2, 3 * i + 3, 3 * i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO offices (crpcen, name, city, created_at) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at);
            for row in chunk {
                query = query
                    .bind(row.crpcen.as_str())
                    .bind(row.name.as_str())
                    .bind(row.city.as_ref().map(|c| c.as_str()));
            }
            query.execute(&mut *tx).await?;
        }
        for row in &update {
            sqlx::query(
                "UPDATE offices SET name = $2, city = COALESCE($3, city) WHERE crpcen = $1",
            )
            .bind(row.crpcen.as_str())
            .bind(row.name.as_str())
            .bind(row.city.as_ref().map(|c| c.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        let event = |action, row: &NewOffice, details| AuditEvent {
            actor: actor.clone(),
            action,
            office: Some(row.crpcen.clone()),
            target: row.crpcen.to_string(),
            details,
        };
        let mut events = Vec::with_capacity(create.len() + update.len());
        for row in &create {
            let city = row.city.as_ref().map(|c| c.as_str());
            let details =
                serde_json::json!({ "name": row.name.as_str(), "city": city, "import": true });
            events.push(event("office.create", row, details));
        }
        for row in &update {
            let (name, city) = &existing[row.crpcen.as_str()];
            let details = serde_json::json!({
                "name": row.name.as_str(),
                "city": row.city.as_ref().map_or(city.as_deref(), |c| Some(c.as_str())),
                "previous": { "name": name, "city": city },
                "import": true,
            });
            events.push(event("office.update", row, details));
        }
        Self::commit(tx, &events, at).await?;
        Ok(report)
    }

    async fn get_office(&self, crpcen: &Crpcen) -> Result<Office, Error> {
        let row: OfficeRow =
            sqlx::query_as(AssertSqlSafe(format!("{OFFICE_SELECT} WHERE o.crpcen = $1")))
                .bind(crpcen.as_str())
                .fetch_one(self.reader())
                .await?;
        row.try_into()
    }

    async fn list_offices(&self) -> Result<Vec<Office>, Error> {
        let rows: Vec<OfficeRow> =
            sqlx::query_as(AssertSqlSafe(format!("{OFFICE_SELECT} ORDER BY o.crpcen")))
                .fetch_all(self.reader())
                .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn list_mailboxes(
        &self,
        office: Option<&Crpcen>,
        after: Option<&PageToken>,
        limit: u32,
    ) -> Result<Vec<Mailbox>, Error> {
        let rows: Vec<MailboxRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes m \
             WHERE (CAST($1 AS TEXT) IS NULL OR m.office = $1) AND m.address > $2 \
             ORDER BY m.address LIMIT $3"
        )))
        .bind(office.map(Crpcen::as_str))
        .bind(after.map_or("", PageToken::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn get_mailbox(&self, address: &MailboxAddress) -> Result<Mailbox, Error> {
        let row: MailboxRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes m WHERE m.address = $1"
        )))
        .bind(address.as_str())
        .fetch_one(self.reader())
        .await?;
        row.try_into()
    }

    async fn import_mailboxes(
        &self,
        rows: &[NewMailbox],
        dry_run: bool,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<ImportReport, Error> {
        let mut tx = self.writer().begin().await?;
        let wanted = offices_of(rows);
        let found = D::registered_offices(&mut tx, &wanted).await?;
        let missing = missing_offices(&wanted, &found);
        if !missing.is_empty() {
            return Err(Error::MissingOffices(missing));
        }
        let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let existing: HashMap<String, (String, Option<String>)> =
            D::registered_mailboxes(&mut tx, &addresses)
                .await?
                .into_iter()
                .map(|(address, name, logon)| (address, (name, logon)))
                .collect();
        let defaults = if rows.iter().any(|r| r.local_account.is_some()) {
            Self::default_accounts(&mut tx).await?
        } else {
            HashMap::new()
        };
        let plan = ImportPlan::new(rows, &existing, &defaults);
        if dry_run {
            return Ok(plan.report());
        }
        if !plan.create.is_empty() {
            D::insert_mailboxes(&mut tx, &plan.create, at).await?;
            let offices: BTreeSet<&str> =
                plan.create.iter().map(|r| r.address.office().as_str()).collect();
            let offices: Vec<&str> = offices.into_iter().collect();
            Self::assess_registered(&mut tx, &offices, at).await?;
        }
        if !plan.update.is_empty() {
            D::rename_mailboxes(&mut tx, &plan.update, at).await?;
        }
        if !plan.accounts.is_empty() {
            Self::import_accounts(&mut tx, &plan.accounts, actor, at).await?;
        }
        sesame_base::failpoint::hit("import:in-transaction")
            .map_err(|e| Error::Unavailable(Box::new(e)))?;
        Self::commit(tx, &plan.audit_events(actor), at).await?;
        Ok(plan.report())
    }
}

/// What an import will do, worked out from the rows and the mailboxes already registered.
#[derive(Debug)]
struct ImportPlan<'a> {
    create: Vec<&'a NewMailbox>,
    update: Vec<&'a NewMailbox>,
    /// The rows (created or updated) whose default account changes.
    accounts: Vec<&'a NewMailbox>,
    unchanged: u64,
}

impl<'a> ImportPlan<'a> {
    fn new(
        rows: &'a [NewMailbox],
        existing: &HashMap<String, (String, Option<String>)>,
        defaults: &HashMap<String, String>,
    ) -> ImportPlan<'a> {
        let mut plan = ImportPlan {
            create: Vec::new(),
            update: Vec::new(),
            accounts: Vec::new(),
            unchanged: 0,
        };
        for row in rows {
            let account_changes = row.local_account.as_ref().is_some_and(|a| {
                defaults.get(row.address.as_str()).map(String::as_str) != Some(a.as_str())
            });
            if account_changes {
                plan.accounts.push(row);
            }
            match existing.get(row.address.as_str()) {
                None => plan.create.push(row),
                Some((name, logon))
                    if name == row.display_name.as_str()
                        && row
                            .logon_name
                            .as_ref()
                            .is_none_or(|n| logon.as_deref() == Some(n.as_str()))
                        && !account_changes =>
                {
                    plan.unchanged += 1
                }
                Some(_) => plan.update.push(row),
            }
        }
        plan
    }

    fn report(&self) -> ImportReport {
        ImportReport {
            created: self.create.len() as u64,
            updated: self.update.len() as u64,
            unchanged: self.unchanged,
        }
    }

    /// One audit event per office touched, listing the addresses created and updated, and the
    /// logon names and default accounts the import set.
    fn audit_events(&self, actor: &Actor) -> Vec<AuditEvent> {
        type Lists<'b> =
            (Vec<&'b str>, Vec<&'b str>, BTreeMap<&'b str, &'b str>, BTreeMap<&'b str, &'b str>);
        let mut by_office: BTreeMap<&Crpcen, Lists<'_>> = BTreeMap::new();
        for (row, created) in
            self.create.iter().map(|r| (r, true)).chain(self.update.iter().map(|r| (r, false)))
        {
            let entry = by_office.entry(row.address.office()).or_default();
            if created {
                entry.0.push(row.address.as_str());
            } else {
                entry.1.push(row.address.as_str());
            }
            if let Some(logon) = &row.logon_name {
                entry.2.insert(row.address.as_str(), logon.as_str());
            }
        }
        for row in &self.accounts {
            if let Some(account) = &row.local_account {
                let entry = by_office.entry(row.address.office()).or_default();
                entry.3.insert(row.address.as_str(), account.as_str());
            }
        }
        by_office
            .into_iter()
            .map(|(office, (created, updated, logon_names, accounts))| {
                let mut details = serde_json::json!({ "created": created, "updated": updated });
                if !logon_names.is_empty() {
                    details["logon_names"] = serde_json::json!(logon_names);
                }
                if !accounts.is_empty() {
                    details["local_accounts"] = serde_json::json!(accounts);
                }
                AuditEvent {
                    actor: actor.clone(),
                    action: "mailbox.import",
                    office: Some(office.clone()),
                    target: office.to_string(),
                    details,
                }
            })
            .collect()
    }
}

/// The distinct offices named by import rows.
fn offices_of(rows: &[NewMailbox]) -> Vec<String> {
    let set: BTreeSet<&str> = rows.iter().map(|r| r.address.office().as_str()).collect();
    set.into_iter().map(str::to_owned).collect()
}

/// The offices in `wanted` that are not in `found`.
fn missing_offices(wanted: &[String], found: &[String]) -> Vec<Crpcen> {
    wanted.iter().filter(|w| !found.contains(w)).filter_map(|w| Crpcen::parse(w).ok()).collect()
}
