//! Workspace trust: what a repository's `.orch/` holds that can make codecafe or an agent run a
//! program or reach beyond the worktree — its plugins, `command` and ACP stages, provider
//! options that configure hooks, MCP servers, extra directories, arguments, settings or
//! environment, `permissions: full` in a recipe or role (see [`codecafe_catalog::trust`]) —
//! runs only after the user's `codecafe trust` for that repository, pinned by content hash; a
//! change asks again.
//!
//! Enforcement is in two places: [`ensure`], called before an order of the repository runs or
//! continues (nothing is created or started when it refuses), and [`allowed_plugins`], which
//! [`Service::plugins`] applies so that a repository plugin loads only when that very file was
//! trusted — an untrusted one never replaces a built-in, whatever the command.
//!
//! `CODECAFE_TRUST=1` in the environment (CI, scripts) trusts a repository when [`ensure`]
//! finds it untrusted, and records it; `codecafe run --trust` does the same for one run.

use std::path::{Path, PathBuf};

use codecafe_catalog::cafe::Cafe;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::trust::{Fingerprint, ItemKind, RiskyItem, TrustStore, TrustedRepository};
use codecafe_plugin_host::{Origin, PluginSource};
use serde::Serialize;

use crate::error::{Result, ServiceError};
use crate::paths::repository_root;
use crate::service::Service;

/// The environment variable that trusts a repository for non-interactive runs (`1`, `true` or
/// `yes`).
pub const TRUST_ENV: &str = "CODECAFE_TRUST";

/// How a repository stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TrustState {
    /// Its `.orch/` holds nothing that needs trust.
    NotNeeded,
    /// The user trusted exactly what it holds now.
    Trusted,
    /// It needs trust and was never trusted (or trust was revoked).
    Untrusted,
    /// It was trusted, and what needs trust changed since.
    Changed,
}

/// How a risky item stands against what was trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemChange {
    /// Trusted exactly as it is.
    Unchanged,
    /// Not trusted before.
    New,
    /// Trusted, then changed.
    Changed,
}

/// One file of `.orch/` that needs trust.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustItem {
    /// Plugin or recipe, its path, hash and reasons.
    #[serde(flatten)]
    pub item: RiskyItem,
    /// A plugin's id, when it loads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// A plugin with the id of a built-in one, which it would replace.
    pub replaces_builtin: bool,
    /// Against what was trusted.
    pub change: ItemChange,
}

impl TrustItem {
    /// The item in words, on one line.
    pub fn describe(&self) -> String {
        let marker = match self.change {
            ItemChange::Unchanged | ItemChange::New => "",
            ItemChange::Changed => "(changed) ",
        };
        match (self.item.kind, &self.plugin) {
            (ItemKind::Plugin, Some(id)) if self.replaces_builtin => format!(
                "{marker}plugin `{id}` ({}): in place of the built-in `{id}`; it chooses the \
                 programs its stages start",
                self.item.path
            ),
            (ItemKind::Plugin, Some(id)) => format!(
                "{marker}plugin `{id}` ({}): it chooses the programs its stages start",
                self.item.path
            ),
            (ItemKind::Plugin, None) => format!(
                "{marker}plugin file {}: code codecafe would load",
                self.item.path
            ),
            (ItemKind::Recipe | ItemKind::Role, _) => format!(
                "{marker}{} {}: {}",
                self.item.kind.label(),
                self.item.path,
                self.item.reasons.join("; ")
            ),
        }
    }
}

/// What a repository's `.orch/` holds that needs trust, and how it stands.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustStatus {
    /// The repository (canonical path).
    pub repository: PathBuf,
    /// How it stands.
    pub state: TrustState,
    /// The hash of what needs trust now.
    pub hash: String,
    /// What needs trust now.
    pub items: Vec<TrustItem>,
    /// When what is recorded was trusted, if anything is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_at: Option<String>,
    /// Items trusted before that are gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// How a trusted repository stands now, for `trust --list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ListedState {
    /// Still exactly as trusted.
    Trusted,
    /// What needs trust changed since: its runs ask again.
    Changed,
    /// The repository is gone.
    Gone,
}

/// A trusted repository, for `trust --list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustListing {
    /// The repository.
    pub repository: PathBuf,
    /// How it stands now.
    pub state: ListedState,
    /// When it was trusted (RFC 3339).
    pub trusted_at: String,
    /// What was trusted.
    pub items: Vec<RiskyItem>,
}

/// What `trust --revoke` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    /// The repository.
    pub repository: PathBuf,
    /// Whether it was trusted.
    pub was_trusted: bool,
}

/// The trust record of this user.
pub fn store(service: &Service) -> TrustStore {
    TrustStore::new(&service.paths().data)
}

/// Whether `CODECAFE_TRUST` asks to trust repositories without asking.
pub fn env_grants() -> bool {
    std::env::var(TRUST_ENV).is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes"
        )
    })
}

/// The top of the git repository containing `start`, as a canonical path.
pub fn repository_at(start: &Path) -> Result<PathBuf> {
    let canonical = start
        .canonicalize()
        .map_err(|err| ServiceError::io(start, err))?;
    repository_root(&canonical).ok_or_else(|| {
        ServiceError::bad_input(
            canonical.display().to_string(),
            "is not inside a git repository; give the path of a repository (or of a directory in \
             it)",
        )
    })
}

/// The path the trust record knows `repo` by.
fn canonical(repo: &Path) -> PathBuf {
    repo.canonicalize().unwrap_or_else(|_| repo.to_owned())
}

/// What the repository at `repo` holds that needs trust, and how it stands.
pub fn status(service: &Service, repo: &Path) -> Result<TrustStatus> {
    let repo = canonical(repo);
    let fingerprint = Fingerprint::of_repository(&repo)?;
    let trusted = store(service).get(&repo)?;
    Ok(described(service, &fingerprint, trusted.as_ref()))
}

/// How `fingerprint` stands against `trusted`, each plugin named by its id (read from the
/// plugin under the sandbox, which runs none of its choices).
fn described(
    service: &Service,
    fingerprint: &Fingerprint,
    trusted: Option<&TrustedRepository>,
) -> TrustStatus {
    let state = match trusted {
        _ if !fingerprint.needs_trust() => TrustState::NotNeeded,
        Some(trusted) if trusted.hash == fingerprint.hash => TrustState::Trusted,
        Some(_) => TrustState::Changed,
        None => TrustState::Untrusted,
    };
    let recorded = trusted.map(|t| t.items.as_slice()).unwrap_or_default();
    let items = fingerprint
        .items
        .iter()
        .map(|item| {
            let before = recorded.iter().find(|r| r.path == item.path);
            let change = match before {
                Some(before) if before.hash == item.hash => ItemChange::Unchanged,
                Some(_) => ItemChange::Changed,
                None => ItemChange::New,
            };
            let plugin = match item.kind {
                ItemKind::Plugin => plugin_id(service, &fingerprint.repository.join(&item.path)),
                ItemKind::Recipe | ItemKind::Role => None,
            };
            TrustItem {
                replaces_builtin: plugin.as_deref().is_some_and(is_builtin),
                plugin,
                item: item.clone(),
                change,
            }
        })
        .collect();
    let removed = recorded
        .iter()
        .filter(|r| !fingerprint.items.iter().any(|item| item.path == r.path))
        .map(|r| r.path.clone())
        .collect();
    TrustStatus {
        repository: fingerprint.repository.clone(),
        state,
        hash: fingerprint.hash.clone(),
        items,
        trusted_at: trusted.map(|t| t.trusted_at.clone()),
        removed,
    }
}

fn plugin_id(service: &Service, file: &Path) -> Option<String> {
    let source = PluginSource::from_file(file, Origin::Repository).ok()?;
    let plugin = service.plugin_host().ok()?.load(source).ok()?;
    Some(plugin.id().to_owned())
}

fn is_builtin(id: &str) -> bool {
    codecafe_builtins::BUILTINS.iter().any(|b| b.id == id)
}

/// Trusts what the repository at `repo` holds now (nothing is recorded when nothing needs
/// trust); returns how it stands after.
pub fn trust(service: &Service, repo: &Path) -> Result<TrustStatus> {
    let repo = canonical(repo);
    let fingerprint = Fingerprint::of_repository(&repo)?;
    let store = store(service);
    if !fingerprint.needs_trust() {
        return Ok(described(service, &fingerprint, store.get(&repo)?.as_ref()));
    }
    let trusted = store.trust(&fingerprint)?;
    tracing::info!(repository = %repo.display(), hash = %trusted.hash, "trusted");
    Ok(described(service, &fingerprint, Some(&trusted)))
}

/// Withdraws trust from the repository at `repo` (which may be gone).
pub fn revoke(service: &Service, repo: &Path) -> Result<Revoked> {
    let repo = repository_at(repo)
        .unwrap_or_else(|_| std::path::absolute(repo).unwrap_or_else(|_| repo.to_owned()));
    let was = store(service).revoke(&repo)?;
    Ok(Revoked {
        repository: repo,
        was_trusted: was.is_some(),
    })
}

/// Every trusted repository and how it stands now.
pub fn list(service: &Service) -> Result<Vec<TrustListing>> {
    Ok(store(service)
        .read()?
        .repositories
        .into_iter()
        .map(|trusted| {
            let state = if !trusted.path.is_dir() {
                ListedState::Gone
            } else {
                match Fingerprint::of_repository(&trusted.path) {
                    Ok(now) if now.hash == trusted.hash => ListedState::Trusted,
                    // Unreadable counts as changed: its runs would not go on either.
                    Ok(_) | Err(_) => ListedState::Changed,
                }
            };
            TrustListing {
                repository: trusted.path,
                state,
                trusted_at: trusted.trusted_at,
                items: trusted.items,
            }
        })
        .collect())
}

/// Refuses to go on when the repository at `repo` holds what needs trust and the user has not
/// trusted it as it is now; the error lists what and says what to run. `CODECAFE_TRUST=1`
/// trusts it instead (recorded).
pub fn ensure(service: &Service, repo: &Path) -> Result<()> {
    let repo = canonical(repo);
    let fingerprint = Fingerprint::of_repository(&repo)?;
    if !fingerprint.needs_trust() {
        return Ok(());
    }
    let trusted = store(service).get(&repo)?;
    if trusted.as_ref().is_some_and(|t| t.hash == fingerprint.hash) {
        return Ok(());
    }
    if env_grants() {
        store(service).trust(&fingerprint)?;
        tracing::info!(repository = %repo.display(), "trusted because {TRUST_ENV} is set");
        return Ok(());
    }
    let status = described(service, &fingerprint, trusted.as_ref());
    Err(ServiceError::Untrusted {
        repository: repo,
        changed: status.state == TrustState::Changed,
        items: status
            .items
            .iter()
            .filter(|item| item.change != ItemChange::Unchanged)
            .map(TrustItem::describe)
            .collect(),
    })
}

/// Of the repository plugins `sources` found in `repo`'s `.orch/plugins/`, those that may load:
/// each file trusted exactly as it is (or all of them with `CODECAFE_TRUST=1`). The others are
/// left out, so they never replace a built-in.
pub fn allowed_plugins(
    service: &Service,
    repo: &Path,
    sources: Vec<PluginSource>,
) -> Result<Vec<PluginSource>> {
    if sources.is_empty() || env_grants() {
        return Ok(sources);
    }
    let Some(trusted) = store(service).get(&canonical(repo))? else {
        return Ok(Vec::new());
    };
    Ok(sources
        .into_iter()
        .filter(|source| {
            source
                .path
                .as_deref()
                .is_some_and(|file| trusted.trusts_plugin(file, &source.hash_hex()))
        })
        .collect())
}

/// The plugin files of `repo`'s `.orch/plugins/` that [`allowed_plugins`] leaves out, with why
/// and the fix.
pub fn withheld_plugins(service: &Service, repo: &Path) -> Result<Vec<(PathBuf, String)>> {
    let repo = canonical(repo);
    let files = codecafe_catalog::trust::plugin_files(
        &codecafe_catalog::OrchDir::of_repo(&repo).plugins(),
    )?;
    if files.is_empty() || env_grants() {
        return Ok(Vec::new());
    }
    let trusted = store(service).get(&repo)?;
    let mut withheld = Vec::new();
    for file in files {
        let hash = PluginSource::from_file(&file, Origin::Repository)?.hash_hex();
        let (loads, why) = match &trusted {
            None => (false, "the repository is not trusted"),
            Some(trusted) => (
                trusted.trusts_plugin(&file, &hash),
                "it changed since the repository was trusted",
            ),
        };
        if !loads {
            withheld.push((
                file,
                format!(
                    "not loaded: {why}; review it, then run `codecafe trust {}`",
                    repo.display()
                ),
            ));
        }
    }
    Ok(withheld)
}

/// What a run of recipe `recipe_id` in `cafe` uses in place of a built-in — the cafe's own
/// recipe of a built-in's id, a user or repository plugin of a built-in's id — one line each,
/// for the run's first lines.
pub fn override_notes(service: &Service, cafe: &Cafe, recipe_id: &str) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if RecipeCatalog::load(&cafe.orch())?.overrides_builtin(recipe_id) {
        notes.push(format!(
            "recipe `{recipe_id}` is this repository's own ({}), in place of the built-in one",
            cafe.orch().recipe_file(recipe_id).display()
        ));
    }
    for plugin in service.plugins(Some(&cafe.path))?.active() {
        let inspection = plugin.inspection();
        let whose = match inspection.origin {
            Origin::BuiltIn => continue,
            Origin::User => "your own",
            Origin::Repository => "this repository's",
        };
        if is_builtin(plugin.id()) {
            let file = inspection
                .path
                .as_ref()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default();
            notes.push(format!(
                "plugin `{}` is {whose}{file}, in place of the built-in one",
                plugin.id()
            ));
        }
    }
    Ok(notes)
}
