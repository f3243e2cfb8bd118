//! Figures of processes from `/proc`, for the benchmarks (Linux).

use std::time::Duration;

/// `/proc/<pid>/stat` reports CPU times in USER_HZ, which is 100 on Linux.
const USER_HZ: f64 = 100.0;

/// User + system CPU time of this process and of its reaped children, from `/proc/self/stat`.
pub fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // After the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    let secs = |ticks: u64| Duration::from_secs_f64(ticks as f64 / USER_HZ);
    (secs(field(14) + field(15)), secs(field(16) + field(17)))
}

/// A figure of `/proc/<pid>/status` (`kB` for memory; `pid` may be `self`); 0 when unknown.
pub fn status_kb(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_memory_and_threads() {
        assert!(super::status_kb("self", "VmRSS:") > 0);
        assert!(super::status_kb("self", "Threads:") >= 1);
        let _ = super::cpu_times();
    }
}
