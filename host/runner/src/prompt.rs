//! A stage's prompt: the role's template, then the stage's own `prompt` text, then the
//! signal-format instructions.
//!
//! Both templates are rendered **strictly** with the same variables (the catalog's
//! [`RenderContext`]: `prompt`, `skills`, `vars`, `previous`, `answers`, `attempt`,
//! `house_rules`, `stage`): a variable that does not exist is an error that names it. A stage
//! without a role gets the user's prompt, its skills' instructions, then the user's answers so far.

use codecafe_catalog::CatalogError;
use codecafe_catalog::role::{RenderContext, Role};
use codecafe_catalog::template;
use serde_json::Value;

/// The fixed block that tells the agent how to end its answer with signals, in the format the
/// default signal parser (`signals-default`) reads.
pub const SIGNAL_INSTRUCTIONS: &str = "\
## How to finish

When you are done, end your answer with a fenced YAML block that tells the workflow what to do
next, for example:

```yaml
signals:
  nextAction: proceed        # proceed | await_user | skip_next | retry
  questions: []              # with await_user: what the user must answer
  skipStages: []             # with skip_next: the stages to skip (default: the next one)
  retryReason: \"\"            # with retry: why this stage should run again
  complexity: medium         # low | medium | high
  uncertainties: []          # things you were unsure about
```

Leave the block out to simply proceed.";

/// Why a prompt could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The role's template failed (a missing or bad variable, a template error); the catalog's
    /// error names the variable and the place.
    #[error("stage `{stage}`: role `{role}`: {source}")]
    Role {
        /// The stage.
        stage: String,
        /// The role.
        role: String,
        /// What the catalog said.
        #[source]
        source: CatalogError,
    },
    /// The stage's `prompt` text uses a variable that does not exist.
    #[error(
        "stage `{stage}`: its `prompt` uses `{variable}`, which is not defined (the engine \
         provides prompt, skills, vars, previous, answers, attempt, house_rules, stage; test \
         optional ones with `is defined`)"
    )]
    Undefined {
        /// The stage.
        stage: String,
        /// The missing variable, as written (`vars.ticket`).
        variable: String,
    },
    /// The stage's `prompt` text is not a valid template or failed to render.
    #[error("stage `{stage}`: its `prompt`: {message}")]
    Template {
        /// The stage.
        stage: String,
        /// What minijinja said.
        message: String,
    },
}

/// Renders one stage's full prompt: `role` (or the default body), then `extra` (the stage's
/// `prompt` text), then [`SIGNAL_INSTRUCTIONS`], separated by blank lines.
pub fn render_stage_prompt(
    role: Option<&Role>,
    extra: Option<&str>,
    context: &RenderContext,
) -> Result<String, PromptError> {
    let mut parts = Vec::new();
    match role {
        Some(role) => {
            parts.push(
                role.render_with(context)
                    .map_err(|source| PromptError::Role {
                        stage: context.stage.clone(),
                        role: role.id.clone(),
                        source,
                    })?,
            )
        }
        None => parts.push(default_body(context)),
    }
    if let Some(extra) = extra.filter(|e| !e.trim().is_empty()) {
        parts.push(render_text(&context.stage, extra, &context.to_value())?);
    }
    parts.push(SIGNAL_INSTRUCTIONS.to_owned());
    Ok(parts
        .iter()
        .map(|p| p.trim_end())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n"))
}

/// The body of a stage without a role: the prompt, each skill's instructions, then the user's
/// answers so far (an agent continuing its session after asking gets the answer this way).
fn default_body(context: &RenderContext) -> String {
    let mut body = context.prompt.trim_end().to_owned();
    for skill in &context.skills {
        body.push_str(&format!(
            "\n\n## Skill {} ({})\n\n{}",
            skill.name,
            skill.command,
            skill.instructions.trim_end()
        ));
    }
    if !context.answers.is_empty() {
        body.push_str("\n\n## The user's answers to your questions\n");
        for answer in &context.answers {
            body.push_str(&format!("\n- {}", answer.answer.trim_end()));
        }
    }
    body
}

/// Renders `text` with `vars` (a JSON object) in the catalog's strict environment, the one
/// roles render in.
pub fn render_text(stage: &str, text: &str, vars: &Value) -> Result<String, PromptError> {
    let env = template::environment();
    let template_error = |err: minijinja::Error| PromptError::Template {
        stage: stage.to_owned(),
        message: match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        },
    };
    let template = env.template_from_str(text).map_err(template_error)?;
    template
        .render(minijinja::value::Serde(vars))
        .map_err(|err| match err.kind() {
            minijinja::ErrorKind::UndefinedError => {
                // Name the variable: the first one used that does not resolve.
                let mut used: Vec<String> =
                    template.undeclared_variables(true).into_iter().collect();
                used.sort();
                match used.into_iter().find(|path| !resolves(vars, path)) {
                    Some(variable) => PromptError::Undefined {
                        stage: stage.to_owned(),
                        variable,
                    },
                    None => template_error(err),
                }
            }
            _ => template_error(err),
        })
}

/// Whether the dotted `path` (`vars.ticket`) names something in `vars`. A path through a value
/// that is not an object (a list, say) is left for the renderer to judge.
fn resolves(vars: &Value, path: &str) -> bool {
    let mut at = vars;
    for key in path.split('.') {
        match at {
            Value::Object(map) => match map.get(key) {
                Some(next) => at = next,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use codecafe_catalog::role::{PreviousOutput, RoleOrigin};

    use super::*;

    fn role(template: &str) -> Role {
        let text = format!(
            "---\nname: Test\nvariables:\n  focus:\n    type: string\n    default: speed\n---\n{template}"
        );
        Role::parse("test", Path::new("test.md"), &text, RoleOrigin::User).expect("role")
    }

    fn context() -> RenderContext {
        let mut ctx = RenderContext::new("code", "Add a cache.");
        ctx.vars.insert("ticket".into(), Value::from("T-1"));
        ctx.previous.push(PreviousOutput {
            stage: "plan".into(),
            output: "the plan".into(),
        });
        ctx.house_rules = "Be brief.".into();
        ctx
    }

    #[test]
    fn role_extra_and_signal_block_in_order() {
        let r = role("Stage {{ stage }}: {{ prompt }} ({{ focus }})");
        let out = render_stage_prompt(
            Some(&r),
            Some("Ticket {{ vars.ticket }}; {% for p in previous %}{{ p.stage }}={{ p.output }}{% endfor %}; attempt {{ attempt }}"),
            &context(),
        )
        .expect("render");
        let role_at = out
            .find("Stage code: Add a cache. (speed)")
            .expect("role part");
        let extra_at = out
            .find("Ticket T-1; plan=the plan; attempt 1")
            .expect("extra part");
        let signals_at = out.find("signals:\n  nextAction").expect("signal block");
        assert!(role_at < extra_at && extra_at < signals_at, "{out}");
    }

    #[test]
    fn missing_variable_in_extra_prompt_is_named() {
        let err =
            render_stage_prompt(None, Some("{{ vars.nope }}"), &context()).expect_err("missing");
        assert!(err.to_string().contains("`vars.nope`"), "{err}");
        let err =
            render_stage_prompt(None, Some("{{ nothing }}"), &context()).expect_err("missing");
        assert!(err.to_string().contains("`nothing`"), "{err}");
    }

    #[test]
    fn missing_variable_in_role_is_an_error() {
        let err = render_stage_prompt(Some(&role("{{ vars.absent }}")), None, &context())
            .expect_err("missing");
        assert!(err.to_string().contains("absent"), "{err}");
    }

    #[test]
    fn no_role_gives_prompt_and_skills() {
        let mut ctx = context();
        ctx.skills.push(codecafe_catalog::role::SkillVar {
            id: "s".into(),
            name: "Skill S".into(),
            description: String::new(),
            command: "/s".into(),
            context: codecafe_catalog::skill::SkillContext::Fork,
            instructions: "Do S carefully.".into(),
        });
        let out = render_stage_prompt(None, None, &ctx).expect("render");
        assert!(out.starts_with("Add a cache."), "{out}");
        assert!(out.contains("Do S carefully."), "{out}");
        assert!(out.ends_with(SIGNAL_INSTRUCTIONS), "{out}");
    }

    #[test]
    fn optional_variables_can_be_tested() {
        let out = render_stage_prompt(
            None,
            Some("{% if vars.x is defined %}x{% else %}no x{% endif %}"),
            &context(),
        )
        .expect("render");
        assert!(out.contains("no x"), "{out}");
    }
}
