//! `run`: N agents connected over mutual TLS, each on its own long-lived channel, and an open-loop
//! constant arrival rate of check-ins spread over them (round-robin), for a warm-up and then a
//! measured window; each round's latency counts from its intended start (`schedule`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sesame_base::clock::{Clock, SystemClock};
use tokio::time::Instant as TokioInstant;

use crate::agents::{self, Agent, Target};
use crate::check_in;
use crate::cpu::{self, CpuMeter};
use crate::identities;

use crate::schedule::Schedule;
use crate::stats::{self, Stats};

/// How many agents past the k-th one an arrival may fall to when the k-th is busy.
const BUSY_SCAN: usize = 64;

/// Where the agents connect, with what.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AgentArgs {
    /// The server, HOST:PORT (or https://HOST:PORT).
    #[arg(long)]
    pub(crate) server: String,
    /// The server's CA certificate (`ca.pem` of its data directory).
    #[arg(long)]
    pub(crate) ca: PathBuf,
    /// The identities file written by `provision`.
    #[arg(long)]
    pub(crate) identities: PathBuf,
    /// How many agents connect (the first of the file); at most 19,000 here (descriptor limit).
    #[arg(long, default_value_t = 100)]
    pub(crate) connections: usize,
    /// Loopback source addresses to spread agents over (127.0.0.2 onwards); 0: the system's.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=200))]
    pub(crate) sources: u8,
}

impl AgentArgs {
    /// The target and the identities to connect.
    pub(crate) fn load(&self) -> anyhow::Result<(Target, Vec<identities::AgentIdentity>)> {
        crate::raise_descriptor_limit();
        let ca_pem = std::fs::read_to_string(&self.ca)
            .with_context(|| format!("cannot read {}", self.ca.display()))?;
        let identities = identities::read(&self.identities, Some(self.connections))?;
        let target = Target {
            server: crate::tls::resolve(&self.server)?,
            ca_pem,
            sources: crate::tls::source_addresses(self.sources),
        };
        Ok((target, identities))
    }
}

/// The run's settings.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    agents: AgentArgs,
    /// Check-ins per second offered, across all agents.
    #[arg(long)]
    rate: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The server's process id: its CPU per check-in is read from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A name for this run in the output.
    #[arg(long, default_value = "run")]
    label: String,
    /// Rounds in flight at most; arrivals beyond are counted as `Overloaded` errors.
    #[arg(long, default_value_t = 50_000)]
    max_in_flight: usize,
    /// One agent in this many reports its key present (0: none).
    #[arg(long, default_value_t = 0)]
    key_present_every: usize,
    /// Send at exact intervals, without jitter.
    #[arg(long)]
    no_jitter: bool,
}

/// Runs the command; fails only when the agents cannot connect.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let (target, identities) = args.agents.load()?;
    let rss_before = args.server_pid.and_then(rss);
    let connecting = Instant::now();
    let agents = agents::connect_all(&target, &identities, args.key_present_every).await?;
    out!("connected {} agents in {:.2} s", agents.len(), connecting.elapsed().as_secs_f64());
    let rss_connected = args.server_pid.and_then(rss);
    let (stats, server_cpu, sim_cpu) = drive(&agents, &args).await;
    stats::print_run(
        &args.label,
        agents.len(),
        args.rate,
        args.duration,
        &stats,
        server_cpu,
        sim_cpu,
    );
    // Every agent has checked in by now (at a rate ≥ agents/duration) and sits idle, connected.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = args.server_pid.and_then(rss);
    if let (Some(before), Some(connected), Some(idle)) = (rss_before, rss_connected, rss_idle) {
        let per_agent =
            |after: u64| after.saturating_sub(before) as f64 * 1024.0 / agents.len() as f64;
        out!(
            "   server RSS: {before} KiB before, {connected} KiB connected, {idle} KiB after the run: {:.0} B per connected agent ({:.0} B after the run)",
            per_agent(connected),
            per_agent(idle)
        );
        let line = serde_json::json!({
            "kind": "rss",
            "label": args.label,
            "connections": agents.len(),
            "rss_before_kib": before,
            "rss_connected_kib": connected,
            "rss_idle_kib": idle,
            "bytes_per_agent_connected": per_agent(connected),
            "bytes_per_agent_idle": per_agent(idle),
        });
        out!("RESULT {line}");
    }
    Ok(())
}

/// Offers the load and counts what came back.
async fn drive(agents: &[Agent], args: &RunArgs) -> (Stats, Option<f64>, Option<f64>) {
    let stats = Arc::new(Mutex::new(Stats::default()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let warmup = Duration::from_secs_f64(args.warmup);
    let end = warmup + Duration::from_secs_f64(args.duration);
    let start = TokioInstant::now() + Duration::from_millis(50);
    let (window_start, window_end) = (start + warmup, start + end);
    // CPU is read at the edges of the measured window.
    let server_pid = args.server_pid;
    let meter = tokio::spawn(async move {
        tokio::time::sleep_until(window_start).await;
        let server = server_pid.and_then(CpuMeter::start);
        let own = CpuMeter::start(std::process::id());
        tokio::time::sleep_until(window_end).await;
        (server.and_then(|m| m.elapsed()), own.and_then(|m| m.elapsed()))
    });
    let mut schedule = Schedule::new(args.rate, !args.no_jitter, StdRng::from_os_rng());
    loop {
        let (k, offset) = schedule.next_arrival();
        if offset >= end {
            break;
        }
        let intended = start + offset;
        tokio::time::sleep_until(intended).await;
        let measured = offset >= warmup;
        if measured {
            lock(&stats).offered += 1;
        }
        // The k-th agent, or the next one not in the middle of a round (a real agent makes one
        // round at a time); none free among the next few: the fleet is overloaded.
        let room = in_flight.load(Ordering::Relaxed) < args.max_in_flight;
        let free = (0..BUSY_SCAN.min(agents.len())).filter(|_| room).find_map(|i| {
            let agent = &agents[((k as usize).wrapping_add(i)) % agents.len()];
            (!agent.busy.swap(true, Ordering::AcqRel)).then_some(agent)
        });
        let Some(agent) = free else {
            lock(&stats).error("Overloaded");
            continue;
        };
        let mut client = agent.client.clone();
        let key_present = agent.key_present;
        let (stats, in_flight, busy) = (stats.clone(), in_flight.clone(), agent.busy.clone());
        in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let result = check_in::round(&mut client, SystemClock.now(), key_present).await;
            let done = TokioInstant::now();
            busy.store(false, Ordering::Release);
            in_flight.fetch_sub(1, Ordering::Relaxed);
            // Errors and the rotation work count from the first round; throughput and latency
            // only in the measured window.
            let mut stats = lock(&stats);
            match result {
                Ok(round) => {
                    stats.pending_calls += round.pending_calls;
                    stats.rotations += round.rotations;
                    stats.reports += round.reports;
                    if measured {
                        stats.ok += 1;
                        if done <= window_end {
                            stats.completed_in_window += 1;
                        }
                        let micros =
                            u64::try_from((done - intended).as_micros()).unwrap_or(u64::MAX);
                        stats.latency.record(micros);
                    }
                }
                Err(status) => stats.error(stats::code_name(&status)),
            }
        });
    }
    let (server_cpu, sim_cpu) = meter.await.unwrap_or((None, None));
    // Rounds still in flight get a grace period, then count as unfinished.
    let grace = TokioInstant::now() + Duration::from_secs(10);
    while in_flight.load(Ordering::Relaxed) > 0 && TokioInstant::now() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unfinished = in_flight.load(Ordering::Relaxed);
    let mut stats = std::mem::take(&mut *lock(&stats));
    if unfinished > 0 {
        *stats.errors.entry("Unfinished".to_owned()).or_default() += unfinished as u64;
    }
    (stats, server_cpu, sim_cpu)
}

/// The stats, whatever a panicking task left.
fn lock(stats: &Mutex<Stats>) -> std::sync::MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Current resident memory of `pid`, for the callers that measure memory per agent.
pub(crate) fn rss(pid: u32) -> Option<u64> {
    cpu::rss_kib(pid)
}
