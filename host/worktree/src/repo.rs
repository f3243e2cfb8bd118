//! Shared helpers: opening repositories, finding branches, listing worktree entries and the
//! checkouts that have a branch, commit identities, paths.

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, Signature};

use crate::error::{Result, WorktreeError};

/// Opens the repository at `path` (its top level, a subdirectory, or one of its worktrees).
/// Bare repositories are refused: orders need a working tree.
pub(crate) fn open(path: &Path) -> Result<Repository> {
    let repo = Repository::discover(path).map_err(|err| WorktreeError::NotARepository {
        path: path.to_owned(),
        message: format!(
            "not inside a git repository ({}); give the cafe's path, or run `git init` there",
            err.message()
        ),
    })?;
    if repo.is_bare() {
        return Err(WorktreeError::NotARepository {
            path: path.to_owned(),
            message: "is a bare repository; orders need a working tree (clone it first)".to_owned(),
        });
    }
    Ok(repo)
}

/// The repository's main working tree (even when `repo` was opened from a linked worktree).
pub(crate) fn main_workdir(repo: &Repository) -> Option<PathBuf> {
    if !repo.is_worktree() {
        return repo.workdir().map(canonical);
    }
    let main = Repository::open(repo.commondir()).ok()?;
    main.workdir().map(canonical)
}

/// The path used in messages for `repo`: its working tree, or its git directory.
pub(crate) fn display_path(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_owned()
}

/// `path` made absolute with symlinks resolved, as far as it exists: a missing tail is
/// appended to its nearest existing ancestor, so paths of deleted worktrees still compare equal
/// to the paths git recorded for them.
pub(crate) fn canonical(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_owned())
    };
    let mut tail = Vec::new();
    let mut head = absolute.as_path();
    while let Some(parent) = head.parent() {
        if let Some(name) = head.file_name() {
            tail.push(name.to_owned());
        }
        if let Ok(real) = std::fs::canonicalize(parent) {
            let mut out = real;
            for name in tail.iter().rev() {
                out.push(name);
            }
            return out;
        }
        head = parent;
    }
    absolute
}

/// The sorted names of the local branches, at most `limit` (with a final `… N more`).
pub(crate) fn some_local_branches(repo: &Repository, limit: usize) -> Vec<String> {
    let mut names: Vec<String> = match repo.branches(Some(BranchType::Local)) {
        Ok(branches) => branches
            .filter_map(|b| b.ok())
            .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    if names.len() > limit {
        let more = names.len() - limit;
        names.truncate(limit);
        names.push(format!("… {more} more (`git branch` lists them)"));
    }
    names
}

/// The tip of the local branch `name`, or a [`WorktreeError::BranchNotFound`] listing the local
/// branches and `hint`.
pub(crate) fn branch_tip(repo: &Repository, name: &str, hint: &str) -> Result<Oid> {
    let not_found = || {
        let mut hint = hint.to_owned();
        if repo.find_branch(name, BranchType::Remote).is_ok() {
            hint = format!(
                "`{name}` is a remote-tracking branch; create a local one with \
                 `git branch {} {name}`, or {hint}",
                name.split_once('/').map(|(_, b)| b).unwrap_or(name)
            );
        }
        WorktreeError::BranchNotFound {
            repo: display_path(repo),
            branch: name.to_owned(),
            existing: some_local_branches(repo, 10),
            hint,
        }
    };
    let branch = match repo.find_branch(name, BranchType::Local) {
        Ok(branch) => branch,
        Err(err) if err.code() == git2::ErrorCode::NotFound => return Err(not_found()),
        Err(err) if err.code() == git2::ErrorCode::InvalidSpec => return Err(not_found()),
        Err(err) => {
            return Err(WorktreeError::git(
                display_path(repo),
                format!("reading branch `{name}`"),
            )(err));
        }
    };
    let commit = branch.get().peel_to_commit().map_err(WorktreeError::git(
        display_path(repo),
        format!("reading the commit of branch `{name}`"),
    ))?;
    Ok(commit.id())
}

/// Whether the local branch `name` exists.
pub(crate) fn branch_exists(repo: &Repository, name: &str) -> bool {
    repo.find_branch(name, BranchType::Local).is_ok()
}

/// One entry under `.git/worktrees/`.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its name (the directory under `.git/worktrees/`).
    pub name: String,
    /// The working tree path it records.
    pub path: PathBuf,
    /// Whether its working tree still exists.
    pub valid: bool,
    /// `Some(reason)` when locked.
    pub locked: Option<Option<String>>,
    /// The branch its HEAD names (`refs/heads/...` stripped), if any.
    pub branch: Option<String>,
}

impl Entry {
    /// Locked by a creation still under way (`git worktree add` and codecafe both lock a new
    /// entry with the reason "initializing" until its checkout is done).
    pub fn initializing(&self) -> bool {
        matches!(&self.locked, Some(Some(reason)) if reason.trim() == "initializing")
    }
}

/// The linked worktrees registered with the repository.
pub(crate) fn entries(repo: &Repository) -> Result<Vec<Entry>> {
    let here = display_path(repo);
    let names = repo
        .worktrees()
        .map_err(WorktreeError::git(&here, "listing worktrees"))?;
    let mut out = Vec::new();
    for name in names.iter().flatten().flatten() {
        let Ok(wt) = repo.find_worktree(name) else {
            continue;
        };
        let locked = match wt.is_locked() {
            Ok(git2::WorktreeLockStatus::Locked(reason)) => Some(reason),
            _ => None,
        };
        let head_file = repo.commondir().join("worktrees").join(name).join("HEAD");
        out.push(Entry {
            name: name.to_owned(),
            path: canonical(wt.path()),
            valid: wt.validate().is_ok(),
            locked,
            branch: read_head_branch(&head_file),
        });
    }
    Ok(out)
}

/// The branch a `HEAD` file names, if it is symbolic to a local branch.
fn read_head_branch(head_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(head_file).ok()?;
    text.trim()
        .strip_prefix("ref:")
        .map(str::trim)
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .map(str::to_owned)
}

/// A working tree (main or linked) that has `branch` checked out and still exists.
pub(crate) fn checkout_of(repo: &Repository, branch: &str) -> Result<Option<PathBuf>> {
    if read_head_branch(&repo.commondir().join("HEAD")).as_deref() == Some(branch)
        && let Some(main) = main_workdir(repo)
    {
        return Ok(Some(main));
    }
    Ok(entries(repo)?
        .into_iter()
        .find(|e| e.valid && e.branch.as_deref() == Some(branch))
        .map(|e| e.path))
}

/// The author and committer for a commit codecafe makes: `GIT_AUTHOR_*` / `GIT_COMMITTER_*`
/// from the environment when set (as `git` does), else the repository's `user.name` and
/// `user.email`.
pub(crate) fn identities(repo: &Repository) -> Result<(Signature<'static>, Signature<'static>)> {
    let from_env = |who: &str| -> Option<Signature<'static>> {
        let name = std::env::var(format!("GIT_{who}_NAME")).ok()?;
        let email = std::env::var(format!("GIT_{who}_EMAIL")).ok()?;
        Signature::now(&name, &email).ok()
    };
    let configured = || {
        repo.signature().map_err(|err| WorktreeError::NoIdentity {
            repo: display_path(repo),
            message: err.message().to_owned(),
        })
    };
    let author = match from_env("AUTHOR") {
        Some(sig) => sig,
        None => configured()?,
    };
    let committer = match from_env("COMMITTER") {
        Some(sig) => sig,
        None => configured().unwrap_or_else(|_| author.clone()),
    };
    Ok((author, committer))
}

/// `abc1234`: the first seven hex digits of `oid`.
pub(crate) fn short(oid: Oid) -> String {
    let mut s = oid.to_string();
    s.truncate(7);
    s
}

/// The summary line of a commit, lossily decoded.
pub(crate) fn summary(commit: &git2::Commit<'_>) -> String {
    match commit.summary_bytes() {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => String::new(),
    }
}
