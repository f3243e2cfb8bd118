//! # codecafe-worktree
//!
//! An order's branch and git worktree, made and unmade with git2 so that **no commit and no
//! uncommitted change is ever lost**, and no orphaned worktree entry or silently reused branch
//! is left behind.
//!
//! Free functions on a repository path (the cafe's top level, or any path inside it); each opens
//! the repository itself, so callers hold no git state between calls:
//!
//! | function | does |
//! |---|---|
//! | [`create()`] | branch `<prefix>/<short-id>` from the base branch + a worktree under the worktree root, or run in place |
//! | [`status()`] | a worktree's staged, unstaged, conflicted and untracked files |
//! | [`unmerged_commits`] | commits on a branch that its base does not have |
//! | [`diff()`] | committed changes since the merge base, plus the worktree's uncommitted ones, as a patch or a stat |
//! | [`merge()`] | fast-forward, merge commit or squash into a branch, in memory; refuses on conflict with nothing changed |
//! | [`remove()`] | refuses when work would be lost unless forced; deletes the directory, prunes the entry, keeps the branch unless asked |
//!
//! Decisions (details on each function):
//! - A **taken branch name** is never reused: [`create()`] picks `<short-id>-2`, `-3`, ... for both
//!   the branch and the directory, and says so in a warning.
//! - **Merging into a branch that is checked out** (in the main checkout or any worktree) is
//!   allowed when that checkout has no changes to tracked files; it is then updated like
//!   `git merge` would. Otherwise the merge is refused with nothing changed.
//! - Every error ([`WorktreeError`]) names the repository, branch or path and says what to do.

pub mod create;
pub mod diff;
pub mod error;
pub mod history;
pub mod merge;
pub mod remove;
mod repo;
pub mod status;

pub use create::{CreateSpec, Workspace, create};
pub use diff::{ChangeKind, DiffFormat, DiffReport, DiffSection, DiffTarget, FileChange, diff};
pub use error::{Result, WorktreeError};
pub use history::{CommitInfo, unmerged_commits};
pub use merge::{MergeKind, MergeOutcome, MergeSpec, merge};
pub use remove::{BranchFate, Removal, RemoveSpec, remove};
pub use status::{WorktreeStatus, status};
