//! Creating an order's branch and worktree ([`create`]), or running in place
//! ([`CreateSpec::no_worktree`]).
//!
//! The worktree is registered exactly as `git worktree add` registers one (the files under
//! `.git/worktrees/<name>/` and the `.git` file in the working tree), then checked out with
//! libgit2 from the base branch's commit; see [`create`] for the choices made on the way.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::error::{Result, WorktreeError};
use crate::repo::{self, Entry};

/// How many numbered variants (`-2`, `-3`, ...) of a taken name are tried before giving up.
const MAX_VARIANTS: usize = 99;

/// How many times a name taken by a concurrent creation is replaced by the next free one.
const RACE_RETRIES: usize = 16;

/// What [`create`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSpec {
    /// The order's short id: the last component of the branch and the worktree's directory
    /// name. Letters, digits, `.`, `_` and `-`; not starting with `.` or `-`.
    pub short_id: String,
    /// Branch prefix, e.g. `codecafe` for `codecafe/<short-id>`; empty for no prefix.
    /// Trailing `/` are ignored.
    pub branch_prefix: String,
    /// The local branch the new branch starts from. It must exist.
    pub base_branch: String,
    /// The directory that holds the order worktrees (created if missing). It should be outside
    /// the repository's working tree; a warning says so when it is not.
    pub worktree_root: PathBuf,
    /// Run in place on the repository's current checkout: no branch, no worktree.
    pub no_worktree: bool,
}

/// Where an order runs, as made by [`create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The order's branch: `<prefix>/<short-id>` (or a numbered variant, see [`create`]). When
    /// running in place, the branch checked out there (`None` on a detached HEAD).
    pub branch: Option<String>,
    /// The directory the agent works in: the new worktree, or the repository's top level when
    /// running in place.
    pub path: PathBuf,
    /// The base branch's commit the branch starts from (the current HEAD when in place), as
    /// 40 hex digits.
    pub base_commit: String,
    /// The base branch, as given.
    pub base_branch: String,
    /// True when running in place ([`CreateSpec::no_worktree`]).
    pub in_place: bool,
    /// Things the user should know (print them): running in place, a taken name replaced by a
    /// numbered variant, a stale worktree entry pruned, a worktree root inside the repository.
    pub warnings: Vec<String>,
}

/// Creates the branch `<prefix>/<short-id>` from `base_branch` and a worktree for it at
/// `<worktree_root>/<short-id>`, or, with `no_worktree`, returns the current checkout.
///
/// - **The base branch** must be a local branch; otherwise the error names it, lists some local
///   branches, and points at `git branch <b> origin/<b>` when only a remote-tracking branch has
///   that name.
/// - **Taken names are never reused.** If the branch already exists, or the directory exists,
///   or a live worktree entry has that name, the numbered variant `<short-id>-2` (then `-3`, ...)
///   is used for both the branch and the directory, and a warning says so. Someone's branch is
///   never moved, reset or checked out.
/// - **Stale worktree entries** (registered, unlocked, whose directory is gone) that stand in the
///   way are pruned (their metadata only; their branch stays), with a warning. A **locked** entry
///   in the way is an error ([`WorktreeError::WorktreeLocked`]) that says how to unlock it.
/// - **A dirty main checkout** does not matter: the worktree is checked out from the base
///   branch's commit, never from anyone's working tree or index.
/// - If anything fails after the branch was created, the branch (still at the base commit, so
///   holding no work), the directory and the entry are removed again — only what this call
///   made.
/// - **Concurrent creations** (several codecafe processes, or threads) never collide: choosing
///   the name and registering the entry happen under an advisory lock on
///   `<git dir>/codecafe-worktree.lock` (released even if the process dies), and an entry still
///   being checked out is locked "initializing", as `git worktree add` does, so it is never
///   taken for a stale one. If plain `git` takes a name in between, the next free one is used.
/// - A worktree root inside the repository's working tree works but gets a warning.
pub fn create(repo_path: &Path, spec: &CreateSpec) -> Result<Workspace> {
    let repo = repo::open(repo_path)?;
    let here = repo::display_path(&repo);
    let prefix = spec.branch_prefix.trim_end_matches('/');
    check_short_id(&spec.short_id)?;
    check_prefix(prefix)?;
    let base = repo::branch_tip(
        &repo,
        &spec.base_branch,
        "pass an existing branch as the base (`--base`, or the cafe's base-branch setting)",
    )?;

    if spec.no_worktree {
        return in_place(&repo, spec, base);
    }

    if let Some(existing) = prefix_in_the_way(&repo, prefix) {
        return Err(WorktreeError::PrefixConflict {
            repo: here,
            prefix: prefix.to_owned(),
            existing,
        });
    }

    std::fs::create_dir_all(&spec.worktree_root).map_err(WorktreeError::io(
        &spec.worktree_root,
        "creating the worktree root",
    ))?;
    let root = repo::canonical(&spec.worktree_root);
    let mut warnings = Vec::new();
    if let Some(main) = repo::main_workdir(&repo)
        && root.starts_with(&main)
    {
        warnings.push(format!(
            "the worktree root {} is inside the repository's working tree {}; its worktrees \
             will show up there as untracked files. Set a worktree root outside it",
            root.display(),
            main.display()
        ));
    }

    let commit = repo
        .find_commit(base)
        .map_err(WorktreeError::git(&here, "reading the base commit"))?;
    let chosen = {
        // Choosing a name, pruning stale entries and registering the new entry happen under a
        // lock shared by every codecafe process, so two of them never pick the same name or
        // take each other's half-made entry for a stale one. The checkout (the slow part)
        // runs after the lock is released; the entry stays locked ("initializing") until then.
        let _lock = CreateLock::acquire(&repo)?;
        register_new(&repo, &commit, &root, prefix, &spec.short_id, &mut warnings)?
    };
    if let Err(err) = check_out(&repo, &chosen) {
        undo(&repo, &chosen, base);
        return Err(err);
    }

    tracing::debug!(branch = %chosen.branch, path = %chosen.path.display(), "worktree created");
    Ok(Workspace {
        branch: Some(chosen.branch),
        path: chosen.path,
        base_commit: base.to_string(),
        base_branch: spec.base_branch.clone(),
        in_place: false,
        warnings,
    })
}

/// The `no_worktree` case: the current checkout as it is.
fn in_place(repo: &Repository, spec: &CreateSpec, base: Oid) -> Result<Workspace> {
    let here = repo::display_path(repo);
    let path =
        repo.workdir()
            .map(repo::canonical)
            .ok_or_else(|| WorktreeError::NotARepository {
                path: here.clone(),
                message: "has no working tree".to_owned(),
            })?;
    let head = repo
        .head()
        .map_err(WorktreeError::git(&here, "reading HEAD"))?;
    let branch = if head.is_branch() {
        head.shorthand().ok().map(str::to_owned)
    } else {
        None
    };
    let head_commit = head.peel_to_commit().map_err(WorktreeError::git(
        &here,
        "reading the commit HEAD points at",
    ))?;
    let on = match &branch {
        Some(b) => format!("branch `{b}`"),
        None => format!("a detached HEAD at {}", repo::short(head_commit.id())),
    };
    let mut warnings = vec![format!(
        "running in place in {} on {on}: the agent changes your checkout directly, with no \
         separate branch or worktree, and deleting the order leaves the checkout as it is",
        path.display()
    )];
    if branch.as_deref() != Some(spec.base_branch.as_str()) && head_commit.id() != base {
        warnings.push(format!(
            "the checkout is not on the base branch `{}`; diffs and merges compare against it",
            spec.base_branch
        ));
    }
    Ok(Workspace {
        branch,
        path,
        base_commit: head_commit.id().to_string(),
        base_branch: spec.base_branch.clone(),
        in_place: true,
        warnings,
    })
}

fn check_short_id(id: &str) -> Result<()> {
    let rule = "use letters, digits, `.`, `_` and `-`, not starting with `.` or `-`, not ending \
                with `.lock`";
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with(['.', '-'])
        && !id.ends_with(".lock")
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(WorktreeError::InvalidName {
            what: "order id for a branch",
            value: id.to_owned(),
            rule: rule.to_owned(),
        })
    }
}

fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || git2::Reference::is_valid_name(&format!("refs/heads/{prefix}/x")) {
        Ok(())
    } else {
        Err(WorktreeError::InvalidName {
            what: "branch prefix",
            value: prefix.to_owned(),
            rule: "it must be usable in a git branch name (no spaces, `..`, `~`, `^`, `:`, `?`, \
                   `*`, `[`, `\\`, and no component starting with `.`)"
                .to_owned(),
        })
    }
}

/// A branch named like the prefix or one of its leading parts (`a` for `a/b`), which makes
/// every `<prefix>/...` branch impossible.
fn prefix_in_the_way(repo: &Repository, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    let mut at = 0;
    loop {
        let end = prefix[at..]
            .find('/')
            .map(|i| at + i)
            .unwrap_or(prefix.len());
        let part = &prefix[..end];
        if repo::branch_exists(repo, part) {
            return Some(part.to_owned());
        }
        if end == prefix.len() {
            return None;
        }
        at = end + 1;
    }
}

/// The branch, entry name and path picked for a new worktree.
#[derive(Debug)]
struct Chosen {
    branch: String,
    name: String,
    path: PathBuf,
}

/// Picks the first free `<short-id>[-n]`: no branch of that name (nor branches below it), no
/// file or directory at the path, no live worktree entry with that name or path. Stale entries in
/// the way are pruned; a locked one is an error.
fn choose_name(
    repo: &Repository,
    root: &Path,
    prefix: &str,
    short_id: &str,
    entries: &[Entry],
    warnings: &mut Vec<String>,
) -> Result<Chosen> {
    let here = repo::display_path(repo);
    let branch_for = |leaf: &str| {
        if prefix.is_empty() {
            leaf.to_owned()
        } else {
            format!("{prefix}/{leaf}")
        }
    };
    let mut taken: Vec<String> = Vec::new();
    for n in 1..=MAX_VARIANTS + 1 {
        let leaf = if n == 1 {
            short_id.to_owned()
        } else {
            format!("{short_id}-{n}")
        };
        let branch = branch_for(&leaf);
        let path = root.join(&leaf);
        if repo::branch_exists(repo, &branch) {
            taken.push(format!("branch `{branch}` exists"));
            continue;
        }
        if has_refs_below(repo, &branch) {
            taken.push(format!("branches named `{branch}/...` exist"));
            continue;
        }
        let in_the_way: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.name == leaf || e.path == path)
            .collect();
        if in_the_way.iter().any(|e| e.valid || e.initializing()) {
            taken.push(format!("worktree `{leaf}` is in use"));
            continue;
        }
        if let Some(locked) = in_the_way.iter().find(|e| e.locked.is_some()) {
            return Err(WorktreeError::WorktreeLocked {
                repo: here,
                name: locked.name.clone(),
                path: locked.path.clone(),
                reason: locked.locked.clone().flatten(),
            });
        }
        for stale in &in_the_way {
            prune_stale(repo, stale)?;
            warnings.push(format!(
                "pruned the stale worktree entry `{}` (its directory {} was gone; its branch, \
                 if any, is kept)",
                stale.name,
                stale.path.display()
            ));
        }
        if path.symlink_metadata().is_ok() {
            taken.push(format!("{} exists", path.display()));
            continue;
        }
        if repo.commondir().join("worktrees").join(&leaf).exists() {
            taken.push(format!("`.git/worktrees/{leaf}` exists"));
            continue;
        }
        if n > 1 {
            warnings.push(format!(
                "using `{branch}` at {} because {}; existing branches and directories are \
                 never reused",
                path.display(),
                taken.join(", ")
            ));
        }
        return Ok(Chosen {
            branch,
            name: leaf,
            path,
        });
    }
    Err(WorktreeError::NoFreeName {
        repo: here,
        first: branch_for(short_id),
        tries: MAX_VARIANTS,
        root: root.to_owned(),
    })
}

fn has_refs_below(repo: &Repository, branch: &str) -> bool {
    repo.references_glob(&format!("refs/heads/{branch}/*"))
        .map(|mut refs| refs.next().is_some())
        .unwrap_or(false)
}

/// Prunes the metadata of a worktree whose directory is gone (never a valid or locked one).
fn prune_stale(repo: &Repository, entry: &Entry) -> Result<()> {
    let here = repo::display_path(repo);
    let action = format!("pruning the stale worktree entry `{}`", entry.name);
    let wt = repo
        .find_worktree(&entry.name)
        .map_err(WorktreeError::git(&here, &action))?;
    // Default flags: only an invalid (directory gone), unlocked entry is pruned.
    wt.prune(Some(&mut git2::WorktreePruneOptions::new()))
        .map_err(WorktreeError::git(&here, &action))
}

/// Deletes the branch a failed creation made (it still points at the base commit, so it holds
/// no work).
fn delete_new_branch(repo: &Repository, branch: &str, base: Oid) {
    if let Ok(mut made) = repo.find_branch(branch, git2::BranchType::Local)
        && made.get().target() == Some(base)
        && let Err(err) = made.delete()
    {
        tracing::warn!(%branch, %err, "could not delete a just-made branch");
    }
}

/// An exclusive advisory lock on `<git dir>/codecafe-worktree.lock`, released when dropped (or
/// when the process dies, so a crash never leaves it held).
struct CreateLock(std::fs::File);

impl CreateLock {
    fn acquire(repo: &Repository) -> Result<Self> {
        let path = repo.commondir().join("codecafe-worktree.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(WorktreeError::io(
                &path,
                "opening the worktree creation lock",
            ))?;
        file.lock().map_err(WorktreeError::io(
            &path,
            "taking the worktree creation lock",
        ))?;
        Ok(Self(file))
    }
}

impl Drop for CreateLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Picks a free name and registers it: the branch, the entry (locked "initializing"), the
/// directory with its `.git` file. Retries with the next free name when a process that does not
/// take our lock (plain `git`) takes the name first.
fn register_new(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    root: &Path,
    prefix: &str,
    short_id: &str,
    warnings: &mut Vec<String>,
) -> Result<Chosen> {
    let here = repo::display_path(repo);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let retry = attempt < RACE_RETRIES;
        let mut found = Vec::new();
        let entries = repo::entries(repo)?;
        let chosen = choose_name(repo, root, prefix, short_id, &entries, &mut found)?;
        match repo.branch(&chosen.branch, commit, false) {
            Ok(_) => {}
            Err(err) if retry && err.code() == git2::ErrorCode::Exists => continue,
            Err(err) if retry && err.code() == git2::ErrorCode::Locked => {
                // Another process is writing that ref right now.
                std::thread::sleep(std::time::Duration::from_millis(10 * attempt as u64));
                continue;
            }
            Err(err) => {
                let mut action = format!("creating branch `{}`", chosen.branch);
                if err.code() == git2::ErrorCode::Locked {
                    action.push_str(
                        " (its ref is locked; if no other git command is running, remove the \
                         `.lock` file named below)",
                    );
                }
                return Err(WorktreeError::git(&here, action)(err));
            }
        }
        match register(repo, &chosen) {
            Ok(()) => {
                warnings.extend(found);
                return Ok(chosen);
            }
            Err(err) => {
                undo(repo, &chosen, commit.id());
                let raced = matches!(
                    &err,
                    WorktreeError::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::AlreadyExists
                );
                if !(retry && raced) {
                    return Err(err);
                }
            }
        }
    }
}

/// Registers the linked worktree `chosen.name` at `chosen.path` (which must not exist) on
/// `chosen.branch`, locked as "initializing" until [`check_out`] is done.
///
/// This writes what `git worktree add` (and libgit2's `git_worktree_add`) write:
/// `.git/worktrees/<name>/{gitdir,commondir,HEAD,locked}` and `<path>/.git`. It is done here
/// rather than through `git2::Repository::worktree` because that call offers no checkout
/// options, and the options are what make a checkout into a fresh, empty directory fast (see
/// [`fast_checkout`]). Directories are made with `create_dir`, which fails if they exist, so
/// [`undo`] only ever removes what this made.
fn register(repo: &Repository, chosen: &Chosen) -> Result<()> {
    let worktrees = repo.commondir().join("worktrees");
    std::fs::create_dir_all(&worktrees).map_err(WorktreeError::io(
        &worktrees,
        "creating the worktrees directory",
    ))?;
    let admin = admin_dir(repo, &chosen.name);
    let write = |file: PathBuf, text: String| {
        std::fs::write(&file, text).map_err(WorktreeError::io(&file, "writing"))
    };
    // The entry and its lock appear together: a half-made entry never looks stale to a
    // `git worktree prune` (git writes the same lock).
    // Staged outside `worktrees/`, where no git command looks, then renamed into place.
    let staging = repo
        .commondir()
        .join(format!("codecafe-new-worktree-{}", chosen.name));
    if staging.exists() {
        // Left by a crash while we held the lock: nobody else uses it.
        let _ = std::fs::remove_dir_all(&staging);
    }
    std::fs::create_dir(&staging)
        .map_err(WorktreeError::io(&staging, "creating the worktree entry"))?;
    write(staging.join("locked"), "initializing\n".to_owned())?;
    if admin.symlink_metadata().is_ok() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(WorktreeError::Io {
            path: admin,
            action: "creating the worktree entry".to_owned(),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    std::fs::rename(&staging, &admin)
        .map_err(WorktreeError::io(&admin, "creating the worktree entry"))?;
    std::fs::create_dir(&chosen.path)
        .map_err(WorktreeError::io(&chosen.path, "creating the worktree"))?;
    write(
        chosen.path.join(".git"),
        format!("gitdir: {}\n", admin.display()),
    )?;
    write(admin.join("commondir"), "../..\n".to_owned())?;
    write(
        admin.join("gitdir"),
        format!("{}\n", chosen.path.join(".git").display()),
    )?;
    write(
        admin.join("HEAD"),
        format!("ref: refs/heads/{}\n", chosen.branch),
    )
}

fn admin_dir(repo: &Repository, name: &str) -> PathBuf {
    repo::canonical(&repo.commondir().join("worktrees")).join(name)
}

/// Checks the registered worktree out, unlocks its entry and validates it.
fn check_out(repo: &Repository, chosen: &Chosen) -> Result<()> {
    let here = repo::display_path(repo);
    let path = &chosen.path;
    let wt =
        Repository::open(path).map_err(WorktreeError::git(path, "opening the new worktree"))?;
    fast_checkout(repo, &wt).map_err(WorktreeError::git(
        path,
        format!("checking out `{}` into the new worktree", chosen.branch),
    ))?;
    let locked = admin_dir(repo, &chosen.name).join("locked");
    std::fs::remove_file(&locked).map_err(WorktreeError::io(&locked, "unlocking"))?;
    repo.find_worktree(&chosen.name)
        .and_then(|wt| wt.validate())
        .map_err(WorktreeError::git(
            &here,
            format!("checking the new worktree `{}`", chosen.name),
        ))
}

/// Undoes a failed creation: the directory and the entry if they are ours (the `.git` file and
/// the entry point at each other), and the branch if it still points at the base commit (so it
/// holds no work).
fn undo(repo: &Repository, chosen: &Chosen, base: Oid) {
    let admin = admin_dir(repo, &chosen.name);
    let ours = std::fs::read_to_string(chosen.path.join(".git"))
        .is_ok_and(|t| t.trim() == format!("gitdir: {}", admin.display()));
    if ours && let Err(err) = std::fs::remove_dir_all(&chosen.path) {
        tracing::warn!(path = %chosen.path.display(), %err, "could not remove a half-made worktree");
    }
    let entry_ours = std::fs::read_to_string(admin.join("HEAD"))
        .map(|t| t.trim() == format!("ref: refs/heads/{}", chosen.branch))
        .unwrap_or(true)
        && std::fs::read_to_string(admin.join("locked")).is_ok_and(|t| t == "initializing\n");
    if entry_ours && let Err(err) = std::fs::remove_dir_all(&admin) {
        tracing::warn!(path = %admin.display(), %err, "could not remove a half-made entry");
    }
    delete_new_branch(repo, &chosen.branch, base);
}

/// Checks `wt`'s HEAD out into its empty working tree.
///
/// The directory was created a moment ago and is empty, so there is nothing a safe checkout
/// could protect: `force` skips the per-file conflict checks, and there is no index to refresh.
/// Content filters (CRLF conversion, `ident`) are skipped when no attribute file and no
/// `core.autocrlf` could ask for them: libgit2 otherwise resolves attributes for every file,
/// and resolving them costs a `realpath` of each file's directory — about a tenth of the
/// checkout's time on a 10,000-file tree, for nothing.
fn fast_checkout(repo: &Repository, wt: &Repository) -> std::result::Result<(), git2::Error> {
    let head = wt.head()?.peel_to_commit()?;
    let tree = head.tree()?;
    let mut opts = git2::build::CheckoutBuilder::new();
    opts.force().refresh(false);
    if !filters_may_apply(repo, &tree) {
        opts.disable_filters(true);
    }
    wt.checkout_head(Some(&mut opts))
}

/// Whether any content filter could apply to a file of `tree` on checkout: an attribute file
/// anywhere libgit2 reads one (the tree's `.gitattributes`, `info/attributes`,
/// `core.attributesFile` or its default, the system's `gitattributes`), or `core.autocrlf`.
/// Unsure means yes.
fn filters_may_apply(repo: &Repository, tree: &git2::Tree<'_>) -> bool {
    let Ok(config) = repo.config() else {
        return true;
    };
    match config.get_string("core.autocrlf") {
        Ok(v)
            if matches!(
                v.to_ascii_lowercase().as_str(),
                "false" | "no" | "off" | "0" | ""
            ) => {}
        Ok(_) => return true,
        Err(err) if err.code() == git2::ErrorCode::NotFound => {}
        Err(_) => return true,
    }
    if config.get_string("core.attributesfile").is_ok()
        || repo.commondir().join("info/attributes").exists()
        || Path::new("/etc/gitattributes").exists()
    {
        return true;
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if xdg.is_none_or(|dir| dir.join("git/attributes").exists()) {
        return true;
    }
    let mut found = false;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
        if entry.name_bytes() == b".gitattributes" {
            found = true;
            git2::TreeWalkResult::Abort
        } else {
            git2::TreeWalkResult::Ok
        }
    });
    found || walked.is_err()
}
