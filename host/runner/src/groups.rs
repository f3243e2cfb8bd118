//! The process groups of running agents, recorded as small files
//! (`<dir>/<order id>.<stage>.pgid`, holding the group id) while each agent runs, so that
//! another codecafe process can kill them when the one running the order died (`order cancel`,
//! `order resume`). A file is removed when its agent's attempt is over.

use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The file recording `stage`'s agent of order `order`.
fn file(dir: &Path, order: Uuid, stage: &str) -> PathBuf {
    dir.join(format!("{order}.{stage}.pgid"))
}

/// Records that `stage`'s agent of `order` runs in process group `pgid`.
pub fn record(dir: &Path, order: Uuid, stage: &str, pgid: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(file(dir, order, stage), pgid.to_string())
}

/// Forgets `stage`'s agent of `order` (it ended).
pub fn forget(dir: &Path, order: Uuid, stage: &str) {
    // Already gone is fine.
    let _ = std::fs::remove_file(file(dir, order, stage));
}

/// The process groups recorded for `order`, with their files.
pub fn recorded(dir: &Path, order: Uuid) -> Vec<(PathBuf, u32)> {
    let prefix = format!("{order}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with(".pgid")
        })
        .filter_map(|e| {
            let pgid = std::fs::read_to_string(e.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((e.path(), pgid))
        })
        .collect()
}

/// Kills (SIGKILL) every process group recorded for `order` that still has a live process, then
/// forgets them; returns how many were killed.
pub fn kill_recorded(dir: &Path, order: Uuid) -> usize {
    let mut killed = 0;
    for (path, pgid) in recorded(dir, order) {
        if group_exists(pgid)
            && let Some(pid) = i32::try_from(pgid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        {
            match rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
                Ok(()) => killed += 1,
                Err(err) => tracing::debug!(%err, pgid, "killing a recorded process group"),
            }
        }
        let _ = std::fs::remove_file(path);
    }
    killed
}

/// Whether some process is still in group `pgid` (the leader may be gone while a grandchild
/// lives on). A group id is not reused while the group exists, so killing such a group hits
/// the recorded agent's processes.
fn group_exists(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let pgid = pgid.to_string();
    entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        name.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
            && std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid pgrp ...`; comm may contain spaces and parentheses.
                stat.rsplit_once(") ").is_some_and(|(_, rest)| {
                    let mut fields = rest.split_whitespace();
                    let state = fields.next();
                    fields.nth(1) == Some(pgid.as_str()) && state != Some("Z")
                })
            })
    })
}
