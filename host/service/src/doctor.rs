//! Is everything ready for a real run: `codecafe doctor`, and the same checks as a preflight
//! before each run.
//!
//! For each provider a recipe uses (its resolved stages' providers), from the readiness data
//! the provider plugin declares: its agent CLI is on the PATH agents get, its version is within
//! the range the adapter was tested with (outside it, or unreadable: a warning), it is logged in
//! or a key is set (the CLI's own status command where it has one), and for a Claude Code stage
//! with `permissions: edit` the sandbox it confines commands with (a warning: without it such a
//! stage runs only its `allowed_commands`). Then the repository: a git identity (a warning:
//! agents' commits need one), the cafe's worktree root is writable, and its workspace trust.
//! Every check that is not ok carries its fix.
//!
//! [`doctor`] reports them all. `preflight` runs them (but trust, which
//! [`crate::trust::ensure`] checks first) before an order is created and `preflight_order`
//! before a created order continues: a problem (not a warning) stops the run with
//! [`ServiceError::NotReady`] before anything exists or any agent starts.
//! [`builtins_need_compiling`] tells a front end that the first start will compile the
//! built-in plugins.

mod provider;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use codecafe_catalog::OrchDir;
use codecafe_catalog::cafe::Cafe;
use codecafe_catalog::recipe::{Permissions, RecipeCatalog, StageSpec};
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{PluginInfo, PluginKind, WASMTIME_VERSION};
use codecafe_runner::{CancelToken, Runner};
use codecafe_store::Order;
use serde::Serialize;

pub use provider::COMMAND_TIMEOUT;

use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};
use crate::trust::{ItemChange, TrustState};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing; a run still starts.
    Warning,
    /// A run would fail: it does not start.
    Problem,
}

impl Level {
    /// `ok`, `warning` or `problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Problem => "problem",
        }
    }
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// What was checked: a provider id, `git`, `worktrees`, `trust`, `recipe`, `plugins`.
    pub subject: String,
    /// Which check: `program`, `version`, `login`, `sandbox`, `identity`, `writable`, `state`, …
    pub check: String,
    /// How it came out.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// What to do about it (when it is not ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A check that came out `level`.
    pub fn new(
        subject: &str,
        check: &str,
        level: Level,
        message: String,
        fix: Option<String>,
    ) -> Self {
        Self {
            subject: subject.to_owned(),
            check: check.to_owned(),
            level,
            message,
            fix: fix.filter(|_| level != Level::Ok),
        }
    }

    /// A check that is fine.
    pub fn ok(subject: &str, check: &str, message: String) -> Self {
        Self::new(subject, check, Level::Ok, message, None)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.subject, self.check, self.message)?;
        match &self.fix {
            Some(fix) => write!(f, " — fix: {fix}"),
            None => Ok(()),
        }
    }
}

/// What `codecafe doctor` checks.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// The cafe (or repository) to check.
    pub scope: Scope,
    /// Check this recipe's providers instead of the cafe's default recipe's.
    pub recipe: Option<String>,
    /// Check every installed provider instead of a recipe's.
    pub all: bool,
}

/// What `codecafe doctor` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// No check found a problem: a run would start.
    pub ready: bool,
    /// The recipe whose providers were checked; `None` when every installed provider was.
    pub recipe: Option<String>,
    /// The repository checked, if any.
    pub repository: Option<PathBuf>,
    /// Its cafe's name, when it is registered.
    pub cafe: Option<String>,
    /// Every check, providers first.
    pub checks: Vec<Check>,
}

impl Report {
    /// The checks that came out `level`.
    pub fn count(&self, level: Level) -> usize {
        self.checks.iter().filter(|c| c.level == level).count()
    }
}

/// Runs every check for `request`: the providers of the cafe's default recipe (or the recipe
/// named, or — with `all`, or outside any cafe without a recipe — of every installed provider),
/// then the repository's git identity, worktree root and trust.
pub fn doctor(service: &Service, request: &DoctorRequest) -> Result<Report> {
    let cafe = service.cafe(&request.scope)?;
    let repo = match &cafe {
        Some(cafe) => Some(cafe.path.clone()),
        None => service.repository(&request.scope).ok(),
    };
    let registry = service.plugins(repo.as_deref())?;
    let mut checks = Vec::new();
    let recipe = match (&cafe, &request.recipe) {
        _ if request.all => None,
        (Some(cafe), named) => Some(
            named
                .clone()
                .unwrap_or_else(|| cafe.settings.default_recipe.clone()),
        ),
        (None, named) => named.clone(),
    };
    let needs = match &recipe {
        Some(id) => match recipe_needs(service, cafe.as_ref(), repo.as_deref(), id) {
            Ok(needs) => needs,
            Err(err) => {
                checks.push(Check::new(
                    "recipe",
                    "valid",
                    Level::Problem,
                    format!("recipe `{id}` cannot run: {err}"),
                    Some(format!(
                        "`codecafe recipe validate {id}` shows where; every installed provider \
                         is checked instead"
                    )),
                ));
                all_providers(&registry)
            }
        },
        None => all_providers(&registry),
    };
    let cwd = repo.clone().unwrap_or_else(std::env::temp_dir);
    checks.extend(provider_checks(&registry, &needs, &cwd));
    if let Some(repo) = &repo {
        checks.push(git_identity(repo));
    }
    if let Some(cafe) = &cafe {
        checks.push(worktree_root(&cafe.settings.worktree_root));
    }
    if let Some(repo) = &repo {
        checks.push(trust(service, repo));
    }
    if repo.is_none() {
        checks.push(Check::new(
            "cafe",
            "found",
            Level::Warning,
            format!(
                "{} is in no git repository: only the agent CLIs were checked",
                request.scope.cwd.display()
            ),
            Some("run `codecafe doctor` inside your repository (after `codecafe init`)".to_owned()),
        ));
    }
    Ok(Report {
        ready: !checks.iter().any(|c| c.level == Level::Problem),
        recipe,
        repository: repo,
        cafe: cafe.map(|c| c.name),
        checks,
    })
}

/// The checks made before an order of `cafe` running `stages` with `plugins` is created
/// (`worktree`: it gets a worktree of its own): a problem stops it with
/// [`ServiceError::NotReady`]; the warnings are returned, one line each.
pub(crate) fn preflight(
    cafe: &Cafe,
    stages: &[StageSpec],
    plugins: &Registry,
    worktree: bool,
) -> Result<Vec<String>> {
    let mut checks = provider_checks(plugins, &needs_of(stages), &cafe.path);
    checks.push(git_identity(&cafe.path));
    if worktree {
        checks.push(worktree_root(&cafe.settings.worktree_root));
    }
    settle(checks)
}

/// Which stages of a created order are about to run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Continues<'a> {
    /// Its recipe's stages (`order run`, `input`, `retry`, `resume`).
    Recipe,
    /// A follow-up based on this stage (default: the recipe's last).
    Followup(Option<&'a str>),
}

/// The preflight before the created order `order` of `cafe` continues with `runner`: the
/// providers of its pinned recipe (only the follow-up's for a follow-up). Warnings were shown
/// when it was created, so only problems count.
pub(crate) fn preflight_order(
    cafe: &Cafe,
    runner: &Runner<'_>,
    order: &Order,
    continues: Continues<'_>,
) -> Result<()> {
    let prepared = runner.prepared_for(order)?;
    let stages = match continues {
        Continues::Recipe => prepared.recipe.stages,
        Continues::Followup(based_on) => {
            prepared
                .for_followup(based_on, &order.prompt)?
                .recipe
                .stages
        }
    };
    settle(provider_checks(
        runner.plugins(),
        &needs_of(&stages),
        &cafe.path,
    ))
    .map(drop)
}

/// Fails with the problems among `checks`; else their warnings.
fn settle(checks: Vec<Check>) -> Result<Vec<String>> {
    let (problems, rest): (Vec<Check>, Vec<Check>) =
        checks.into_iter().partition(|c| c.level == Level::Problem);
    if !problems.is_empty() {
        return Err(ServiceError::NotReady { problems });
    }
    Ok(rest
        .into_iter()
        .filter(|c| c.level == Level::Warning)
        .map(|c| c.to_string())
        .collect())
}

/// The providers `stages` use, each with whether one of its stages edits (its sandbox then
/// matters).
fn needs_of(stages: &[StageSpec]) -> BTreeMap<String, bool> {
    let mut needs: BTreeMap<String, bool> = BTreeMap::new();
    for stage in stages {
        let edits = stage.permissions.value == Permissions::Edit;
        *needs.entry(stage.provider.value.clone()).or_default() |= edits;
    }
    needs
}

/// Every installed provider, each as if a stage of it edits.
fn all_providers(registry: &Registry) -> BTreeMap<String, bool> {
    registry
        .active()
        .filter(|p| p.kind() == PluginKind::Provider)
        .map(|p| (p.id().to_owned(), true))
        .collect()
}

/// The providers recipe `id` uses: resolved as a run would (profile, roles' and the cafe's
/// permission defaults) in a cafe, else with the profile alone.
fn recipe_needs(
    service: &Service,
    cafe: Option<&Cafe>,
    repo: Option<&Path>,
    id: &str,
) -> Result<BTreeMap<String, bool>> {
    if let Some(cafe) = cafe {
        return crate::execute::with_runner(service, cafe, &CancelToken::new(), |runner| {
            let prepared = runner.prepare(id, "(doctor)", BTreeMap::new())?;
            Ok(needs_of(&prepared.recipe.stages))
        });
    }
    let catalog = match repo {
        Some(repo) => RecipeCatalog::load(&OrchDir::of_repo(repo))?,
        None => RecipeCatalog::builtins(),
    };
    let resolved = catalog.find(id)?.resolve(&service.profiles()?);
    Ok(needs_of(&resolved.stages))
}

/// The checks of each provider in `needs` (in parallel: each waits on its CLI).
fn provider_checks(registry: &Registry, needs: &BTreeMap<String, bool>, cwd: &Path) -> Vec<Check> {
    let mut found = Vec::new();
    let mut checks = Vec::new();
    for (id, sandbox) in needs {
        match registry.get_kind(id, PluginKind::Provider) {
            Ok(plugin) => match plugin.info() {
                PluginInfo::Provider(info) => found.push((info.clone(), *sandbox)),
                _ => checks.push(missing_provider(id, "its plugin says nothing about itself")),
            },
            Err(err) => checks.push(missing_provider(id, &err.to_string())),
        }
    }
    let per_provider: Vec<Vec<Check>> = std::thread::scope(|scope| {
        let running: Vec<_> = found
            .iter()
            .map(|(info, sandbox)| scope.spawn(move || provider::checks(info, *sandbox, cwd)))
            .collect();
        running
            .into_iter()
            .zip(&found)
            .map(|(handle, (info, _))| {
                handle.join().unwrap_or_else(|_| {
                    vec![Check::new(
                        &info.id,
                        "program",
                        Level::Warning,
                        "checking it failed unexpectedly".to_owned(),
                        Some("run `codecafe doctor -v` and report what it prints".to_owned()),
                    )]
                })
            })
            .collect()
    });
    per_provider.into_iter().flatten().chain(checks).collect()
}

fn missing_provider(id: &str, why: &str) -> Check {
    Check::new(
        id,
        "plugin",
        Level::Problem,
        format!("provider `{id}` cannot be used: {why}"),
        Some("`codecafe plugin list` shows the installed providers".to_owned()),
    )
}

/// Whether the repository at `repo` has a git identity for commits (an agent's, a merge).
fn git_identity(repo: &Path) -> Check {
    let config = git2::Repository::open(repo)
        .and_then(|r| r.config())
        .and_then(|mut c| c.snapshot());
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            return Check::new(
                "git",
                "identity",
                Level::Warning,
                format!(
                    "cannot read the git configuration of {}: {err}",
                    repo.display()
                ),
                Some("check `git config --list` in the repository".to_owned()),
            );
        }
    };
    let value = |key| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
    match (value("user.name"), value("user.email")) {
        (Some(name), Some(email)) => Check::ok("git", "identity", format!("{name} <{email}>")),
        (name, email) => {
            let missing: Vec<&str> = [
                ("user.name", name.is_none()),
                ("user.email", email.is_none()),
            ]
            .into_iter()
            .filter_map(|(key, missing)| missing.then_some(key))
            .collect();
            Check::new(
                "git",
                "identity",
                Level::Warning,
                format!(
                    "no git {} for {}: commits made by agents or `order merge` will fail",
                    missing.join(" and "),
                    repo.display()
                ),
                Some(
                    "git config --global user.name \"Your Name\" && git config --global \
                     user.email you@example.com"
                        .to_owned(),
                ),
            )
        }
    }
}

/// Whether order worktrees can be made under `root`: a file can be created (and is removed)
/// in it, or — while it does not exist yet — in its nearest existing parent.
fn worktree_root(root: &Path) -> Check {
    let fix = || {
        Some(format!(
            "make {} writable, or choose another place: `codecafe cafe update --set \
             worktreeRoot=<dir>`",
            root.display()
        ))
    };
    let Some(existing) = root.ancestors().find(|dir| dir.is_dir()) else {
        return Check::new(
            "worktrees",
            "writable",
            Level::Problem,
            format!("no part of the worktree root {} exists", root.display()),
            fix(),
        );
    };
    // Unique per process and call: runs of one process check the same root at once.
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let n = PROBES.fetch_add(1, Ordering::Relaxed);
    let probe = existing.join(format!(".codecafe-doctor-{}-{n}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match created {
        Ok(file) => {
            drop(file);
            let _ = std::fs::remove_file(&probe);
            Check::ok(
                "worktrees",
                "writable",
                format!("{} is writable", root.display()),
            )
        }
        Err(err) => Check::new(
            "worktrees",
            "writable",
            Level::Problem,
            format!("cannot write in {}: {err}", existing.display()),
            fix(),
        ),
    }
}

/// The repository's workspace trust: whether its `.orch/` content that can run programs
/// (plugins, `command` stages, …) is trusted as it is now. Only `doctor` reports it: a run
/// checks it itself first ([`crate::trust::ensure`]).
fn trust(service: &Service, repo: &Path) -> Check {
    let status = match crate::trust::status(service, repo) {
        Ok(status) => status,
        Err(err) => {
            return Check::new(
                "trust",
                "state",
                Level::Warning,
                format!("cannot tell whether {} is trusted: {err}", repo.display()),
                Some("`codecafe trust` in the repository shows what needs trust".to_owned()),
            );
        }
    };
    let pending = || {
        status
            .items
            .iter()
            .filter(|item| item.change != ItemChange::Unchanged)
            .map(|item| item.describe())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (level, message) = match status.state {
        TrustState::NotNeeded => (
            Level::Ok,
            "its `.orch/` holds nothing that needs trust".to_owned(),
        ),
        TrustState::Trusted => (Level::Ok, "trusted as it is now".to_owned()),
        TrustState::Untrusted => (
            Level::Problem,
            format!("{} is not trusted: {}", repo.display(), pending()),
        ),
        TrustState::Changed => (
            Level::Problem,
            format!(
                "{} changed since it was trusted: {}",
                repo.display(),
                pending()
            ),
        ),
    };
    // `CODECAFE_TRUST=1` trusts it at its next run, so it does not stop one.
    let level = match level {
        Level::Problem if crate::trust::env_grants() => Level::Warning,
        level => level,
    };
    Check::new(
        "trust",
        "state",
        level,
        message,
        Some(format!(
            "review what its `.orch/` runs, then run `codecafe trust` in {}",
            repo.display()
        )),
    )
}

/// Whether the next start will compile built-in plugins: the compile cache has no entry of
/// this codecafe's wasmtime for some built-in (a new data directory, a new codecafe).
///
/// Reads the cache's file names (`<blake3 of the component>-<engine key>-wasmtime<version>.cwasm`,
/// see `codecafe_plugin_host`'s `cache.rs`) without loading anything; the engine key is left
/// out, as it changes only with the codecafe binary, which changes the version or the hashes.
pub fn builtins_need_compiling(service: &Service) -> bool {
    let suffix = format!("-wasmtime{WASMTIME_VERSION}.cwasm");
    let cached: BTreeSet<String> = std::fs::read_dir(&service.paths().compiled)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.ends_with(&suffix))
                .filter_map(|name| name.split('-').next().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    codecafe_builtins::BUILTINS
        .iter()
        .any(|builtin| !cached.contains(builtin.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_stops_and_warnings_pass() {
        let warn = Check::new(
            "git",
            "identity",
            Level::Warning,
            "none".into(),
            Some("set".into()),
        );
        let ok = Check::ok("claude-code", "program", "found".into());
        assert_eq!(
            settle(vec![ok.clone(), warn.clone()]).expect("ready"),
            vec!["git identity: none — fix: set".to_owned()]
        );
        let problem = Check::new(
            "claude-code",
            "login",
            Level::Problem,
            "not logged in".into(),
            Some("log in".into()),
        );
        match settle(vec![ok, warn, problem.clone()]) {
            Err(ServiceError::NotReady { problems }) => assert_eq!(problems, vec![problem]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_ok_check_carries_no_fix() {
        let check = Check::new("a", "b", Level::Ok, "fine".into(), Some("nothing".into()));
        assert_eq!(check.fix, None);
        assert_eq!(check.to_string(), "a b: fine");
    }

    #[test]
    fn a_worktree_root_that_does_not_exist_yet_is_checked_at_its_parent() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("a/b");
        assert_eq!(worktree_root(&root).level, Level::Ok);
        assert!(!dir.path().join("a").exists(), "nothing is left behind");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "the probe file is removed"
        );
    }

    #[test]
    fn a_cache_without_every_builtin_means_compiling() {
        let home = tempfile::tempdir().expect("home");
        let mut paths = crate::Paths::under(home.path().to_owned());
        paths.compiled = home.path().join("compiled");
        let service = Service::with_paths(paths.clone());
        assert!(builtins_need_compiling(&service), "no cache directory");
        std::fs::create_dir_all(&paths.compiled).expect("cache dir");
        let entry = |hash: &str, version: &str| {
            let name = format!("{hash}-0123456789abcdef-wasmtime{version}.cwasm");
            std::fs::write(paths.compiled.join(name), b"").expect("entry");
        };
        let (last, rest) = codecafe_builtins::BUILTINS.split_last().expect("built-ins");
        for builtin in rest {
            entry(builtin.hash, WASMTIME_VERSION);
        }
        entry(last.hash, "0.0.1");
        assert!(
            builtins_need_compiling(&service),
            "one is cached for another wasmtime"
        );
        entry(last.hash, WASMTIME_VERSION);
        assert!(!builtins_need_compiling(&service));
    }

    #[test]
    fn the_git_identity_is_read_from_the_repository_config() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = git2::Repository::init(dir.path()).expect("repo");
        let mut config = repo.config().expect("config");
        config.set_str("user.name", "Ann").expect("name");
        config
            .set_str("user.email", "ann@example.com")
            .expect("email");
        let check = git_identity(dir.path());
        assert_eq!(check.level, Level::Ok, "{check}");
        assert!(check.message.contains("Ann <ann@example.com>"));
    }
}
