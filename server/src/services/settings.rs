//! Settings administrators manage: the OWA address agents are told to use (a global value, default
//! [`DEFAULT_OWA_URL`](crate::domain::settings::DEFAULT_OWA_URL), and per-office overrides), and
//! mailboxes' logon names. Every change is audited by the store.

use crate::domain::admin::{Admin, Permission};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, Mailbox, MailboxAddress};
use crate::domain::settings::{LogonName, OwaUrl};
use crate::services::access::authorize;
use crate::services::{Error, Services};
use crate::store::{self, Change};

/// The OWA address as configured for one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwaUrlSetting {
    /// The global address (the default when never set).
    pub global: OwaUrl,
    /// The office's override, when an office was asked and it has one.
    pub office: Option<OwaUrl>,
}

impl OwaUrlSetting {
    /// What the office's agents get: its override, else the global address.
    pub fn effective(&self) -> &OwaUrl {
        self.office.as_ref().unwrap_or(&self.global)
    }
}

impl Services {
    /// The OWA address: the global one and, with an office, its override. Anyone may read the
    /// global one; an office's needs read access to it.
    pub async fn get_owa_url(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
    ) -> Result<OwaUrlSetting, Error> {
        if let Some(office) = office {
            authorize(admin, Permission::Read(Some(office)))?;
        }
        self.owa_url_setting(office).await
    }

    /// The OWA address of an office (or the global one), without authorization: for agents and
    /// for services that authorized already. Kept in the cache (`services::cache`) until a change
    /// of any OWA address.
    pub(crate) async fn owa_url_setting(
        &self,
        office: Option<&Crpcen>,
    ) -> Result<OwaUrlSetting, Error> {
        let key = office.map_or("", Crpcen::as_str);
        let now = self.clock.now();
        let live = self.caches.live();
        if live && let Some(setting) = self.caches.owa.get(key, now) {
            return Ok(setting);
        }
        let ticket = self.caches.owa.ticket();
        let setting = match self.store.owa_urls(office).await {
            Ok((global, own)) => {
                OwaUrlSetting { global: global.unwrap_or_else(OwaUrl::default_url), office: own }
            }
            Err(store::Error::NotFound) => return Err(Error::office_not_found(office)),
            Err(other) => return Err(other.into()),
        };
        if live {
            self.caches.owa.insert(key.to_owned(), setting.clone(), now, ticket);
        }
        Ok(setting)
    }

    /// Sets the global OWA address (global administrators) or an office's override (its
    /// administrators); `None` removes an office's override. The global address cannot be
    /// removed.
    pub async fn set_owa_url(
        &self,
        admin: &Admin,
        office: Option<&Crpcen>,
        url: Option<&OwaUrl>,
    ) -> Result<(), Error> {
        match office {
            Some(office) => authorize(admin, Permission::Write(office))?,
            None => authorize(admin, Permission::Global)?,
        }
        if office.is_none() && url.is_none() {
            return Err(Error::invalid("url: the global OWA address cannot be removed"));
        }
        match self.store.set_owa_url(office, url, &Actor::admin(admin), self.clock.now()).await {
            Ok(()) => self.changed(Change::OwaUrl).await,
            Err(store::Error::NotFound) => return Err(Error::office_not_found(office)),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(
            admin = %admin.name,
            office = office.map_or("global", Crpcen::as_str),
            url = url.map_or("(removed)", OwaUrl::as_str),
            "OWA address set"
        );
        Ok(())
    }

    /// Sets (or with `None` clears) a mailbox's logon name.
    pub async fn set_mailbox_logon(
        &self,
        admin: &Admin,
        address: &MailboxAddress,
        logon_name: Option<&LogonName>,
    ) -> Result<Mailbox, Error> {
        authorize(admin, Permission::Write(address.office()))?;
        match self
            .store
            .set_mailbox_logon(address, logon_name, &Actor::admin(admin), self.clock.now())
            .await
        {
            Ok(mailbox) => Ok(mailbox),
            Err(store::Error::NotFound) => {
                Err(Error::NotFound(format!("mailbox {address} does not exist")))
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests;
