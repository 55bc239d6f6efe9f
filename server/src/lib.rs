//! The Sesame server: registers notarial offices and their MAILNOT mailboxes, and serves the
//! administration and agent APIs over gRPC with TLS.
//!
//! [`Server::prepare`] does everything that can fail at start-up (data directory, database and
//! migrations, certificates, bootstrap administrator); [`Server::serve_with`] then runs on the
//! listeners the caller bound (gRPC, and the operations endpoint if any), until the shutdown
//! future resolves. The `sesame-server` binary and every test go through these two calls.
//!
//! The modules are layers, each using only those before it: [`domain`] (types and rules, no
//! input or output), [`keys`] with [`data_dir`] (the secrets kept outside the database), [`store`]
//! (the database), [`services`] (every operation, whichever edge asks) and the edges: gRPC, and
//! `ops` (metrics, liveness and readiness over plain HTTP). Start-up ([`config`] and this root)
//! wires them together. ARCHITECTURE.md has the map.

pub mod config;
pub mod data_dir;
pub mod descriptors;
pub mod domain;
mod grpc;
pub mod keys;
mod ops;
pub mod services;
mod startup;
pub mod store;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use crate::config::Config;
use crate::descriptors::ListenerCaps;
pub use crate::grpc::ServeError;
use crate::services::audit::shipping::Sink;
use sesame_base::clock::SharedClock;
use sesame_base::credentials;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database")]
    Store(#[from] store::Error),
    /// The certificates could not be loaded or made.
    #[error("cannot set up TLS")]
    Pki(#[from] keys::pki::Error),
    /// The escrow key could not be loaded or created.
    #[error("cannot load the escrow key")]
    Escrow(#[from] keys::escrow::EscrowError),
    /// The audit signing key could not be loaded or created.
    #[error("cannot load the audit signing key")]
    AuditKey(#[from] keys::audit_signing::AuditKeyError),
    /// The database holds signed heads, and the audit signing key file is missing.
    #[error(
        "the audit signing key file {path} is missing, but the database holds audit heads signed \
         by key {expected}. Restore the file from the backup of the data directory {data_dir} \
         (or copy it from another server sharing this database), then start again. Only if the \
         key is truly lost, run `sesame-server audit rotate-key` with this configuration: it \
         records in the audit trail that key {expected} was lost and starts a new key; auditors \
         will see that rotation, and the signatures of the heads signed by the lost key can no \
         longer be checked"
    )]
    AuditKeyMissing {
        /// The key file.
        path: String,
        /// The key the chain expects.
        expected: String,
        /// The data directory.
        data_dir: String,
    },
    /// The database holds signed heads, and the audit signing key file holds another key.
    #[error(
        "the audit signing key file {path} holds key {found}, but the audit trail's key is \
         {expected}. Put the right file back: restore it from the backup of the data directory \
         {data_dir}, or copy it from the server where `sesame-server audit rotate-key` was last \
         run{pending}. Only if key {expected} is truly lost, run `sesame-server audit rotate-key` \
         with this configuration: it records in the audit trail that the key was lost and starts \
         a new one, which auditors will see"
    )]
    AuditKeyMismatch {
        /// The key file.
        path: String,
        /// The key it holds.
        found: String,
        /// The key the chain expects.
        expected: String,
        /// The data directory.
        data_dir: String,
        /// A hint naming the waiting file of an interrupted rotation, or empty.
        pending: String,
    },
    /// The audit signing key could not be rotated.
    #[error("cannot rotate the audit signing key")]
    AuditKeyRotation(#[from] services::audit::key_rotation::KeyRotationError),
    /// The bootstrap credentials could not be written.
    #[error("cannot write the bootstrap administrator's credentials")]
    Credentials(#[from] credentials::Error),
}

/// A server ready to serve: database open, certificates loaded.
#[derive(Debug)]
pub struct Server {
    state: Arc<services::Services>,
    bootstrap_credentials: Option<PathBuf>,
    caps: ListenerCaps,
    handshakes: grpc::tls::HandshakeLimits,
    metrics_refresh: std::time::Duration,
    dashboard_connections: usize,
}

/// The listeners a server runs on, bound by the caller.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC over TLS (administrators and agents).
    pub grpc: TcpListener,
    /// The operations endpoint (plain HTTP), if configured.
    pub operations: Option<TcpListener>,
    /// The web dashboard (HTTPS), if configured.
    pub dashboard: Option<TcpListener>,
}

impl Server {
    /// Prepares the server: creates the data directory, opens and migrates the database, loads or
    /// creates the certificates and, on first start, creates the bootstrap administrator and
    /// writes its credentials file for `advertised` (the address clients reach the server at).
    pub async fn prepare(
        config: &Config,
        advertised: SocketAddr,
        clock: SharedClock,
    ) -> Result<Server, StartError> {
        let (data_dir, store, pki) = open(config, config.max_connections, &clock).await?;
        let escrow = match &config.escrow_key_file {
            Some(path) => keys::escrow::EscrowKey::load_or_create(path, false)?,
            None => keys::escrow::EscrowKey::load_or_create(&data_dir.escrow_key(), true)?,
        };
        let audit = audit_trail(config, &data_dir, store.as_ref()).await?;
        let bootstrap_credentials =
            bootstrap_admin(store.as_ref(), &data_dir, &pki, advertised, &clock).await?;
        let caches = services::cache::Caches::new(config.caches, store.shares_changes());
        let check_in_writer = services::check_in_writer::CheckInWriter::for_store(
            store.clone(),
            clock.clone(),
            config.agents.check_in_flush,
        );
        let state = Arc::new(services::Services {
            caches,
            store,
            clock,
            mail_domain: config.mail_domain.clone(),
            pki: Arc::new(pki),
            agents: config.agents.clone(),
            escrow,
            provisional_validity: config.provisional_validity,
            rotation_period: config.rotation_period,
            audit,
            check_in_writer,
            sign_in_limiter: services::web_access::SignInLimiter::default(),
        });
        state.apply_default_compliance_policy().await?;
        let caps = listener_caps(config);
        let handshakes = grpc::tls::HandshakeLimits {
            per_address: config.handshakes_per_address,
            total: config.handshakes_total,
        };
        let metrics_refresh = config.metrics_refresh;
        let dashboard_connections =
            usize::try_from(config.dashboard.max_connections).unwrap_or(usize::MAX);
        Ok(Server {
            state,
            bootstrap_credentials,
            caps,
            handshakes,
            metrics_refresh,
            dashboard_connections,
        })
    }

    /// The CA certificate's SHA-256 fingerprint, which agents pin.
    pub fn ca_fingerprint(&self) -> &str {
        &self.state.pki.ca_fingerprint
    }

    /// The services this server runs (for the compliance report and tests, which call them
    /// directly).
    pub fn services(&self) -> Arc<services::Services> {
        self.state.clone()
    }

    /// The credentials file written for the bootstrap administrator, when this start created it.
    pub fn bootstrap_credentials(&self) -> Option<&std::path::Path> {
        self.bootstrap_credentials.as_deref()
    }

    /// Serves gRPC over TLS on `listener` until `shutdown` resolves, sweeping expired rotations,
    /// writing check-ins once per flush window, signing the audit chain's head and shipping audit
    /// records meanwhile; then writes the pending check-ins, signs the head a last time, ships
    /// what is committed and closes the database (SQLite checkpoints its WAL).
    /// No operations endpoint: see [`Server::serve_with`].
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        self.serve_with(listener, None, shutdown).await
    }

    /// [`Server::serve`], and the operations endpoint (`/metrics`, `/livez`, `/readyz`, plain
    /// HTTP) on `operations` when given; both stop when `shutdown` resolves. Each listener holds at
    /// most its own cap of connections (see [`descriptors`]).
    pub async fn serve_with(
        self,
        listener: TcpListener,
        operations: Option<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        self.serve_all(Listeners { grpc: listener, operations, dashboard: None }, shutdown).await
    }

    /// [`Server::serve_with`], and the web dashboard (HTTPS, with the server's certificate) on
    /// `listeners.dashboard` when given; every listener stops when `shutdown` resolves.
    pub async fn serve_all(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let Listeners { grpc: listener, operations, dashboard } = listeners;
        let store = self.state.store.clone();
        let metrics = Arc::new(ops::Metrics::new());
        let sweeper = tokio::spawn(self.state.clone().run_expiry_sweeper());
        let change_listener = tokio::spawn(self.state.clone().run_change_listener());
        let (writer_stop, writer_stopping) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(self.state.check_in_writer.clone().run(writer_stopping));
        let (audit_stop, stopping) = tokio::sync::watch::channel(false);
        let mut tasks = vec![tokio::spawn(self.state.clone().run_head_signer(stopping.clone()))];
        let shipping = self.state.audit.shipping.clone();
        for (sink, target) in [(Sink::File, shipping.file), (Sink::Syslog, shipping.syslog)] {
            if let Some(target) = target {
                tasks.push(tokio::spawn(self.state.clone().run_shipper(
                    sink,
                    target,
                    stopping.clone(),
                )));
            }
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let settings =
            ops::Settings { max_connections: self.caps.operations, refresh: self.metrics_refresh };
        let ops = operations.map(|listener| {
            let mut stopped = stopped.clone();
            // Resolves when told to stop, or when the sender is dropped (gRPC ended first).
            let stopped = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            tokio::spawn(ops::serve(
                listener,
                self.state.clone(),
                metrics.clone(),
                settings,
                stopped,
            ))
        });
        let dashboard = dashboard.map(|listener| {
            let mut stopped = stopped.clone();
            let stopped = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            tokio::spawn(web::serve(
                listener,
                self.state.clone(),
                metrics.clone(),
                self.dashboard_connections,
                stopped,
            ))
        });
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let mut served =
            grpc::serve(self.state, metrics, listener, self.caps.grpc, self.handshakes, shutdown)
                .await;
        if let Some(ops) = ops {
            let ended = match ops.await {
                Ok(ended) => ended,
                Err(join) => Err(std::io::Error::other(join)),
            };
            if let Err(error) = ended {
                tracing::error!(%error, "the operations endpoint failed");
                served = served.and(Err(ServeError::Operations(error)));
            }
        }
        if let Some(dashboard) = dashboard {
            match dashboard.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "the dashboard failed"),
                Err(join) => tracing::error!(error = %join, "the dashboard failed"),
            }
        }
        sweeper.abort();
        change_listener.abort();
        // No check-in comes any more: what is pending is written before the database closes.
        let _ = writer_stop.send(true);
        if tokio::time::timeout(STOP_TIMEOUT, writer).await.is_err() {
            tracing::error!(
                "the check-in writer did not stop in time: the last check-ins are lost"
            );
        }
        let _ = audit_stop.send(true);
        for mut task in tasks {
            if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
                tracing::warn!("an audit task did not stop in time");
                task.abort();
            }
        }
        store.close().await;
        served
    }
}

/// Each listener's cap, from the configuration and the descriptor limit in force, logged.
fn listener_caps(config: &Config) -> ListenerCaps {
    let limit = descriptors::soft_limit();
    let caps = ListenerCaps::for_limit(limit, config);
    tracing::info!(
        grpc = caps.grpc,
        operations = caps.operations,
        descriptor_limit = limit,
        "connection caps per listener"
    );
    if caps.lowered {
        tracing::warn!(
            grpc = caps.grpc,
            operations = caps.operations,
            descriptor_limit = limit,
            "a configured connection cap was lowered to fit the descriptor limit (raise LimitNOFILE)"
        );
    }
    caps
}

pub use crate::startup::{ProvisionError, audit_public_key, provision_admin, rotate_audit_key};
use crate::startup::{audit_trail, bootstrap_admin, open};

/// How long the audit tasks may take to finish at shutdown.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
