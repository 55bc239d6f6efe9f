//! Offices and their mailboxes: registering and reading offices, listing mailboxes a page at a
//! time, and importing them (the import's rules are in `import`); importing offices
//! (`office_import`).

mod import;
mod office_import;
#[cfg(test)]
mod tests;

pub use self::import::{MAX_IMPORT_ROWS, MailboxImport, RawMailboxRow};
pub use self::office_import::{OfficeImport, RawOfficeRow};

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::identifier::PageToken;
use crate::domain::office::{Crpcen, Mailbox, MailboxAddress, NewOffice, Office};
use crate::services::access::{self, authorize};
use crate::services::{Error, Services};
use crate::store;

/// Default page of mailboxes.
pub const DEFAULT_MAILBOX_PAGE: u32 = 1_000;
/// Largest page of mailboxes.
pub const MAX_MAILBOX_PAGE: u32 = 5_000;

/// Which page of mailboxes to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxPageRequest {
    /// At most this many (`None`: [`DEFAULT_MAILBOX_PAGE`]; never more than [`MAX_MAILBOX_PAGE`]).
    pub size: Option<u32>,
    /// The token of the previous page, if this is not the first.
    pub after: Option<PageToken>,
}

/// A page of mailboxes, ordered by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPage {
    /// The mailboxes.
    pub mailboxes: Vec<Mailbox>,
    /// The token of the next page; `None` on the last one.
    pub next: Option<String>,
}

impl Services {
    /// Registers an office (global administrators only).
    pub async fn create_office(&self, admin: &Admin, office: &NewOffice) -> Result<Office, Error> {
        authorize(admin, Permission::Global)?;
        let created =
            match self.store.create_office(office, &Actor::admin(admin), self.clock.now()).await {
                Ok(created) => created,
                Err(store::Error::Conflict) => {
                    return Err(Error::AlreadyExists(format!(
                        "office {} already exists",
                        office.crpcen
                    )));
                }
                Err(other) => return Err(other.into()),
            };
        tracing::info!(admin = %admin.name, crpcen = %created.crpcen, "office created");
        // No notice to other servers: their overviews catch up within `OVERVIEW_TTL`.
        self.caches.overviews.clear();
        Ok(created)
    }

    /// One office the administrator may read.
    pub async fn get_office(&self, admin: &Admin, crpcen: &Crpcen) -> Result<Office, Error> {
        authorize(admin, Permission::Read(Some(crpcen)))?;
        self.existing_office(crpcen).await
    }

    /// The offices the administrator may read, ordered by CRPCEN.
    pub async fn list_offices(&self, admin: &Admin) -> Result<Vec<Office>, Error> {
        let mut offices = self.store.list_offices().await?;
        if let Some(scope) = admin.read_scope() {
            offices.retain(|o| scope.contains(&o.crpcen));
        }
        Ok(offices)
    }

    /// A page of the mailboxes of one office (or of every office the administrator may read).
    pub async fn list_mailboxes(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        page: &MailboxPageRequest,
    ) -> Result<MailboxPage, Error> {
        let scope = access::listing_scope(admin, office)?;
        if let Some(office) = office {
            self.existing_office(office).await?;
        }
        let page_size = match page.size {
            None => DEFAULT_MAILBOX_PAGE,
            Some(n) if n <= MAX_MAILBOX_PAGE => n,
            Some(_) => {
                return Err(Error::invalid(format!("page_size: at most {MAX_MAILBOX_PAGE}")));
            }
        };
        let after = page.after.as_ref();
        let mut mailboxes = Vec::new();
        for office in &scope {
            mailboxes.extend(self.store.list_mailboxes(office.as_ref(), after, page_size).await?);
        }
        // Several offices: merge their pages and keep the first `page_size` addresses.
        mailboxes.sort_by(|a, b| a.address.as_str().cmp(b.address.as_str()));
        mailboxes.truncate(page_size as usize);
        let next = if mailboxes.len() == page_size as usize {
            mailboxes.last().map(|m| m.address.to_string())
        } else {
            None
        };
        Ok(MailboxPage { mailboxes, next })
    }

    /// The office, or [`Error::NotFound`] naming it. Callers authorize first.
    pub(crate) async fn existing_office(&self, crpcen: &Crpcen) -> Result<Office, Error> {
        match self.store.get_office(crpcen).await {
            Ok(office) => Ok(office),
            Err(store::Error::NotFound) => {
                Err(Error::NotFound(format!("office {crpcen} does not exist")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The mailbox, or [`Error::NotFound`] naming it. Callers authorize first.
    pub(crate) async fn existing_mailbox(
        &self,
        address: &MailboxAddress,
    ) -> Result<Mailbox, Error> {
        match self.store.get_mailbox(address).await {
            Ok(mailbox) => Ok(mailbox),
            Err(store::Error::NotFound) => {
                Err(Error::NotFound(format!("mailbox {address} does not exist")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Every mailbox of an office, read a page at a time. Callers authorize first.
    pub(crate) async fn office_mailboxes(&self, office: &Crpcen) -> Result<Vec<Mailbox>, Error> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|m: &Mailbox| PageToken::following(&m.address));
            let page =
                self.store.list_mailboxes(Some(office), after.as_ref(), MAX_MAILBOX_PAGE).await?;
            let done = page.len() < MAX_MAILBOX_PAGE as usize;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}
