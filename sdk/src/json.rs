//! Helpers for reading agents' JSON output tolerantly.
//!
//! Agent CLIs add fields and message types between versions. Adapters should read what they
//! know and pass over the rest; these helpers make that the easy path: lookups return `Option`
//! and never panic on a missing or mistyped field.
//!
//! Two ways to read a line:
//!
//! - as a [`Value`] ([`parse_object`], then [`str_at`], [`u64_at`], ...): simple, builds the
//!   whole line;
//! - into small `#[derive(Deserialize)]` structs that name only the fields used. Unknown fields
//!   are skipped without being built, and string fields typed [`Str`] (or [`StrOr`] for fields
//!   that are sometimes a string and sometimes a list or an object) borrow from the line instead
//!   of allocating. This is the fast path for adapters that read many lines.
//!
//! ```
//! use codecafe_sdk::json::{Str, StrOr};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Line<'a> {
//!     #[serde(rename = "type", borrow)]
//!     kind: Option<Str<'a>>,
//!     #[serde(borrow)]
//!     content: Option<StrOr<'a, Vec<Part<'a>>>>,
//! }
//!
//! #[derive(Deserialize)]
//! struct Part<'a> {
//!     #[serde(borrow)]
//!     text: Option<Str<'a>>,
//! }
//!
//! let line: Line<'_> =
//!     serde_json::from_str(r#"{"type":"user","content":[{"text":"hi"}],"extra":[1,2]}"#)
//!         .expect("fits");
//! assert_eq!(line.kind.as_ref().map(Str::as_str), Some("user"));
//! let parts = line.content.as_ref().and_then(StrOr::value).expect("a list");
//! assert_eq!(parts[0].text.as_ref().map(Str::as_str), Some("hi"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub use serde_json::Value;

use crate::{AgentEvent, OutputBatch, Stream};

/// The usual first step of a JSON-lines adapter's [`Provider::parse_output`](crate::Provider):
/// [`ControlFlow::Continue`] with the trimmed text of a stdout line that starts with `{`, to be
/// read; [`ControlFlow::Break`] with what to report for any other line: nothing for a blank line,
/// an [`AgentEvent::Log`] (the line without its trailing white space) for standard error and for
/// plain text.
///
/// ```
/// use std::ops::ControlFlow;
/// use codecafe_sdk::{AgentEvent, OutputBatch, Stream, json};
///
/// fn parse_output(source: Stream, line: &str) -> OutputBatch {
///     let text = match json::object_line(source, line) {
///         ControlFlow::Continue(text) => text,
///         ControlFlow::Break(batch) => return batch,
///     };
///     // ... read `text` into the adapter's shapes; when it fits none:
///     OutputBatch::one(json::unrecognized(text))
/// }
///
/// assert!(parse_output(Stream::Stdout, "   ").is_empty());
/// assert_eq!(
///     parse_output(Stream::Stdout, "Loading...  ").events,
///     [AgentEvent::Log { text: "Loading...".to_owned() }]
/// );
/// assert_eq!(
///     parse_output(Stream::Stdout, r#" {"type":"ping"}"#).events,
///     [AgentEvent::other("ping", r#"{"type":"ping"}"#)]
/// );
/// ```
pub fn object_line(source: Stream, line: &str) -> ControlFlow<OutputBatch, &str> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return ControlFlow::Break(OutputBatch::default());
    }
    if source == Stream::Stderr || !trimmed.starts_with('{') {
        return ControlFlow::Break(OutputBatch::one(AgentEvent::Log {
            text: line.trim_end().to_owned(),
        }));
    }
    ControlFlow::Continue(trimmed)
}

/// What to report for a line that looked like JSON but fits none of the shapes an adapter
/// reads, so that no line is dropped: [`AgentEvent::other`] named by the object's `type` (or
/// `unknown`) with the line as data, or an [`AgentEvent::Log`] when the line is not a JSON
/// object at all (a cut line, plain text that starts with `{`).
pub fn unrecognized(line: &str) -> AgentEvent {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => {
            let kind = object
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            AgentEvent::other(kind, line)
        }
        _ => AgentEvent::Log {
            text: line.to_owned(),
        },
    }
}

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

/// A JSON string that borrows from the input when it can.
///
/// `serde_json` can hand out a string without copying it when it has no escapes (`\n`, `\"`);
/// a `&str` field then fails on escaped strings and a `String` field always allocates. `Str`
/// takes the borrowed string when it is offered and an owned copy otherwise, so it reads every
/// string and allocates only for escaped ones. (A plain `Cow<'a, str>` borrows only as a direct
/// `#[serde(borrow)]` field, not inside `Option` or `Vec`.)
///
/// Mark the field `#[serde(borrow)]`. Anything other than a string is an error, as for
/// `String`; wrap the field in `Option` to accept a missing one.
///
/// ```
/// use codecafe_sdk::json::Str;
///
/// let plain: Str<'_> = serde_json::from_str(r#""hello""#).expect("a string");
/// assert!(plain.is_borrowed());
/// let escaped: Str<'_> = serde_json::from_str(r#""a\nb""#).expect("a string");
/// assert_eq!(escaped.as_str(), "a\nb");
/// assert!(!escaped.is_borrowed());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str<'a>(Cow<'a, str>);

impl<'a> Str<'a> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the text points into the input rather than being a copy.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }

    /// The text as an owned `String` (copied only if it was borrowed).
    pub fn into_owned(self) -> String {
        self.0.into_owned()
    }

    /// The text as a `Cow`, borrowed or owned as it was read.
    pub fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
}

impl<'a> From<&'a str> for Str<'a> {
    fn from(text: &'a str) -> Self {
        Self(Cow::Borrowed(text))
    }
}

impl From<String> for Str<'_> {
    fn from(text: String) -> Self {
        Self(Cow::Owned(text))
    }
}

impl<'a> From<Cow<'a, str>> for Str<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        Self(text)
    }
}

impl AsRef<str> for Str<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Str<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor(PhantomData))
    }
}

struct StrVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Str<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

/// A field that is sometimes a string and sometimes structured: a list or an object read as
/// `T`. Agents do this (a message's `content` is a string or a list of blocks).
///
/// A string is read like [`Str`] (borrowed when it can be); a list or an object is read as `T`,
/// and an error there is an error of the whole value; anything else (a number, a boolean,
/// `null`) is [`StrOr::Neither`] rather than an error. Mark the field `#[serde(borrow)]`; in an
/// `Option`, a missing field and `null` are `None`.
///
/// ```
/// use codecafe_sdk::json::StrOr;
///
/// type Content<'a> = StrOr<'a, Vec<String>>;
/// let text: Content<'_> = serde_json::from_str(r#""hi""#).expect("fits");
/// assert_eq!(text.as_str(), Some("hi"));
/// let list: Content<'_> = serde_json::from_str(r#"["a","b"]"#).expect("fits");
/// assert_eq!(list.value().map(Vec::len), Some(2));
/// let number: Content<'_> = serde_json::from_str("3").expect("fits");
/// assert!(number.is_neither());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum StrOr<'a, T> {
    /// The value was a string.
    Str(Str<'a>),
    /// The value was a list or an object, read as `T`.
    Value(T),
    /// The value was neither (a number, a boolean or `null`).
    Neither,
}

impl<'a, T> StrOr<'a, T> {
    /// The string, when the value was one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The structured value, when the value was a list or an object.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(value) => Some(value),
            _ => None,
        }
    }

    /// The structured value, by value, when the value was a list or an object.
    pub fn into_value(self) -> Option<T> {
        match self {
            Self::Value(value) => Some(value),
            _ => None,
        }
    }

    /// True when the value was neither a string nor a list or an object.
    pub fn is_neither(&self) -> bool {
        matches!(self, Self::Neither)
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for StrOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrVisitor(PhantomData))
    }
}

struct StrOrVisitor<'a, T>(PhantomData<(&'a (), T)>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for StrOrVisitor<'a, T> {
    type Value = StrOr<'a, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a list or an object")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(StrOr::Str(Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(StrOr::Str(Str(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(StrOr::Str(Str(Cow::Owned(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::deserialize(SeqAccessDeserializer::new(seq)).map(StrOr::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(StrOr::Value)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrOr::Neither)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

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
    fn object_lines_go_on_and_the_rest_stops() {
        let log = |text: &str| {
            ControlFlow::Break(OutputBatch::one(AgentEvent::Log {
                text: text.to_owned(),
            }))
        };
        assert_eq!(
            object_line(Stream::Stdout, "  {\"a\":1} \r"),
            ControlFlow::Continue("{\"a\":1}")
        );
        assert_eq!(
            object_line(Stream::Stdout, " \t"),
            ControlFlow::Break(OutputBatch::default())
        );
        assert_eq!(object_line(Stream::Stdout, "  plain  "), log("  plain"));
        assert_eq!(object_line(Stream::Stdout, "[1]"), log("[1]"));
        assert_eq!(object_line(Stream::Stderr, "{\"a\":1}\n"), log("{\"a\":1}"));
    }

    #[test]
    fn unrecognized_lines_are_other_or_log() {
        assert_eq!(
            unrecognized(r#"{"type":"turn.paused","x":1}"#),
            AgentEvent::other("turn-paused", r#"{"type":"turn.paused","x":1}"#)
        );
        assert_eq!(
            unrecognized(r#"{"type":3}"#),
            AgentEvent::other("unknown", r#"{"type":3}"#)
        );
        assert_eq!(
            unrecognized(r#"{"cut":"#),
            AgentEvent::Log {
                text: r#"{"cut":"#.to_owned()
            }
        );
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        name: Option<Str<'a>>,
        #[serde(borrow)]
        content: Option<StrOr<'a, Vec<Str<'a>>>>,
        #[serde(borrow)]
        meta: Option<StrOr<'a, Meta>>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Meta {
        n: u64,
    }

    #[test]
    fn str_borrows_plain_strings_and_owns_escaped_ones() {
        let line = r#"{"name":"plain","content":["a","b\"c"]}"#;
        let fields: Fields<'_> = serde_json::from_str(line).expect("fits");
        let name = fields.name.expect("a name");
        assert!(name.is_borrowed());
        assert_eq!(name, "plain");
        assert_eq!(name.to_string(), "plain");
        let content = fields.content.and_then(StrOr::into_value).expect("a list");
        assert!(content[0].is_borrowed());
        assert!(!content[1].is_borrowed());
        assert_eq!(content[1].as_str(), "b\"c");
        assert_eq!(content[1].clone().into_owned(), "b\"c");
        assert!(matches!(content[0].clone().into_cow(), Cow::Borrowed("a")));
        // From an owned value nothing can be borrowed, but everything still reads.
        let owned = Str::deserialize(Value::String("x".to_owned())).expect("a string");
        assert_eq!(owned.as_str(), "x");
        assert!(!owned.is_borrowed());
    }

    #[test]
    fn str_rejects_what_is_not_a_string() {
        assert!(serde_json::from_str::<Str<'_>>("3").is_err());
        assert!(serde_json::from_str::<Str<'_>>("null").is_err());
        assert!(serde_json::from_str::<Fields<'_>>(r#"{"name":["x"]}"#).is_err());
        let missing: Fields<'_> = serde_json::from_str("{}").expect("fits");
        assert!(missing.name.is_none() && missing.content.is_none());
        assert_eq!(Str::from("a"), Str::from("a".to_owned()));
        assert_eq!(Str::default().as_str(), "");
        assert_eq!(Str::from(Cow::Borrowed("c")).as_ref(), "c");
    }

    #[test]
    fn str_or_reads_a_string_a_structure_or_neither() {
        let text: Fields<'_> =
            serde_json::from_str(r#"{"content":"hi","meta":"m"}"#).expect("fits");
        let content = text.content.expect("content");
        assert_eq!(content.as_str(), Some("hi"));
        assert!(content.value().is_none() && !content.is_neither());
        assert!(matches!(&content, StrOr::Str(s) if s.is_borrowed()));
        assert_eq!(
            text.meta
                .and_then(|m| m.as_str().map(str::to_owned))
                .as_deref(),
            Some("m")
        );

        let object: Fields<'_> =
            serde_json::from_str(r#"{"meta":{"n":2,"other":true}}"#).expect("fits");
        let meta = object.meta.expect("meta");
        assert_eq!(meta.value(), Some(&Meta { n: 2 }));
        assert_eq!(meta.as_str(), None);
        assert_eq!(meta.into_value(), Some(Meta { n: 2 }));

        for neither in ["1", "-1", "1.5", "true"] {
            let line = format!(r#"{{"content":{neither},"meta":{neither}}}"#);
            let fields: Fields<'_> = serde_json::from_str(&line).expect("fits");
            assert!(fields.content.expect("content").is_neither(), "{neither}");
            assert!(fields.meta.expect("meta").is_neither(), "{neither}");
        }
        let null: StrOr<'_, Meta> = serde_json::from_str("null").expect("fits");
        assert!(null.is_neither());
        let in_option: Fields<'_> = serde_json::from_str(r#"{"meta":null}"#).expect("fits");
        assert!(in_option.meta.is_none());
    }

    #[test]
    fn str_or_fails_when_the_structure_does_not_fit() {
        assert!(serde_json::from_str::<Fields<'_>>(r#"{"meta":{"n":"two"}}"#).is_err());
        assert!(serde_json::from_str::<Fields<'_>>(r#"{"meta":[]}"#).is_err());
        assert!(serde_json::from_str::<Fields<'_>>(r#"{"content":[1]}"#).is_err());
    }
}
