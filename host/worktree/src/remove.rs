//! Removing an order's worktree ([`remove`]) without ever losing work, and without leaving an
//! orphaned worktree entry behind.

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository};

use crate::diff::open_worktree_of;
use crate::error::{Result, WorktreeError};
use crate::history::commits_between;
use crate::repo::{self, Entry};
use crate::status::{list, status_of};

/// What [`remove`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveSpec {
    /// The order's worktree (as returned by [`crate::create()`]).
    pub worktree: PathBuf,
    /// The order's branch, checked for unmerged commits and deleted with `delete_branch`.
    pub branch: Option<String>,
    /// The base branch the order's commits must be merged into.
    pub base: String,
    /// Remove even when work would be lost (uncommitted changes, untracked files, unmerged
    /// commits, a locked entry). The branch is still kept unless `delete_branch`.
    pub force: bool,
    /// Delete the branch too. Without `force` this only happens when the branch is fully merged
    /// into `base` (otherwise the removal is refused); with `force` the branch is deleted anyway
    /// and the outcome names its last commit so it can be restored.
    pub delete_branch: bool,
}

/// What happened to the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchFate {
    /// There was no branch to keep or delete.
    None,
    /// The branch is still there.
    Kept(String),
    /// The branch was deleted; it pointed at `tip` (`git branch <name> <tip>` restores it).
    Deleted {
        /// The branch.
        name: String,
        /// Its last commit, 40 hex digits.
        tip: String,
    },
}

/// The result of [`remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The worktree directory that was deleted, if one was.
    pub removed_path: Option<PathBuf>,
    /// The name of the worktree entry that was pruned, if one was.
    pub pruned_entry: Option<String>,
    /// The branch kept or deleted.
    pub branch: BranchFate,
    /// Things the user should know (what `force` overrode, an in-place order, ...).
    pub warnings: Vec<String>,
}

/// Removes an order's worktree, and its branch when asked.
///
/// Unless `force`, refuses ([`WorktreeError::WouldLoseWork`], listing every reason, nothing
/// changed) when: the worktree has staged, unstaged or conflicted changes or untracked files;
/// its HEAD is detached at commits no other branch has; the branch has commits not reachable
/// from `base` (or `base` does not exist, so this cannot be checked) — except when all their
/// changes are in `base` already, as after `merge` with `squash` (a warning says so); the entry
/// is locked.
/// Ignored files (build output) are not work and are removed with the directory, as
/// `git worktree remove` does.
///
/// The directory is deleted first, then the entry under `.git/worktrees/` is pruned with
/// `git2::Worktree::prune` (so an interrupted removal leaves an entry that can be pruned, never
/// an orphaned directory). Removing a worktree that is already gone prunes what is left and
/// succeeds, so a failed removal can simply be retried. An order that ran in place (the path is
/// the main checkout) has nothing removed.
pub fn remove(repo_path: &Path, spec: &RemoveSpec) -> Result<Removal> {
    let repo = repo::open(repo_path)?;
    let here = repo::display_path(&repo);
    let target = repo::canonical(&spec.worktree);
    let mut warnings = Vec::new();

    if repo::main_workdir(&repo).as_deref() == Some(target.as_path()) {
        warnings.push(format!(
            "{} is the repository's main checkout (the order ran in place); it was left as it is",
            target.display()
        ));
        let branch = match &spec.branch {
            Some(b) => {
                if spec.delete_branch {
                    warnings.push(format!(
                        "branch `{b}` was not deleted: it belongs to the main checkout"
                    ));
                }
                BranchFate::Kept(b.clone())
            }
            None => BranchFate::None,
        };
        return Ok(Removal {
            removed_path: None,
            pruned_entry: None,
            branch,
            warnings,
        });
    }

    let entry = repo::entries(&repo)?.into_iter().find(|e| e.path == target);
    let exists = target.symlink_metadata().is_ok();
    if entry.is_none() && exists {
        return Err(WorktreeError::NotAWorktree {
            repo: here,
            path: target,
            message: "exists but is not a worktree of this repository; codecafe only deletes \
                      worktrees it can check, so look inside and remove it by hand"
                .to_owned(),
        });
    }

    let branch_tip = match &spec.branch {
        Some(b) => match repo.find_branch(b, BranchType::Local) {
            Ok(branch) => branch.get().target(),
            Err(_) => {
                warnings.push(format!("branch `{b}` does not exist any more"));
                None
            }
        },
        None => None,
    };

    let mut reasons = Vec::new();
    if let Some(entry) = &entry
        && exists
    {
        reasons.extend(worktree_reasons(&repo, entry, spec)?);
    }
    let mut unmerged = false;
    if let (Some(branch), Some(tip)) = (&spec.branch, branch_tip) {
        let found = branch_reasons(&repo, branch, tip, &spec.base, &mut warnings)?;
        unmerged = !found.is_empty();
        reasons.extend(found);
    }
    if !reasons.is_empty() {
        if !spec.force {
            return Err(WorktreeError::WouldLoseWork {
                path: target,
                branch: spec.branch.clone(),
                reasons,
            });
        }
        for reason in reasons {
            warnings.push(format!("removed anyway (--force): {reason}"));
        }
    }

    // The directory first, then the entry: an interruption leaves a prunable entry, never an
    // orphaned directory.
    let mut removed_path = None;
    if exists {
        std::fs::remove_dir_all(&target).map_err(|source| WorktreeError::Io {
            path: target.clone(),
            action: "removing the worktree (it may be partly removed; its git entry was kept, \
                     so run the removal again, or delete the directory by hand and run \
                     `git worktree prune`)"
                .to_owned(),
            source,
        })?;
        removed_path = Some(target.clone());
    } else if entry.is_some() {
        warnings.push(format!(
            "{} was already gone; its worktree entry was pruned",
            target.display()
        ));
    }

    let mut pruned_entry = None;
    if let Some(entry) = &entry {
        let action = format!("pruning the worktree entry `{}`", entry.name);
        let wt = repo
            .find_worktree(&entry.name)
            .map_err(WorktreeError::git(&here, &action))?;
        let mut opts = git2::WorktreePruneOptions::new();
        // The directory is gone now, so the entry is invalid; a lock was either absent or
        // overridden by `force` above.
        opts.locked(spec.force).working_tree(false);
        wt.prune(Some(&mut opts))
            .map_err(WorktreeError::git(&here, &action))?;
        pruned_entry = Some(entry.name.clone());
    }

    let branch = match (&spec.branch, branch_tip) {
        (Some(name), Some(tip)) if spec.delete_branch => {
            let fate = delete_branch(&repo, name, tip, &mut warnings);
            if unmerged && matches!(fate, BranchFate::Deleted { .. }) {
                warnings.push(format!(
                    "branch `{name}` held unmerged commits; until git collects them, \
                     `git branch {name} {tip}` restores it"
                ));
            }
            fate
        }
        (Some(name), Some(_)) => BranchFate::Kept(name.clone()),
        _ => BranchFate::None,
    };

    Ok(Removal {
        removed_path,
        pruned_entry,
        branch,
        warnings,
    })
}

/// Why removing the (existing) worktree of `entry` would lose work.
fn worktree_reasons(repo: &Repository, entry: &Entry, spec: &RemoveSpec) -> Result<Vec<String>> {
    let mut reasons = Vec::new();
    if let Some(reason) = &entry.locked {
        reasons.push(format!(
            "the worktree is locked{} (`git worktree unlock {}` unlocks it)",
            reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            entry.path.display()
        ));
    }
    let wt = open_worktree_of(repo, &entry.path)?;
    let st = status_of(&wt)?;
    reasons.extend(st.describe(8));

    // A detached HEAD may hold commits that only this worktree knows.
    if let Ok(head) = wt.head()
        && !head.is_branch()
        && let Some(oid) = head.target()
    {
        let delete = if spec.delete_branch {
            spec.branch.as_deref()
        } else {
            None
        };
        if !reachable_from_a_branch(repo, oid, delete) {
            reasons.push(format!(
                "HEAD is detached at {} with commits on no branch (keep them with \
                 `git -C {} branch <name>`)",
                repo::short(oid),
                entry.path.display()
            ));
        }
    }
    Ok(reasons)
}

/// Why the branch's commits would be at risk: commits not in `base`, unless all their changes
/// are in `base` already (a squash merge), which is noted in `warnings`.
fn branch_reasons(
    repo: &Repository,
    branch: &str,
    tip: git2::Oid,
    base: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>> {
    let base_tip = match repo.find_branch(base, BranchType::Local) {
        Ok(b) => b.get().target(),
        Err(_) => None,
    };
    let Some(base_tip) = base_tip else {
        return Ok(vec![format!(
            "the base branch `{base}` does not exist, so codecafe cannot check that `{branch}` \
             is merged"
        )]);
    };
    let commits = commits_between(repo, base_tip, tip)?;
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    if changes_contained(repo, base_tip, tip) {
        warnings.push(format!(
            "branch `{branch}` has {} commit{} that `{base}` does not, but all their changes are \
             in `{base}` already (squash-merged), so nothing is lost",
            commits.len(),
            if commits.len() == 1 { "" } else { "s" },
        ));
        return Ok(Vec::new());
    }
    let lines: Vec<String> = commits.iter().map(|c| c.line()).collect();
    Ok(vec![format!(
        "branch `{branch}` has {} commit{} not merged into `{base}`: {}",
        commits.len(),
        if commits.len() == 1 { "" } else { "s" },
        list(&lines, 5)
    )])
}

/// Whether merging `tip` into `base_tip` would change nothing: every change of the branch is in
/// the base already (it was squash-merged or cherry-picked). A later revert in the base makes
/// this false again, as it should.
fn changes_contained(repo: &Repository, base_tip: git2::Oid, tip: git2::Oid) -> bool {
    let (Ok(base), Ok(branch)) = (repo.find_commit(base_tip), repo.find_commit(tip)) else {
        return false;
    };
    match repo.merge_commits(&base, &branch, None) {
        Ok(mut index) if !index.has_conflicts() => index
            .write_tree_to(repo)
            .is_ok_and(|tree| tree == base.tree_id()),
        _ => false,
    }
}

/// Whether `oid` is reachable from a local branch other than `except`.
fn reachable_from_a_branch(repo: &Repository, oid: git2::Oid, except: Option<&str>) -> bool {
    let Ok(branches) = repo.branches(Some(BranchType::Local)) else {
        return false;
    };
    for (branch, _) in branches.flatten() {
        if except.is_some() && branch.name().ok().flatten() == except {
            continue;
        }
        if let Some(tip) = branch.get().target()
            && (tip == oid || repo.graph_descendant_of(tip, oid).unwrap_or(false))
        {
            return true;
        }
    }
    false
}

fn delete_branch(
    repo: &Repository,
    name: &str,
    tip: git2::Oid,
    warnings: &mut Vec<String>,
) -> BranchFate {
    let deleted = repo
        .find_branch(name, BranchType::Local)
        .and_then(|mut b| b.delete());
    match deleted {
        Ok(()) => BranchFate::Deleted {
            name: name.to_owned(),
            tip: tip.to_string(),
        },
        Err(err) => {
            warnings.push(format!(
                "branch `{name}` was kept: it could not be deleted ({}); delete it with \
                 `git branch -D {name}` if you are sure",
                err.message()
            ));
            BranchFate::Kept(name.to_owned())
        }
    }
}
