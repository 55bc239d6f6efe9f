//! `handshakes`: a new connection and one `Heartbeat`, N times with K at once, to measure TLS
//! handshakes per second: full TLS 1.3 handshakes (resumption off), or resumed ones (each identity
//! keeps one rustls client configuration, whose session cache is reused across its connections).
//! With `--server-pid`, the server's CPU per handshake.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::json;
use sesame_base::clock::{Clock, SystemClock};
use sesame_proto::v1::agent_service_client::AgentServiceClient;

use crate::agents::Target;
use crate::cpu::CpuMeter;

use crate::run::AgentArgs;
use crate::stats::{Stats, code_name};
use crate::tls::{self, Connector, HandshakeCounts};
use crate::{check_in, identities};

/// Full or resumed handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Every connection a full handshake (resumption off).
    Full,
    /// Connections resume the identity's previous session.
    Resumed,
}

/// The settings.
#[derive(Debug, clap::Args)]
pub(crate) struct HandshakeArgs {
    #[command(flatten)]
    agents: AgentArgs,
    /// Connections to make.
    #[arg(long, default_value_t = 2_000)]
    count: usize,
    /// Connections in progress at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Full or resumed handshakes.
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    mode: Mode,
    /// The server's process id: its CPU per handshake is read from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A name for this run in the output.
    #[arg(long, default_value = "handshakes")]
    label: String,
}

/// Runs the command.
pub(crate) async fn run(args: HandshakeArgs) -> anyhow::Result<()> {
    let (target, identities) = args.agents.load()?;
    let resume = args.mode == Mode::Resumed;
    let counts = Arc::new(HandshakeCounts::default());
    // One configuration (and so one session cache) per identity, made before the clock starts.
    let connectors: Vec<Connector> = identities
        .iter()
        .enumerate()
        .map(|(n, identity)| connector(&target, n, identity, resume, counts.clone()))
        .collect::<anyhow::Result<_>>()?;
    let endpoint = tls::endpoint(target.server)?;
    if resume {
        // A first connection per identity, to hold a session to resume.
        let _: Vec<_> = futures_util::stream::iter(connectors.iter().cloned())
            .map(|connector| one(&endpoint, connector))
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        counts.full.store(0, Ordering::Relaxed);
        counts.resumed.store(0, Ordering::Relaxed);
    }
    let meter = args.server_pid.and_then(CpuMeter::start);
    let started = Instant::now();
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..args.count)
        .map(|n| one(&endpoint, connectors[n % connectors.len()].clone()))
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu = meter.and_then(|m| m.elapsed());
    let mut stats = Stats::default();
    for result in results {
        match result {
            Ok(()) => stats.ok += 1,
            Err(code) => stats.error(code),
        }
    }
    let (full, resumed) =
        (counts.full.load(Ordering::Relaxed), counts.resumed.load(Ordering::Relaxed));
    let rate = stats.ok as f64 / seconds;
    let per = server_cpu.filter(|_| stats.ok > 0).map(|cpu| cpu * 1e6 / stats.ok as f64);
    out!(
        "== {}: {} connections + Heartbeat in {seconds:.2} s: {rate:.0}/s ({full} full, {resumed} resumed handshakes), errors {:?}",
        args.label,
        stats.ok,
        stats.errors
    );
    if let Some(us) = per {
        out!("   server CPU per connection: {us:.0} µs");
    }
    let line = json!({
        "kind": "handshakes",
        "label": args.label,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "ok": stats.ok,
        "rate": rate,
        "full": full,
        "resumed": resumed,
        "errors": stats.errors,
        "error_count": stats.error_count(),
        "server_cpu_us_per_handshake": per,
    });
    out!("RESULT {line}");
    Ok(())
}

fn connector(
    target: &Target,
    n: usize,
    identity: &identities::AgentIdentity,
    resume: bool,
    counts: Arc<HandshakeCounts>,
) -> anyhow::Result<Connector> {
    let local = (!target.sources.is_empty()).then(|| target.sources[n % target.sources.len()]);
    let config = tls::client_config(&target.ca_pem, Some(identity), resume)?;
    Ok(Connector::new(target.server, local, config, Some(counts)))
}

/// A new connection and one Heartbeat on it; the error's gRPC code name.
async fn one(endpoint: &tonic::transport::Endpoint, connector: Connector) -> Result<(), String> {
    let channel = tls::connect(endpoint, connector).await.map_err(|_| "Connect".to_owned())?;
    let mut client = AgentServiceClient::new(channel);
    client
        .heartbeat(check_in::heartbeat(SystemClock.now(), false))
        .await
        .map(|_| ())
        .map_err(|status| code_name(&status))
}
