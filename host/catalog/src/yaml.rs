//! What recipes and roles share about reading YAML: the loader settings and how a value becomes
//! JSON.

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{LoadError, LoaderOptions, Node};
use serde_json::Value;

/// Parses YAML text with positions kept, refusing duplicate keys and leaving scalars as written
/// (the readers decide what a plain `yes` or `3` means).
pub(crate) fn load(text: &str) -> Result<Node, LoadError> {
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(0, text, options)
}

/// True for an unquoted empty, `~` or `null` scalar.
pub(crate) fn is_null(scalar: &MarkedScalarNode) -> bool {
    scalar.may_coerce() && matches!(scalar.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// A YAML value as JSON, with YAML 1.2 core schema types for unquoted scalars (booleans,
/// integers, finite decimals, null); quoted scalars stay strings.
pub(crate) fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(scalar) if is_null(scalar) => Value::Null,
        Node::Scalar(scalar) if scalar.may_coerce() => {
            let text = scalar.as_str();
            if let Some(flag) = scalar.as_bool() {
                Value::Bool(flag)
            } else if let Some(int) = scalar.as_i64() {
                Value::from(int)
            } else if let Some(number) = scalar
                .as_f64()
                .filter(|float| float.is_finite())
                .and_then(serde_json::Number::from_f64)
            {
                Value::Number(number)
            } else {
                Value::String(text.to_owned())
            }
        }
        Node::Scalar(scalar) => Value::String(scalar.as_str().to_owned()),
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.as_str().to_owned(), to_json(value)))
                .collect(),
        ),
    }
}
