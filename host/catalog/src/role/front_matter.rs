//! A role's front matter: the YAML between the `---` lines, read into its name, description
//! and declared variables, with every mistake located in the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use marked_yaml::Node;
use serde_json::Value;

use super::{ENGINE_VARIABLES, FRONT_MATTER_KEYS, VARIABLE_KEYS, VarType, Variable};
use crate::error::Problem;
use crate::location::Position;
use crate::recipe::Permissions;
use crate::yaml;

/// The file line of the front matter's first YAML line, just after the opening `---`.
const FIRST_LINE: usize = 2;

/// What a role's front matter declares, and the mistakes found in it.
#[derive(Debug, Default)]
pub(super) struct FrontMatter {
    /// The display name; `None` when it is missing or wrong (a problem says so).
    pub(super) name: Option<String>,
    /// What the role does.
    pub(super) description: String,
    /// The default permissions of stages playing it.
    pub(super) permissions: Option<Permissions>,
    /// The variables declared without mistakes.
    pub(super) variables: BTreeMap<String, Variable>,
    /// Variables declared with mistakes (already reported; the template may still use them).
    pub(super) invalid: BTreeSet<String>,
    /// Every mistake, located in the file.
    pub(super) problems: Vec<Problem>,
}

/// Reads the YAML between a role's `---` lines; `path` names the file in problems.
pub(super) fn read(path: &Path, yaml_text: &str) -> FrontMatter {
    let mut reader = Reader {
        path,
        front: FrontMatter::default(),
    };
    let no_name_hint = "add `name: <display name>` between the `---` lines";
    if yaml_text.trim().is_empty() {
        reader.front.problems.push(
            Problem::located(
                path,
                Position::START,
                "the front matter is empty; a role needs a `name`",
            )
            .hint(no_name_hint),
        );
        return reader.front;
    }
    match yaml::load(yaml_text) {
        Err(err) => reader.front.problems.push(load_problem(path, &err)),
        Ok(node) => reader.read_front_matter(&node),
    }
    if reader.front.name.is_none() && reader.front.problems.is_empty() {
        reader.front.problems.push(
            Problem::located(path, Position::START, "the front matter has no `name`")
                .hint(no_name_hint),
        );
    }
    reader.front
}

/// Where a YAML marker of the front matter is in the file.
fn file_position(marker: Option<&marked_yaml::Marker>) -> Position {
    Position::of_marker(marker).in_part_starting_on_line(FIRST_LINE)
}

/// A YAML loader error as a problem in the file.
fn load_problem(path: &Path, err: &marked_yaml::LoadError) -> Problem {
    use marked_yaml::LoadError;
    let place = |marker: &marked_yaml::Marker| file_position(Some(marker));
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
            let first = file_position(inner.prev_key.span().start());
            (
                file_position(inner.key.span().start()),
                format!(
                    "duplicate key `{}` (first on line {})",
                    inner.key.as_str(),
                    first.line
                ),
                "keep one of them".to_owned(),
            )
        }
    };
    Problem::located(path, position, message).hint(hint)
}

/// Reads the front matter's nodes, collecting what it declares and its mistakes.
struct Reader<'a> {
    path: &'a Path,
    front: FrontMatter,
}

impl Reader<'_> {
    /// Reports a mistake at a node.
    fn at(&mut self, node_span: &marked_yaml::Span, message: String, hint: impl Into<String>) {
        self.front.problems.push(
            Problem::located(self.path, file_position(node_span.start()), message).hint(hint),
        );
    }

    /// Reads the front matter mapping.
    fn read_front_matter(&mut self, node: &Node) {
        let Some(map) = node.as_mapping() else {
            self.at(
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
                        self.front.name = Some(scalar.as_str().to_owned());
                    }
                    Some(_) => self.at(
                        value.span(),
                        "`name` is empty".to_owned(),
                        "give the role a short display name",
                    ),
                    None => self.at(
                        value.span(),
                        "`name` must be text".to_owned(),
                        "write `name: Reviewer`",
                    ),
                },
                "description" => match value.as_scalar() {
                    Some(scalar) => self.front.description = scalar.as_str().to_owned(),
                    None => self.at(
                        value.span(),
                        "`description` must be text".to_owned(),
                        "write `description: what the role does`",
                    ),
                },
                "permissions" => match value.as_scalar().map(|s| s.as_str()) {
                    Some(name) if Permissions::from_name(name).is_some() => {
                        self.front.permissions = Permissions::from_name(name);
                    }
                    _ => self.at(
                        value.span(),
                        "`permissions` must be one of read-only, edit, full".to_owned(),
                        "write `permissions: edit` for a role that changes files",
                    ),
                },
                "variables" => self.read_variables(value),
                other => self.at(
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

    /// Reads `variables:`.
    fn read_variables(&mut self, node: &Node) {
        if node
            .as_scalar()
            .is_some_and(|s| s.as_str().is_empty() && s.may_coerce())
        {
            return; // `variables:` with nothing after it.
        }
        let Some(map) = node.as_mapping() else {
            self.at(
            node.span(),
            "`variables` must be a mapping of variable names to declarations".to_owned(),
            "write `variables:` and below it, indented, `focus: { type: string, default: \"\" }`",
        );
            return;
        };
        for (key, value) in map.iter() {
            let var_name = key.as_str();
            if !is_identifier(var_name) {
                self.at(
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
                self.at(
                    key.span(),
                    format!("`{var_name}` is an engine variable and cannot be declared"),
                    "the engine always provides it; choose another name for your variable",
                );
                continue;
            }
            match self.read_variable(key, value) {
                Some(variable) => {
                    self.front.variables.insert(var_name.to_owned(), variable);
                }
                None => {
                    self.front.invalid.insert(var_name.to_owned());
                }
            }
        }
    }

    /// Reads one variable's declaration.
    fn read_variable(
        &mut self,
        key: &marked_yaml::types::MarkedScalarNode,
        node: &Node,
    ) -> Option<Variable> {
        let var_name = key.as_str();
        let Some(map) = node.as_mapping() else {
            self.at(
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
                            self.at(
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
                        self.at(
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
                        self.at(
                            value.span(),
                            format!("`required` of `{var_name}` must be true or false"),
                            "write `required: true` or leave it out",
                        );
                        ok = false;
                    }
                },
                other => {
                    self.at(
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
                self.at(
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
                    self.at(
                        node.span(),
                        format!(
                            "the default of `{var_name}` is not a {}: {message}",
                            var_type.as_str()
                        ),
                        match var_type {
                            VarType::String => "quote it: `default: \"...\"`",
                            VarType::Number => "write a number, e.g. `default: 3`",
                            VarType::Boolean => "write `default: true` or `default: false`",
                            VarType::List => {
                                "write a list, e.g. `default: [a, b]` or `default: []`"
                            }
                        },
                    );
                    return None;
                }
            },
        };
        if required && default.is_some() {
            self.at(
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
}

/// True for a name a template can use as a variable.
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A YAML value checked against a type.
fn yaml_value(node: &Node, var_type: VarType) -> std::result::Result<Value, String> {
    let value = yaml::to_json(node);
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
