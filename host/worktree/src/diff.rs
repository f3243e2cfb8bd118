//! An order's changes against its base ([`diff`]): what its branch committed since the merge base
//! with the base branch, and — in a separate section, because users review work in progress —
//! what its worktree holds uncommitted.

use std::fmt;
use std::path::{Path, PathBuf};

use git2::{Delta, Diff, DiffFindOptions, DiffOptions, DiffStatsFormat, Oid, Patch, Repository};

use crate::error::{Result, WorktreeError};
use crate::repo;

/// What to diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffTarget {
    /// A local branch. If a worktree (main or linked) has it checked out, that worktree's
    /// uncommitted changes are included too.
    Branch(String),
    /// A working tree of the repository: its HEAD's commits, and its uncommitted changes.
    Worktree(PathBuf),
}

/// How [`DiffSection::text`] is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// A unified patch, as `git diff` prints it.
    Patch,
    /// A summary, as `git diff --stat` prints it.
    Stat,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New file.
    Added,
    /// Removed file.
    Deleted,
    /// Changed content or mode.
    Modified,
    /// Moved (maybe also changed).
    Renamed,
    /// Copied from another file.
    Copied,
    /// Changed type (file ↔ symlink ↔ submodule).
    TypeChanged,
    /// Not tracked by git yet (uncommitted section only).
    Untracked,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Its path now (relative, `/`-separated).
    pub path: String,
    /// Its previous path, when renamed or copied.
    pub old_path: Option<String>,
    /// How it changed.
    pub kind: ChangeKind,
    /// Lines added (0 for binary files).
    pub insertions: usize,
    /// Lines removed (0 for binary files).
    pub deletions: usize,
    /// True when git considers the file binary.
    pub binary: bool,
}

/// One part of a [`DiffReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffSection {
    /// The changed files, in path order.
    pub files: Vec<FileChange>,
    /// Lines added in all files.
    pub insertions: usize,
    /// Lines removed in all files.
    pub deletions: usize,
    /// The patch or the stat summary, as asked; empty when nothing changed.
    pub text: String,
}

impl DiffSection {
    /// True when no file changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The result of [`diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// The base branch.
    pub base: String,
    /// The branch diffed (`None` for a worktree on a detached HEAD).
    pub branch: Option<String>,
    /// The commit diffed (the branch's tip, or the worktree's HEAD).
    pub tip: String,
    /// The merge base of `tip` and the base branch: the "before" side.
    pub merge_base: String,
    /// The worktree whose uncommitted changes are in [`DiffReport::uncommitted`].
    pub worktree: Option<PathBuf>,
    /// Committed changes: merge base → tip (`git diff base...branch`).
    pub committed: DiffSection,
    /// Uncommitted changes in the worktree: tip → working tree, staged and unstaged, untracked
    /// files included as added (`None` when no worktree has the branch checked out).
    pub uncommitted: Option<DiffSection>,
}

impl fmt::Display for DiffReport {
    /// The committed section, then the uncommitted one, each under a `#` header line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self
            .branch
            .as_ref()
            .map(|b| format!("`{b}`"))
            .unwrap_or_else(|| self.tip[..self.tip.len().min(7)].to_owned());
        writeln!(
            f,
            "# committed on {what} since it left `{}` (merge base {})",
            self.base,
            &self.merge_base[..self.merge_base.len().min(7)]
        )?;
        write_section(f, &self.committed)?;
        if let (Some(section), Some(path)) = (&self.uncommitted, &self.worktree) {
            writeln!(f)?;
            writeln!(
                f,
                "# uncommitted in {} (staged, unstaged and untracked)",
                path.display()
            )?;
            write_section(f, section)?;
        }
        Ok(())
    }
}

fn write_section(f: &mut fmt::Formatter<'_>, section: &DiffSection) -> fmt::Result {
    if section.is_empty() {
        writeln!(f, "(no changes)")
    } else if section.text.ends_with('\n') {
        write!(f, "{}", section.text)
    } else {
        writeln!(f, "{}", section.text)
    }
}

/// The changes of `target` against the merge base with the local branch `base`: committed
/// changes, and the uncommitted changes of the worktree that has the branch checked out, in a
/// separate section. Renames are detected in both.
pub fn diff(
    repo_path: &Path,
    target: &DiffTarget,
    base: &str,
    format: DiffFormat,
) -> Result<DiffReport> {
    let repo = repo::open(repo_path)?;
    let here = repo::display_path(&repo);
    let base_tip = repo::branch_tip(&repo, base, "check the order's base branch")?;

    let (branch, tip, worktree) = match target {
        DiffTarget::Branch(name) => {
            let tip = repo::branch_tip(&repo, name, "check the order's branch with `git branch`")?;
            (Some(name.clone()), tip, repo::checkout_of(&repo, name)?)
        }
        DiffTarget::Worktree(path) => {
            let wt = open_worktree_of(&repo, path)?;
            let head = wt
                .head()
                .map_err(WorktreeError::git(path, "reading the worktree's HEAD"))?;
            let branch = if head.is_branch() {
                head.shorthand().ok().map(str::to_owned)
            } else {
                None
            };
            let tip = head.peel_to_commit().map_err(WorktreeError::git(
                path,
                "reading the worktree's HEAD commit",
            ))?;
            (branch, tip.id(), Some(repo::canonical(path)))
        }
    };

    let merge_base = repo.merge_base(tip, base_tip).map_err(|err| {
        if err.code() == git2::ErrorCode::NotFound {
            WorktreeError::BadValue {
                what: format!("base `{base}`"),
                message: format!(
                    "has no history in common with {}; pick the base the order started from",
                    branch.as_deref().unwrap_or("the worktree's HEAD")
                ),
            }
        } else {
            WorktreeError::git(&here, "finding the merge base")(err)
        }
    })?;

    let tree_of = |oid: Oid| {
        repo.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(WorktreeError::git(&here, "reading a commit's tree"))
    };
    let old = tree_of(merge_base)?;
    let new = tree_of(tip)?;
    let mut committed = repo
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut DiffOptions::new()))
        .map_err(WorktreeError::git(&here, "diffing the branch"))?;
    let committed =
        section(&mut committed, format).map_err(WorktreeError::git(&here, "rendering the diff"))?;

    let uncommitted = match &worktree {
        Some(path) => {
            let wt =
                Repository::open(path).map_err(WorktreeError::git(path, "opening the worktree"))?;
            let head_tree = wt
                .head()
                .and_then(|h| h.peel_to_tree())
                .map_err(WorktreeError::git(path, "reading the worktree's HEAD"))?;
            let mut opts = DiffOptions::new();
            opts.include_untracked(true)
                .recurse_untracked_dirs(true)
                .show_untracked_content(true);
            let mut diff = wt
                .diff_tree_to_workdir_with_index(Some(&head_tree), Some(&mut opts))
                .map_err(WorktreeError::git(path, "diffing the working tree"))?;
            Some(
                section(&mut diff, format)
                    .map_err(WorktreeError::git(path, "rendering the diff"))?,
            )
        }
        None => None,
    };

    Ok(DiffReport {
        base: base.to_owned(),
        branch,
        tip: tip.to_string(),
        merge_base: merge_base.to_string(),
        worktree,
        committed,
        uncommitted,
    })
}

/// Opens the working tree at `path` and checks it belongs to `repo`.
pub(crate) fn open_worktree_of(repo: &Repository, path: &Path) -> Result<Repository> {
    let here = repo::display_path(repo);
    let wt = Repository::open(path).map_err(|err| WorktreeError::NotAWorktree {
        repo: here.clone(),
        path: path.to_owned(),
        message: format!(
            "is not a git working tree ({}); `git worktree list` shows the repository's worktrees",
            err.message()
        ),
    })?;
    if repo::canonical(wt.commondir()) != repo::canonical(repo.commondir()) {
        return Err(WorktreeError::NotAWorktree {
            repo: here,
            path: path.to_owned(),
            message: "belongs to another repository".to_owned(),
        });
    }
    Ok(wt)
}

fn section(
    diff: &mut Diff<'_>,
    format: DiffFormat,
) -> std::result::Result<DiffSection, git2::Error> {
    let mut find = DiffFindOptions::new();
    find.renames(true).for_untracked(false);
    diff.find_similar(Some(&mut find))?;
    let mut files = Vec::new();
    let mut text = String::new();
    let (mut insertions, mut deletions) = (0, 0);
    for idx in 0..diff.deltas().len() {
        let Some(delta) = diff.get_delta(idx) else {
            continue;
        };
        let path_of = |f: git2::DiffFile<'_>| {
            f.path_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let new_path = path_of(delta.new_file());
        let old_path = path_of(delta.old_file());
        let kind = match delta.status() {
            Delta::Added => ChangeKind::Added,
            Delta::Deleted => ChangeKind::Deleted,
            Delta::Renamed => ChangeKind::Renamed,
            Delta::Copied => ChangeKind::Copied,
            Delta::Typechange => ChangeKind::TypeChanged,
            Delta::Untracked => ChangeKind::Untracked,
            _ => ChangeKind::Modified,
        };
        let (mut ins, mut del, mut binary) = (0, 0, delta.flags().is_binary());
        match Patch::from_diff(diff, idx)? {
            Some(mut patch) => {
                let (_, a, d) = patch.line_stats()?;
                (ins, del) = (a, d);
                binary |= patch.delta().flags().is_binary();
                if format == DiffFormat::Patch {
                    text.push_str(&String::from_utf8_lossy(&patch.to_buf()?));
                }
            }
            None => binary = true,
        }
        insertions += ins;
        deletions += del;
        let path = match kind {
            ChangeKind::Deleted => old_path.clone(),
            _ => new_path.or_else(|| old_path.clone()),
        }
        .unwrap_or_default();
        files.push(FileChange {
            old_path: matches!(kind, ChangeKind::Renamed | ChangeKind::Copied)
                .then_some(old_path)
                .flatten(),
            path,
            kind,
            insertions: ins,
            deletions: del,
            binary,
        });
    }
    if format == DiffFormat::Stat && !files.is_empty() {
        let stats = diff.stats()?;
        let buf = stats.to_buf(DiffStatsFormat::FULL, 80)?;
        text = String::from_utf8_lossy(&buf).into_owned();
    }
    Ok(DiffSection {
        files,
        insertions,
        deletions,
        text,
    })
}
