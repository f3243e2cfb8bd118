//! A recipe checked, resolved and planned, with everything its prompts are rendered from:
//! [`Prepared`]. Preparing reads the catalogs once; rendering a prompt later reads only the
//! prepared roles and skills.

use std::collections::BTreeMap;

use codecafe_catalog::recipe::{
    Approvals, Known, Permissions, PolicyDefaults, RecipeCatalog, ResolvedRecipe, SessionContext,
    StageSpec,
};
use codecafe_catalog::role::{Answer, PreviousOutput, RenderContext, Role, RoleCatalog, SkillVar};
use codecafe_catalog::skill::{SkillCatalog, SkillContext};
use codecafe_catalog::{CatalogError, profile::Profiles};
use codecafe_engine::plan::{ContextMode, OnFailure, Plan, StageDef};
use codecafe_plugin_host::PluginKind;
use codecafe_plugin_host::registry::Registry;
use serde::Serialize;
use serde_json::Value;

use crate::error::RunnerError;
use crate::prompt::render_stage_prompt;

/// The stage name a follow-up runs under.
pub const FOLLOWUP_STAGE: &str = "followup";

/// The cafe's recipes, roles and skills and the user's profiles.
#[derive(Debug)]
pub struct Catalogs {
    /// Recipes.
    pub recipes: RecipeCatalog,
    /// Roles.
    pub roles: RoleCatalog,
    /// Skills.
    pub skills: SkillCatalog,
    /// Profiles.
    pub profiles: Profiles,
}

/// A cafe's permission settings: the default of stages that set none and whose role has
/// none, the most a stage may be given, and what happens beyond a stage's level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CafePermissions {
    /// The cafe's `permissions`.
    pub default: Option<Permissions>,
    /// The cafe's `permissionsCeiling`.
    pub ceiling: Option<Permissions>,
    /// The cafe's `approvals`.
    pub approvals: Option<Approvals>,
}

impl CafePermissions {
    /// The permission settings of a cafe's `settings`.
    pub fn of(settings: &codecafe_catalog::cafe::CafeSettings) -> Self {
        Self {
            default: settings.permissions,
            ceiling: settings.permissions_ceiling,
            approvals: settings.approvals,
        }
    }

    /// As recipes resolve them, with the roles' defaults.
    pub fn defaults<'a>(
        self,
        role_permissions: &'a dyn Fn(&str) -> Option<Permissions>,
    ) -> PolicyDefaults<'a> {
        PolicyDefaults {
            role_permissions,
            cafe: self.default,
            ceiling: self.ceiling,
            approvals: self.approvals,
        }
    }
}

/// What a follow-up is: the stage it is based on and the user's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupSpec {
    /// The recipe stage whose provider, model, role, skills and options it uses.
    pub based_on: String,
    /// The follow-up request.
    pub request: String,
    /// The order's original prompt.
    pub original: String,
}

/// A recipe checked, resolved and planned, with what its prompts are rendered from.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The resolved recipe (for a follow-up: its one stage, `followup`).
    pub recipe: ResolvedRecipe,
    /// Its plan.
    pub plan: Plan,
    /// The user's prompt.
    pub prompt: String,
    /// The order's variables.
    pub vars: BTreeMap<String, Value>,
    /// The roles its stages use, by id.
    pub roles: BTreeMap<String, Role>,
    /// The skills its stages use, by id.
    pub skills: BTreeMap<String, SkillVar>,
    /// The cafe's house rules.
    pub house_rules: String,
    /// Set when this is a follow-up run.
    pub followup: Option<FollowupSpec>,
}

/// What `--dry-run` shows: the plan and every first-attempt prompt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// The recipe id.
    pub recipe_id: String,
    /// Stages that start together, in the order they start (assuming every stage succeeds).
    pub groups: Vec<Vec<String>>,
    /// Each stage: id, provider, model, and its rendered prompt.
    pub stages: Vec<DryRunStage>,
}

/// One stage of a [`DryRun`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunStage {
    /// The stage id.
    pub id: String,
    /// Its provider plugin.
    pub provider: String,
    /// Its model, if set.
    pub model: Option<String>,
    /// The stages it waits for.
    pub after: Vec<String>,
    /// The rendered prompt (earlier outputs shown as placeholders).
    pub prompt: String,
}

/// Loads, validates (with the plugins installed), resolves and plans recipe `recipe_id`.
pub fn prepare(
    catalogs: &Catalogs,
    plugins: &Registry,
    recipe_id: &str,
    prompt: &str,
    vars: BTreeMap<String, Value>,
    house_rules: &str,
    cafe: CafePermissions,
) -> Result<Prepared, RunnerError> {
    let recipe = catalogs.recipes.find(recipe_id)?;
    let (mut providers, mut parsers) = (Vec::new(), Vec::new());
    for plugin in plugins.active() {
        match plugin.kind() {
            PluginKind::Provider => providers.push(plugin.id().to_owned()),
            PluginKind::SignalParser => parsers.push(plugin.id().to_owned()),
        }
    }
    let known = Known {
        providers: Some(providers),
        signal_parsers: Some(parsers),
        roles: Some(ids(catalogs.roles.ids())),
        skills: Some(ids(catalogs.skills.ids())),
    };
    recipe.validate(&known)?;
    let skills = &catalogs.skills;
    let roles_catalog = &catalogs.roles;
    let role_permissions = |id: &str| roles_catalog.get(id).and_then(|r| r.permissions);
    let defaults = cafe.defaults(&role_permissions);
    let resolved = recipe.resolve_for(
        &catalogs.profiles,
        &|id| {
            skills.get(id).map(|s| match s.context {
                SkillContext::Inherit => SessionContext::Inherit,
                SkillContext::Fork => SessionContext::Fork,
            })
        },
        &defaults,
    );
    if !resolved.problems.is_empty() {
        return Err(CatalogError::Invalid {
            problems: resolved.problems,
        }
        .into());
    }
    let plan = Plan::new(resolved.stages.iter().map(stage_def).collect())?;
    let mut roles = BTreeMap::new();
    let mut skill_vars = BTreeMap::new();
    for spec in &resolved.stages {
        if let Some(id) = &spec.role {
            roles.insert(id.clone(), catalogs.roles.require(id)?.clone());
        }
        for id in &spec.skills {
            skill_vars.insert(id.clone(), SkillVar::from(catalogs.skills.require(id)?));
        }
    }
    Ok(Prepared {
        recipe: resolved,
        plan,
        prompt: prompt.to_owned(),
        vars,
        roles,
        skills: skill_vars,
        house_rules: house_rules.to_owned(),
        followup: None,
    })
}

fn ids(ids: Vec<&str>) -> Vec<String> {
    ids.into_iter().map(str::to_owned).collect()
}

impl Prepared {
    /// The resolved stage `id`.
    pub fn spec(&self, id: &str) -> Result<&StageSpec, RunnerError> {
        self.recipe
            .stages
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| RunnerError::Internal(format!("unknown stage `{id}`")))
    }

    /// Renders stage `spec`'s prompt with the outputs of its ancestors (`previous`, in plan
    /// order), the user's answers so far and the attempt number.
    pub fn render(
        &self,
        spec: &StageSpec,
        previous: Vec<PreviousOutput>,
        answers: Vec<Answer>,
        attempt: u32,
    ) -> Result<String, RunnerError> {
        let role =
            match &spec.role {
                Some(id) => Some(self.roles.get(id).ok_or_else(|| {
                    RunnerError::Internal(format!("role `{id}` was not prepared"))
                })?),
                None => None,
            };
        let mut skills = Vec::new();
        for id in &spec.skills {
            skills.push(
                self.skills
                    .get(id)
                    .ok_or_else(|| RunnerError::Internal(format!("skill `{id}` was not prepared")))?
                    .clone(),
            );
        }
        let context = RenderContext {
            prompt: self.stage_prompt(),
            skills,
            vars: self.vars.clone(),
            previous,
            answers,
            attempt,
            house_rules: self.house_rules.clone(),
            stage: spec.id.clone(),
        };
        Ok(render_stage_prompt(role, spec.prompt.as_deref(), &context)?)
    }

    /// The `prompt` templates see: the user's prompt, or for a follow-up its request after the
    /// original task.
    fn stage_prompt(&self) -> String {
        match &self.followup {
            None => self.prompt.clone(),
            Some(followup) => format!(
                "{}\n\n(A follow-up on the finished task: {})",
                followup.request.trim_end(),
                followup.original.trim_end()
            ),
        }
    }

    /// Stages that start together, in the order they start when every stage succeeds.
    pub fn groups(&self) -> Vec<Vec<String>> {
        let plan = &self.plan;
        let mut settled = vec![false; plan.len()];
        let mut groups = Vec::new();
        loop {
            let ready = plan.ready_indices(|i| settled[i], |i| !settled[i]);
            if ready.is_empty() {
                return groups;
            }
            groups.push(ready.iter().map(|&i| plan.stage(i).id.clone()).collect());
            for i in ready {
                settled[i] = true;
            }
        }
    }

    /// The plan and every stage's first prompt (ancestors' outputs as placeholders); starts
    /// nothing and writes nothing.
    pub fn dry_run(&self) -> Result<DryRun, RunnerError> {
        let plan = &self.plan;
        let mut stages = Vec::new();
        for (i, spec) in self.recipe.stages.iter().enumerate() {
            let previous = plan
                .ancestors(i)
                .iter()
                .map(|&a| PreviousOutput {
                    stage: plan.stage(a).id.clone(),
                    output: format!("(the final text of stage `{}`)", plan.stage(a).id),
                })
                .collect();
            stages.push(DryRunStage {
                id: spec.id.clone(),
                provider: spec.provider.value.clone(),
                model: spec.model.value.clone(),
                after: spec.after.clone(),
                prompt: self.render(spec, previous, Vec::new(), 1)?,
            });
        }
        Ok(DryRun {
            recipe_id: self.recipe.id.clone(),
            groups: self.groups(),
            stages,
        })
    }

    /// The follow-up of this recipe: one stage, [`FOLLOWUP_STAGE`], with the provider, model,
    /// role, skills, options, signal parser, timeout and permissions of stage `based_on`
    /// (default: the last stage whose permissions allow edits, else the last stage), rendering
    /// `request`. Its `previous` outputs are every recipe stage's.
    pub fn for_followup(&self, based_on: Option<&str>, request: &str) -> Result<Self, RunnerError> {
        let base = match based_on {
            Some(id) => self
                .recipe
                .stages
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| RunnerError::UnknownStage {
                    stage: id.to_owned(),
                    known: self.recipe.stages.iter().map(|s| s.id.clone()).collect(),
                })?,
            // The last stage that may change files: a follow-up is more work on the change.
            None => self
                .recipe
                .stages
                .iter()
                .rev()
                .find(|s| s.permissions.value != Permissions::ReadOnly)
                .or_else(|| self.recipe.stages.last())
                .ok_or_else(|| RunnerError::Internal("the recipe has no stage".into()))?,
        };
        let mut spec = base.clone();
        spec.id = FOLLOWUP_STAGE.to_owned();
        spec.after = Vec::new();
        spec.depends_on = Vec::new();
        spec.on_failure = codecafe_catalog::recipe::OnFailure::Stop;
        spec.retries = 0;
        let mut recipe = self.recipe.clone();
        recipe.stages = vec![spec.clone()];
        let plan = Plan::new(vec![stage_def(&spec)])?;
        Ok(Self {
            recipe,
            plan,
            followup: Some(FollowupSpec {
                based_on: base.id.clone(),
                request: request.to_owned(),
                original: self.prompt.clone(),
            }),
            ..self.clone()
        })
    }
}

/// The engine's view of a resolved stage (see the table in `codecafe_engine::plan`).
pub(crate) fn stage_def(spec: &StageSpec) -> StageDef {
    use codecafe_catalog::recipe::OnFailure as Catalog;
    StageDef {
        id: spec.id.clone(),
        after: spec.after.clone(),
        on_failure: match spec.on_failure {
            Catalog::Stop => OnFailure::Stop,
            Catalog::Continue => OnFailure::Continue,
            Catalog::Retry => OnFailure::Retry,
        },
        retries: spec.retries,
        retry_backoff: spec.retry_backoff,
        timeout: spec.timeout,
        context: match spec.context.value {
            SessionContext::Fork => ContextMode::Fork,
            SessionContext::Inherit => ContextMode::Inherit,
        },
    }
}
