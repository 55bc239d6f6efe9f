//! Start-up, beside [`Server::prepare`](crate::Server::prepare): opening the data directory, the
//! database and the certificates; the audit trail's signing key (checked against the chain, never
//! replaced quietly) and shipping; the administrators made on the host (the bootstrap one, and
//! `sesame-server admin create`) with their credentials files. It reaches the store only to hand
//! it to a service (tidy `start_up_does_not_reach_the_store`).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::domain::admin::{AdminRole, NewAdmin};
use crate::domain::audit::Actor;
use crate::domain::token::{Token, TokenKind};
use crate::keys::audit_signing::AuditSigningKey;
use crate::keys::pki::Pki;
use crate::services::admins::provisioning::{self, Bootstrap};
use crate::services::audit::AuditTrail;
use crate::services::audit::shipping::{ShipTarget, Shipping};
use crate::store::{AdminStore, AuditStore, SharedStore, StoreOptions};
use crate::{StartError, domain, keys, services, store};
use sesame_base::clock::SharedClock;
use sesame_base::credentials::Credentials;

/// The audit trail's key, signed-head file and shipping, from the configuration.
pub(crate) async fn audit_trail(
    config: &Config,
    data_dir: &DataDir,
    store: &dyn AuditStore,
) -> Result<AuditTrail, StartError> {
    let key = checked_audit_signing_key(config, data_dir, store).await?;
    let file = config
        .audit
        .ship_file
        .clone()
        .map(|path| ShipTarget { path, position: data_dir.audit_file_position() });
    let syslog = config.audit.ship_syslog.then(|| ShipTarget {
        path: config.audit.syslog_socket.clone(),
        position: data_dir.audit_syslog_position(),
    });
    Ok(AuditTrail {
        key,
        head_file: data_dir.audit_head(),
        sign_interval: config.audit.sign_interval,
        shipping: Shipping { file, syslog },
    })
}

/// Loads the audit signing key: the configured file, or the data directory's (created there on
/// first start when `create`).
fn audit_signing_key(
    config: &Config,
    data_dir: &DataDir,
    create: bool,
) -> Result<AuditSigningKey, StartError> {
    Ok(match &config.audit.signing_key_file {
        Some(path) => AuditSigningKey::load_or_create(path, false)?,
        None => AuditSigningKey::load_or_create(&data_dir.audit_signing_key(), create)?,
    })
}

/// The audit signing key file the configuration names, or the data directory's.
fn audit_signing_key_file(config: &Config, data_dir: &DataDir) -> PathBuf {
    config.audit.signing_key_file.clone().unwrap_or_else(|| data_dir.audit_signing_key())
}

/// Loads the audit signing key, which must be the chain's once the database holds signed heads:
/// a missing or different key file stops the start with what to do, never replaced quietly. A
/// database with nothing signed yet gets a new key, as on first start.
async fn checked_audit_signing_key(
    config: &Config,
    data_dir: &DataDir,
    store: &dyn AuditStore,
) -> Result<AuditSigningKey, StartError> {
    let Some(chain) = services::audit::key_rotation::chain_key(store).await? else {
        return audit_signing_key(config, data_dir, true);
    };
    let path = audit_signing_key_file(config, data_dir);
    let shown = || path.display().to_string();
    match AuditSigningKey::load(&path) {
        Ok(key) if key.id() == chain.key_id => Ok(key),
        Ok(key) => {
            let waiting = services::audit::key_rotation::pending_key_file(&path, &chain.key_id);
            let pending = if waiting.exists() {
                format!(
                    ". A rotation was interrupted after it was recorded: {} holds key {}; \
                     rename it to {}",
                    waiting.display(),
                    chain.key_id,
                    shown()
                )
            } else {
                String::new()
            };
            Err(StartError::AuditKeyMismatch {
                path: shown(),
                found: key.id().to_owned(),
                expected: chain.key_id,
                data_dir: data_dir.root().display().to_string(),
                pending,
            })
        }
        Err(error) if error.is_missing() => Err(StartError::AuditKeyMissing {
            path: shown(),
            expected: chain.key_id,
            data_dir: data_dir.root().display().to_string(),
        }),
        Err(error) => Err(error.into()),
    }
}

/// Rotates the audit signing key (for `sesame-server audit rotate-key`, run on the server host
/// with the servers stopped): see `services::audit::key_rotation`.
pub async fn rotate_audit_key(
    config: &Config,
    clock: SharedClock,
) -> Result<services::audit::key_rotation::RotatedKey, StartError> {
    let (data_dir, store, _) = open(config, 1, &clock).await?;
    let key_file = audit_signing_key_file(config, &data_dir);
    let rotated = services::audit::key_rotation::rotate_key(
        store.as_ref(),
        &key_file,
        &data_dir.audit_head(),
        Actor::system(),
        clock.now(),
    )
    .await;
    store.close().await;
    Ok(rotated?)
}

/// The audit signing key's id and public key (for `sesame-server audit public-key`), from the key
/// file the server uses; never creates one (a wrong data directory is named, not given a new key).
pub fn audit_public_key(config: &Config) -> Result<(String, Vec<u8>), StartError> {
    let key = audit_signing_key(config, &DataDir::at(&config.data_dir), false)?;
    Ok((key.id().to_owned(), key.public_key().to_vec()))
}

/// What every start-up needs: the data directory, the migrated database and the TLS material.
pub(crate) async fn open(
    config: &Config,
    max_connections: u32,
    clock: &SharedClock,
) -> Result<(DataDir, SharedStore, Pki), StartError> {
    let data_dir = DataDir::create(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let store = store::connect(&StoreOptions {
        url: config.effective_database_url(),
        max_connections,
        acquire_timeout: config.acquire_timeout,
    })
    .await?;
    let pki = keys::pki::load_or_create(&data_dir, &config.tls_names, clock.now())?;
    Ok((data_dir, store, pki))
}

/// The credentials file contents for an administrator's new token.
fn admin_credentials(name: &str, token: &Token, pki: &Pki, address: SocketAddr) -> Credentials {
    Credentials {
        server: advertised_url(address),
        admin: name.to_owned(),
        token: secrecy::SecretString::from(token.expose().to_owned()),
        ca_certificate: pki.ca_cert_pem.clone(),
    }
}

/// Why an administrator could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The server could not start far enough to reach its database and CA.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The request was refused (inconsistent, name taken, unknown office).
    #[error(transparent)]
    Refused(#[from] services::admins::provisioning::Refusal),
}

/// Creates an administrator (for `sesame-server admin create`, run on the server host) and writes
/// its credentials file.
pub async fn provision_admin(
    config: &Config,
    name: &str,
    role: AdminRole,
    offices: Vec<domain::office::Crpcen>,
    out: &std::path::Path,
    clock: SharedClock,
) -> Result<Credentials, ProvisionError> {
    provisioning::check_new_admin(name, role, &offices)?;
    let (_, store, pki) = open(config, 1, &clock).await?;
    let token = Token::generate(TokenKind::Admin);
    let admin = NewAdmin { name: name.to_owned(), role, offices, token_hash: token.hash() };
    let credentials = admin_credentials(name, &token, &pki, config.listen);
    let created = provisioning::create_admin(store.as_ref(), &admin, clock.now()).await;
    store.close().await;
    created?;
    credentials.write(out).map_err(StartError::from)?;
    Ok(credentials)
}

/// The URL clients use for a listening address (loopback for an unspecified address).
fn advertised_url(address: SocketAddr) -> String {
    let host = match address.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("https://{host}:{}", address.port())
}

/// On a database without an active global administrator, creates `bootstrap` (once) and writes its
/// credentials file.
pub(crate) async fn bootstrap_admin(
    store: &dyn AdminStore,
    data_dir: &DataDir,
    pki: &Pki,
    advertised: SocketAddr,
    clock: &SharedClock,
) -> Result<Option<PathBuf>, StartError> {
    match provisioning::bootstrap_needed(store).await? {
        Bootstrap::NotNeeded => return Ok(None),
        Bootstrap::Exhausted => {
            tracing::warn!(
                "no active global administrator: create one with `sesame-server admin create NAME --role global --out FILE`"
            );
            return Ok(None);
        }
        Bootstrap::Create => {}
    }
    let token = Token::generate(TokenKind::Admin);
    let credentials = admin_credentials(provisioning::BOOTSTRAP_NAME, &token, pki, advertised);
    // The file is written before the administrator exists, so that a crash in between leaves a
    // useless file (replaced at the next start) rather than an administrator nobody can use.
    let path = data_dir.admin_credentials();
    credentials.write(&path)?;
    match provisioning::create_bootstrap(store, token.hash(), clock.now()).await {
        Ok(true) => {}
        Ok(false) => {
            // Another server sharing the database bootstrapped first; its data directory has the file.
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        Err(other) => {
            let _ = std::fs::remove_file(&path);
            return Err(other.into());
        }
    }
    tracing::info!(path = %path.display(), "created the bootstrap administrator");
    Ok(Some(path))
}
