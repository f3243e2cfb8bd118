//! Checks made before anything is created or any money spent: each stage's provider is asked
//! to build its command for a dry invocation (a wrong or unknown option, `sandbox:` on a claude
//! stage, … is refused there), and a capability a stage asks for explicitly that its provider
//! lacks (forking a session) is a problem. `run`, `run --dry-run` and `recipe validate` make
//! them; each problem is placed at the stage's block in the recipe file.

use std::path::Path;

use codecafe_catalog::Problem;
use codecafe_catalog::recipe::{ResolvedRecipe, SessionContext, Source, StageSpec};
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{PluginInfo, PluginKind};
use codecafe_sdk::{Invocation, Mode};

/// The prompt a dry invocation carries.
const DRY_PROMPT: &str = "(the stage's prompt)";

/// Every problem the providers find with `recipe`'s stages, for a run in `cwd`.
pub fn provider_problems(recipe: &ResolvedRecipe, plugins: &Registry, cwd: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for spec in &recipe.stages {
        let at = |message: String| {
            let file = recipe.path.clone();
            if spec.line > 0 {
                Problem::at(file, spec.line, spec.column, message)
            } else {
                Problem::in_file(file, message)
            }
        };
        let plugin = match plugins.get_kind(&spec.provider.value, PluginKind::Provider) {
            Ok(plugin) => plugin,
            Err(err) => {
                problems.push(at(format!("stage `{}`: {err}", spec.id)));
                continue;
            }
        };
        if let Some(problem) = fork_problem(spec, plugin.info()) {
            problems.push(at(problem));
        }
        if let Some(problem) = interactive_problem(spec, plugin.info()) {
            problems.push(at(problem).hint(
                "remove `interactive: true` to run it headless, or give the stage a provider that \
                 reads its TUI (claude-code)",
            ));
            continue;
        }
        if let Some(problem) = approvals_problem(spec, plugin.info()) {
            problems.push(at(problem).hint(
                "write `approvals: deny` (requests beyond `permissions` are refused and \
                 reported), or give the stage a provider that asks (claude-code, codex)",
            ));
        }
        let invocation = Invocation {
            prompt: DRY_PROMPT.to_owned(),
            working_dir: cwd.to_string_lossy().into_owned(),
            model: spec.model.value.clone(),
            mode: crate::policy::mode(spec),
            session: None,
            system_prompt: None,
            options: spec.invocation_options(),
            policy: crate::policy::invocation_policy(spec),
            session_id: uuid::Uuid::new_v4().to_string(),
        };
        let built = plugin
            .provider_session()
            .and_then(|mut session| session.build_command(&invocation));
        match built {
            Ok(Ok(_)) => {}
            Ok(Err(refused)) => problems.push(
                at(format!(
                    "stage `{}`: provider `{}` refuses it: {refused}",
                    spec.id, spec.provider.value
                ))
                .hint("fix the stage's options (`codecafe plugin inspect <provider>` shows what it takes)"),
            ),
            Err(err) => problems.push(at(format!("stage `{}`: {err}", spec.id))),
        }
    }
    problems
}

/// An interactive stage whose provider cannot run its agent's TUI or read its screen: the
/// stage would wait for a state it can never see.
fn interactive_problem(spec: &StageSpec, info: &PluginInfo) -> Option<String> {
    let can = matches!(info, PluginInfo::Provider(p)
        if p.capabilities.screen_check && p.modes.contains(&Mode::Interactive));
    (spec.interactive && !can).then(|| {
        format!(
            "stage `{}` has `interactive: true`, but provider `{}` cannot run its agent's TUI \
             (it does not read a terminal screen)",
            spec.id, spec.provider.value
        )
    })
}

/// A stage with `approvals: ask` whose provider has no channel to ask over: nobody would
/// ever be asked.
fn approvals_problem(spec: &StageSpec, info: &PluginInfo) -> Option<String> {
    let can_ask = matches!(info, PluginInfo::Provider(p) if p.capabilities.approvals);
    (spec.approvals.value == codecafe_catalog::recipe::Approvals::Ask && !can_ask).then(|| {
        format!(
            "stage `{}` has `approvals: ask`, but provider `{}` cannot ask for approvals",
            spec.id, spec.provider.value
        )
    })
}

/// A stage that says `context: fork` itself, after one stage of the same provider, whose
/// provider cannot fork sessions: it would silently start fresh.
fn fork_problem(spec: &StageSpec, info: &PluginInfo) -> Option<String> {
    let can_fork = matches!(info, PluginInfo::Provider(p) if p.capabilities.fork);
    let explicit = spec.context.source == Source::Stage;
    let forks = spec.context.value == SessionContext::Fork;
    let single = spec.after.len() == 1;
    (explicit && forks && single && !can_fork).then(|| {
        format!(
            "stage `{}` says `context: fork`, but provider `{}` cannot fork a session; use \
             `context: inherit` to continue it, or leave `context` out to start fresh",
            spec.id, spec.provider.value
        )
    })
}
