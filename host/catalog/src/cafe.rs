//! Cafes: the git repositories codecafe works on, kept in the registry `cafes.json`.
//!
//! Creating a cafe validates exactly what the seed says: the path is a non-bare git repository
//! (resolved to its top level), not registered already (canonical paths compared), named after
//! its `origin` remote or its directory, with its current branch read (a detached HEAD is
//! recorded as such), a UUID, timestamps and settings. Removing a cafe only removes the entry:
//! the repository is never touched.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::layout::OrchDir;
use crate::recipe::{Approvals, Permissions};
use crate::storage::{self, Versioned};

/// Per-cafe settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CafeSettings {
    /// The branch orders start from and merge into.
    pub base_branch: String,
    /// Where order worktrees are created (outside the repository by default).
    pub worktree_root: PathBuf,
    /// Order branches are named `<prefix>/<order id>`.
    pub branch_prefix: String,
    /// The recipe `codecafe run` uses when none is given.
    pub default_recipe: String,
    /// How many orders of this cafe may run at once.
    pub max_parallel_orders: u32,
    /// House rules appended to every agent's system prompt.
    pub house_rules: String,
    /// The language agents should answer in (e.g. `en`, `ko`).
    pub language: String,
    /// The permissions of stages that set none and whose role has no default (`read-only`
    /// when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// The most any stage of this cafe may be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_ceiling: Option<Permissions>,
    /// What happens beyond a stage's permissions in stages and recipes that do not say
    /// (`deny` when unset): `ask` puts it in front of the user, built-in recipes included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Approvals>,
}

/// The settings keys, as `cafe update --set` takes them.
pub const SETTING_KEYS: &[&str] = &[
    "baseBranch",
    "worktreeRoot",
    "branchPrefix",
    "defaultRecipe",
    "maxParallelOrders",
    "houseRules",
    "language",
    "permissions",
    "permissionsCeiling",
    "approvals",
];

/// A registered repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cafe {
    /// UUID.
    pub id: String,
    /// Display name (from the `origin` remote or the directory).
    pub name: String,
    /// Canonical path of the repository's top level.
    pub path: PathBuf,
    /// The branch checked out when the cafe was registered or last refreshed; `None` when
    /// HEAD was detached.
    pub current_branch: Option<String>,
    /// The commit HEAD pointed at when it was detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached_head: Option<String>,
    /// Settings.
    pub settings: CafeSettings,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl Cafe {
    /// The cafe's `.orch/` folder.
    pub fn orch(&self) -> OrchDir {
        OrchDir::of_repo(&self.path)
    }

    /// The first 8 characters of the id.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// The registry document, `cafes.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CafeRegistry {
    /// Schema version.
    pub version: u32,
    /// Registered cafes, in creation order.
    pub cafes: Vec<Cafe>,
    /// The cafe used last, for commands run outside any cafe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed_id: Option<String>,
    /// Cafes unregistered while they still had orders: registering the same repository again
    /// brings each back with its id (so its orders are found) and settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredCafe>,
}

/// A cafe unregistered with its orders kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetiredCafe {
    /// The cafe as it was.
    pub cafe: Cafe,
    /// The repository's first commit, to recognise it after a move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_commit: Option<String>,
    /// RFC 3339.
    pub retired_at: String,
}

impl Versioned for CafeRegistry {
    const VERSION: u32 = 1;

    fn empty() -> Self {
        Self {
            version: Self::VERSION,
            cafes: Vec::new(),
            last_accessed_id: None,
            retired: Vec::new(),
        }
    }
}

/// What a new cafe needs besides its path.
#[derive(Debug, Clone)]
pub struct NewCafe {
    /// A name instead of the one found from the remote or the directory.
    pub name: Option<String>,
    /// The default worktree root's parent: worktrees go to `<this>/<name>-<short id>`.
    pub worktrees_home: PathBuf,
}

/// Facts read from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// Canonical path of the top level.
    pub top_level: PathBuf,
    /// The name its `origin` remote gives, or its directory's name.
    pub name: String,
    /// The checked-out branch, `None` when HEAD is detached (or unborn without a name).
    pub branch: Option<String>,
    /// The commit HEAD points at when detached.
    pub detached_at: Option<String>,
    /// Its first commit (of HEAD's history), which stays the same when it moves.
    pub root_commit: Option<String>,
}

/// Reads what a cafe needs from the repository at (or containing) `path`.
pub fn inspect_repository(path: &Path) -> Result<RepositoryFacts> {
    let not_repo = |message: String| CatalogError::NotARepository {
        path: path.to_owned(),
        message,
    };
    if !path.exists() {
        return Err(not_repo("no such directory".to_owned()));
    }
    let repo = git2::Repository::discover(path).map_err(|err| {
        not_repo(format!(
            "not inside a git repository ({}); run `git init` there first",
            err.message()
        ))
    })?;
    if repo.is_bare() {
        return Err(not_repo(
            "is a bare repository; a cafe needs a working tree (clone it first)".to_owned(),
        ));
    }
    let workdir = repo
        .workdir()
        .ok_or_else(|| not_repo("has no working tree".to_owned()))?;
    let top_level = std::fs::canonicalize(workdir).map_err(CatalogError::io(workdir))?;
    let name = origin_name(&repo).unwrap_or_else(|| {
        top_level
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repository".to_owned())
    });
    let (branch, detached_at) = head_state(&repo);
    let root_commit = root_commit(&repo);
    Ok(RepositoryFacts {
        top_level,
        name,
        branch,
        detached_at,
        root_commit,
    })
}

/// The first commit of HEAD's history (the last one a walk from HEAD reaches), if any.
fn root_commit(repo: &git2::Repository) -> Option<String> {
    let mut walk = repo.revwalk().ok()?;
    walk.push_head().ok()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .ok()?;
    walk.next()?.ok().map(|oid| oid.to_string())
}

/// `name` from an `origin` URL like `git@host:team/name.git` or `https://host/team/name`.
fn origin_name(repo: &git2::Repository) -> Option<String> {
    let remote = repo.find_remote("origin").ok()?;
    let url = remote.url().ok()?.trim_end_matches('/');
    let last = url.rsplit(['/', ':']).next()?;
    let name = last.strip_suffix(".git").unwrap_or(last);
    (!name.is_empty()).then(|| name.to_owned())
}

fn head_state(repo: &git2::Repository) -> (Option<String>, Option<String>) {
    match repo.head() {
        Ok(head) if head.is_branch() => (head.shorthand().ok().map(str::to_owned), None),
        Ok(head) => (None, head.target().map(|oid| oid.to_string())),
        // An unborn branch (no commits yet): HEAD still names it.
        Err(_) => {
            let name = repo
                .find_reference("HEAD")
                .ok()
                .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
                .and_then(|t| t.strip_prefix("refs/heads/").map(str::to_owned));
            (name, None)
        }
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The registry file and the operations on it. Every change is a locked, atomic
/// read-modify-write of `cafes.json`.
#[derive(Debug, Clone)]
pub struct Cafes {
    file: PathBuf,
}

impl Cafes {
    /// The registry in `data_dir/cafes.json`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: data_dir.join("cafes.json"),
        }
    }

    /// The registry file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every cafe and the last accessed id.
    pub fn read(&self) -> Result<CafeRegistry> {
        storage::read_or_empty(&self.file)
    }

    /// Registers the repository at `path`. A repository unregistered earlier with its orders
    /// kept ([`Cafes::retire`]) — the same canonical path, or, when that path is gone, the same
    /// first commit — comes back as that cafe: its id (so its orders are found) and settings.
    pub fn create(&self, path: &Path, new: &NewCafe) -> Result<Cafe> {
        let facts = inspect_repository(path)?;
        let name = match &new.name {
            Some(name) if name.trim().is_empty() => {
                return Err(CatalogError::BadValue {
                    what: "name".to_owned(),
                    message: "is empty".to_owned(),
                });
            }
            Some(name) => name.trim().to_owned(),
            None => facts.name.clone(),
        };
        storage::update(&self.file, |registry: &mut CafeRegistry| {
            if let Some(existing) = registry.cafes.iter().find(|c| c.path == facts.top_level) {
                return Err(CatalogError::AlreadyExists {
                    kind: "cafe",
                    id: facts.top_level.display().to_string(),
                    hint: Some(format!(
                        "it is registered as `{}` ({})",
                        existing.name,
                        existing.short_id()
                    )),
                });
            }
            let earlier = registry.retired.iter().position(|retired| {
                retired.cafe.path == facts.top_level
                    || (!retired.cafe.path.exists()
                        && retired.root_commit.is_some()
                        && retired.root_commit == facts.root_commit)
            });
            if let Some(index) = earlier {
                let mut cafe = registry.retired.remove(index).cafe;
                cafe.path = facts.top_level.clone();
                cafe.current_branch = facts.branch.clone();
                cafe.detached_head = facts.detached_at.clone();
                if let Some(name) = &new.name {
                    cafe.name = name.trim().to_owned();
                }
                cafe.updated_at = now();
                registry.last_accessed_id = Some(cafe.id.clone());
                registry.cafes.push(cafe.clone());
                return Ok(cafe);
            }
            let id = uuid::Uuid::new_v4().to_string();
            let short = id.get(..8).unwrap_or(&id);
            let timestamp = now();
            let cafe = Cafe {
                settings: CafeSettings {
                    base_branch: facts.branch.clone().unwrap_or_else(|| "main".to_owned()),
                    worktree_root: new.worktrees_home.join(format!("{}-{short}", slug(&name))),
                    branch_prefix: "codecafe".to_owned(),
                    default_recipe: "moon".to_owned(),
                    max_parallel_orders: 3,
                    house_rules: String::new(),
                    language: "en".to_owned(),
                    permissions: None,
                    permissions_ceiling: None,
                    approvals: None,
                },
                id,
                name,
                path: facts.top_level.clone(),
                current_branch: facts.branch.clone(),
                detached_head: facts.detached_at.clone(),
                created_at: timestamp.clone(),
                updated_at: timestamp,
            };
            registry.last_accessed_id = Some(cafe.id.clone());
            registry.cafes.push(cafe.clone());
            Ok(cafe)
        })
    }

    /// Finds a cafe by id, unique id prefix, name, or path (of the repository or inside it).
    pub fn find(&self, key: &str) -> Result<Cafe> {
        let registry = self.read()?;
        find_in(&registry, key).cloned()
    }

    /// The registered cafe whose repository contains `dir`, if any (the innermost one).
    pub fn containing(&self, dir: &Path) -> Result<Option<Cafe>> {
        let registry = self.read()?;
        let Ok(dir) = std::fs::canonicalize(dir) else {
            return Ok(None);
        };
        Ok(registry
            .cafes
            .iter()
            .filter(|c| dir.starts_with(&c.path))
            .max_by_key(|c| c.path.components().count())
            .cloned())
    }

    /// The last accessed cafe, if it is still registered.
    pub fn last_accessed(&self) -> Result<Option<Cafe>> {
        let registry = self.read()?;
        Ok(registry
            .last_accessed_id
            .as_ref()
            .and_then(|id| registry.cafes.iter().find(|c| &c.id == id))
            .cloned())
    }

    /// Marks a cafe as the last accessed one.
    pub fn touch(&self, key: &str) -> Result<Cafe> {
        storage::update(&self.file, |registry: &mut CafeRegistry| {
            let cafe = find_in(registry, key)?.clone();
            registry.last_accessed_id = Some(cafe.id.clone());
            Ok(cafe)
        })
    }

    /// Renames a cafe and/or changes settings (`key=value`, keys as in [`SETTING_KEYS`]).
    pub fn update(
        &self,
        key: &str,
        name: Option<&str>,
        settings: &[(String, String)],
    ) -> Result<Cafe> {
        storage::update(&self.file, |registry: &mut CafeRegistry| {
            let id = find_in(registry, key)?.id.clone();
            let cafe = registry
                .cafes
                .iter_mut()
                .find(|c| c.id == id)
                .ok_or_else(|| not_found(key))?;
            if let Some(name) = name {
                if name.trim().is_empty() {
                    return Err(CatalogError::BadValue {
                        what: "--name".to_owned(),
                        message: "is empty".to_owned(),
                    });
                }
                cafe.name = name.trim().to_owned();
            }
            for (key, value) in settings {
                apply_setting(&mut cafe.settings, &cafe.path, key, value)?;
            }
            cafe.updated_at = now();
            Ok(cafe.clone())
        })
    }

    /// Unregisters a cafe whose orders are kept: registering its repository again brings it
    /// back (see [`Cafes::create`]). The repository and its files are not touched.
    pub fn retire(&self, key: &str) -> Result<Cafe> {
        let cafe = self.find(key)?;
        let root_commit = inspect_repository(&cafe.path)
            .ok()
            .and_then(|facts| facts.root_commit);
        storage::update(&self.file, |registry: &mut CafeRegistry| {
            let index = registry
                .cafes
                .iter()
                .position(|c| c.id == cafe.id)
                .ok_or_else(|| not_found(key))?;
            let cafe = registry.cafes.remove(index);
            if registry.last_accessed_id.as_deref() == Some(cafe.id.as_str()) {
                registry.last_accessed_id = None;
            }
            registry.retired.retain(|r| r.cafe.path != cafe.path);
            registry.retired.push(RetiredCafe {
                cafe: cafe.clone(),
                root_commit: root_commit.clone(),
                retired_at: now(),
            });
            Ok(cafe)
        })
    }

    /// The cafes unregistered with their orders kept.
    pub fn retired(&self) -> Result<Vec<RetiredCafe>> {
        Ok(self.read()?.retired)
    }

    /// Unregisters a cafe. The repository and its files are not touched.
    pub fn remove(&self, key: &str) -> Result<Cafe> {
        storage::update(&self.file, |registry: &mut CafeRegistry| {
            let id = find_in(registry, key)?.id.clone();
            let index = registry
                .cafes
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| not_found(key))?;
            let cafe = registry.cafes.remove(index);
            if registry.last_accessed_id.as_deref() == Some(cafe.id.as_str()) {
                registry.last_accessed_id = None;
            }
            Ok(cafe)
        })
    }
}

fn not_found(key: &str) -> CatalogError {
    CatalogError::NotFound {
        kind: "cafe",
        id: key.to_owned(),
        hint: Some("`codecafe cafe list` shows the registered cafes".to_owned()),
    }
}

fn find_in<'a>(registry: &'a CafeRegistry, key: &str) -> Result<&'a Cafe> {
    if let Some(cafe) = registry.cafes.iter().find(|c| c.id == key) {
        return Ok(cafe);
    }
    let by_prefix: Vec<&Cafe> = registry
        .cafes
        .iter()
        .filter(|c| key.len() >= 4 && c.id.starts_with(key))
        .collect();
    let by_name: Vec<&Cafe> = registry.cafes.iter().filter(|c| c.name == key).collect();
    let path = Path::new(key);
    let by_path: Vec<&Cafe> = if path.exists() {
        match std::fs::canonicalize(path) {
            Ok(canonical) => registry
                .cafes
                .iter()
                .filter(|c| canonical.starts_with(&c.path))
                .collect(),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    for matches in [by_prefix, by_name, by_path] {
        match matches.as_slice() {
            [] => {}
            [one] => return Ok(one),
            many => {
                return Err(CatalogError::Ambiguous {
                    kind: "cafe",
                    id: key.to_owned(),
                    candidates: many
                        .iter()
                        .map(|c| format!("{} ({})", c.name, c.short_id()))
                        .collect(),
                });
            }
        }
    }
    Err(not_found(key))
}

fn apply_setting(settings: &mut CafeSettings, repo: &Path, key: &str, value: &str) -> Result<()> {
    let bad = |message: String| CatalogError::BadValue {
        what: format!("setting `{key}`"),
        message,
    };
    match key {
        "baseBranch" => {
            let repo = git2::Repository::open(repo).map_err(|err| CatalogError::Git {
                path: repo.to_owned(),
                message: err.message().to_owned(),
            })?;
            if repo.find_branch(value, git2::BranchType::Local).is_err() {
                return Err(bad(format!(
                    "there is no local branch `{value}` in the repository"
                )));
            }
            settings.base_branch = value.to_owned();
        }
        "worktreeRoot" => {
            let path = PathBuf::from(value);
            if !path.is_absolute() {
                return Err(bad("must be an absolute path".to_owned()));
            }
            settings.worktree_root = path;
        }
        "branchPrefix" => {
            let valid = !value.is_empty()
                && git2::Reference::is_valid_name(&format!("refs/heads/{value}/x"));
            if !valid {
                return Err(bad(format!("`{value}` cannot start a git branch name")));
            }
            settings.branch_prefix = value.to_owned();
        }
        "defaultRecipe" => {
            crate::ids::check_id("recipe", value)?;
            settings.default_recipe = value.to_owned();
        }
        "maxParallelOrders" => {
            settings.max_parallel_orders = match value.parse::<u32>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => return Err(bad(format!("`{value}` is not a number from 1 to 64"))),
            };
        }
        "houseRules" => settings.house_rules = value.to_owned(),
        "permissions" | "permissionsCeiling" => {
            let level = match value {
                "" => None,
                name => Some(Permissions::from_name(name).ok_or_else(|| {
                    bad(format!(
                        "`{name}` is not a level: give one of {}, or nothing to unset it",
                        Permissions::VALUES.join(", ")
                    ))
                })?),
            };
            if key == "permissions" {
                settings.permissions = level;
            } else {
                settings.permissions_ceiling = level;
            }
        }
        "approvals" => {
            settings.approvals = match value {
                "" => None,
                name => Some(Approvals::from_name(name).ok_or_else(|| {
                    bad(format!(
                        "`{name}` is not a choice: give one of {}, or nothing to unset it",
                        Approvals::VALUES.join(", ")
                    ))
                })?),
            };
        }
        "language" => {
            if value.is_empty() || value.len() > 16 {
                return Err(bad("give a language code such as `en` or `ko`".to_owned()));
            }
            settings.language = value.to_owned();
        }
        _ => {
            return Err(CatalogError::BadValue {
                what: format!("setting `{key}`"),
                message: format!("unknown; the settings are {}", SETTING_KEYS.join(", ")),
            });
        }
    }
    Ok(())
}

/// A name made safe for a directory: lowercase letters, digits and `-`.
fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "cafe".to_owned()
    } else {
        slug.to_owned()
    }
}

/// What `codecafe init` writes into `.orch/`.
pub const STARTER_RECIPE: &str = "\
# A starter recipe: plan, implement, review. Edit it, or copy a built-in with
# `codecafe recipe new <id> --from <file>`. `codecafe recipe validate` checks it.
name: Starter
description: Plan the change, implement it, then have another agent review it.
workflow:
  stages: [plan, code, review]
# `permissions` says how far each stage's agent may go on its own: read-only (the
# default), edit (files in the worktree, commands confined to it) or full.
plan:
  provider: claude-code
  role: planner
  skills: [decide-sequence]
  permissions: read-only
code:
  provider: claude-code
  role: coder
  skills: [implementation-runner]
  permissions: edit
review:
  provider: codex
  role: reviewer
  skills: [codex-review-code]
  permissions: read-only
";

/// Ignore rules for codecafe's runtime files inside `.orch/`.
pub const ORCH_GITIGNORE: &str = "\
# codecafe runtime files: never committed.
/runtime/
*.lock
*.tmp
*.bak
";

/// Creates `.orch/` with its folders, the ignore rules and a starter recipe. Existing files
/// are kept; returns the paths it created.
pub fn init_orch(orch: &OrchDir) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for dir in [
        orch.workflows(),
        orch.skills(),
        orch.roles(),
        orch.plugins(),
    ] {
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(CatalogError::io(&dir))?;
            created.push(dir);
        }
    }
    let files = [
        (orch.root().join(".gitignore"), ORCH_GITIGNORE),
        (orch.recipe_file("starter"), STARTER_RECIPE),
    ];
    for (path, content) in files {
        if !path.exists() {
            storage::write_atomic(&path, content.as_bytes())?;
            created.push(path);
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codecafe_test_support::{git, init_repo};

    fn repo(dir: &Path) {
        init_repo(dir, "trunk");
    }

    fn new_cafe(home: &Path) -> NewCafe {
        NewCafe {
            name: None,
            worktrees_home: home.join("worktrees"),
        }
    }

    #[test]
    fn create_reads_the_repository() {
        let temp = tempfile::tempdir().expect("temp");
        let path = temp.path().join("my-project");
        repo(&path);
        std::fs::create_dir_all(path.join("src/deep")).expect("subdir");
        git(
            &path,
            &["remote", "add", "origin", "git@example.com:team/rocket.git"],
        );
        let cafes = Cafes::new(&temp.path().join("home"));
        let cafe = cafes
            .create(&path.join("src/deep"), &new_cafe(temp.path()))
            .expect("creates");
        assert_eq!(cafe.name, "rocket");
        assert_eq!(cafe.path, std::fs::canonicalize(&path).expect("canonical"));
        assert_eq!(cafe.current_branch.as_deref(), Some("trunk"));
        assert_eq!(cafe.settings.base_branch, "trunk");
        assert!(uuid::Uuid::parse_str(&cafe.id).is_ok());
        assert!(!cafe.settings.worktree_root.starts_with(&cafe.path));
        assert_eq!(cafes.last_accessed().expect("reads"), Some(cafe.clone()));

        let again = cafes.create(&path, &new_cafe(temp.path()));
        assert!(
            matches!(again, Err(CatalogError::AlreadyExists { .. })),
            "{again:?}"
        );
    }

    #[test]
    fn detached_head_and_non_repositories() {
        let temp = tempfile::tempdir().expect("temp");
        let path = temp.path().join("detached");
        repo(&path);
        git(&path, &["checkout", "-q", "--detach"]);
        let cafes = Cafes::new(&temp.path().join("home"));
        let cafe = cafes
            .create(&path, &new_cafe(temp.path()))
            .expect("creates");
        assert_eq!(cafe.current_branch, None);
        assert_eq!(cafe.detached_head.as_ref().map(String::len), Some(40));
        assert_eq!(cafe.settings.base_branch, "main");

        let plain = temp.path().join("plain");
        std::fs::create_dir_all(&plain).expect("dir");
        let error = cafes
            .create(&plain, &new_cafe(temp.path()))
            .expect_err("not a repo");
        assert!(error.to_string().contains("git init"), "{error}");

        let bare = temp.path().join("bare.git");
        std::fs::create_dir_all(&bare).expect("dir");
        git(&bare, &["init", "-q", "--bare"]);
        let error = cafes
            .create(&bare, &new_cafe(temp.path()))
            .expect_err("bare");
        assert!(error.to_string().contains("bare"), "{error}");
    }

    #[test]
    fn find_update_touch_remove() {
        let temp = tempfile::tempdir().expect("temp");
        let cafes = Cafes::new(&temp.path().join("home"));
        let one = temp.path().join("one");
        let two = temp.path().join("two");
        repo(&one);
        repo(&two);
        let first = cafes.create(&one, &new_cafe(temp.path())).expect("one");
        let second = cafes.create(&two, &new_cafe(temp.path())).expect("two");
        assert_eq!(cafes.find(&first.id).expect("by id").id, first.id);
        assert_eq!(cafes.find(&first.id[..6]).expect("by prefix").id, first.id);
        assert_eq!(cafes.find("two").expect("by name").id, second.id);
        assert_eq!(
            cafes
                .find(one.to_str().expect("utf-8"))
                .expect("by path")
                .id,
            first.id
        );
        assert_eq!(
            cafes.containing(&one).expect("reads").map(|c| c.id),
            Some(first.id.clone())
        );

        let updated = cafes
            .update(
                &first.id,
                Some("renamed"),
                &[
                    ("maxParallelOrders".to_owned(), "5".to_owned()),
                    ("houseRules".to_owned(), "Write tests.".to_owned()),
                ],
            )
            .expect("updates");
        assert_eq!(updated.name, "renamed");
        assert_eq!(updated.settings.max_parallel_orders, 5);
        assert_eq!(updated.created_at, first.created_at);
        for (key, value) in [
            ("maxParallelOrders", "0"),
            ("baseBranch", "nope"),
            ("worktreeRoot", "relative/path"),
            ("branchPrefix", "bad..prefix"),
            ("colour", "blue"),
        ] {
            let error = cafes
                .update(&first.id, None, &[(key.to_owned(), value.to_owned())])
                .expect_err("refused");
            assert!(error.to_string().contains(key), "{error}");
        }
        assert_eq!(
            cafes
                .find(&first.id)
                .expect("still")
                .settings
                .max_parallel_orders,
            5
        );

        cafes.touch(&first.id).expect("touch");
        assert_eq!(
            cafes.last_accessed().expect("reads").map(|c| c.id),
            Some(first.id.clone())
        );
        cafes.remove(&first.id).expect("removes");
        assert_eq!(cafes.last_accessed().expect("reads"), None);
        assert!(one.join(".git").is_dir(), "the repository is untouched");
        assert!(matches!(
            cafes.find(&first.id),
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[test]
    fn init_creates_the_orch_folder_once() {
        let temp = tempfile::tempdir().expect("temp");
        let orch = OrchDir::of_repo(temp.path());
        let created = init_orch(&orch).expect("init");
        assert!(created.contains(&orch.recipe_file("starter")));
        assert!(orch.plugins().is_dir() && orch.skills().is_dir() && orch.roles().is_dir());
        std::fs::write(orch.recipe_file("starter"), "mine").expect("edit");
        assert!(init_orch(&orch).expect("again").is_empty());
        assert_eq!(
            std::fs::read_to_string(orch.recipe_file("starter")).expect("kept"),
            "mine"
        );
    }
}
