//! What the services' tests share: a [`Services`] on a test database, administrators, and parsed
//! values.

use std::path::Path;
use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::admin::{Admin, AdminRole, NewAdmin};
use crate::audit::Actor;
use crate::clock::ManualClock;
use crate::data_dir::DataDir;
use crate::domain::{Crpcen, MailDomain, MailboxAddress, NewOffice, Text};
use crate::escrow::EscrowKey;
use crate::services::Services;
use crate::services::offices::RawMailboxRow;
use crate::store::SharedStore;
use crate::token::{Token, TokenKind};
use crate::workstation::AgentPolicy;

/// When the tests start.
pub(crate) const T0: OffsetDateTime = datetime!(2026-11-25 09:30:00.123456 UTC);
/// How long provisional passwords stay valid in the tests.
pub(crate) const VALIDITY: Duration = Duration::days(14);

/// Services on `store`, with their TLS material in `dir`.
pub(crate) fn services(store: SharedStore, clock: &ManualClock, dir: &Path) -> Services {
    let data_dir = DataDir::create(dir).unwrap();
    Services {
        store,
        clock: Arc::new(clock.clone()),
        mail_domain: MailDomain::default(),
        pki: Arc::new(crate::pki::load_or_create(&data_dir, &["localhost".into()], T0).unwrap()),
        agents: AgentPolicy::default(),
        escrow: EscrowKey::from_bytes(&[7; 32]).unwrap(),
        provisional_validity: VALIDITY,
    }
}

/// Creates an administrator in the store (its offices must exist) and authenticates it.
pub(crate) async fn admin(
    services: &Services,
    name: &str,
    role: AdminRole,
    offices: &[&str],
) -> Admin {
    let token = Token::generate(TokenKind::Admin);
    let new = NewAdmin {
        name: name.into(),
        role,
        offices: offices.iter().map(|o| crpcen(o)).collect(),
        token_hash: token.hash(),
    };
    services.store.create_admin(&new, &Actor::system(), T0).await.unwrap();
    services.authenticate_admin(&token).await.unwrap()
}

/// A CRPCEN.
pub(crate) fn crpcen(value: &str) -> Crpcen {
    Crpcen::parse(value).unwrap()
}

/// An office to create.
pub(crate) fn new_office(code: &str, name: &str) -> NewOffice {
    NewOffice { crpcen: crpcen(code), name: Text::parse("name", name).unwrap(), city: None }
}

/// A mailbox address under the default domain.
pub(crate) fn address(value: &str) -> MailboxAddress {
    MailboxAddress::parse(value, &MailDomain::default()).unwrap()
}

/// An import row.
pub(crate) fn row(line: u64, address: &str, name: &str) -> RawMailboxRow {
    RawMailboxRow { line, address: address.into(), display_name: name.into() }
}
