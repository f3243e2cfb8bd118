//! Merging an order's branch into another branch ([`merge`]) without disturbing anyone's
//! checkout, and refusing — with nothing changed — when it conflicts.

use std::path::{Path, PathBuf};

use git2::{MergeOptions, Oid, Repository};

use crate::error::{Result, WorktreeError};
use crate::history::commits_between;
use crate::repo;
use crate::status::status_of;

/// What [`merge`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSpec {
    /// The local branch to merge (the order's branch).
    pub branch: String,
    /// The local branch to merge into (usually the order's base).
    pub into: String,
    /// Make one commit with the branch's changes on top of `into` (one parent), instead of a
    /// fast-forward or a merge commit.
    pub squash: bool,
    /// The commit message; a default names the branch (and, for a squash, lists its commits).
    /// Unused for a fast-forward.
    pub message: Option<String>,
}

/// How `into` was moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    /// `into` already contained the branch; nothing was done.
    UpToDate,
    /// `into` was moved forward to the branch's tip; no new commit.
    FastForward,
    /// A merge commit with two parents was made.
    MergeCommit,
    /// One commit with the branch's changes and `into` as its only parent was made.
    Squash,
}

/// The result of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// What happened.
    pub kind: MergeKind,
    /// The branch merged into.
    pub into: String,
    /// `into`'s commit before, 40 hex digits.
    pub old_tip: String,
    /// `into`'s commit after (the same as `old_tip` when up to date).
    pub new_tip: String,
    /// The checkout of `into` that was updated to the new commit, if `into` is checked out.
    pub updated_checkout: Option<PathBuf>,
    /// Things the user should know (e.g. uncommitted changes in the order's worktree that the
    /// merge does not include).
    pub warnings: Vec<String>,
}

/// Merges the local branch `spec.branch` into the local branch `spec.into`.
///
/// - **Fast-forward** when `into` is an ancestor of the branch (unless `squash`), else a **merge
///   commit** computed in memory (`git2::Repository::merge_commits`), or a **squash** commit.
///   The new commit is written to the object database and `refs/heads/<into>` is moved with a
///   compare-and-swap, so a concurrent change of `into` is detected
///   ([`WorktreeError::BranchMoved`]) rather than overwritten.
/// - **`into` not checked out anywhere**: no working tree or index is touched.
/// - **`into` checked out** (in the main checkout or a linked worktree): allowed only when that
///   checkout has no staged, unstaged or conflicted changes
///   ([`WorktreeError::TargetCheckoutDirty`] otherwise; untracked files are fine). Its files and
///   index are then updated to the new commit with a safe checkout, which refuses — before
///   writing anything — if an untracked file would be overwritten
///   ([`WorktreeError::TargetCheckoutBlocked`]). This mirrors `git merge` run in that checkout.
/// - **Conflicts**: [`WorktreeError::MergeConflict`] lists the paths; no ref, index or working
///   tree has changed.
/// - Uncommitted changes in the branch's own worktree are not part of the merge; a warning says
///   so.
pub fn merge(repo_path: &Path, spec: &MergeSpec) -> Result<MergeOutcome> {
    let repo = repo::open(repo_path)?;
    let here = repo::display_path(&repo);
    if spec.branch == spec.into {
        return Err(WorktreeError::BadValue {
            what: format!("merge `{}` into `{}`", spec.branch, spec.into),
            message: "a branch cannot be merged into itself; choose another target (`--into`)"
                .to_owned(),
        });
    }
    let theirs = repo::branch_tip(
        &repo,
        &spec.branch,
        "check the order's branch with `git branch`",
    )?;
    let ours = repo::branch_tip(
        &repo,
        &spec.into,
        "pass an existing branch to merge into (`--into`)",
    )?;
    let mut warnings = Vec::new();
    if let Some(path) = repo::checkout_of(&repo, &spec.branch)?
        && let Ok(st) = crate::status::status(&path)
        && !st.is_clean()
    {
        warnings.push(format!(
            "{} has uncommitted changes that are not part of this merge: {}",
            path.display(),
            st.describe(5).join("; ")
        ));
    }
    let outcome = |kind, new: Oid, updated_checkout, warnings| MergeOutcome {
        kind,
        into: spec.into.clone(),
        old_tip: ours.to_string(),
        new_tip: new.to_string(),
        updated_checkout,
        warnings,
    };

    let git = |action: &str| WorktreeError::git(&here, action.to_owned());
    let merge_base = repo.merge_base(ours, theirs).map_err(|err| {
        if err.code() == git2::ErrorCode::NotFound {
            WorktreeError::BadValue {
                what: format!("merge `{}` into `{}`", spec.branch, spec.into),
                message: "the branches have no history in common; nothing was changed".to_owned(),
            }
        } else {
            git("finding the merge base")(err)
        }
    })?;
    if merge_base == theirs {
        return Ok(outcome(MergeKind::UpToDate, ours, None, warnings));
    }

    let our_commit = repo.find_commit(ours).map_err(git("reading commits"))?;
    let their_commit = repo.find_commit(theirs).map_err(git("reading commits"))?;
    let fast_forward = merge_base == ours;

    let (kind, new) = if fast_forward && !spec.squash {
        (MergeKind::FastForward, theirs)
    } else {
        let tree_id = if fast_forward {
            their_commit.tree_id()
        } else {
            let mut index = repo
                .merge_commits(&our_commit, &their_commit, Some(&MergeOptions::new()))
                .map_err(git("merging in memory"))?;
            if index.has_conflicts() {
                return Err(WorktreeError::MergeConflict {
                    repo: here,
                    branch: spec.branch.clone(),
                    into: spec.into.clone(),
                    paths: conflict_paths(&index),
                });
            }
            index
                .write_tree_to(&repo)
                .map_err(git("writing the merged tree"))?
        };
        let tree = repo
            .find_tree(tree_id)
            .map_err(git("reading the merged tree"))?;
        let (author, committer) = repo::identities(&repo)?;
        let (kind, parents, message) = if spec.squash {
            let message = match &spec.message {
                Some(m) => m.clone(),
                None => squash_message(&repo, &spec.branch, ours, theirs)?,
            };
            (MergeKind::Squash, vec![&our_commit], message)
        } else {
            let message = spec
                .message
                .clone()
                .unwrap_or_else(|| format!("Merge branch '{}' into {}", spec.branch, spec.into));
            (
                MergeKind::MergeCommit,
                vec![&our_commit, &their_commit],
                message,
            )
        };
        // `None`: write the commit object only; the ref is moved below, after the checkout.
        let oid = repo
            .commit(None, &author, &committer, &message, &tree, &parents)
            .map_err(git("writing the commit"))?;
        (kind, oid)
    };

    let checkout = repo::checkout_of(&repo, &spec.into)?;
    if let Some(path) = &checkout {
        update_checkout(&spec.into, path, new)?;
    }
    let log = format!("codecafe merge {}: {:?}", spec.branch, kind);
    let moved =
        repo.reference_matching(&format!("refs/heads/{}", spec.into), new, true, ours, &log);
    if let Err(err) = moved {
        if let Some(path) = &checkout {
            // Put the checkout back where its branch still is.
            if let Err(undo) = update_checkout(&spec.into, path, ours) {
                tracing::warn!(path = %path.display(), %undo, "could not restore the checkout");
            }
        }
        return Err(if err.code() == git2::ErrorCode::Modified {
            WorktreeError::BranchMoved {
                repo: here,
                branch: spec.into.clone(),
            }
        } else {
            git(&format!("moving branch `{}`", spec.into))(err)
        });
    }
    Ok(outcome(kind, new, checkout, warnings))
}

/// Brings the clean checkout at `path` (which has `into` checked out) to `commit`: files and
/// index, safely (nothing is written if an untracked file is in the way).
fn update_checkout(into: &str, path: &Path, commit: Oid) -> Result<()> {
    let wt = Repository::open(path).map_err(WorktreeError::git(path, "opening the checkout"))?;
    let st = status_of(&wt)?;
    if !st.tracked_clean() {
        let mut changes = st.describe(10);
        changes.retain(|line| !line.contains("untracked"));
        return Err(WorktreeError::TargetCheckoutDirty {
            into: into.to_owned(),
            path: path.to_owned(),
            changes,
        });
    }
    let target = wt
        .find_commit(commit)
        .map_err(WorktreeError::git(path, "reading the merged commit"))?;
    let mut opts = git2::build::CheckoutBuilder::new();
    opts.safe();
    wt.checkout_tree(target.as_object(), Some(&mut opts))
        .map_err(|err| {
            if err.code() == git2::ErrorCode::Conflict {
                WorktreeError::TargetCheckoutBlocked {
                    into: into.to_owned(),
                    path: path.to_owned(),
                    message: err.message().to_owned(),
                }
            } else {
                WorktreeError::git(path, format!("updating the checkout of `{into}`"))(err)
            }
        })
}

fn conflict_paths(index: &git2::Index) -> Vec<String> {
    let mut paths = Vec::new();
    if let Ok(conflicts) = index.conflicts() {
        for conflict in conflicts.flatten() {
            let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
            if let Some(entry) = entry {
                let path = String::from_utf8_lossy(&entry.path).into_owned();
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
    }
    paths.sort();
    paths
}

fn squash_message(repo: &Repository, branch: &str, ours: Oid, theirs: Oid) -> Result<String> {
    let commits = commits_between(repo, ours, theirs)?;
    let mut message = format!("Squashed branch '{branch}'\n\n");
    for commit in commits.iter().rev() {
        message.push_str(&format!("* {}\n", commit.summary));
    }
    Ok(message)
}
