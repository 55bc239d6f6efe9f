//! End-to-end scenarios. Each runs on a fresh server, once on SQLite and once on PostgreSQL.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tonic::transport::Channel;

use crate::TestServer;

/// Runs each scenario `async fn NAME(server: &TestServer)` on both backends.
/// `on_both_backends!(with ADJUST; NAMES...)` starts each server with its configuration passed
/// through `fn ADJUST(&mut Config)` first.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        on_both_backends!(with |_| {}; $($scenario),*);
    };
    (with $adjust:expr; $($scenario:ident),* $(,)?) => {
        const ADJUST_CONFIG: fn(&mut sesame_server::config::Config) = $adjust;
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let server = crate::TestServer::start_with(crate::Backend::Sqlite, super::ADJUST_CONFIG).await.expect("SQLite always runs");
                    super::$scenario(&server).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(server) = crate::TestServer::start_with(crate::Backend::Postgres, super::ADJUST_CONFIG).await else { return };
                    super::$scenario(&server).await;
                    server.stop().await;
                }
            )*
        }
    };
}

mod accounts;
mod agent_accounts;
mod agent_api;
mod agent_interruptions;
mod agent_story;
mod audit_heads;
mod audit_key;
mod audit_key_file;
mod audit_shipping;
mod backup;
mod browser_harness;
mod bulk;
mod cluster;
mod compliance;
mod dashboard;
mod fleet_sim;
mod identity;
mod mailboxes;
mod names;
mod nul_fields;
mod offices;
mod operations;
mod oversized;
mod owa;
mod owa_cli;
mod owa_hostile;
mod owa_readiness;
mod paging;
mod provisional;
mod quickstart;
mod reports;
mod roles;
mod security;
mod settings;
mod silent_connections;
mod unauthenticated;
mod upgrades;
mod version_skew;
mod web_access;
mod window;
mod window_reminder;
mod window_screen_reader;

/// The RPCs of one service (`AdminService`, `AgentService`), read from the .proto files, so that a
/// test driven by this list cannot forget an RPC added to the contract.
fn contract_rpcs(service: &str) -> BTreeSet<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = ["sesame/v1/common.proto", "sesame/v1/admin.proto", "sesame/v1/agent.proto"];
    let fds = protox::compile(files.iter().map(|f| root.join(f)), [&root]).unwrap();
    let rpcs: BTreeSet<String> = fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == service)
        .flat_map(|s| &s.method)
        .map(|m| m.name().to_owned())
        .collect();
    assert!(!rpcs.is_empty(), "the contract has no service {service}");
    rpcs
}

/// The code a call answered: `Ok` or its error's.
fn status_code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> tonic::Code {
    result.map_or_else(|s| s.code(), |_| tonic::Code::Ok)
}

/// A TLS channel to the server trusting its CA, without any credential.
async fn channel(server: &TestServer) -> Channel {
    server.anonymous_channel().await
}

/// The `tonic::Code` of a failed sesamectl run.
fn code_of(result: crate::CtlResult) -> (tonic::Code, String) {
    match result {
        Err(sesamectl::Error::Rpc(status)) => (status.code(), status.message().to_owned()),
        other => panic!("expected an RPC error, got {other:?}"),
    }
}

/// sesamectl cannot read the server's configuration (it does not link the server): its default
/// credentials file must be where a server with the default configuration writes it.
#[test]
fn sesamectl_looks_for_the_credentials_where_a_default_server_writes_them() {
    let config = sesame_server::config::Config::default();
    let written = sesame_server::data_dir::DataDir::at(&config.data_dir).admin_credentials();
    assert_eq!(sesamectl::default_credentials(), written);
}
