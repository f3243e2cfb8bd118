//! Recipes: stage graphs in YAML, loaded exactly as the seed writes them, validated with every
//! problem located, and resolved into typed stages for the engine.
//!
//! ```yaml
//! name: moon
//! description: Analyze, plan, code, review.
//! workflow:
//!   stages: [analyze, plan, code, review]
//! analyze: { provider: claude-code, role: analyzer, skills: [classify-task, evaluate-complexity] }
//! plan: { provider: claude-code, role: planner, skills: [decide-sequence] }
//! code: { provider: claude-code, role: coder, skills: [implementation-runner] }
//! review:  { provider: codex, role: reviewer, skills: [codex-review-code] }
//! ```
//!
//! **Top level**: `name`, `description`, `workflow: { stages: [...] }` (the stage ids, in
//! order), `budget` (most an order may cost, in USD), `signals` (the default signal parser),
//! and one block per stage id.
//!
//! **A stage block**: `provider`, `role`, `skills`, `mode` (`sequential` | `parallel`), `interactive` (`true`: the agent's own TUI in a terminal),
//! `on_failure` (`stop` | `continue` | `retry`), `retries` (0 to [`MAX_RETRIES`]; `retry`
//! without it means [`DEFAULT_RETRIES`]), `retry_backoff` and `timeout` (durations such as
//! `30s`, `2m`, `1h30m`), `prompt` (extra template text), `model`, `depends_on` (stage ids),
//! `signals` (a signal parser), `context` (`fork` | `inherit`, overriding the skills'), the
//! permission policy (`permissions`, `approvals`, `allowed_commands`, `on_denied`, `pass_env`;
//! see [`permissions`]), and provider options: `command`, and `options` (any other provider
//! option, passed to the provider plugin as JSON). `permissions` and `approvals` may also be
//! set at the top level for every stage.
//!
//! **Order.** A stage without `depends_on` runs after the stages before it in
//! `workflow.stages`; consecutive `mode: parallel` stages form one step that runs at once. A
//! stage with `depends_on` runs after exactly those stages (`depends_on: []`: at the start).
//!
//! The flow: [`Recipe::load`] (or [`Recipe::parse`]) reads a file and finds every mistake that
//! needs no outside knowledge; [`Recipe::validate`] adds the ones that need to know what is
//! installed ([`Known`]) and reports them all; [`Recipe::resolve`] fills in every default and
//! applies the active profile ([`crate::profile::Profiles`]), giving a [`ResolvedRecipe`].
//! [`RecipeCatalog`] holds the built-in recipes and a cafe's own
//! (`.orch/workflows/{id}.workflow.yml`), which override built-ins of the same id.

pub mod duration;

mod catalog;
mod graph;
mod parse;
pub mod permissions;
mod resolve;
mod suggest;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{CatalogError, Problem, Result};
use crate::location::Position;

pub use catalog::{BUILTIN_RECIPES, RecipeCatalog, starter_recipe};
pub use permissions::{Approvals, OnDenied, Permissions, PolicyDefaults};
pub use resolve::{ResolvedRecipe, Source, Sourced, StageSpec};

/// Most retries a stage may ask for.
pub const MAX_RETRIES: u32 = 10;
/// Retries of an `on_failure: retry` stage that does not say how many.
pub const DEFAULT_RETRIES: u32 = 2;
/// Wait between retries when `retry_backoff` is not given.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(10);
/// Longest `retry_backoff` accepted.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// A stage's time limit when `timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Longest `timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The signal parser used when neither the stage nor the recipe names one.
pub const DEFAULT_SIGNALS: &str = "signals-default";
/// The provider for a role with no built-in default.
pub const DEFAULT_PROVIDER: &str = "claude-code";
/// The file name ending of recipes.
pub const RECIPE_SUFFIX: &str = ".workflow.yml";

/// The recipe settings at the top level; every other top-level key is a stage block.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "description",
    "workflow",
    "budget",
    "signals",
    "permissions",
    "approvals",
];
/// The keys of a stage block.
pub const STAGE_KEYS: &[&str] = &[
    "provider",
    "role",
    "skills",
    "mode",
    "interactive",
    "on_failure",
    "retries",
    "retry_backoff",
    "prompt",
    "model",
    "timeout",
    "depends_on",
    "signals",
    "context",
    "permissions",
    "approvals",
    "allowed_commands",
    "on_denied",
    "pass_env",
    "command",
    "options",
];
/// Stage keys that are provider options (passed to the provider like the entries of `options`).
pub const PROVIDER_OPTION_KEYS: &[&str] = &["command"];

/// The provider a role gets when neither the stage nor the active profile chooses one:
/// `reviewer` → `codex`; `analyzer`, `planner`, `coder`, `tester`, any other role and no role →
/// [`DEFAULT_PROVIDER`] (`claude-code`).
pub fn default_provider(role: Option<&str>) -> &'static str {
    match role {
        Some("reviewer") => "codex",
        _ => DEFAULT_PROVIDER,
    }
}

/// How a stage is scheduled among its neighbours when it has no `depends_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// After every stage before it.
    #[default]
    Sequential,
    /// At the same time as the `parallel` stages right next to it.
    Parallel,
}

/// What a failed stage does to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The order fails.
    #[default]
    Stop,
    /// The order goes on as if the stage had succeeded.
    Continue,
    /// The stage runs again, up to its `retries`.
    Retry,
}

/// Which agent session a stage runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionContext {
    /// A forked copy of the previous stage's session where the provider can fork sessions,
    /// else a fresh one.
    #[default]
    Fork,
    /// The session of the stage it runs after.
    Inherit,
}

impl Mode {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["sequential", "parallel"];
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sequential" => Some(Self::Sequential),
            "parallel" => Some(Self::Parallel),
            _ => None,
        }
    }
}

impl OnFailure {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["stop", "continue", "retry"];
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "stop" => Some(Self::Stop),
            "continue" => Some(Self::Continue),
            "retry" => Some(Self::Retry),
            _ => None,
        }
    }
}

impl SessionContext {
    /// The accepted spellings, in order.
    pub const VALUES: &[&str] = &["fork", "inherit"];
    /// Reads `fork` or `inherit`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fork" => Some(Self::Fork),
            "inherit" => Some(Self::Inherit),
            _ => None,
        }
    }
    /// `fork` or `inherit`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fork => "fork",
            Self::Inherit => "inherit",
        }
    }
}

/// Where a recipe comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Shipped inside codecafe; read-only.
    BuiltIn,
    /// The cafe's `.orch/workflows/`.
    User,
}

impl Origin {
    /// `built-in` or `user`.
    pub fn label(self) -> &'static str {
        match self {
            Self::BuiltIn => "built-in",
            Self::User => "user",
        }
    }
}

/// What is installed, for checking the names a recipe uses. `None` skips that check.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Provider plugin ids.
    pub providers: Option<Vec<String>>,
    /// Signal parser plugin ids.
    pub signal_parsers: Option<Vec<String>>,
    /// Role ids.
    pub roles: Option<Vec<String>>,
    /// Skill ids.
    pub skills: Option<Vec<String>>,
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) pos: Position,
}

/// One stage block as written (fields that were missing or wrong are `None`).
#[derive(Debug, Clone, Default)]
pub(crate) struct StageBlock {
    pub(crate) id: Located<String>,
    pub(crate) provider: Option<Located<String>>,
    pub(crate) role: Option<Located<String>>,
    pub(crate) skills: Vec<Located<String>>,
    pub(crate) mode: Option<Mode>,
    pub(crate) interactive: Option<bool>,
    pub(crate) on_failure: Option<Located<OnFailure>>,
    pub(crate) retries: Option<Located<u32>>,
    pub(crate) retry_backoff: Option<Located<Duration>>,
    pub(crate) prompt: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) depends_on: Option<Vec<Located<String>>>,
    pub(crate) signals: Option<Located<String>>,
    pub(crate) context: Option<Located<SessionContext>>,
    pub(crate) policy: permissions::StagePolicy,
    pub(crate) options: Vec<(String, serde_json::Value)>,
}

impl Default for Located<String> {
    fn default() -> Self {
        Self {
            value: String::new(),
            pos: Position::default(),
        }
    }
}

/// A recipe file, read and checked for every mistake that needs no outside knowledge.
///
/// A recipe with mistakes still loads (so every mistake can be reported at once); call
/// [`Recipe::validate`] before using it.
#[derive(Debug, Clone)]
pub struct Recipe {
    id: String,
    path: PathBuf,
    origin: Origin,
    text: String,
    name: Option<String>,
    description: Option<String>,
    budget: Option<f64>,
    signals: Option<Located<String>>,
    permissions: Option<Located<Permissions>>,
    approvals: Option<Located<Approvals>>,
    /// `workflow.stages`, in order.
    order: Vec<Located<String>>,
    /// Every stage block, in file order (including ones not listed in `workflow.stages`).
    blocks: Vec<StageBlock>,
    problems: Vec<Problem>,
}

/// The recipe id a file name gives: `moon.workflow.yml` → `moon` (also `.yml`, `.yaml`).
pub fn id_from_path(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for suffix in [RECIPE_SUFFIX, ".workflow.yaml", ".yml", ".yaml"] {
        if let Some(id) = name.strip_suffix(suffix) {
            return id.to_owned();
        }
    }
    name
}

impl Recipe {
    /// Reads the recipe file at `path` (a cafe's own); its id comes from the file name.
    ///
    /// Fails only when the file cannot be read: mistakes in it, YAML syntax included, are kept
    /// for [`Recipe::validate`] and [`Recipe::problems`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(CatalogError::io(path))?;
        Ok(Self::parse(&id_from_path(path), path, &text, Origin::User))
    }

    /// Reads recipe `id` from `text`; `path` names the file in problems.
    pub fn parse(id: &str, path: &Path, text: &str, origin: Origin) -> Self {
        let parsed = parse::parse(text, path);
        let mut problems = parsed.problems;
        if !crate::ids::is_valid_id(id) {
            problems.insert(
                0,
                Problem::in_file(path, format!("`{id}` is not a valid recipe id")).hint(format!(
                    "rename the file to `<id>{RECIPE_SUFFIX}`; for the id, {}",
                    crate::ids::ID_RULE
                )),
            );
        }
        Self {
            id: id.to_owned(),
            path: path.to_owned(),
            origin,
            text: text.to_owned(),
            name: parsed.name,
            description: parsed.description,
            budget: parsed.budget,
            signals: parsed.signals,
            permissions: parsed.permissions,
            approvals: parsed.approvals,
            order: parsed.order,
            blocks: parsed.blocks,
            problems,
        }
    }

    /// The recipe's id (its file name without `.workflow.yml`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its `name`, or its id when it has none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Its `description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Its `budget` in USD.
    pub fn budget(&self) -> Option<f64> {
        self.budget
    }

    /// The file it was read from (for built-ins, `built-in:<id>.workflow.yml`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Built-in or the cafe's own.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The YAML text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The stage ids of `workflow.stages`, in order.
    pub fn stage_ids(&self) -> Vec<&str> {
        self.order.iter().map(|s| s.value.as_str()).collect()
    }

    /// The mistakes found without knowing what is installed, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Every mistake: [`Recipe::problems`] and the names `known` does not have. `Err` is
    /// [`CatalogError::Invalid`] listing all of them in file order.
    pub fn validate(&self, known: &Known) -> Result<()> {
        let mut problems = self.problems.clone();
        problems.extend(validate::check_names(self, known));
        sort_problems(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Invalid { problems })
        }
    }
}

/// Sorts problems by position (file-wide ones first), keeping the order of equal positions.
pub(crate) fn sort_problems(problems: &mut [Problem]) {
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
}

#[cfg(test)]
mod tests;
