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
//! Front matter keys: `name` (required), `description`, `permissions` (the default
//! [`crate::recipe::Permissions`] of stages playing the role), `variables`. Each variable has a `type`
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
//! Templates render in the one [`template::environment`](crate::template::environment), which is
//! **strict**: using a variable that does not exist is an error that names it (test optional
//! things with `is defined`). `trim_blocks` and `lstrip_blocks` are on, so a line holding only a
//! block tag leaves no blank line behind.
//!
//! Every mistake is reported with the file, the line and column **in the file** (template lines
//! are offset by the front matter), and a hint: unknown front matter keys, bad variable types,
//! defaults of the wrong type, template syntax errors, and variables the template uses but
//! neither the engine nor the front matter provides.
//!
//! **Built-in roles** (`analyzer`, `planner`, `coder`, `reviewer`, `tester`) are embedded in the
//! binary; a user role in `.orch/roles/{id}.md` with the same id overrides the built-in.

mod catalog;
mod front_matter;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CatalogError, Problem, Result};
use crate::ids;

pub use catalog::{RoleCatalog, builtin_roles, is_builtin};
use parse::parse_role;
pub use render::{Answer, PreviousOutput, RenderContext, SkillVar};

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
pub const FRONT_MATTER_KEYS: &[&str] = &["name", "description", "permissions", "variables"];

/// The keys of one variable's declaration.
pub const VARIABLE_KEYS: &[&str] = &["type", "default", "description", "required"];

/// The type of a declared variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// Its type.
    #[serde(rename = "type")]
    pub var_type: VarType,
    /// The value used when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Rendering fails when no value is given.
    pub required: bool,
}

/// Where a role comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The id recipes refer to (the file name without `.md`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the role does.
    pub description: String,
    /// The permissions of stages playing it that set none (and whose recipe sets none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<crate::recipe::Permissions>,
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
    /// The file line of the template's first line (where template errors are placed).
    #[serde(default)]
    body_line: usize,
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
}
