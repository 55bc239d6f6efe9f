//! What the services' tests share: [`Services`] on a test database (bare, or in a [`Fixture`]
//! that owns its throw-away directory), administrators, parsed values, and agents that hold a real
//! key and enroll with it.

use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::data_dir::DataDir;
use crate::domain::admin::{Admin, AdminRole, NewAdmin};
use crate::domain::audit::Actor;
use crate::domain::office::{Crpcen, MailDomain, MailboxAddress, NewMailbox, NewOffice, Text};
use crate::domain::token::{Token, TokenKind};
use crate::domain::workstation::{AgentPolicy, MachineInfo};
use crate::keys::audit_signing::AuditSigningKey;
use crate::keys::escrow::EscrowKey;
use crate::keys::pki::{self, AgentCertificate};
use crate::services::Services;
use crate::services::audit::AuditTrail;
use crate::services::audit::shipping::Shipping;
use crate::services::check_in_writer::CheckInWriter;
use crate::services::enrollment::{Enrolled, enrollment_token};
use crate::services::offices::RawMailboxRow;
use crate::services::workstations::recovery::recovery_message;
use crate::store::SharedStore;
use crate::store::test_support::TestDatabase;
use sesame_base::clock::ManualClock;

/// When the tests start.
pub(crate) const T0: OffsetDateTime = datetime!(2026-11-25 09:30:00.123456 UTC);
/// How long provisional passwords stay valid in the tests.
pub(crate) const VALIDITY: Duration = Duration::days(14);
/// The rotation period in the tests.
pub(crate) const PERIOD: Duration = Duration::days(90);

/// Services on `store`, with their TLS material in `dir`.
pub(crate) fn services(store: SharedStore, clock: &ManualClock, dir: &Path) -> Services {
    let data_dir = DataDir::create(dir).unwrap();
    let clock: sesame_base::clock::SharedClock = Arc::new(clock.clone());
    // Never flushed in the background: reads flush, and so do tests that read the store.
    let check_in_writer =
        CheckInWriter::for_store(store.clone(), clock.clone(), std::time::Duration::from_secs(1));
    Services {
        caches: crate::services::cache::Caches::new(Default::default(), store.shares_changes()),
        store,
        clock,
        mail_domain: MailDomain::default(),
        pki: Arc::new(pki::load_or_create(&data_dir, &["localhost".into()], T0).unwrap()),
        agents: AgentPolicy::default(),
        escrow: EscrowKey::from_bytes(&[7; 32]).unwrap(),
        provisional_validity: VALIDITY,
        rotation_period: PERIOD,
        audit: AuditTrail {
            key: AuditSigningKey::from_seed(&[9; 32]).unwrap(),
            head_file: data_dir.audit_head(),
            sign_interval: std::time::Duration::from_secs(300),
            shipping: Shipping::default(),
        },
        check_in_writer,
        sign_in_limiter: crate::services::web_access::SignInLimiter::default(),
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
    RawMailboxRow {
        line,
        address: address.into(),
        display_name: name.into(),
        logon_name: String::new(),
        local_account: String::new(),
    }
}

/// Services over a fresh database, with a clock the test moves.
pub(crate) struct Fixture {
    pub(crate) services: Services,
    pub(crate) clock: ManualClock,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A fresh database, CA and escrow key, at [`T0`], with the default agent policy.
    pub(crate) async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = TestDatabase::sqlite(dir.path()).open().await;
        let clock = ManualClock::new(T0);
        let services = services(store, &clock, &dir.path().join("data"));
        Fixture { services, clock, _dir: dir }
    }

    /// Registers an office.
    pub(crate) async fn office(&self, crpcen: &str) -> Crpcen {
        let office = NewOffice {
            crpcen: Crpcen::parse(crpcen).unwrap(),
            name: Text::parse("name", "Office").unwrap(),
            city: None,
        };
        self.services.store.create_office(&office, &Actor::system(), T0).await.unwrap().crpcen
    }

    /// Creates an administrator.
    pub(crate) async fn admin(&self, name: &str, role: AdminRole, offices: &[&Crpcen]) -> Admin {
        let admin = NewAdmin {
            name: name.to_owned(),
            role,
            offices: offices.iter().map(|&o| o.clone()).collect(),
            token_hash: Token::generate(TokenKind::Admin).hash(),
        };
        self.services.store.create_admin(&admin, &Actor::system(), T0).await.unwrap()
    }

    /// Registers a mailbox (its office must exist).
    pub(crate) async fn mailbox(&self, address: &str) -> MailboxAddress {
        let address = MailboxAddress::parse(address, &MailDomain::default()).unwrap();
        let row = NewMailbox {
            address: address.clone(),
            display_name: Text::parse("n", "N").unwrap(),
            logon_name: None,
            local_account: None,
        };
        self.services.store.import_mailboxes(&[row], false, &Actor::system(), T0).await.unwrap();
        address
    }

    /// Enrolls a new agent into `office` (with a token `admin` creates), as the agent would.
    pub(crate) async fn enroll(&self, admin: &Admin, office: &Crpcen) -> (Agent, Enrolled) {
        enroll(&self.services, admin, office).await
    }
}

/// Enrolls a new agent into `office` (with a token `admin` creates), as the agent would.
pub(crate) async fn enroll(
    services: &Services,
    admin: &Admin,
    office: &Crpcen,
) -> (Agent, Enrolled) {
    let created = services.create_enrollment_token(admin, office, None, None).await.unwrap();
    let agent = Agent::new();
    let token = enrollment_token(created.token.expose().to_owned().into(), None).unwrap();
    let enrolled = services.enroll(&token, machine(), agent.public_key(), None).await.unwrap();
    (agent, enrolled)
}

/// What a test agent reports about its machine.
pub(crate) fn machine() -> MachineInfo {
    MachineInfo {
        hostname: Text::parse("hostname", "PC-ACCUEIL").unwrap(),
        os: Text::parse("os", "Windows 11").unwrap(),
        agent_version: Text::parse("agent_version", "0.1.0").unwrap(),
    }
}

/// An agent's key pair, as the real agent makes it.
pub(crate) struct Agent {
    key: KeyPair,
}

impl Agent {
    /// A new ECDSA P-256 key.
    pub(crate) fn new() -> Agent {
        Agent { key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap() }
    }

    /// A certificate signing request for the key, in PEM.
    pub(crate) fn csr_pem(&self) -> String {
        CertificateParams::default().serialize_request(&self.key).unwrap().pem().unwrap()
    }

    /// The registered public key, read from the signing request as the server does.
    pub(crate) fn public_key(&self) -> Vec<u8> {
        pki::csr_public_key(&self.csr_pem()).unwrap()
    }

    /// The answer to a recovery challenge for workstation `id`.
    pub(crate) fn sign_recovery(&self, id: &str, challenge: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &self.key.serialize_der(),
            &rng,
        )
        .unwrap();
        signer.sign(&rng, &recovery_message(id, challenge)).unwrap().as_ref().to_vec()
    }
}

/// A certificate as TLS presents it: DER.
pub(crate) fn der(certificate: &AgentCertificate) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(certificate.pem.as_bytes()).unwrap().1.contents
}
