//! One key casing in every JSON codecafe prints: camelCase field names at every level.
//!
//! Some objects are maps whose keys are the user's or a plugin's data, not field names — an
//! order's `vars`, a recipe stage's provider `options`, a role's `variables`, counts `byProvider`,
//! the per-provider caps `providers` — their keys are not checked (their values are).

use serde_json::Value;

/// Objects whose keys are data, by the field that holds them.
const DATA_MAPS: &[&str] = &["vars", "options", "variables", "byProvider", "providers"];

/// Whether `key` is camelCase: a lowercase letter, then letters and digits.
pub fn is_camel_case(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Every key of `value` (at any depth) that is not camelCase, with its path.
pub fn non_camel_keys(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, "$", false, &mut found);
    found
}

fn walk(value: &Value, path: &str, data_keys: bool, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                if !data_keys && !is_camel_case(key) {
                    found.push(here.clone());
                }
                walk(
                    inner,
                    &here,
                    !data_keys && DATA_MAPS.contains(&key.as_str()),
                    found,
                );
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), false, found);
            }
        }
        _ => {}
    }
}

/// Checks every JSON document in `stdout` — the whole text, or each line of NDJSON — and
/// panics naming the keys that are not camelCase.
///
/// # Panics
/// When a key is not camelCase.
pub fn assert_one_casing(args: &[&str], stdout: &str) {
    let documents: Vec<Value> = match serde_json::from_str::<Value>(stdout) {
        Ok(value) => vec![value],
        Err(_) => stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|value| value.is_object() || value.is_array())
            .collect(),
    };
    for document in documents {
        let bad = non_camel_keys(&document);
        assert!(
            bad.is_empty(),
            "{args:?} printed JSON keys that are not camelCase: {bad:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_at_every_level_except_inside_data_maps() {
        let value = serde_json::json!({
            "orderId": 1,
            "payload": {"event": {"is-error": true, "inputTokens": 2}},
            "vars": {"my_var": 1},
            "list": [{"snake_case": 1}],
        });
        assert_eq!(
            non_camel_keys(&value),
            ["$.list[0].snake_case", "$.payload.event.is-error"]
        );
        assert!(is_camel_case("v") && is_camel_case("costUsd") && !is_camel_case("Cost"));
    }
}
