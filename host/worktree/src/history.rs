//! Commits a branch has that its base does not ([`unmerged_commits`]).

use std::path::Path;

use git2::{Oid, Repository, Sort};

use crate::error::{Result, WorktreeError};
use crate::repo;

/// One commit, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The full id, 40 hex digits.
    pub id: String,
    /// The first line of its message.
    pub summary: String,
}

impl CommitInfo {
    /// `abc1234 summary`.
    pub fn line(&self) -> String {
        format!("{} {}", &self.id[..self.id.len().min(7)], self.summary)
    }
}

/// The commits reachable from the local branch `branch` and not from the local branch `base`,
/// newest first. Empty when the branch is fully merged (or was never moved).
pub fn unmerged_commits(repo_path: &Path, branch: &str, base: &str) -> Result<Vec<CommitInfo>> {
    let repo = repo::open(repo_path)?;
    let tip = repo::branch_tip(&repo, branch, "check the order's branch with `git branch`")?;
    let base_tip = repo::branch_tip(&repo, base, "check the order's base branch")?;
    commits_between(&repo, base_tip, tip)
}

/// Commits reachable from `tip` and not from `base`, newest first.
pub(crate) fn commits_between(repo: &Repository, base: Oid, tip: Oid) -> Result<Vec<CommitInfo>> {
    let here = repo::display_path(repo);
    let fail = || WorktreeError::git(&here, "walking the history");
    let mut walk = repo.revwalk().map_err(fail())?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(fail())?;
    walk.push(tip).map_err(fail())?;
    walk.hide(base).map_err(fail())?;
    let mut out = Vec::new();
    for oid in walk {
        let oid = oid.map_err(fail())?;
        let commit = repo.find_commit(oid).map_err(fail())?;
        out.push(CommitInfo {
            id: oid.to_string(),
            summary: repo::summary(&commit),
        });
    }
    Ok(out)
}
