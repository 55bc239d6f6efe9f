//! `storm`: N agents connected and checked in, then the server restarted (by `--restart-cmd`, or
//! by the script, which this command waits for: it prints `READY` and reads one line from its
//! standard input), and the time until every agent has checked in again. As a real agent whose
//! connection failed, each opens a new connection (its TLS session kept, so it may resume), after a
//! jittered back-off that grows with each failure (full jitter, as `agent/src/backoff.rs`).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde_json::json;
use sesame_base::clock::{Clock, SystemClock};
use sesame_proto::v1::agent_service_client::AgentServiceClient;
use tokio::io::AsyncBufReadExt;

use crate::agents::{self, Agent, backoff};
use crate::histogram::Histogram;

use crate::run::AgentArgs;
use crate::stats::{Stats, code_name};
use crate::{check_in, tls};

/// The settings.
#[derive(Debug, clap::Args)]
pub(crate) struct StormArgs {
    #[command(flatten)]
    agents: AgentArgs,
    /// A shell command that restarts the server and returns once it was started (sh -c).
    #[arg(long)]
    restart_cmd: Option<String>,
    /// The first back-off's ceiling, in milliseconds (it doubles after each failure).
    #[arg(long, default_value_t = 1_000)]
    backoff_ms: u64,
    /// The longest back-off, in seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// A name for this run in the output.
    #[arg(long, default_value = "storm")]
    label: String,
}

/// Runs the command.
pub(crate) async fn run(args: StormArgs) -> anyhow::Result<()> {
    let (target, identities) = args.agents.load()?;
    let agents = agents::connect_all(&target, &identities, 0).await?;
    // Each agent checks in once before the restart.
    let concurrency = agents::PER_ADDRESS * target.sources.len().max(1);
    let before: Vec<bool> = futures_util::stream::iter(agents.iter().cloned())
        .map(|mut agent| async move {
            agent.client.heartbeat(check_in::heartbeat(SystemClock.now(), false)).await.is_ok()
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let checked = before.iter().filter(|ok| **ok).count();
    anyhow::ensure!(
        checked == agents.len(),
        "only {checked} of {} agents checked in before the restart",
        agents.len()
    );
    out!("{} agents connected and checked in", agents.len());
    let restart = Instant::now();
    match &args.restart_cmd {
        Some(cmd) => {
            let status = tokio::process::Command::new("sh").arg("-c").arg(cmd).status().await?;
            anyhow::ensure!(status.success(), "the restart command failed: {status}");
        }
        None => {
            out!("READY");
            let mut line = String::new();
            tokio::io::BufReader::new(tokio::io::stdin())
                .read_line(&mut line)
                .await
                .context("waiting for the restart on standard input")?;
        }
    }
    let restarted = restart.elapsed();
    let deadline = Duration::from_secs(args.timeout);
    let endpoint = tls::endpoint(target.server)?;
    let base = Duration::from_millis(args.backoff_ms);
    let cap = Duration::from_secs(args.max_backoff);
    // Every agent at once, as after a restart; each waits its own jittered back-off.
    let results: Vec<(Option<Duration>, Stats)> = futures_util::stream::iter(agents)
        .map(|agent| back_again(agent, &endpoint, restart, deadline, base, cap))
        .buffer_unordered(usize::MAX)
        .collect()
        .await;
    let mut stats = Stats::default();
    let mut back = Histogram::default();
    let mut missing = 0u64;
    for (at, agent_stats) in &results {
        match at {
            Some(at) => {
                stats.ok += 1;
                back.record(u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
            }
            None => missing += 1,
        }
        for (code, n) in &agent_stats.errors {
            *stats.errors.entry(code.clone()).or_default() += n;
        }
    }
    let all_back = back.max() as f64 / 1000.0;
    out!(
        "== {}: {} of {} agents back; all back {all_back:.2} s after the restart began (restart took {:.2} s), half by {:.2} s, 99% by {:.2} s; errors {:?}",
        args.label,
        stats.ok,
        results.len(),
        restarted.as_secs_f64(),
        back.quantile(0.5) as f64 / 1000.0,
        back.quantile(0.99) as f64 / 1000.0,
        stats.errors
    );
    let line = json!({
        "kind": "storm",
        "label": args.label,
        "agents": results.len(),
        "back": stats.ok,
        "missing": missing,
        "restart_seconds": restarted.as_secs_f64(),
        "all_back_seconds": all_back,
        "p50_back_seconds": back.quantile(0.5) as f64 / 1000.0,
        "p99_back_seconds": back.quantile(0.99) as f64 / 1000.0,
        "errors": stats.errors,
        "error_count": stats.error_count() + missing,
    });
    out!("RESULT {line}");
    Ok(())
}

/// One agent coming back: a new connection and a check-in, retried after back-off; when it
/// succeeded (since `restart`), and its failures.
async fn back_again(
    agent: Agent,
    endpoint: &tonic::transport::Endpoint,
    restart: Instant,
    deadline: Duration,
    base: Duration,
    cap: Duration,
) -> (Option<Duration>, Stats) {
    let mut stats = Stats::default();
    let mut attempt = 0u32;
    // The old connection is gone; the first attempt waits a jittered delay too.
    tokio::time::sleep(backoff(0, base, cap)).await;
    while restart.elapsed() < deadline {
        let outcome = match tls::connect(endpoint, agent.connector.clone()).await {
            Ok(channel) => AgentServiceClient::new(channel)
                .heartbeat(check_in::heartbeat(SystemClock.now(), false))
                .await
                .map_err(|status| code_name(&status)),
            Err(_) => Err("Connect".to_owned()),
        };
        match outcome {
            Ok(_) => return (Some(restart.elapsed()), stats),
            Err(code) => stats.error(code),
        }
        attempt += 1;
        tokio::time::sleep(backoff(attempt, base, cap)).await;
    }
    (None, stats)
}
