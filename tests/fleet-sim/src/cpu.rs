//! What `/proc` says of a process: CPU time used (utime + stime, in USER_HZ ticks of 1/100 s on
//! Linux) and resident memory, to report the server's cost per operation from outside.

/// CPU seconds used so far by `pid` (`None` when unreadable).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Resident memory of `pid` in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// CPU used by a process between two readings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMeter {
    pid: u32,
    start: f64,
}

impl CpuMeter {
    /// Starts measuring `pid` (`None` when unreadable).
    pub(crate) fn start(pid: u32) -> Option<CpuMeter> {
        Some(CpuMeter { pid, start: cpu_seconds(pid)? })
    }

    /// CPU seconds since the start.
    pub(crate) fn elapsed(&self) -> Option<f64> {
        Some(cpu_seconds(self.pid)? - self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_readable() {
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
