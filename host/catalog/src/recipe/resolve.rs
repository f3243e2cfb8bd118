//! A recipe with every default filled in and the active profile applied: what the engine runs.
//!
//! Provider, model and provider options are taken from the stage, else from the active
//! profile's assignment for the stage's role, else from the built-in defaults
//! ([`super::default_provider`]); each value records where it came from ([`Source`]). A
//! profile's model and options apply only when the stage runs the profile's provider for that
//! role (a model of one agent means nothing to another).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StageBlock;
use super::graph::Graph;
use super::permissions::{Approvals, OnDenied, Permissions, PolicyDefaults};
use super::{
    DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_SIGNALS, DEFAULT_TIMEOUT, Mode, OnFailure,
    Origin, Recipe, SessionContext, default_provider,
};
use crate::error::Problem;
use crate::profile::Profiles;

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The stage block.
    Stage,
    /// The recipe's top level.
    Recipe,
    /// The named profile's assignment for the stage's role.
    Profile(String),
    /// The named skill of the stage.
    Skill(String),
    /// The named role's default (its front matter).
    Role(String),
    /// The cafe's settings.
    Cafe,
    /// codecafe's built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stage => f.write_str("stage"),
            Self::Recipe => f.write_str("recipe"),
            Self::Profile(name) => write!(f, "profile:{name}"),
            Self::Skill(id) => write!(f, "skill:{id}"),
            Self::Role(id) => write!(f, "role:{id}"),
            Self::Cafe => f.write_str("cafe"),
            Self::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.split_once(':') {
            Some(("profile", name)) => Self::Profile(name.to_owned()),
            Some(("skill", id)) => Self::Skill(id.to_owned()),
            Some(("role", id)) => Self::Role(id.to_owned()),
            _ => match text.as_str() {
                "stage" => Self::Stage,
                "recipe" => Self::Recipe,
                "cafe" => Self::Cafe,
                "default" => Self::Default,
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "`{other}` is not where a value comes from"
                    )));
                }
            },
        })
    }
}

/// A resolved value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// One stage, every field decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSpec {
    /// The stage id.
    pub id: String,
    /// The role (its template opens the prompt), if any.
    pub role: Option<String>,
    /// Skill ids, in order.
    pub skills: Vec<String>,
    /// The provider plugin that runs it.
    pub provider: Sourced<String>,
    /// The model; `None` means the agent's default.
    pub model: Sourced<Option<String>>,
    /// Provider options, by key.
    pub options: BTreeMap<String, Sourced<serde_json::Value>>,
    /// How it is scheduled when it has no `depends_on`.
    pub mode: Mode,
    /// What its failure does.
    pub on_failure: OnFailure,
    /// How many times it is retried after failing (0 unless `on_failure` is `retry`).
    pub retries: u32,
    /// The wait before each retry.
    #[serde(
        serialize_with = "super::duration::serialize",
        deserialize_with = "super::duration::deserialize"
    )]
    pub retry_backoff: Duration,
    /// Extra prompt template text.
    pub prompt: Option<String>,
    /// Its time limit.
    #[serde(
        serialize_with = "super::duration::serialize",
        deserialize_with = "super::duration::deserialize"
    )]
    pub timeout: Duration,
    /// The stages it names in `depends_on` (empty when it has none).
    pub depends_on: Vec<String>,
    /// The stages it waits for: `depends_on` when given, else the step before it.
    pub after: Vec<String>,
    /// The signal parser that reads its result.
    pub signals: Sourced<String>,
    /// Whether it continues the session of the stage it runs after.
    pub context: Sourced<SessionContext>,
    /// How far its agent may go on its own.
    #[serde(default = "unset_permissions")]
    pub permissions: Sourced<Permissions>,
    /// What happens to requests beyond `permissions`.
    #[serde(default = "unset_approvals")]
    pub approvals: Sourced<Approvals>,
    /// Commands its agent may run where no sandbox confines them (provider-neutral prefixes).
    #[serde(default)]
    pub allowed_commands: Vec<String>,
    /// What a refused tool call does to it.
    #[serde(default = "warn")]
    pub on_denied: OnDenied,
    /// Variables of the user's environment its agent also gets (`PREFIX_*` for a prefix).
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Its agent runs in its own TUI in a terminal (`interactive: true`) instead of headless.
    #[serde(default)]
    pub interactive: bool,
    /// Where its block starts in the recipe file (1-based; 0 when not known), for problems found
    /// later (a provider refusing the stage's options).
    #[serde(default)]
    pub line: usize,
    /// The column of that position.
    #[serde(default)]
    pub column: usize,
}

fn unset_permissions() -> Sourced<Permissions> {
    Sourced::new(Permissions::ReadOnly, Source::Default)
}

fn unset_approvals() -> Sourced<Approvals> {
    Sourced::new(Approvals::Deny, Source::Default)
}

fn warn() -> OnDenied {
    OnDenied::Warn
}

impl StageSpec {
    /// The provider options as the provider plugin takes them: key and JSON text.
    pub fn invocation_options(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .map(|(key, value)| (key.clone(), value.value.to_string()))
            .collect()
    }
}

/// A recipe ready to run: its stages in the order of `workflow.stages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRecipe {
    /// The recipe id.
    pub id: String,
    /// Its name (the id when it has none).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Built-in or the cafe's own.
    pub origin: Origin,
    /// The file it was read from.
    pub path: PathBuf,
    /// Most an order may cost, in USD.
    pub budget: Option<f64>,
    /// The profile applied.
    pub profile: String,
    /// The stages, in the order of `workflow.stages`.
    pub stages: Vec<StageSpec>,
    /// Mistakes that appear only with this profile: a stage with `context: inherit` after a
    /// stage of another provider. The engine must not run a recipe with any.
    pub problems: Vec<Problem>,
}

impl Recipe {
    /// Resolves the recipe with the active profile of `profiles`; a stage's `context` comes
    /// from the stage or is `fork` (see [`Recipe::resolve_with`] to take it from skills).
    ///
    /// Meant for a recipe that passed [`Recipe::validate`]: wrong values were dropped when it
    /// was read, so they resolve to defaults, and stages without a block are left out.
    pub fn resolve(&self, profiles: &Profiles) -> ResolvedRecipe {
        self.resolve_with(profiles, &|_| None)
    }

    /// As [`Recipe::resolve`], with `skill_context` giving each skill's `context`: a stage
    /// without its own `context` inherits when one of its skills says `inherit` and it runs
    /// after exactly one stage, of the same provider; it forks otherwise.
    pub fn resolve_with(
        &self,
        profiles: &Profiles,
        skill_context: &dyn Fn(&str) -> Option<SessionContext>,
    ) -> ResolvedRecipe {
        self.resolve_for(profiles, skill_context, &PolicyDefaults::NONE)
    }

    /// As [`Recipe::resolve_with`], with `defaults` deciding the permission policy of stages
    /// that do not set it (the roles' defaults and the cafe's settings). A stage written
    /// above the cafe's ceiling is a problem; a default above it is lowered to it.
    pub fn resolve_for(
        &self,
        profiles: &Profiles,
        skill_context: &dyn Fn(&str) -> Option<SessionContext>,
        defaults: &PolicyDefaults<'_>,
    ) -> ResolvedRecipe {
        let ids: Vec<&str> = self.order.iter().map(|s| s.value.as_str()).collect();
        let block_of = |id: &str| self.blocks.iter().find(|b| b.id.value == id);
        let graph = Graph::new(&ids, &block_of);
        let (profile_name, profile) = profiles.active();
        let from_profile = || Source::Profile(profile_name.to_owned());
        let assignment_of = |block: &StageBlock| {
            let role = block.role.as_ref().map(|r| r.value.as_str())?;
            profile.and_then(|p| p.roles.get(role))
        };
        // Every stage's provider first: a stage's session can only be continued by a stage
        // of the same provider, wherever the two are in the list.
        let providers: Vec<Option<Sourced<String>>> = ids
            .iter()
            .map(|id| {
                let block = block_of(id)?;
                Some(match (&block.provider, assignment_of(block)) {
                    (Some(provider), _) => Sourced::new(provider.value.clone(), Source::Stage),
                    (None, Some(assigned)) => {
                        Sourced::new(assigned.provider.clone(), from_profile())
                    }
                    (None, None) => Sourced::new(
                        default_provider(block.role.as_ref().map(|r| r.value.as_str())).to_owned(),
                        Source::Default,
                    ),
                })
            })
            .collect();
        let mut stages = Vec::new();
        let mut problems = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            let (Some(block), Some(provider)) = (block_of(id), providers[index].clone()) else {
                continue;
            };
            let role = block.role.as_ref().map(|r| r.value.clone());
            let assignment = assignment_of(block);
            let profile_applies = assignment.filter(|a| a.provider == provider.value);
            let model = match (&block.model, profile_applies.and_then(|a| a.model.as_ref())) {
                (Some(model), _) => Sourced::new(Some(model.clone()), Source::Stage),
                (None, Some(model)) => Sourced::new(Some(model.clone()), from_profile()),
                (None, None) => Sourced::new(None, Source::Default),
            };
            let mut options = BTreeMap::new();
            if let Some(assigned) = profile_applies {
                for (key, value) in &assigned.options {
                    options.insert(key.clone(), Sourced::new(value.clone(), from_profile()));
                }
            }
            for (key, value) in &block.options {
                options.insert(key.clone(), Sourced::new(value.clone(), Source::Stage));
            }
            let on_failure = block
                .on_failure
                .as_ref()
                .map(|o| o.value)
                .unwrap_or_default();
            let retrying = on_failure == OnFailure::Retry;
            let retries = match (&block.retries, retrying) {
                (_, false) => 0,
                (Some(retries), true) => retries.value,
                (None, true) => DEFAULT_RETRIES,
            };
            let retry_backoff = match (&block.retry_backoff, retrying) {
                (_, false) => Duration::ZERO,
                (Some(backoff), true) => backoff.value,
                (None, true) => DEFAULT_RETRY_BACKOFF,
            };
            let after: Vec<String> = graph.after[index]
                .iter()
                .map(|&i| ids[i].to_owned())
                .collect();
            let signals = match (&block.signals, &self.signals) {
                (Some(signals), _) => Sourced::new(signals.value.clone(), Source::Stage),
                (None, Some(signals)) => Sourced::new(signals.value.clone(), Source::Recipe),
                (None, None) => Sourced::new(DEFAULT_SIGNALS.to_owned(), Source::Default),
            };
            // The one stage whose session this one could continue, if it runs the same provider.
            let continues = match graph.after[index].as_slice() {
                [previous] => providers[*previous].as_ref(),
                _ => None,
            };
            let same_provider = continues.is_some_and(|p| p.value == provider.value);
            let context = match &block.context {
                Some(context) => {
                    if context.value == SessionContext::Inherit
                        && let (Some(previous), false) = (continues, same_provider)
                    {
                        problems.push(
                            Problem::located(
                                &self.path,
                                context.pos,
                                format!(
                                    "stage `{id}` has `context: inherit` but runs {} ({}) after \
                                     `{}`, which runs {} ({}); a session cannot move between \
                                     providers",
                                    provider.value,
                                    provider.source,
                                    after.first().map_or("", String::as_str),
                                    previous.value,
                                    previous.source
                                ),
                            )
                            .hint("use `context: fork`, or run both stages with the same provider"),
                        );
                    }
                    Sourced::new(context.value, Source::Stage)
                }
                None => {
                    let skills = block.skills.iter().map(|s| s.value.as_str());
                    let contexts: Vec<(&str, SessionContext)> = skills
                        .filter_map(|s| skill_context(s).map(|c| (s, c)))
                        .collect();
                    let inherit = contexts
                        .iter()
                        .find(|(_, c)| *c == SessionContext::Inherit)
                        .filter(|_| same_provider);
                    match (inherit, contexts.first()) {
                        (Some((skill, _)), _) => Sourced::new(
                            SessionContext::Inherit,
                            Source::Skill((*skill).to_owned()),
                        ),
                        (None, Some((skill, SessionContext::Fork))) => {
                            Sourced::new(SessionContext::Fork, Source::Skill((*skill).to_owned()))
                        }
                        (None, _) => Sourced::new(SessionContext::Fork, Source::Default),
                    }
                }
            };
            let permissions = self.permissions_of(block, defaults, &mut problems);
            let approvals = match (&block.policy.approvals, &self.approvals) {
                (Some(approvals), _) => Sourced::new(approvals.value, Source::Stage),
                (None, Some(approvals)) => Sourced::new(approvals.value, Source::Recipe),
                (None, None) => defaults
                    .approvals
                    .map_or_else(unset_approvals, |cafe| Sourced::new(cafe, Source::Cafe)),
            };
            let on_denied = block
                .policy
                .on_denied
                .unwrap_or_else(|| OnDenied::default_for(permissions.value));
            stages.push(StageSpec {
                id: (*id).to_owned(),
                role,
                skills: block.skills.iter().map(|s| s.value.clone()).collect(),
                provider,
                model,
                options,
                mode: block.mode.unwrap_or_default(),
                interactive: block.interactive.unwrap_or(false),
                on_failure,
                retries,
                retry_backoff,
                prompt: block.prompt.clone(),
                timeout: block.timeout.unwrap_or(DEFAULT_TIMEOUT),
                depends_on: block
                    .depends_on
                    .iter()
                    .flatten()
                    .map(|d| d.value.clone())
                    .collect(),
                after,
                signals,
                context,
                permissions,
                approvals,
                allowed_commands: block.policy.allowed_commands.clone(),
                on_denied,
                pass_env: block
                    .policy
                    .pass_env
                    .iter()
                    .chain(profile.iter().flat_map(|p| &p.pass_env))
                    .cloned()
                    .collect(),
                line: block.id.pos.line,
                column: block.id.pos.column,
            });
        }
        ResolvedRecipe {
            id: self.id.clone(),
            name: self.name().to_owned(),
            description: self.description.clone(),
            origin: self.origin,
            path: self.path.clone(),
            budget: self.budget,
            profile: profile_name.to_owned(),
            stages,
            problems,
        }
    }
}

impl Recipe {
    /// A stage's `permissions`: stage > recipe > its role's default > the cafe's setting >
    /// `read-only`, within the cafe's ceiling.
    fn permissions_of(
        &self,
        block: &StageBlock,
        defaults: &PolicyDefaults<'_>,
        problems: &mut Vec<Problem>,
    ) -> Sourced<Permissions> {
        let role = block.role.as_ref().map(|r| r.value.as_str());
        let written = match (&block.policy.permissions, &self.permissions) {
            (Some(level), _) => Some((level, Source::Stage)),
            (None, Some(level)) => Some((level, Source::Recipe)),
            (None, None) => None,
        };
        let ceiling = defaults.ceiling.unwrap_or(Permissions::Full);
        if let Some((level, source)) = written {
            if level.value > ceiling {
                problems.push(
                    Problem::located(
                        &self.path,
                        level.pos,
                        format!(
                            "stage `{}` asks for `permissions: {}`, above this cafe's ceiling \
                             `{}`",
                            block.id.value,
                            level.value.name(),
                            ceiling.name()
                        ),
                    )
                    .hint(format!(
                        "lower it to `{}`, or raise the cafe's ceiling: `codecafe cafe update <cafe> --set \
                         permissionsCeiling={}`",
                        ceiling.name(),
                        level.value.name()
                    )),
                );
            }
            return Sourced::new(level.value, source);
        }
        let default = match role.and_then(|r| (defaults.role_permissions)(r).map(|p| (r, p))) {
            Some((role, level)) => Sourced::new(level, Source::Role(role.to_owned())),
            None => match defaults.cafe {
                Some(level) => Sourced::new(level, Source::Cafe),
                None => unset_permissions(),
            },
        };
        Sourced::new(default.value.min(ceiling), default.source)
    }
}
