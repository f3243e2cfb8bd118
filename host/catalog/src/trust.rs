//! Workspace trust: what a repository's `.orch/` holds that can make codecafe or an agent run a
//! program or reach beyond the worktree, and the user's record of having trusted it.
//!
//! [`Fingerprint::of_repository`] lists a repository's **risky items**, each with the BLAKE3
//! hash of its bytes and the reasons in words:
//!
//! - every plugin file in `.orch/plugins/` (code that codecafe loads, and that tells it which
//!   program to start);
//! - every recipe in `.orch/workflows/` with a stage that runs a program of the recipe's
//!   choosing (`provider: command` or an ACP provider), sets a provider option or stage key that
//!   configures the agent beyond its prompt (hooks, MCP servers, extra directories, extra
//!   arguments, settings files, environment, pre-approved tools or commands), or asks for any
//!   `permissions` beyond `read-only` and `edit` (on a stage or for the whole recipe);
//! - every role in `.orch/roles/` whose front matter gives the stages playing it such
//!   `permissions`.
//!
//! The fingerprint's hash covers exactly those files: editing a plain prompt in a harmless
//! recipe changes nothing, any change to a risky recipe, role or plugin does. Recipes and roles
//! are read with the same YAML loader as [`crate::recipe`] and [`crate::role`], so what is
//! scanned is what would run.
//!
//! [`TrustStore`] (`trust.json` in the data directory, under the rules of [`crate::storage`])
//! records per repository (its canonical path) the fingerprint the user trusted and when — like
//! `direnv allow`, pinned by content hash.

use std::path::{Path, PathBuf};

use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::layout::{OrchDir, files_ending_with};
use crate::recipe::RECIPE_SUFFIX;
use crate::storage::{self, Versioned};

/// The trust record's file name in the data directory.
pub const TRUST_FILE: &str = "trust.json";

/// Providers whose stages run a program that the recipe itself names.
pub const PROGRAM_PROVIDERS: &[&str] = &["command", "acp"];

/// Parts of a setting's name that mark it as reaching beyond the prompt, with what such a
/// setting does (for the reasons shown to the user). The first match wins.
const RISKY_NAME_PARTS: &[(&str, &str)] = &[
    ("hook", "hooks: programs run on the agent's events"),
    ("mcp", "MCP servers: programs the agent starts"),
    ("env", "environment variables"),
    ("cwd", "directories beyond the worktree"),
    ("dir", "directories beyond the worktree"),
    ("path", "files or directories beyond the worktree"),
    ("setting", "a settings file for the agent"),
    ("config", "the agent's configuration"),
    ("profile", "an agent configuration profile"),
    ("args", "extra arguments for the agent's command line"),
    ("argv", "extra arguments for the agent's command line"),
    ("command", "a program to run"),
    ("exec", "a program to run"),
    ("program", "a program to run"),
    ("script", "a program to run"),
    ("plugin", "plugins for the agent"),
    (
        "allowed",
        "tools or commands the agent may use without asking",
    ),
    ("bypass", "what the agent may do without asking"),
    ("sandbox", "the agent's sandbox"),
    ("permission_mode", "what the agent may do without asking"),
];

/// Names that contain a risky part but only ever restrict the agent.
const HARMLESS_NAMES: &[&str] = &["disallowed_tools", "disallowed_commands"];

/// The `permissions` levels that stay inside the worktree.
const CONTAINED_PERMISSIONS: &[&str] = &["read-only", "edit"];

/// Top-level recipe settings that are not stage blocks and cannot reach beyond the prompt.
const HARMLESS_TOP_LEVEL: &[&str] = &[
    "name",
    "description",
    "workflow",
    "budget",
    "signals",
    "approvals",
    "on_denied",
];

/// What a risky item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A plugin file in `.orch/plugins/`.
    Plugin,
    /// A recipe in `.orch/workflows/`.
    Recipe,
    /// A role in `.orch/roles/`.
    Role,
}

impl ItemKind {
    /// `plugin` or `recipe`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Plugin => "plugin",
            Self::Recipe => "recipe",
            Self::Role => "role",
        }
    }
}

/// A file of `.orch/` that needs trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskyItem {
    /// Plugin or recipe.
    pub kind: ItemKind,
    /// Its path relative to the repository, `/`-separated (`.orch/plugins/x.wasm`).
    pub path: String,
    /// BLAKE3 hash of its bytes, hex.
    pub hash: String,
    /// Why it needs trust, in words.
    pub reasons: Vec<String>,
}

/// Everything of a repository's `.orch/` that needs trust, and one hash over all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The repository, as given.
    pub repository: PathBuf,
    /// The risky items: plugins, then recipes, each sorted by path.
    pub items: Vec<RiskyItem>,
    /// BLAKE3 over every item's kind, path and hash, hex.
    pub hash: String,
}

impl Fingerprint {
    /// The risky items of the repository at `repo` (see the module docs).
    pub fn of_repository(repo: &Path) -> Result<Self> {
        let orch = OrchDir::of_repo(repo);
        let mut items = Vec::new();
        for file in plugin_files(&orch.plugins())? {
            let bytes = std::fs::read(&file).map_err(CatalogError::io(&file))?;
            items.push(RiskyItem {
                kind: ItemKind::Plugin,
                path: relative(".orch/plugins", &file),
                hash: blake3::hash(&bytes).to_hex().to_string(),
                reasons: vec![
                    "a plugin: code codecafe loads, which chooses the programs a stage starts"
                        .to_owned(),
                ],
            });
        }
        for file in files_ending_with(&orch.workflows(), RECIPE_SUFFIX)? {
            let bytes = std::fs::read(&file).map_err(CatalogError::io(&file))?;
            let reasons = recipe_risks(&String::from_utf8_lossy(&bytes));
            if !reasons.is_empty() {
                items.push(RiskyItem {
                    kind: ItemKind::Recipe,
                    path: relative(".orch/workflows", &file),
                    hash: blake3::hash(&bytes).to_hex().to_string(),
                    reasons,
                });
            }
        }
        for file in files_ending_with(&orch.roles(), ".md")? {
            let bytes = std::fs::read(&file).map_err(CatalogError::io(&file))?;
            let reasons = role_risks(&String::from_utf8_lossy(&bytes));
            if !reasons.is_empty() {
                items.push(RiskyItem {
                    kind: ItemKind::Role,
                    path: relative(".orch/roles", &file),
                    hash: blake3::hash(&bytes).to_hex().to_string(),
                    reasons,
                });
            }
        }
        let hash = combined_hash(&items);
        Ok(Self {
            repository: repo.to_owned(),
            items,
            hash,
        })
    }

    /// Whether anything needs trust.
    pub fn needs_trust(&self) -> bool {
        !self.items.is_empty()
    }
}

/// The plugin files of a plugins folder — exactly those the plugin host discovers: every
/// `*.wasm` file, sorted; none when the folder does not exist.
pub fn plugin_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CatalogError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(CatalogError::io(dir))?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The path of a plugin file as a [`RiskyItem`] names it: `.orch/plugins/<file name>`.
pub fn plugin_item_path(file: &Path) -> String {
    relative(".orch/plugins", file)
}

fn relative(folder: &str, file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{folder}/{name}")
}

fn combined_hash(items: &[RiskyItem]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"codecafe-trust/1\n");
    for item in items {
        for part in [item.kind.label(), &item.path, &item.hash] {
            hasher.update(part.as_bytes());
            hasher.update(b"\0");
        }
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

/// Why the recipe `text` needs trust, in words; empty when it does not. A recipe that is not
/// YAML cannot run (it fails validation), so it needs none.
pub fn recipe_risks(text: &str) -> Vec<String> {
    let Ok(root) = crate::yaml::load(text) else {
        return Vec::new();
    };
    let Some(top) = root.as_mapping() else {
        return Vec::new();
    };
    let mut reasons = Vec::new();
    for (key, value) in top.iter() {
        let key = key.as_str();
        if key == "permissions" {
            if let Some(level) = uncontained_permissions(value) {
                reasons.push(format!("the recipe asks for `permissions: {level}`"));
            }
        } else if let Some(block) = value.as_mapping().filter(|_| key != "workflow") {
            stage_risks(key, block, "", &mut reasons);
        } else if !HARMLESS_TOP_LEVEL.contains(&key)
            && let Some(what) = risky_name(key)
        {
            reasons.push(format!("the recipe sets `{key}` ({what})"));
        }
    }
    reasons
}

/// Why the role file `text` needs trust, in words: its front matter (the YAML between its
/// first two `---` lines, found as the role reader finds it) gives the stages playing it
/// `permissions` beyond `edit`, or sets something that reaches beyond the prompt. Empty when it
/// does not, or when it is not a role (it cannot be used).
pub fn role_risks(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let is_fence = |line: &&str| line.trim_end() == "---";
    if !lines.first().is_some_and(is_fence) {
        return Vec::new();
    }
    let Some(close) = lines.iter().skip(1).position(is_fence).map(|i| i + 1) else {
        return Vec::new();
    };
    let Ok(front) = crate::yaml::load(&lines[1..close].join("\n")) else {
        return Vec::new();
    };
    let Some(front) = front.as_mapping() else {
        return Vec::new();
    };
    let mut reasons = Vec::new();
    for (key, value) in front.iter() {
        let key = key.as_str();
        if key == "permissions" {
            if let Some(level) = uncontained_permissions(value) {
                reasons.push(format!(
                    "the stages playing it get `permissions: {level}` (unless they set their own)"
                ));
            }
        } else if !matches!(key, "name" | "description" | "variables")
            && let Some(what) = risky_name(key)
        {
            reasons.push(format!("it sets `{key}` ({what})"));
        }
    }
    reasons
}

/// The risks of stage `stage`'s block (or of a mapping nested in it at `prefix`).
fn stage_risks(stage: &str, block: &MarkedMappingNode, prefix: &str, reasons: &mut Vec<String>) {
    for (key, value) in block.iter() {
        let name = key.as_str();
        let path = format!("{prefix}{name}");
        if prefix.is_empty() && name == "provider" {
            if let Some(provider) = value.as_scalar().map(|s| s.as_str())
                && runs_named_program(provider)
            {
                reasons.push(format!(
                    "stage `{stage}` runs provider `{provider}`: a program the recipe names"
                ));
            }
        } else if name == "permissions" {
            if let Some(level) = uncontained_permissions(value) {
                reasons.push(format!("stage `{stage}` asks for `permissions: {level}`"));
            }
        } else if let Some(what) = risky_name(name) {
            reasons.push(format!("stage `{stage}` sets `{path}` ({what})"));
        } else {
            nested_risks(stage, value, &format!("{path}."), reasons);
        }
    }
}

/// The risks inside `value`, a setting's value that may hold more settings.
fn nested_risks(stage: &str, value: &Node, prefix: &str, reasons: &mut Vec<String>) {
    match value {
        Node::Mapping(map) => stage_risks(stage, map, prefix, reasons),
        Node::Sequence(items) => {
            for item in items.iter() {
                nested_risks(stage, item, prefix, reasons);
            }
        }
        Node::Scalar(_) => {}
    }
}

/// Whether `provider` runs a program the recipe names rather than a known agent.
fn runs_named_program(provider: &str) -> bool {
    let provider = provider.trim().to_ascii_lowercase();
    PROGRAM_PROVIDERS.contains(&provider.as_str())
        || provider.starts_with("acp-")
        || provider.ends_with("-acp")
}

/// What a setting named `name` does, when it can reach beyond the prompt.
fn risky_name(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    if HARMLESS_NAMES.contains(&name.as_str()) {
        return None;
    }
    RISKY_NAME_PARTS
        .iter()
        .find(|(part, _)| name.contains(part))
        .map(|(_, what)| *what)
}

/// The `permissions` value, when it is anything but a level that stays in the worktree.
fn uncontained_permissions(value: &Node) -> Option<String> {
    match value.as_scalar().map(|s| s.as_str().trim()) {
        Some(level) if CONTAINED_PERMISSIONS.contains(&level) => None,
        Some(level) => Some(level.to_owned()),
        None => Some("…".to_owned()),
    }
}

/// A repository the user trusted, and exactly what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedRepository {
    /// Its canonical path.
    pub path: PathBuf,
    /// The [`Fingerprint::hash`] trusted.
    pub hash: String,
    /// The items trusted.
    pub items: Vec<RiskyItem>,
    /// RFC 3339.
    pub trusted_at: String,
}

impl TrustedRepository {
    /// Whether the plugin file `file` of this repository, with BLAKE3 hash `hash` (hex), was
    /// trusted as it is.
    pub fn trusts_plugin(&self, file: &Path, hash: &str) -> bool {
        let path = plugin_item_path(file);
        self.items
            .iter()
            .any(|item| item.kind == ItemKind::Plugin && item.path == path && item.hash == hash)
    }
}

/// The trust record document, `trust.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRecord {
    /// Schema version.
    pub version: u32,
    /// Trusted repositories, in the order they were first trusted.
    pub repositories: Vec<TrustedRepository>,
}

impl Versioned for TrustRecord {
    const VERSION: u32 = 1;

    fn empty() -> Self {
        Self {
            version: Self::VERSION,
            repositories: Vec::new(),
        }
    }
}

/// The trust record file and the operations on it; every change is a locked, atomic
/// read-modify-write.
#[derive(Debug, Clone)]
pub struct TrustStore {
    file: PathBuf,
}

impl TrustStore {
    /// The record in `data_dir/trust.json`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: data_dir.join(TRUST_FILE),
        }
    }

    /// The record file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every trusted repository.
    pub fn read(&self) -> Result<TrustRecord> {
        storage::read_or_empty(&self.file)
    }

    /// What was trusted of the repository at `repo` (a canonical path), if anything.
    pub fn get(&self, repo: &Path) -> Result<Option<TrustedRepository>> {
        Ok(self
            .read()?
            .repositories
            .into_iter()
            .find(|trusted| trusted.path == repo))
    }

    /// Records `fingerprint` (of a repository given by its canonical path) as trusted now,
    /// replacing what was trusted of it before.
    pub fn trust(&self, fingerprint: &Fingerprint) -> Result<TrustedRepository> {
        let trusted = TrustedRepository {
            path: fingerprint.repository.clone(),
            hash: fingerprint.hash.clone(),
            items: fingerprint.items.clone(),
            trusted_at: jiff::Timestamp::now().to_string(),
        };
        storage::update(&self.file, |record: &mut TrustRecord| {
            match record
                .repositories
                .iter_mut()
                .find(|known| known.path == trusted.path)
            {
                Some(known) => *known = trusted.clone(),
                None => record.repositories.push(trusted.clone()),
            }
            Ok(())
        })?;
        Ok(trusted)
    }

    /// Withdraws trust from the repository at `repo`; returns what was trusted, if anything.
    pub fn revoke(&self, repo: &Path) -> Result<Option<TrustedRepository>> {
        if self.get(repo)?.is_none() {
            return Ok(None);
        }
        storage::update(&self.file, |record: &mut TrustRecord| {
            let index = record.repositories.iter().position(|t| t.path == repo);
            Ok(index.map(|index| record.repositories.remove(index)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(text: &str) -> Vec<String> {
        recipe_risks(text)
    }

    #[test]
    fn agent_stages_with_prompts_need_no_trust() {
        let text = "name: plain\nworkflow:\n  stages: [a, b]\na:\n  provider: claude-code\n  \
                    role: coder\n  prompt: \"Use the env and the dirs you like\"\n  \
                    permissions: edit\n  options: { max_turns: 5, disallowed_tools: [Bash] }\n\
                    b:\n  provider: codex\n  permissions: read-only\n  depends_on: [a]\n";
        assert_eq!(reasons(text), Vec::<String>::new());
        for builtin in crate::recipe::BUILTIN_RECIPES {
            assert_eq!(reasons(builtin.1), Vec::<String>::new(), "{}", builtin.0);
        }
    }

    #[test]
    fn programs_options_and_full_permissions_need_trust() {
        let text = "name: risky\nworkflow:\n  stages: [run, ask, mcp, wide, deep]\npermissions: full\n\
                    run: { provider: command, command: \"make\" }\n\
                    ask: { provider: acp }\n\
                    mcp:\n  provider: claude-code\n  options:\n    mcp_config: servers.json\n\
                    wide:\n  provider: codex\n  permissions: full\n  pass_env: [TOKEN]\n\
                    deep:\n  provider: claude-code\n  options:\n    nested: [{ hooks: x }]\n";
        let found = reasons(text);
        let expect = [
            "the recipe asks for `permissions: full`",
            "stage `run` runs provider `command`",
            "stage `run` sets `command`",
            "stage `ask` runs provider `acp`",
            "stage `mcp` sets `options.mcp_config` (MCP servers",
            "stage `wide` asks for `permissions: full`",
            "stage `wide` sets `pass_env` (environment variables)",
            "stage `deep` sets `options.nested.hooks`",
        ];
        for expected in expect {
            assert!(
                found.iter().any(|r| r.starts_with(expected)),
                "missing {expected:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn settings_named_like_risky_ones_need_trust() {
        for key in [
            "settings",
            "add_dirs",
            "extra_args",
            "env",
            "config",
            "allowed_tools",
            "allowed_commands",
            "profile",
        ] {
            let text = format!("workflow:\n  stages: [a]\na:\n  provider: codex\n  {key}: x\n");
            assert_eq!(reasons(&text).len(), 1, "{key}");
        }
        // A stage whose id looks risky is still only a name.
        let text = "workflow:\n  stages: [setup_env]\nsetup_env:\n  provider: codex\n";
        assert!(reasons(text).is_empty());
        // Not YAML: it cannot run.
        assert!(reasons("a: [").is_empty());
    }

    #[test]
    fn roles_that_widen_permissions_need_trust() {
        let wide = "---\nname: Wide\npermissions: full\n---\nDo anything.\n";
        assert_eq!(role_risks(wide).len(), 1, "{:?}", role_risks(wide));
        let edit = "---\nname: Coder\npermissions: edit\nvariables: {}\n---\nfull env dirs\n";
        assert!(role_risks(edit).is_empty());
        assert!(role_risks("no front matter\npermissions: full\n").is_empty());
    }

    fn repo_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, bytes) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
            std::fs::write(path, bytes).expect("file");
        }
        dir
    }

    const RISKY: &str = "workflow:\n  stages: [a]\na:\n  provider: command\n  command: make\n";
    const PLAIN: &str = "workflow:\n  stages: [a]\na:\n  provider: codex\n  prompt: one\n";

    #[test]
    fn the_hash_covers_plugins_and_risky_recipes_only() {
        let repo = repo_with(&[
            (".orch/plugins/agent.wasm", b"\0asm one"),
            (".orch/plugins/notes.txt", b"not a plugin"),
            (".orch/workflows/build.workflow.yml", RISKY.as_bytes()),
            (".orch/workflows/plain.workflow.yml", PLAIN.as_bytes()),
            (
                ".orch/roles/wide.md",
                b"---\nname: Wide\npermissions: full\n---\nGo.\n",
            ),
            (".orch/roles/plain.md", b"---\nname: Plain\n---\nGo.\n"),
        ]);
        let first = Fingerprint::of_repository(repo.path()).expect("fingerprint");
        let paths: Vec<&str> = first.items.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".orch/plugins/agent.wasm",
                ".orch/workflows/build.workflow.yml",
                ".orch/roles/wide.md"
            ]
        );
        let plain = repo.path().join(".orch/workflows/plain.workflow.yml");
        std::fs::write(&plain, PLAIN.replace("one", "two")).expect("edit the prompt");
        let same = Fingerprint::of_repository(repo.path()).expect("fingerprint");
        assert_eq!(same.hash, first.hash, "a harmless edit asks nothing");
        let plugin = repo.path().join(".orch/plugins/agent.wasm");
        std::fs::write(&plugin, b"\0asm two").expect("change the plugin");
        let changed = Fingerprint::of_repository(repo.path()).expect("fingerprint");
        assert_ne!(changed.hash, first.hash);
        let empty = repo_with(&[(".orch/workflows/plain.workflow.yml", PLAIN.as_bytes())]);
        assert!(
            !Fingerprint::of_repository(empty.path())
                .expect("fingerprint")
                .needs_trust()
        );
    }

    #[test]
    fn the_store_records_replaces_and_revokes() {
        let repo = repo_with(&[(".orch/plugins/agent.wasm", b"\0asm")]);
        let data = tempfile::tempdir().expect("data dir");
        let store = TrustStore::new(data.path());
        assert_eq!(store.get(repo.path()).expect("reads"), None);
        let fingerprint = Fingerprint::of_repository(repo.path()).expect("fingerprint");
        let trusted = store.trust(&fingerprint).expect("trust");
        assert!(trusted.trusts_plugin(
            &repo.path().join(".orch/plugins/agent.wasm"),
            &fingerprint.items[0].hash
        ));
        assert!(!trusted.trusts_plugin(&repo.path().join(".orch/plugins/agent.wasm"), "00"));
        store.trust(&fingerprint).expect("trust again");
        assert_eq!(store.read().expect("reads").repositories.len(), 1);
        assert_eq!(
            store.revoke(repo.path()).expect("revoke").map(|t| t.hash),
            Some(fingerprint.hash)
        );
        assert_eq!(store.revoke(repo.path()).expect("revoke again"), None);
        assert!(store.read().expect("reads").repositories.is_empty());
    }
}
