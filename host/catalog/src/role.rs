//! Roles: prompt templates for a kind of work (analyzer, planner, coder, reviewer, tester, ...).
//!
//! A role is a Markdown file with YAML front matter between `---` lines, then a
//! [minijinja](https://docs.rs/minijinja) template:
//!
//! ```text
//! ---
//! name: Reviewer
//! description: Reviews the change and reports located findings.
//! variables:
//!   focus:
//!     type: list
//!     default: []
//!     description: Areas to look at first.
//! ---
//! You are the reviewer of stage `{{ stage }}`.
//! {{ prompt }}
//! {% for skill in skills %}{{ skill.instructions }}{% endfor %}
//! ```
//!
//! Front matter keys: `name` (required), `description`, `variables`. Each variable has a `type`
//! (`string`, `number`, `boolean` or `list`) and optionally a `default` of that type, a
//! `description`, and `required: true` (which cannot be combined with a default). Variable names
//! are identifiers (`a-z`, `0-9`, `_`, not starting with a digit) and may not reuse an engine
//! variable's name.
//!
//! ## Variables the engine provides
//!
//! Every template is rendered with these (see [`RenderContext`]):
//!
//! | name | type | content |
//! |---|---|---|
//! | `prompt` | string | the user's request |
//! | `skills` | list of `{id, name, description, command, context, instructions}` | the stage's skills, in the recipe's order |
//! | `vars` | map | the order's variables (`--var key=value`) |
//! | `previous` | list of `{stage, output}` | the final text of each earlier stage, in order |
//! | `answers` | list of `{stage, questions, answer}` | the user's answers so far |
//! | `attempt` | number | 1 on the first run of the stage, 2 on its first retry, ... |
//! | `house_rules` | string | the cafe's system prompt / house rules; may be empty |
//! | `stage` | string | the stage's id |
//!
//! A declared variable is available by its own name. Its value is, in order: a top-level value
//! of that name given to [`Role::render`], the order variable of that name (`vars.<name>`,
//! converted to the declared type: `"3"` becomes `3` for a number, `"true"` a boolean, and a
//! JSON array or a comma-separated string a list), the default, or `none` when the variable is
//! optional without a default. A required variable with no value is an error naming it.
//!
//! Rendering is **strict**: using a variable that does not exist is an error that names it (test
//! optional things with `is defined`). Templates use `trim_blocks` and `lstrip_blocks`, so a
//! line holding only a block tag leaves no blank line behind.
//!
//! Every mistake is reported with the file, the line and column **in the file** (template lines
//! are offset by the front matter), and a hint: unknown front matter keys, bad variable types,
//! defaults of the wrong type, template syntax errors, and variables the template uses but
//! neither the engine nor the front matter provides.
//!
//! **Built-in roles** (`analyzer`, `planner`, `coder`, `reviewer`, `tester`) are embedded in the
//! binary; a user role in `.orch/roles/{id}.md` with the same id overrides the built-in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use marked_yaml::{LoaderOptions, Node};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;

use crate::error::{CatalogError, Problem, Result};
use crate::ids;
use crate::layout::OrchDir;
use crate::skill::{Skill, SkillContext};

/// The variables the engine always provides, with a short description of each.
pub const ENGINE_VARIABLES: &[(&str, &str)] = &[
    ("prompt", "the user's request"),
    (
        "skills",
        "the stage's skills: a list of {id, name, description, command, context, instructions}",
    ),
    ("vars", "the order's variables, a map"),
    (
        "previous",
        "the outputs of earlier stages: a list of {stage, output}",
    ),
    (
        "answers",
        "the user's answers so far: a list of {stage, questions, answer}",
    ),
    ("attempt", "1 on the first run of the stage, then 2, 3, ..."),
    ("house_rules", "the cafe's house rules (may be empty)"),
    ("stage", "the stage's id"),
];

/// The front matter keys a role may have.
pub const FRONT_MATTER_KEYS: &[&str] = &["name", "description", "variables"];

/// The keys of one variable's declaration.
pub const VARIABLE_KEYS: &[&str] = &["type", "default", "description", "required"];

/// The built-in roles: `(id, Markdown)`.
const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("analyzer", include_str!("../builtin/roles/analyzer.md")),
    ("coder", include_str!("../builtin/roles/coder.md")),
    ("planner", include_str!("../builtin/roles/planner.md")),
    ("reviewer", include_str!("../builtin/roles/reviewer.md")),
    ("tester", include_str!("../builtin/roles/tester.md")),
];

/// The type of a declared variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    /// Text.
    String,
    /// An integer or a decimal number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list of values.
    List,
}

impl VarType {
    /// Every type.
    pub const ALL: [VarType; 4] = [
        VarType::String,
        VarType::Number,
        VarType::Boolean,
        VarType::List,
    ];

    /// The name used in front matter.
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Boolean => "boolean",
            VarType::List => "list",
        }
    }

    /// True when `value` has this type.
    pub fn matches(self, value: &Value) -> bool {
        match self {
            VarType::String => value.is_string(),
            VarType::Number => value.is_number(),
            VarType::Boolean => value.is_boolean(),
            VarType::List => value.is_array(),
        }
    }

    /// Converts a value given for a variable of this type: strings from the command line are
    /// parsed, other values must already have the type.
    pub fn coerce(self, value: &Value) -> std::result::Result<Value, String> {
        if self.matches(value) {
            return Ok(value.clone());
        }
        let Some(text) = value.as_str() else {
            return Err(format!("expected a {}, got {value}", self.as_str()));
        };
        let text = text.trim();
        match self {
            VarType::String => Ok(Value::String(text.to_owned())),
            VarType::Number => serde_json::from_str::<serde_json::Number>(text)
                .map(Value::Number)
                .map_err(|_| format!("expected a number, got `{text}`")),
            VarType::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, got `{text}`")),
            },
            VarType::List => {
                if text.starts_with('[') {
                    match serde_json::from_str::<Value>(text) {
                        Ok(list @ Value::Array(_)) => Ok(list),
                        _ => Err(format!("`{text}` is not a JSON list")),
                    }
                } else if text.is_empty() {
                    Ok(Value::Array(Vec::new()))
                } else {
                    Ok(Value::Array(
                        text.split(',')
                            .map(|item| Value::String(item.trim().to_owned()))
                            .collect(),
                    ))
                }
            }
        }
    }
}

/// A variable a role declares in its front matter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    /// Its type.
    #[serde(rename = "type")]
    pub var_type: VarType,
    /// The value used when none is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What it is for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Rendering fails when no value is given.
    pub required: bool,
}

/// Where a role comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleOrigin {
    /// Shipped with codecafe.
    BuiltIn,
    /// The cafe's `.orch/roles/`.
    User,
}

impl RoleOrigin {
    /// How it is shown in lists.
    pub fn label(self) -> &'static str {
        match self {
            RoleOrigin::BuiltIn => "built-in",
            RoleOrigin::User => "user",
        }
    }
}

/// A role: front matter and template (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The id recipes refer to (the file name without `.md`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the role does.
    pub description: String,
    /// Declared variables, by name.
    pub variables: BTreeMap<String, Variable>,
    /// The minijinja template (the file after the front matter).
    pub template: String,
    /// Built in or the user's.
    pub origin: RoleOrigin,
    /// The file (for built-ins, a `<built-in>/roles/...` label).
    pub path: PathBuf,
    /// A user role that replaces the built-in of the same id.
    pub overrides_built_in: bool,
    /// The file line of the template's first line.
    #[serde(skip)]
    body_line: usize,
}

/// One skill as the template sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The variables the engine provides to every template (see the [module docs](self)).
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

/// The minijinja environment every role renders in.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

/// The hint for variables the template cannot see.
fn undefined_hint() -> String {
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
    /// Parses a role file. `id` is its file name without `.md`; `path` names it in errors.
    pub fn parse(id: &str, path: &Path, text: &str, origin: RoleOrigin) -> Result<Role> {
        parse_role(id, path, text, origin).map_err(|problems| CatalogError::Invalid { problems })
    }

    /// Reads and checks a user role file `.../{id}.md`.
    pub fn read(path: &Path) -> Result<Role> {
        let text = std::fs::read_to_string(path).map_err(CatalogError::io(path))?;
        let id = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".md"))
            .unwrap_or_default();
        if !ids::is_valid_id(id) {
            return Err(CatalogError::Invalid {
                problems: vec![
                    Problem::in_file(path, format!("`{id}` is not a valid role id"))
                        .hint(format!("rename the file: {}", ids::ID_RULE)),
                ],
            });
        }
        Role::parse(id, path, text.as_str(), RoleOrigin::User)
    }

    /// The file line where the template starts.
    pub fn body_line(&self) -> usize {
        self.body_line
    }

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
        let env = environment();
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

/// A minijinja error as a problem located in the file.
fn template_problem(path: &Path, body: &str, body_line: usize, err: &minijinja::Error) -> Problem {
    let (line, column) = match err.range() {
        Some(range) => line_column(body, range.start),
        None => (err.line().unwrap_or(1), 1),
    };
    let line = body_line + line - 1;
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
    Problem::at(path, line, column, message).hint(hint)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Problems found while reading a front matter, with YAML positions moved to file positions.
struct FrontMatter<'a> {
    path: &'a Path,
    /// Added to YAML line numbers: the front matter starts on file line 2.
    line_offset: usize,
    problems: Vec<Problem>,
    /// Variables declared with mistakes (already reported; the template may still use them).
    invalid: BTreeSet<String>,
}

impl FrontMatter<'_> {
    fn at(&mut self, node_span: &marked_yaml::Span, message: String, hint: impl Into<String>) {
        let (line, column) = node_span
            .start()
            .map_or((1, 1), |m| (m.line() + self.line_offset, m.column()));
        self.problems
            .push(Problem::at(self.path, line, column, message).hint(hint));
    }
}

/// Parses a whole role file.
fn parse_role(
    id: &str,
    path: &Path,
    text: &str,
    origin: RoleOrigin,
) -> std::result::Result<Role, Vec<Problem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let is_fence = |line: &str| line.trim_end() == "---";
    if !lines.first().is_some_and(|line| is_fence(line)) {
        return Err(vec![
            Problem::at(path, 1, 1, "a role starts with a `---` front matter block").hint(
                "begin the file with a line `---`, then `name: ...` (and optionally \
                 `description:` and `variables:`), then a line `---`, then the template",
            ),
        ]);
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|line| is_fence(line))
        .map(|i| i + 1)
    else {
        return Err(vec![
            Problem::at(path, 1, 1, "the front matter is never closed")
                .hint("add a line `---` after the front matter, before the template"),
        ]);
    };
    let yaml = lines[1..close].join("\n");
    let body = lines[close + 1..].join("\n");
    let body_line = close + 2;
    let mut front = FrontMatter {
        path,
        line_offset: 1,
        problems: Vec::new(),
        invalid: BTreeSet::new(),
    };

    let mut name = None;
    let mut description = String::new();
    let mut variables = BTreeMap::new();
    if yaml.trim().is_empty() {
        front.problems.push(
            Problem::at(
                path,
                1,
                1,
                "the front matter is empty; a role needs a `name`",
            )
            .hint("add `name: <display name>` between the `---` lines"),
        );
    } else {
        match marked_yaml::parse_yaml_with_options(
            0,
            &yaml,
            LoaderOptions::default()
                .error_on_duplicate_keys(true)
                .prevent_coercion(true),
        ) {
            Err(err) => front.problems.push(yaml_load_problem(path, 1, &err)),
            Ok(node) => read_front_matter(
                &node,
                &mut front,
                &mut name,
                &mut description,
                &mut variables,
            ),
        }
        if name.is_none() && front.problems.is_empty() {
            front.problems.push(
                Problem::at(path, 1, 1, "the front matter has no `name`")
                    .hint("add `name: <display name>` between the `---` lines"),
            );
        }
    }
    let mut problems = front.problems;
    let invalid = front.invalid;

    let env = environment();
    match env.template_from_str(&body) {
        Err(err) => problems.push(template_problem(path, &body, body_line, &err)),
        Ok(template) => {
            let known: BTreeSet<String> = ENGINE_VARIABLES
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .chain(variables.keys().cloned())
                .chain(invalid.iter().cloned())
                .chain(env.globals().map(|(name, _)| name.to_owned()))
                .collect();
            let mut unknown: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|name| !known.contains(name))
                .collect();
            unknown.sort();
            for name in unknown {
                let (line, column) = first_use(&body, &name).unwrap_or((1, 1));
                problems.push(
                    Problem::at(
                        path,
                        body_line + line - 1,
                        column,
                        format!(
                            "the template uses `{name}`, which is neither an engine variable nor \
                             declared in the front matter"
                        ),
                    )
                    .hint(undefined_hint()),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Role {
        id: id.to_owned(),
        name: name.unwrap_or_default(),
        description,
        variables,
        template: body,
        origin,
        path: path.to_owned(),
        overrides_built_in: false,
        body_line,
    })
}

/// A YAML loader error as a problem in the file (`offset` lines before the YAML).
fn yaml_load_problem(path: &Path, offset: usize, err: &marked_yaml::LoadError) -> Problem {
    use marked_yaml::LoadError;
    let place = |m: &marked_yaml::Marker| (m.line() + offset, m.column());
    let (position, message, hint) = match err {
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => (
            place(m),
            "the front matter must be a mapping of keys".to_owned(),
            "write `name: ...`, `description: ...` and `variables:` on their own lines".to_owned(),
        ),
        LoadError::UnexpectedAnchor(m) => (
            place(m),
            "YAML anchors are not supported in a role's front matter".to_owned(),
            "write the value out in full".to_owned(),
        ),
        LoadError::UnexpectedTag(m) => (
            place(m),
            "YAML tags are not supported in a role's front matter".to_owned(),
            "remove the `!tag`".to_owned(),
        ),
        LoadError::MappingKeyMustBeScalar(m) => (
            place(m),
            "a key must be a plain name".to_owned(),
            "write `key: value`".to_owned(),
        ),
        LoadError::ScanError(m, scan) => (
            place(m),
            format!("invalid YAML: {}", scan.info()),
            "check the indentation (spaces, not tabs), quotes and brackets here".to_owned(),
        ),
        LoadError::DuplicateKey(inner) => {
            let start = inner.key.span().start().map_or((1, 1), place);
            let first = inner
                .prev_key
                .span()
                .start()
                .map_or(1, |m| m.line() + offset);
            (
                start,
                format!(
                    "duplicate key `{}` (first on line {first})",
                    inner.key.as_str()
                ),
                "keep one of them".to_owned(),
            )
        }
    };
    Problem::at(path, position.0, position.1, message).hint(hint)
}

/// Reads the front matter mapping.
fn read_front_matter(
    node: &Node,
    front: &mut FrontMatter<'_>,
    name: &mut Option<String>,
    description: &mut String,
    variables: &mut BTreeMap<String, Variable>,
) {
    let Some(map) = node.as_mapping() else {
        front.at(
            node.span(),
            "the front matter must be a mapping of keys".to_owned(),
            "write `name: ...`, `description: ...` and `variables:` on their own lines",
        );
        return;
    };
    for (key, value) in map.iter() {
        match key.as_str() {
            "name" => match value.as_scalar() {
                Some(scalar) if !scalar.as_str().trim().is_empty() => {
                    *name = Some(scalar.as_str().to_owned());
                }
                Some(_) => front.at(
                    value.span(),
                    "`name` is empty".to_owned(),
                    "give the role a short display name",
                ),
                None => front.at(
                    value.span(),
                    "`name` must be text".to_owned(),
                    "write `name: Reviewer`",
                ),
            },
            "description" => match value.as_scalar() {
                Some(scalar) => *description = scalar.as_str().to_owned(),
                None => front.at(
                    value.span(),
                    "`description` must be text".to_owned(),
                    "write `description: what the role does`",
                ),
            },
            "variables" => read_variables(value, front, variables),
            other => front.at(
                key.span(),
                format!("unknown front matter key `{other}`"),
                format!(
                    "a role's front matter has only {}; remove or rename this key",
                    FRONT_MATTER_KEYS.join(", ")
                ),
            ),
        }
    }
}

/// True for a name a template can use as a variable.
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Reads `variables:`.
fn read_variables(
    node: &Node,
    front: &mut FrontMatter<'_>,
    variables: &mut BTreeMap<String, Variable>,
) {
    if node
        .as_scalar()
        .is_some_and(|s| s.as_str().is_empty() && s.may_coerce())
    {
        return; // `variables:` with nothing after it.
    }
    let Some(map) = node.as_mapping() else {
        front.at(
            node.span(),
            "`variables` must be a mapping of variable names to declarations".to_owned(),
            "write `variables:` and below it, indented, `focus: { type: string, default: \"\" }`",
        );
        return;
    };
    for (key, value) in map.iter() {
        let var_name = key.as_str();
        if !is_identifier(var_name) {
            front.at(
                key.span(),
                format!("`{var_name}` is not a valid variable name"),
                "use lowercase letters, digits and `_`, starting with a letter or `_`",
            );
            continue;
        }
        if ENGINE_VARIABLES
            .iter()
            .any(|(engine, _)| *engine == var_name)
        {
            front.at(
                key.span(),
                format!("`{var_name}` is an engine variable and cannot be declared"),
                "the engine always provides it; choose another name for your variable",
            );
            continue;
        }
        match read_variable(key, value, front) {
            Some(variable) => {
                variables.insert(var_name.to_owned(), variable);
            }
            None => {
                front.invalid.insert(var_name.to_owned());
            }
        }
    }
}

/// Reads one variable's declaration.
fn read_variable(
    key: &marked_yaml::types::MarkedScalarNode,
    node: &Node,
    front: &mut FrontMatter<'_>,
) -> Option<Variable> {
    let var_name = key.as_str();
    let Some(map) = node.as_mapping() else {
        front.at(
            node.span(),
            format!("the declaration of `{var_name}` must be a mapping"),
            format!("write `{var_name}: {{ type: string, default: \"\" }}`"),
        );
        return None;
    };
    let mut var_type = None;
    let mut default = None;
    let mut description = String::new();
    let mut required = false;
    let mut ok = true;
    for (key, value) in map.iter() {
        match key.as_str() {
            "type" => {
                let found = value
                    .as_scalar()
                    .and_then(|s| VarType::ALL.into_iter().find(|t| t.as_str() == s.as_str()));
                match found {
                    Some(found) => var_type = Some(found),
                    None => {
                        let shown = value.as_scalar().map_or("this", |s| s.as_str());
                        front.at(
                            value.span(),
                            format!("`{shown}` is not a variable type"),
                            format!(
                                "use one of {}",
                                VarType::ALL.map(VarType::as_str).join(", ")
                            ),
                        );
                        ok = false;
                    }
                }
            }
            "default" => default = Some(value),
            "description" => match value.as_scalar() {
                Some(scalar) => description = scalar.as_str().to_owned(),
                None => {
                    front.at(
                        value.span(),
                        format!("the description of `{var_name}` must be text"),
                        "write `description: what the variable is for`",
                    );
                    ok = false;
                }
            },
            "required" => match value.as_scalar().and_then(|s| s.as_bool()) {
                Some(flag) => required = flag,
                None => {
                    front.at(
                        value.span(),
                        format!("`required` of `{var_name}` must be true or false"),
                        "write `required: true` or leave it out",
                    );
                    ok = false;
                }
            },
            other => {
                front.at(
                    key.span(),
                    format!("unknown key `{other}` in the declaration of `{var_name}`"),
                    format!("a variable has only {}", VARIABLE_KEYS.join(", ")),
                );
                ok = false;
            }
        }
    }
    let Some(var_type) = var_type else {
        if ok {
            front.at(
                key.span(),
                format!("`{var_name}` has no `type`"),
                format!(
                    "add `type:` with one of {}",
                    VarType::ALL.map(VarType::as_str).join(", ")
                ),
            );
        }
        return None;
    };
    let default = match default {
        None => None,
        Some(node) => match yaml_value(node, var_type) {
            Ok(value) => Some(value),
            Err(message) => {
                front.at(
                    node.span(),
                    format!(
                        "the default of `{var_name}` is not a {}: {message}",
                        var_type.as_str()
                    ),
                    match var_type {
                        VarType::String => "quote it: `default: \"...\"`",
                        VarType::Number => "write a number, e.g. `default: 3`",
                        VarType::Boolean => "write `default: true` or `default: false`",
                        VarType::List => "write a list, e.g. `default: [a, b]` or `default: []`",
                    },
                );
                return None;
            }
        },
    };
    if required && default.is_some() {
        front.at(
            key.span(),
            format!("`{var_name}` is required and has a default"),
            "a default makes it optional: remove `required: true` or the default",
        );
        return None;
    }
    ok.then_some(Variable {
        var_type,
        default,
        description,
        required,
    })
}

/// A YAML value checked against a type.
fn yaml_value(node: &Node, var_type: VarType) -> std::result::Result<Value, String> {
    let value = yaml_to_json(node);
    if var_type.matches(&value) {
        Ok(value)
    } else if value.is_null() {
        Err("it is empty".to_owned())
    } else {
        Err(format!("`{}` is a {}", node_text(node), json_type(&value)))
    }
}

fn node_text(node: &Node) -> String {
    match node {
        Node::Scalar(scalar) => scalar.as_str().to_owned(),
        Node::Sequence(_) => "[...]".to_owned(),
        Node::Mapping(_) => "{...}".to_owned(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// Converts YAML to JSON: plain scalars become booleans, numbers or null where they read as
/// such; quoted scalars stay strings.
fn yaml_to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(scalar) => {
            if !scalar.may_coerce() {
                return Value::String(scalar.as_str().to_owned());
            }
            let text = scalar.as_str();
            if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
                return Value::Null;
            }
            if let Some(flag) = scalar.as_bool() {
                return Value::Bool(flag);
            }
            if let Some(int) = scalar.as_i64() {
                return Value::from(int);
            }
            if let Some(number) = scalar
                .as_f64()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(number);
            }
            Value::String(text.to_owned())
        }
        Node::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.as_str().to_owned(), yaml_to_json(value)))
                .collect(),
        ),
    }
}

/// The line and column of the first use of `name` inside a `{{ }}` or `{% %}` tag.
fn first_use(body: &str, name: &str) -> Option<(usize, usize)> {
    let mut search_from = 0;
    while let Some(open) = find_tag_open(body, search_from) {
        let close_marker = if body[open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let close = body[open + 2..]
            .find(close_marker)
            .map_or(body.len(), |i| open + 2 + i);
        let inside = &body[open + 2..close];
        let mut offset = 0;
        while let Some(found) = inside[offset..].find(name) {
            let start = offset + found;
            let end = start + name.len();
            let before = inside[..start].chars().next_back();
            let after = inside[end..].chars().next();
            let boundary =
                |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
            let after_ok = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary(before) && after_ok {
                return Some(line_column(body, open + 2 + start));
            }
            offset = end;
        }
        search_from = close;
    }
    None
}

fn find_tag_open(body: &str, from: usize) -> Option<usize> {
    let rest = body.get(from..)?;
    let a = rest.find("{{");
    let b = rest.find("{%");
    match (a, b) {
        (Some(a), Some(b)) => Some(from + a.min(b)),
        (Some(a), None) => Some(from + a),
        (None, Some(b)) => Some(from + b),
        (None, None) => None,
    }
}

/// The built-in roles, parsed from the embedded files.
pub fn builtin_roles() -> Result<Vec<Role>> {
    let mut roles = Vec::new();
    let mut problems = Vec::new();
    for (id, text) in BUILTIN_ROLES {
        let path = PathBuf::from(format!("<built-in>/roles/{id}.md"));
        match parse_role(id, &path, text, RoleOrigin::BuiltIn) {
            Ok(role) => roles.push(role),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(roles)
    } else {
        Err(CatalogError::Invalid { problems })
    }
}

/// True when `id` is a built-in role's id.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_ROLES.iter().any(|(builtin, _)| *builtin == id)
}

/// The roles a cafe can use: the built-ins, overridden by its `.orch/roles/*.md`.
#[derive(Debug, Clone)]
pub struct RoleCatalog {
    roles: BTreeMap<String, Role>,
}

impl RoleCatalog {
    /// Loads the built-ins and the cafe's user roles. Any broken user role is an error listing
    /// every problem found, with its file, line and column.
    pub fn load(orch: &OrchDir) -> Result<RoleCatalog> {
        let mut roles: BTreeMap<String, Role> = builtin_roles()?
            .into_iter()
            .map(|role| (role.id.clone(), role))
            .collect();
        let mut problems = Vec::new();
        for path in crate::layout::files_ending_with(&orch.roles(), ".md")? {
            match Role::read(&path) {
                Ok(mut role) => {
                    role.overrides_built_in = roles
                        .get(&role.id)
                        .is_some_and(|r| r.origin == RoleOrigin::BuiltIn);
                    roles.insert(role.id.clone(), role);
                }
                Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid { problems });
        }
        Ok(RoleCatalog { roles })
    }

    /// Every role id, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.roles.keys().map(String::as_str).collect()
    }

    /// The role with this id (a user role when it overrides a built-in).
    pub fn get(&self, id: &str) -> Option<&Role> {
        self.roles.get(id)
    }

    /// Every role, sorted by id.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// The role with this id, or an error saying how to find the right one.
    pub fn require(&self, id: &str) -> Result<&Role> {
        self.get(id).ok_or_else(|| CatalogError::NotFound {
            kind: "role",
            id: id.to_owned(),
            hint: Some("`codecafe role list` shows the available roles".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Role> {
        Role::parse("r", Path::new("r.md"), text, RoleOrigin::User)
    }

    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text) {
            Err(CatalogError::Invalid { problems }) => problems
                .into_iter()
                .map(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0), p.message))
                .collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    const GOOD: &str = "---\nname: R\ndescription: A role\nvariables:\n  focus:\n    type: list\n    default: [a, b]\n  level:\n    type: number\n    default: 2\n  strict:\n    type: boolean\n  who:\n    type: string\n    required: true\n---\nHello {{ prompt }} {{ focus|join(',') }} {{ level }} {{ strict }} {{ who }}\n";

    #[test]
    fn parses_front_matter_and_body() {
        let role = parse(GOOD).expect("parses");
        assert_eq!(role.name, "R");
        assert_eq!(role.description, "A role");
        assert_eq!(role.body_line(), 17);
        assert_eq!(role.variables["focus"].default, Some(json!(["a", "b"])));
        assert_eq!(role.variables["level"].default, Some(json!(2)));
        assert_eq!(role.variables["strict"].default, None);
        assert!(role.variables["who"].required);
    }

    #[test]
    fn renders_with_defaults_order_vars_and_coercion() {
        let role = parse(GOOD).expect("parses");
        let mut context = RenderContext::new("s", "P");
        context.vars.insert("who".to_owned(), json!("me"));
        assert_eq!(
            role.render_with(&context).expect("renders"),
            "Hello P a,b 2 None me"
        );
        context.vars.insert("level".to_owned(), json!("5"));
        context.vars.insert("strict".to_owned(), json!("true"));
        context.vars.insert("focus".to_owned(), json!("x, y"));
        assert_eq!(
            role.render_with(&context).expect("renders"),
            "Hello P x,y 5 True me"
        );
        context.vars.insert("level".to_owned(), json!("many"));
        let error = role.render_with(&context).expect_err("bad number");
        assert!(error.to_string().contains("variable `level`"), "{error}");
    }

    #[test]
    fn a_required_variable_without_value_is_named() {
        let role = parse(GOOD).expect("parses");
        let error = role
            .render_with(&RenderContext::new("s", "P"))
            .expect_err("missing");
        let message = error.to_string();
        assert!(
            message.contains("`who`") && message.contains("required"),
            "{message}"
        );
    }

    #[test]
    fn strict_rendering_names_the_missing_variable_and_its_line() {
        let role = parse("---\nname: R\n---\nline one\n{{ prompt }} {{ previous[0].outputs }}\n")
            .expect("parses");
        let mut context = RenderContext::new("s", "P");
        context.previous.push(PreviousOutput {
            stage: "a".to_owned(),
            output: "o".to_owned(),
        });
        let Err(CatalogError::Invalid { problems }) = role.render_with(&context) else {
            panic!("expected an undefined error");
        };
        assert_eq!((problems[0].line, problems[0].column), (Some(5), Some(25)));
        assert!(
            problems[0].message.contains("previous[0].outputs"),
            "{problems:?}"
        );

        // An engine variable the caller forgot.
        let error = role
            .render(&json!({"prompt": "P"}))
            .expect_err("no previous");
        assert!(
            error.to_string().contains("`previous` is undefined"),
            "{error}"
        );
    }

    #[test]
    fn undeclared_variables_are_errors_at_load() {
        let found = problems("---\nname: R\n---\nok\n{% if x %}{{ foo.bar }}{% endif %}\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 14), "{found:?}");
        assert!(found[0].2.contains("`foo`"));
        assert_eq!((found[1].0, found[1].1), (5, 7), "{found:?}");
        // Set variables, loop variables and globals are fine.
        parse("---\nname: R\n---\n{% set n = 1 %}{% for s in skills %}{{ loop.index }}{{ s.id }}{% endfor %}{{ range(n)|list }}{% if z is defined %}{% endif %}\n")
            .map(|_| ())
            .expect_err("z is still undeclared");
        parse("---\nname: R\n---\n{% set n = 1 %}{% for s in skills %}{{ loop.index }}{{ s.id }}{% endfor %}{{ range(n)|list }}\n")
            .expect("fine");
    }

    #[test]
    fn front_matter_errors_are_located_in_the_file() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            ("no front matter\n", (1, 1), "starts with a `---`"),
            ("---\nname: R\n", (1, 1), "never closed"),
            (
                "---\nname: R\ncolour: red\n---\n",
                (3, 1),
                "unknown front matter key `colour`",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: text\n---\n",
                (5, 11),
                "`text` is not a variable type",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: number\n    default: \"3\"\n---\n",
                (6, 14),
                "default of `x` is not a number",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: string\n    default: 3\n---\n",
                (6, 14),
                "default of `x` is not a string",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: list\n    default: a\n---\n",
                (6, 14),
                "not a list",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: boolean\n    defualt: true\n---\n",
                (6, 5),
                "unknown key `defualt`",
            ),
            (
                "---\nname: R\nvariables:\n  prompt:\n    type: string\n---\n",
                (4, 3),
                "engine variable",
            ),
            (
                "---\nname: R\nvariables:\n  Bad-Name:\n    type: string\n---\n",
                (4, 3),
                "not a valid variable name",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    default: 1\n---\n",
                (4, 3),
                "has no `type`",
            ),
            (
                "---\nname: R\nvariables:\n  x:\n    type: string\n    required: true\n    default: a\n---\n",
                (4, 3),
                "required and has a default",
            ),
            (
                "---\nname: R\nname: S\n---\n",
                (3, 1),
                "duplicate key `name`",
            ),
            ("---\nname: [R\n---\n", (3, 1), "invalid YAML"),
            ("---\ndescription: d\n---\n", (1, 1), "no `name`"),
            (
                "---\nname: R\n---\nfine\n{% if prompt %}\nunclosed\n",
                (6, 1),
                "syntax error",
            ),
            (
                "---\nname: R\n---\n\n  {{ prompt | }}\n",
                (5, 15),
                "syntax error",
            ),
        ];
        for (text, position, message) in cases {
            let found = problems(text);
            assert_eq!((found[0].0, found[0].1), *position, "{text:?}: {found:?}");
            assert!(found[0].2.contains(message), "{text:?}: {found:?}");
        }
    }

    #[test]
    fn builtins_load_and_render_with_engine_variables_only() {
        let roles = builtin_roles().expect("built-ins are valid");
        let ids: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["analyzer", "coder", "planner", "reviewer", "tester"]);
        let skill = crate::skill::builtin_skills()
            .expect("skills")
            .into_iter()
            .find(|s| s.id == "detect-uncertainty")
            .expect("exists");
        for role in &roles {
            assert!(role.variables.values().all(|v| !v.required), "{}", role.id);
            let bare = role
                .render_with(&RenderContext::new("stage-x", "Do the thing."))
                .unwrap_or_else(|e| panic!("{} renders: {e}", role.id));
            assert!(bare.contains("Do the thing."), "{}", role.id);
            assert!(bare.contains("stage-x"), "{}", role.id);
            assert!(
                bare.contains("signals:"),
                "{} reminds of the signals block",
                role.id
            );
            assert!(bare.contains("nextAction"), "{}", role.id);
            assert!(
                !bare.contains("\n\n\n"),
                "{} has no runs of blank lines:\n{bare}",
                role.id
            );

            let mut full = RenderContext::sample();
            full.skills.push(SkillVar::from(&skill));
            full.vars.insert("ticket".to_owned(), json!("API-12"));
            full.answers.push(Answer {
                stage: "analyze".to_owned(),
                questions: vec!["Which limit?".to_owned()],
                answer: "100 per minute".to_owned(),
            });
            full.attempt = 2;
            let text = role
                .render_with(&full)
                .unwrap_or_else(|e| panic!("{} renders: {e}", role.id));
            for expected in [
                skill.instructions.as_str(),
                "Keep changes small",
                "100 per minute",
                "Which limit?",
                "API-12",
                "(the final text of the analyze stage)",
            ] {
                assert!(
                    text.contains(expected),
                    "{} lacks {expected:?}:\n{text}",
                    role.id
                );
            }
        }
    }

    #[test]
    fn user_roles_override_builtins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let orch = OrchDir::of_repo(dir.path());
        std::fs::create_dir_all(orch.roles()).expect("mkdir");
        std::fs::write(
            orch.role_file("coder"),
            "---\nname: My coder\n---\n{{ prompt }}\n",
        )
        .expect("write");
        std::fs::write(
            orch.role_file("doc-writer"),
            "---\nname: Docs\n---\n{{ prompt }}\n",
        )
        .expect("write");
        let catalog = RoleCatalog::load(&orch).expect("loads");
        let coder = catalog.get("coder").expect("coder");
        assert_eq!(coder.origin, RoleOrigin::User);
        assert!(coder.overrides_built_in);
        assert!(!catalog.get("doc-writer").expect("docs").overrides_built_in);
        assert_eq!(catalog.ids().len(), 6);
        assert!(matches!(
            catalog.require("nope"),
            Err(CatalogError::NotFound { .. })
        ));

        std::fs::write(orch.role_file("broken"), "---\nname: B\nx: 1\n---\n").expect("write");
        let error = RoleCatalog::load(&orch).expect_err("broken");
        assert!(error.to_string().contains("broken.md:3:1:"), "{error}");
    }

    #[test]
    fn coercion() {
        assert_eq!(VarType::List.coerce(&json!("[1, 2]")), Ok(json!([1, 2])));
        assert_eq!(VarType::List.coerce(&json!("")), Ok(json!([])));
        assert!(VarType::Boolean.coerce(&json!("yes")).is_err());
        assert!(VarType::Number.coerce(&json!(true)).is_err());
        assert_eq!(VarType::String.coerce(&json!("x")), Ok(json!("x")));
    }
}
