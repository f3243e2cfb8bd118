//! Rendering a role: the variables the engine provides, the declared variables' values, and
//! template errors located in the role's file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{ENGINE_VARIABLES, Role};
use crate::error::{CatalogError, Problem, Result};
use crate::location::Position;
use crate::skill::{Skill, SkillContext};
use crate::template;

/// One skill as the template sees it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SkillVar {
    /// Skill id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-line summary.
    pub description: String,
    /// Slash name, e.g. `/classify-task`.
    pub command: String,
    /// `fork` or `inherit`.
    pub context: SkillContext,
    /// The instructions.
    pub instructions: String,
}

impl From<&Skill> for SkillVar {
    fn from(skill: &Skill) -> Self {
        Self {
            id: skill.id.clone(),
            name: skill.name.clone(),
            description: skill.description.clone(),
            command: skill.skill_command.clone(),
            context: skill.context,
            instructions: skill.instructions.clone(),
        }
    }
}

/// The final text of an earlier stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousOutput {
    /// The stage id.
    pub stage: String,
    /// Its final text.
    pub output: String,
}

/// A user's answer to a stage's questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The stage that asked.
    pub stage: String,
    /// What it asked.
    pub questions: Vec<String>,
    /// What the user said.
    pub answer: String,
}

/// The variables the engine provides to every template (see the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderContext {
    /// The user's request.
    pub prompt: String,
    /// The stage's skills.
    pub skills: Vec<SkillVar>,
    /// The order's variables.
    pub vars: BTreeMap<String, Value>,
    /// Outputs of earlier stages.
    pub previous: Vec<PreviousOutput>,
    /// The user's answers so far.
    pub answers: Vec<Answer>,
    /// 1 on the first run.
    pub attempt: u32,
    /// The cafe's house rules; may be empty.
    pub house_rules: String,
    /// The stage id.
    pub stage: String,
}

impl RenderContext {
    /// A context with only a prompt and a stage id.
    pub fn new(stage: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            skills: Vec::new(),
            vars: BTreeMap::new(),
            previous: Vec::new(),
            answers: Vec::new(),
            attempt: 1,
            house_rules: String::new(),
            stage: stage.into(),
        }
    }

    /// Sample values for previewing a role (`codecafe role show --render`).
    pub fn sample() -> Self {
        let mut context = Self::new("sample", "Add rate limiting to the public API.");
        context.previous.push(PreviousOutput {
            stage: "analyze".to_owned(),
            output: "(the final text of the analyze stage)".to_owned(),
        });
        context.house_rules = "Keep changes small; every change needs a test.".to_owned();
        context
    }

    /// As the JSON object [`Role::render`] takes.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The hint for variables the template cannot see.
pub(super) fn undefined_hint() -> String {
    format!(
        "the engine provides {}; declare other variables under `variables` in the front matter, \
         or test optional ones with `is defined`",
        ENGINE_VARIABLES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Role {
    /// Renders the template with the engine's variables (a JSON object, e.g.
    /// [`RenderContext::to_value`]) plus the declared variables' values.
    ///
    /// Errors: a required variable without a value or a value of the wrong type
    /// ([`CatalogError::BadValue`], naming the variable); a variable the template uses that
    /// does not exist, or any other template error ([`CatalogError::Invalid`], located in the
    /// role's file and naming the variable).
    pub fn render(&self, vars: &Value) -> Result<String> {
        let mut context: serde_json::Map<String, Value> = match vars {
            Value::Object(map) => map.clone(),
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(CatalogError::BadValue {
                    what: format!("variables for role `{}`", self.id),
                    message: format!("expected a JSON object, got {other}"),
                });
            }
        };
        let order_vars = context.get("vars").and_then(Value::as_object).cloned();
        for (name, variable) in &self.variables {
            let given = context
                .get(name)
                .cloned()
                .or_else(|| order_vars.as_ref().and_then(|vars| vars.get(name).cloned()));
            let value =
                match given {
                    Some(value) => variable.var_type.coerce(&value).map_err(|message| {
                        CatalogError::BadValue {
                            what: format!("variable `{name}` of role `{}`", self.id),
                            message: format!("{message}; pass it as `--var {name}=<value>`"),
                        }
                    })?,
                    None => match (&variable.default, variable.required) {
                        (Some(default), _) => default.clone(),
                        (None, true) => {
                            return Err(CatalogError::BadValue {
                                what: format!("variable `{name}` of role `{}`", self.id),
                                message: format!(
                                    "it is required and has no value; pass it as an order variable \
                                 (`--var {name}=<{}>`)",
                                    variable.var_type.as_str()
                                ),
                            });
                        }
                        (None, false) => Value::Null,
                    },
                };
            context.insert(name.clone(), value);
        }
        let env = template::environment();
        let template = env
            .template_from_str(&self.template)
            .map_err(|err| self.template_error(&err))?;
        template
            .render(minijinja::value::Serde(&context))
            .map_err(|err| self.template_error(&err))
    }

    /// Renders with a typed context.
    pub fn render_with(&self, context: &RenderContext) -> Result<String> {
        self.render(&context.to_value())
    }

    /// A minijinja error, located in the role's file.
    fn template_error(&self, err: &minijinja::Error) -> CatalogError {
        CatalogError::Invalid {
            problems: vec![template_problem(
                &self.path,
                &self.template,
                self.body_line,
                err,
            )],
        }
    }
}

/// A minijinja error in `body` (the template, which starts on file line `body_line`) as a
/// problem located in the file.
pub(super) fn template_problem(
    path: &Path,
    body: &str,
    body_line: usize,
    err: &minijinja::Error,
) -> Problem {
    let in_body = match err.range() {
        Some(range) => Position::of_offset(body, range.start),
        None => Position {
            line: err.line().unwrap_or(1),
            column: 1,
        },
    };
    let message = match (err.kind(), err.detail()) {
        (minijinja::ErrorKind::SyntaxError, Some(detail)) => {
            format!("template syntax error: {detail}")
        }
        (_, Some(detail)) => detail.to_owned(),
        (kind, None) => kind.to_string(),
    };
    let hint = match err.kind() {
        minijinja::ErrorKind::UndefinedError => undefined_hint(),
        minijinja::ErrorKind::SyntaxError => {
            "check the `{{ ... }}` and `{% ... %}` tags here: every block tag needs its end tag \
             (`{% endif %}`, `{% endfor %}`)"
                .to_owned()
        }
        minijinja::ErrorKind::UnknownFilter
        | minijinja::ErrorKind::UnknownFunction
        | minijinja::ErrorKind::UnknownTest
        | minijinja::ErrorKind::UnknownMethod => {
            "see minijinja's documentation for the filters, tests and functions it has".to_owned()
        }
        _ => "fix the template at this position".to_owned(),
    };
    Problem::located(path, in_body.in_part_starting_on_line(body_line), message).hint(hint)
}
