//! Who runs an order, and whether that process still lives.
//!
//! A runner id names one codecafe process: `codecafe:<pid>:<start>`, where `<start>` is the
//! process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`), so a pid the
//! kernel reused for another process never passes for the old runner. The store records runner
//! ids in order claims and terminal slots; [`is_alive`] is the check it is given for them.

use std::sync::OnceLock;

/// The prefix of every runner id.
const PREFIX: &str = "codecafe:";

/// This process's runner id (the same for every call).
pub fn this_process() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let pid = std::process::id();
        format!("{PREFIX}{pid}:{}", start_ticks(pid).unwrap_or(0))
    })
}

/// The pid in a runner id, if it is one of ours.
pub fn pid_of(runner: &str) -> Option<u32> {
    runner.strip_prefix(PREFIX)?.split(':').next()?.parse().ok()
}

/// Whether the process `runner` names still runs (and is not a zombie). A runner id that is
/// not of this form (a test's name, another host's) cannot be checked here and counts as
/// alive: heartbeats decide for those. Without `/proc` (not Linux) every runner counts as alive.
pub fn is_alive(runner: &str) -> bool {
    // This very process, without reading `/proc`: its `stat` sums the CPU time of every thread,
    // so with hundreds of orders in flight (a thread each, asking about their own claims
    // several times a second) the reads cost more than the orders.
    if runner == this_process() {
        return true;
    }
    let Some(rest) = runner.strip_prefix(PREFIX) else {
        return true;
    };
    let mut parts = rest.split(':');
    let (Some(pid), Some(start)) = (
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next().and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return true;
    };
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    match stat_fields(pid) {
        Some((state, ticks)) => !matches!(state, 'Z' | 'X') && (start == 0 || ticks == start),
        None => false,
    }
}

/// The process's start time in clock ticks since boot.
fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid).map(|(_, ticks)| ticks)
}

/// `(state, start time)` of `pid` from `/proc/<pid>/stat`.
fn stat_fields(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last `)`.
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3 (state); the start time is field 22.
    let ticks = fields.nth(18)?.parse().ok()?;
    Some((state, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_or_reused_pid_is_not() {
        let me = this_process();
        assert!(me.starts_with("codecafe:"), "{me}");
        assert_eq!(pid_of(me), Some(std::process::id()));
        assert!(is_alive(me));
        // Same pid, another start time: the pid was reused.
        let reused = format!("codecafe:{}:1", std::process::id());
        assert!(!is_alive(&reused));
        let mut child = std::process::Command::new("true")
            .spawn()
            .unwrap_or_else(|err| panic!("{err}"));
        let pid = child.id();
        let _ = child.wait();
        assert!(!is_alive(&format!("codecafe:{pid}:0")));
        assert!(
            is_alive("someone-else"),
            "foreign ids are left to heartbeats"
        );
    }
}
