//! Helpers for reading agents' JSON output tolerantly.
//!
//! Agent CLIs add fields and message types between versions. Adapters should read what they
//! know and pass over the rest; these helpers make that the easy path: lookups return `Option`
//! and never panic on a missing or mistyped field.

pub use serde_json::Value;

/// Parses one line as a JSON object; anything else (plain text, a fragment) gives `None`.
pub fn parse_object(line: &str) -> Option<Value> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(trimmed)
        .ok()
        .filter(Value::is_object)
}

/// The string at a JSON pointer (`/message/id`), if it is one.
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The unsigned number at a JSON pointer, if it is one; missing counts as 0.
pub fn u64_at(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// The number at a JSON pointer, if it is one.
pub fn f64_at(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}

/// The boolean at a JSON pointer; missing counts as `false`.
pub fn bool_at(value: &Value, pointer: &str) -> bool {
    value
        .pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A value as compact JSON text (`null` when absent).
pub fn to_text(value: Option<&Value>) -> String {
    value.map_or_else(|| "null".to_owned(), Value::to_string)
}

/// Cuts `text` to at most `max_bytes` bytes on a character boundary, marking the cut with `…`.
pub fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_objects() {
        assert!(parse_object("{\"a\":1}").is_some());
        assert!(parse_object("  {\"a\":1}  ").is_some());
        assert!(parse_object("[1]").is_none());
        assert!(parse_object("{\"a\":").is_none());
        assert!(parse_object("hello").is_none());
    }

    #[test]
    fn lookups_tolerate_missing_and_mistyped_fields() {
        let value = parse_object(r#"{"a":{"b":"x","n":3,"f":true}}"#).expect("object");
        assert_eq!(str_at(&value, "/a/b"), Some("x"));
        assert_eq!(str_at(&value, "/a/n"), None);
        assert_eq!(u64_at(&value, "/a/n"), 3);
        assert_eq!(u64_at(&value, "/a/missing"), 0);
        assert!(bool_at(&value, "/a/f"));
        assert_eq!(to_text(value.pointer("/a/n")), "3");
        assert_eq!(to_text(None), "null");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
