//! The worktree crate's errors. Every variant names the repository, branch or path involved and
//! says what to do next.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong creating, inspecting, merging or removing an order's branch and
/// worktree.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// The path is not a usable git repository.
    #[error("{}: {message}", path.display())]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used, and what to do.
        message: String,
    },

    /// A name (branch prefix, order id) cannot be used in a branch or directory name.
    #[error("`{value}` is not a valid {what}: {rule}")]
    InvalidName {
        /// What the name is for (`branch prefix`, `order id`, ...).
        what: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks.
        rule: String,
    },

    /// A branch that must exist does not.
    #[error(
        "{}: there is no local branch `{branch}`{}; {hint}",
        repo.display(),
        BranchList(existing)
    )]
    BranchNotFound {
        /// The repository.
        repo: PathBuf,
        /// The branch asked for.
        branch: String,
        /// A few local branches that do exist (sorted, at most ten).
        existing: Vec<String>,
        /// What to do.
        hint: String,
    },

    /// The branch prefix collides with an existing branch (git cannot have both `x` and `x/y`).
    #[error(
        "{}: branches cannot be created under `{prefix}/` because a branch named `{existing}` \
         exists; choose another branch prefix (the cafe's branch-prefix setting or `--prefix`), \
         or rename that branch",
        repo.display()
    )]
    PrefixConflict {
        /// The repository.
        repo: PathBuf,
        /// The prefix asked for.
        prefix: String,
        /// The existing branch in the way.
        existing: String,
    },

    /// A locked worktree entry is registered where the new worktree would go.
    #[error(
        "{}: the worktree entry `{name}` for {} is locked{} and codecafe will not prune it; \
         if that worktree is really gone, run `git worktree unlock {}` and `git worktree prune`, \
         then try again",
        repo.display(),
        path.display(),
        reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
        path.display()
    )]
    WorktreeLocked {
        /// The repository.
        repo: PathBuf,
        /// The entry's name under `.git/worktrees/`.
        name: String,
        /// The worktree path the entry records.
        path: PathBuf,
        /// The lock reason, if one was given.
        reason: Option<String>,
    },

    /// No free branch/directory name was found after many attempts.
    #[error(
        "{}: `{first}` and {tries} numbered variants are all taken (by branches, worktrees or \
         directories under {}); remove old branches or worktrees, or use another branch prefix",
        repo.display(),
        root.display()
    )]
    NoFreeName {
        /// The repository.
        repo: PathBuf,
        /// The first name tried.
        first: String,
        /// How many variants were tried after it.
        tries: usize,
        /// The worktree root.
        root: PathBuf,
    },

    /// A path is not a worktree registered with this repository.
    #[error("{}: {} {message}", repo.display(), path.display())]
    NotAWorktree {
        /// The repository.
        repo: PathBuf,
        /// The path given.
        path: PathBuf,
        /// Why, and what to do.
        message: String,
    },

    /// Removal would lose work, and `force` was not given.
    #[error(
        "refusing to remove worktree {}{}:\n{}\nnothing was changed. Commit or discard the \
         changes, merge the branch (`codecafe order merge`), or pass `--force` to remove the \
         worktree anyway (the branch is kept unless `--delete-branch` is also given)",
        path.display(),
        branch.as_ref().map(|b| format!(" (branch `{b}`)")).unwrap_or_default(),
        Bullets(reasons)
    )]
    WouldLoseWork {
        /// The worktree.
        path: PathBuf,
        /// The order's branch.
        branch: Option<String>,
        /// Every reason found.
        reasons: Vec<String>,
    },

    /// A merge has conflicts; nothing was changed.
    #[error(
        "{}: merging `{branch}` into `{into}` conflicts in {} file(s):\n{}\nnothing was changed \
         (refs, index and working trees are as they were). Resolve it in the order's worktree \
         (e.g. `git merge {into}` there, fix, commit) and merge again",
        repo.display(),
        paths.len(),
        Bullets(paths)
    )]
    MergeConflict {
        /// The repository.
        repo: PathBuf,
        /// The branch being merged.
        branch: String,
        /// The branch merged into.
        into: String,
        /// The conflicting paths.
        paths: Vec<String>,
    },

    /// The merge target is checked out in a worktree that has changes, so it cannot be updated.
    #[error(
        "`{into}` is checked out in {} and that checkout has changes:\n{}\nnothing was changed. \
         Commit or stash them there, or merge into `{into}` from a checkout where it is not the \
         current branch",
        path.display(),
        Bullets(changes)
    )]
    TargetCheckoutDirty {
        /// The branch merged into.
        into: String,
        /// The checkout that has it.
        path: PathBuf,
        /// What is changed there.
        changes: Vec<String>,
    },

    /// Updating the checkout of the merge target would overwrite files there.
    #[error(
        "`{into}` is checked out in {} and updating it would overwrite files there ({message}); \
         nothing was changed. Move those files away (they are probably untracked) and merge again",
        path.display()
    )]
    TargetCheckoutBlocked {
        /// The branch merged into.
        into: String,
        /// The checkout that has it.
        path: PathBuf,
        /// libgit2's explanation.
        message: String,
    },

    /// A branch moved while we were working on it.
    #[error(
        "{}: branch `{branch}` changed while codecafe was updating it (another process?); \
         nothing of ours was written to it. Run the command again",
        repo.display()
    )]
    BranchMoved {
        /// The repository.
        repo: PathBuf,
        /// The branch.
        branch: String,
    },

    /// No name/e-mail is configured for commits.
    #[error(
        "{}: no identity for commits ({message}); set one with `git config --global user.name \
         \"Your Name\"` and `git config --global user.email you@example.com`",
        repo.display()
    )]
    NoIdentity {
        /// The repository.
        repo: PathBuf,
        /// libgit2's explanation.
        message: String,
    },

    /// A value given is unusable for this operation.
    #[error("{what}: {message}")]
    BadValue {
        /// Which value.
        what: String,
        /// Why, and what would be accepted.
        message: String,
    },

    /// A file or directory could not be read, written or removed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What codecafe was doing.
        action: String,
        /// The cause.
        source: std::io::Error,
    },

    /// A git operation failed.
    #[error("{}: {action}: {message}", path.display())]
    Git {
        /// The repository or worktree.
        path: PathBuf,
        /// What codecafe was doing.
        action: String,
        /// libgit2's explanation.
        message: String,
        /// libgit2's error code.
        code: git2::ErrorCode,
    },
}

impl WorktreeError {
    /// A closure mapping a libgit2 error met while doing `action` on `path`.
    pub(crate) fn git(
        path: impl Into<PathBuf>,
        action: impl Into<String>,
    ) -> impl FnOnce(git2::Error) -> Self {
        let path = path.into();
        let action = action.into();
        move |err| Self::Git {
            path,
            action,
            message: err.message().to_owned(),
            code: err.code(),
        }
    }

    /// A closure mapping an I/O error met while doing `action` on `path`.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: impl Into<String>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        let action = action.into();
        move |source| Self::Io {
            path,
            action,
            source,
        }
    }
}

/// `; local branches: a, b, c` (or nothing when there are none).
struct BranchList<'a>(&'a [String]);

impl fmt::Display for BranchList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(
                f,
                " (the repository has no local branches yet; make a first commit)"
            )
        } else {
            write!(f, " (local branches: {})", self.0.join(", "))
        }
    }
}

/// One `  - item` line per item.
struct Bullets<'a>(&'a [String]);

impl fmt::Display for Bullets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {item}")?;
        }
        Ok(())
    }
}

/// The worktree crate's result type.
pub type Result<T, E = WorktreeError> = std::result::Result<T, E>;
