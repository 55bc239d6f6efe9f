//! The resident memory of another process, read from `/proc/<pid>/status`, for the benchmarks that
//! measure a real binary (`memory`, `agent_idle`).

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in MiB; `None` when the process is gone or the
/// file cannot be read.
pub fn memory_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
