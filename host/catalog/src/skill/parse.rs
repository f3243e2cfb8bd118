//! From a skill file's text to a [`Skill`], with every mistake located at its key or value and
//! explained with a hint.

use std::path::Path;

use jiff::Timestamp;
use serde::Deserialize;

use super::json_position::{KeyPositions, error_position};
use super::{Category, SKILL_KEYS, SKILL_VERSION, Skill, SkillContext, timestamp};
use crate::error::Problem;
use crate::ids;
use crate::location::Position;

/// A skill file as written, before defaults and checks.
#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object with the keys of a skill"
)]
struct SkillFile {
    version: Option<u32>,
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    category: Category,
    skill_command: Option<String>,
    #[serde(default)]
    context: SkillContext,
    instructions: String,
    #[serde(default)]
    is_built_in: bool,
    #[serde(default, deserialize_with = "timestamp::created")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "timestamp::updated")]
    updated_at: Option<Timestamp>,
}

/// Parses and checks a skill file, reporting every located problem. `modified` (the file's
/// modification time) stands in for a missing `createdAt`.
pub(super) fn parse_skill(
    path: &Path,
    text: &str,
    built_in: bool,
    modified: Option<Timestamp>,
) -> std::result::Result<Skill, Vec<Problem>> {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        && !value.is_object()
    {
        let start = text.len() - text.trim_start().len();
        return Err(vec![
            Problem::located(
                path,
                Position::of_offset(text, start),
                "a skill file holds one JSON object",
            )
            .hint(
                "write `{ \"id\": ..., \"name\": ..., \"category\": ..., \"instructions\": ... }`",
            ),
        ]);
    }
    let file: SkillFile =
        serde_json::from_str(text).map_err(|err| vec![json_problem(path, text, &err)])?;
    let keys = KeyPositions::of(text);
    let at = |field: &str, message: String| -> Problem {
        match keys.value(field) {
            Some(position) => Problem::located(path, position, message),
            None => Problem::in_file(path, message),
        }
    };
    let mut problems = Vec::new();
    if let Some(version) = file.version
        && version > SKILL_VERSION
    {
        problems.push(
            at(
                "version",
                format!(
                    "written by a newer codecafe (format version {version}, this one reads up to {SKILL_VERSION})"
                ),
            )
            .hint("upgrade codecafe"),
        );
    }
    let created_at = file
        .created_at
        .or(modified)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let skill = Skill {
        skill_command: file
            .skill_command
            .clone()
            .unwrap_or_else(|| format!("/{}", file.id)),
        id: file.id,
        name: file.name,
        description: file.description,
        category: file.category,
        context: file.context,
        instructions: file.instructions,
        is_built_in: built_in,
        created_at,
        updated_at: file.updated_at.unwrap_or(created_at),
    };
    for issue in skill.issues() {
        let mut problem = at(issue.field, issue.message);
        problem.hint = issue.hint;
        problems.push(problem);
    }
    let stem = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".json"));
    if ids::is_valid_id(&skill.id) && stem != Some(skill.id.as_str()) {
        problems.push(
            at(
                "id",
                format!(
                    "the id `{}` differs from the file name; a skill lives in `{}.json`",
                    skill.id, skill.id
                ),
            )
            .hint(format!(
                "rename the file to `{}.json`, or change `id` to match the file name",
                skill.id
            )),
        );
    }
    if file.is_built_in != built_in {
        let message = if built_in {
            "a built-in skill must say `\"isBuiltIn\": true`".to_owned()
        } else {
            "`isBuiltIn` is true, but only the skills shipped with codecafe are built in".to_owned()
        };
        problems.push(
            at("isBuiltIn", message)
                .hint("set `\"isBuiltIn\": false` (or remove it) in your own skills"),
        );
    }
    if problems.is_empty() {
        Ok(skill)
    } else {
        Err(problems)
    }
}

/// A located problem from a serde_json error, pointing at the start of the offending token.
fn json_problem(path: &Path, text: &str, err: &serde_json::Error) -> Problem {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    let points_at_token = err.is_data()
        && !message.starts_with("missing field")
        && err.line() > 0
        && err.column() > 0;
    // Errors of our own deserializers name their key: point at its value.
    let named_key_value = message
        .strip_prefix('`')
        .and_then(|rest| rest.split('`').next())
        .filter(|key| SKILL_KEYS.contains(key))
        .and_then(|key| KeyPositions::of(text).value(key));
    let position = named_key_value.unwrap_or_else(|| error_position(text, err, points_at_token));
    let hint = json_hint(&message, err);
    let problem = Problem::located(path, position, message);
    match hint {
        Some(hint) => problem.hint(hint),
        None => problem,
    }
}

/// What to do about a serde_json error.
fn json_hint(message: &str, err: &serde_json::Error) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        let camel = snake_to_camel(key);
        if camel != key && SKILL_KEYS.contains(&camel.as_str()) {
            return Some(format!("keys are camelCase: write `{camel}`"));
        }
        return Some(format!(
            "a skill has only these keys: {}; remove or rename this one",
            SKILL_KEYS.join(", ")
        ));
    }
    if message.starts_with("unknown variant") {
        return Some(format!(
            "`category` is one of {}; `context` is fork or inherit",
            Category::ALL.map(Category::as_str).join(", ")
        ));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or_default();
        return Some(format!(
            "add `\"{key}\": ...` to the object; `codecafe skill show classify-task --json` shows a complete skill"
        ));
    }
    if message.contains("is not an RFC 3339 timestamp") {
        return Some(
            "write a time with its offset, like 2026-01-20T10:00:00Z, or remove the key".to_owned(),
        );
    }
    if message.starts_with("control character") {
        return Some(
            "a string is not closed on its line: end it with `\"`, and write line breaks inside \
             it as `\\n`"
                .to_owned(),
        );
    }
    if message.starts_with("duplicate field") {
        return Some("keep one of the two".to_owned());
    }
    if err.is_eof() {
        return Some("the file ends too early: close every string, `[` and `{`".to_owned());
    }
    if err.is_syntax() {
        return Some(
            "this is not valid JSON here (trailing commas and comments are not allowed)".to_owned(),
        );
    }
    if err.is_data() {
        return Some(
            "`codecafe skill show classify-task --json` shows a complete, valid skill".to_owned(),
        );
    }
    None
}

/// `skill_command` → `skillCommand`, for the hint on a misspelt key.
fn snake_to_camel(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        if c == '_' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
