//! The resident memory and CPU time of another process, read from `/proc/<pid>/…`, for the
//! benchmarks that measure a real binary (`memory`, `agent_idle`, `window_footprint`,
//! `watcher_footprint`) and the tests that look at what a process maps.
//!
//! - [`memory_of`]: `VmRSS` and `VmHWM` (`status`);
//! - [`footprint_of`]: resident memory split into anonymous and file-backed, and the proportional
//!   set size (`Pss`, `smaps_rollup`: a page shared with other processes counts in part);
//! - [`resident_by_mapping`]: resident memory and `Pss` summed by mapping name (`smaps`);
//! - [`cpu_of`]: CPU time (`stat`, and the threads' `schedstat` in nanoseconds) and context
//!   switches (how often the process woke up);
//! - [`mapped_files`]: the files a process maps (`maps`).

use std::collections::BTreeMap;

/// A `kB` field of `/proc/<pid>/<file>` text, in MiB.
fn field_mib(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in MiB; `None` when the process is gone or the
/// file cannot be read.
pub fn memory_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((field_mib(&status, "VmRSS:")?, field_mib(&status, "VmHWM:")?))
}

/// What a process holds in memory, in MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Footprint {
    /// `VmRSS`: resident pages, shared ones counted whole.
    pub rss: f64,
    /// `RssAnon`: the heap, stacks, other private memory, and copied-on-write pages.
    pub anonymous: f64,
    /// `RssFile` + `RssShmem`: pages of files (the binary, libraries) and shared memory.
    pub file_backed: f64,
    /// `Pss`: resident pages, each shared page divided by the number of processes mapping it.
    pub pss: f64,
    /// `Pss_Anon`.
    pub pss_anonymous: f64,
    /// `Pss_File` + `Pss_Shmem`.
    pub pss_file_backed: f64,
    /// `VmHWM`: the peak of `VmRSS`.
    pub peak: f64,
    /// Threads now.
    pub threads: usize,
}

/// The [`Footprint`] of process `pid`; `None` when it is gone.
pub fn footprint_of(pid: u32) -> Option<Footprint> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count();
    let zero = |v: Option<f64>| v.unwrap_or(0.0);
    Some(Footprint {
        rss: field_mib(&status, "VmRSS:")?,
        anonymous: zero(field_mib(&status, "RssAnon:")),
        file_backed: zero(field_mib(&status, "RssFile:")) + zero(field_mib(&status, "RssShmem:")),
        pss: field_mib(&rollup, "Pss:")?,
        pss_anonymous: zero(field_mib(&rollup, "Pss_Anon:")),
        pss_file_backed: zero(field_mib(&rollup, "Pss_File:"))
            + zero(field_mib(&rollup, "Pss_Shmem:")),
        peak: zero(field_mib(&status, "VmHWM:")),
        threads,
    })
}

/// Resident memory of one mapping name, in MiB.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingUse {
    /// A file's path, `[heap]`, `[stack]`, or `[anon]` for an unnamed mapping.
    pub name: String,
    /// `Rss` summed over the mappings of that name.
    pub rss: f64,
    /// `Pss` summed likewise.
    pub pss: f64,
}

/// Resident memory by mapping name (`/proc/<pid>/smaps`), largest `Rss` first; empty when the
/// process is gone.
pub fn resident_by_mapping(pid: u32) -> Vec<MappingUse> {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Vec::new();
    };
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut current = String::new();
    let kb = |rest: &str| {
        rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
    };
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // `start-end perms offset dev inode [name]`; the name may hold spaces.
            current = line
                .splitn(6, char::is_whitespace)
                .nth(5)
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .unwrap_or("[anon]")
                .to_owned();
        } else if let Some(rest) = line.strip_prefix("Rss:") {
            sums.entry(current.clone()).or_default().0 += kb(rest);
        } else if let Some(rest) = line.strip_prefix("Pss:") {
            sums.entry(current.clone()).or_default().1 += kb(rest);
        }
    }
    let mut sums: Vec<MappingUse> =
        sums.into_iter().map(|(name, (rss, pss))| MappingUse { name, rss, pss }).collect();
    sums.sort_by(|a, b| b.rss.total_cmp(&a.rss));
    sums
}

/// CPU time and wake-ups of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuUse {
    /// `utime + stime` of `/proc/<pid>/stat`, in seconds: every thread, the ended ones too, in
    /// clock ticks (1/100 s on Linux).
    pub seconds: f64,
    /// The run time of the live threads (`/proc/<pid>/task/*/schedstat`), in nanoseconds: finer,
    /// but a thread that ended takes its share with it.
    pub live_threads_ns: u64,
    /// Context switches of the live threads, voluntary and not (`task/*/status`): each is a
    /// wake-up after a wait, or a preemption.
    pub switches: u64,
}

/// The [`CpuUse`] of process `pid`; `None` when it is gone.
pub fn cpu_of(pid: u32) -> Option<CpuUse> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name (which may hold spaces, between parentheses): utime and
    // stime are fields 14 and 15 of the line, so 12 and 13 after the name.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let mut live_threads_ns = 0;
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let path = task.path();
        if let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) {
            live_threads_ns += schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(status) = std::fs::read_to_string(path.join("status")) {
            switches += status
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    #[allow(clippy::cast_precision_loss)] // Reason: ticks of a benchmark's process fit an f64.
    let seconds = ticks as f64 / 100.0;
    Some(CpuUse { seconds, live_threads_ns, switches })
}

/// The files process `pid` maps (`/proc/<pid>/maps`), each once, sorted; empty when it is gone.
pub fn mapped_files(pid: u32) -> Vec<String> {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| line.splitn(6, char::is_whitespace).nth(5))
        .map(str::trim)
        .filter(|name| name.starts_with('/'))
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let pid = std::process::id();
        let footprint = footprint_of(pid).unwrap();
        assert!(footprint.rss > 0.0 && footprint.pss > 0.0 && footprint.threads >= 1);
        assert!(footprint.anonymous + footprint.file_backed <= footprint.rss + 0.01);
        let mappings = resident_by_mapping(pid);
        assert!(mappings.iter().any(|m| m.name == "[heap]" || m.name == "[anon]"));
        let exe = std::env::current_exe().unwrap();
        assert!(mapped_files(pid).iter().any(|f| std::path::Path::new(f) == exe));
        let cpu = cpu_of(pid).unwrap();
        assert!(cpu.live_threads_ns > 0);
        assert!(cpu_of(u32::MAX).is_none() && footprint_of(u32::MAX).is_none());
    }
}
