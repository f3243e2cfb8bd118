//! What a worktree holds that no commit does: staged and unstaged changes, untracked files
//! ([`status`]). This is what the delete safety check reads.

use std::path::{Path, PathBuf};

use git2::{Repository, Status, StatusOptions};

use crate::error::{Result, WorktreeError};
use crate::repo;

/// The uncommitted state of a working tree. Paths are relative to its top level, `/`-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeStatus {
    /// The working tree's top level.
    pub path: PathBuf,
    /// The branch checked out there, `None` on a detached HEAD.
    pub branch: Option<String>,
    /// Files whose staged content differs from HEAD (added, modified, deleted, renamed).
    pub staged: Vec<String>,
    /// Tracked files whose working copy differs from the index.
    pub unstaged: Vec<String>,
    /// Files git does not track and does not ignore (each file of an untracked directory).
    pub untracked: Vec<String>,
    /// Files with unresolved merge conflicts.
    pub conflicted: Vec<String>,
}

impl WorktreeStatus {
    /// True when nothing would be lost by removing the working tree (ignored files aside).
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty()
            && self.unstaged.is_empty()
            && self.untracked.is_empty()
            && self.conflicted.is_empty()
    }

    /// True when tracked files have no staged, unstaged or conflicted changes (untracked files
    /// may exist).
    pub fn tracked_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty() && self.conflicted.is_empty()
    }

    /// One line per kind of change, each listing up to `limit` paths; empty when clean.
    pub fn describe(&self, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (what, paths) in [
            ("staged change", &self.staged),
            ("unstaged change", &self.unstaged),
            ("untracked file", &self.untracked),
            ("conflicted file", &self.conflicted),
        ] {
            if !paths.is_empty() {
                out.push(format!(
                    "{} {what}{}: {}",
                    paths.len(),
                    if paths.len() == 1 { "" } else { "s" },
                    list(paths, limit)
                ));
            }
        }
        out
    }
}

/// `a, b, c and 4 more`.
pub(crate) fn list(items: &[String], limit: usize) -> String {
    if items.len() <= limit {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..limit].join(", "),
            items.len() - limit
        )
    }
}

/// Reads the uncommitted state of the working tree at `worktree` (an order's worktree, or a
/// repository's main checkout). Ignored files are not reported, as `git status` does not report
/// them.
pub fn status(worktree: &Path) -> Result<WorktreeStatus> {
    let repo = Repository::open(worktree).map_err(|err| WorktreeError::NotAWorktree {
        repo: worktree.to_owned(),
        path: worktree.to_owned(),
        message: format!(
            "is not a git working tree ({}); check the path (`git worktree list` shows them)",
            err.message()
        ),
    })?;
    status_of(&repo)
}

pub(crate) fn status_of(repo: &Repository) -> Result<WorktreeStatus> {
    let here = repo::display_path(repo);
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .renames_head_to_index(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(WorktreeError::git(&here, "reading the status"))?;
    let branch = repo.head().ok().and_then(|h| {
        h.is_branch()
            .then(|| h.shorthand().ok().map(str::to_owned))
            .flatten()
    });
    let mut out = WorktreeStatus {
        path: repo::canonical(&here),
        branch,
        ..WorktreeStatus::default()
    };
    for entry in statuses.iter() {
        let path = String::from_utf8_lossy(entry.path_bytes()).into_owned();
        let s = entry.status();
        if s.contains(Status::CONFLICTED) {
            out.conflicted.push(path);
            continue;
        }
        if s.intersects(
            Status::INDEX_NEW
                | Status::INDEX_MODIFIED
                | Status::INDEX_DELETED
                | Status::INDEX_RENAMED
                | Status::INDEX_TYPECHANGE,
        ) {
            out.staged.push(path.clone());
        }
        if s.intersects(
            Status::WT_MODIFIED | Status::WT_DELETED | Status::WT_RENAMED | Status::WT_TYPECHANGE,
        ) {
            out.unstaged.push(path.clone());
        }
        if s.contains(Status::WT_NEW) {
            out.untracked.push(path);
        }
    }
    Ok(out)
}
