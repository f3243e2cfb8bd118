//! Skills: reusable instruction snippets a recipe stage puts into its agent's prompt.
//!
//! A skill is a JSON document in the seed's format:
//!
//! ```json
//! {
//!   "id": "classify-task",
//!   "name": "Task Classification",
//!   "description": "Classifies the request into a kind of work",
//!   "category": "analysis",
//!   "skillCommand": "/classify-task",
//!   "context": "fork",
//!   "instructions": "Analyze the user request and classify...",
//!   "isBuiltIn": false,
//!   "createdAt": "2026-01-20T10:00:00Z",
//!   "updatedAt": "2026-01-20T10:00:00Z"
//! }
//! ```
//!
//! | key | value | effect |
//! |---|---|---|
//! | `id` | 1–64 of `a-z`, `0-9`, `-`; equal to the file name | how recipes name the skill |
//! | `name` | one line, not empty | shown in lists and in the prompt |
//! | `description` | text (may be empty) | shown in lists |
//! | `category` | `planning`, `implementation`, `verification`, `review`, `analysis`, `utility` | grouping, `skill list --category` |
//! | `skillCommand` | `/` and a name (default `/{id}`) | the slash name the prompt uses to refer to the skill |
//! | `context` | `fork` (default) or `inherit` | `inherit` continues the previous stage's agent session, `fork` starts a fresh one |
//! | `instructions` | text, not empty | what goes into the stage's prompt |
//! | `isBuiltIn` | `false` in user files (default) | built-ins are read-only |
//! | `createdAt`, `updatedAt` | RFC 3339 timestamps (default: the file's modification time, then `createdAt`) | bookkeeping |
//! | `version` | `1` (optional; written by codecafe) | the format version; a newer one is refused |
//!
//! Unknown keys, wrong types and bad values are errors with the file, line and column and a hint,
//! never ignored: every field has an effect or is rejected.
//!
//! **Built-in skills** are the JSON files of the top-level `skills/` folder, embedded in the
//! binary. They are read-only: changing or removing one is [`CatalogError::BuiltIn`];
//! [`SkillCatalog::duplicate`] makes an editable copy. **User skills** live in a cafe's
//! `.orch/skills/{id}.json`; a user skill may not take a built-in's id. Changes are made under a
//! cross-process lock and written atomically ([`storage`](crate::storage)).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Problem, Result};
use crate::ids;
use crate::layout::OrchDir;
use crate::storage;

/// The skill format version this build writes and the newest it reads.
pub const SKILL_VERSION: u32 = 1;

/// The keys of a skill file, in the order codecafe writes them.
pub const SKILL_KEYS: &[&str] = &[
    "version",
    "id",
    "name",
    "description",
    "category",
    "skillCommand",
    "context",
    "instructions",
    "isBuiltIn",
    "createdAt",
    "updatedAt",
];

/// The built-in skills: `(file name, JSON)`, embedded from the top-level `skills/` folder.
const BUILTIN_SKILLS: &[(&str, &str)] = &[
    (
        "build-context.json",
        include_str!("../../../skills/build-context.json"),
    ),
    (
        "classify-task.json",
        include_str!("../../../skills/classify-task.json"),
    ),
    (
        "codex-review-code.json",
        include_str!("../../../skills/codex-review-code.json"),
    ),
    (
        "decide-sequence.json",
        include_str!("../../../skills/decide-sequence.json"),
    ),
    (
        "detect-uncertainty.json",
        include_str!("../../../skills/detect-uncertainty.json"),
    ),
    (
        "evaluate-complexity.json",
        include_str!("../../../skills/evaluate-complexity.json"),
    ),
    (
        "gather-requirements.json",
        include_str!("../../../skills/gather-requirements.json"),
    ),
    (
        "implementation-runner.json",
        include_str!("../../../skills/implementation-runner.json"),
    ),
    (
        "integration-test.json",
        include_str!("../../../skills/integration-test.json"),
    ),
    (
        "preflight-check.json",
        include_str!("../../../skills/preflight-check.json"),
    ),
    (
        "review-code.json",
        include_str!("../../../skills/review-code.json"),
    ),
    (
        "summarize-changes.json",
        include_str!("../../../skills/summarize-changes.json"),
    ),
];

/// What kind of work a skill helps with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Deciding what to do and in which order.
    Planning,
    /// Changing code.
    Implementation,
    /// Checking that things work.
    Verification,
    /// Judging a change.
    Review,
    /// Understanding a request or a codebase.
    Analysis,
    /// Everything else.
    Utility,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::Planning,
        Category::Implementation,
        Category::Verification,
        Category::Review,
        Category::Analysis,
        Category::Utility,
    ];

    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Planning => "planning",
            Category::Implementation => "implementation",
            Category::Verification => "verification",
            Category::Review => "review",
            Category::Analysis => "analysis",
            Category::Utility => "utility",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a category; use one of {}",
                    Category::ALL.map(Category::as_str).join(", ")
                )
            })
    }
}

/// Which agent session a stage using the skill runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillContext {
    /// A fresh session (or a forked copy of the previous one where the provider supports it).
    #[default]
    Fork,
    /// Continue the previous stage's agent session.
    Inherit,
}

impl SkillContext {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SkillContext::Fork => "fork",
            SkillContext::Inherit => "inherit",
        }
    }
}

impl fmt::Display for SkillContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SkillContext {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "fork" => Ok(SkillContext::Fork),
            "inherit" => Ok(SkillContext::Inherit),
            _ => Err(format!("`{s}` is not a context; use fork or inherit")),
        }
    }
}

/// A skill, as recipes use it (see the [module docs](self) for the format).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    /// The id recipes refer to.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-line summary.
    pub description: String,
    /// What kind of work it helps with.
    pub category: Category,
    /// The slash name the prompt uses for it, e.g. `/classify-task`.
    pub skill_command: String,
    /// Whether the stage continues the previous agent session or starts a fresh one.
    pub context: SkillContext,
    /// The text that goes into the stage's prompt.
    pub instructions: String,
    /// Built-ins are read-only.
    pub is_built_in: bool,
    /// When it was created.
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: Timestamp,
    /// When it was last changed.
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: Timestamp,
}

/// Writes a skill in the on-disk form (with the format version first).
#[derive(Serialize)]
struct OnDisk<'a> {
    version: u32,
    #[serde(flatten)]
    skill: &'a Skill,
}

impl Skill {
    /// The document codecafe writes for this skill: pretty JSON with a trailing newline.
    pub fn to_file_json(&self) -> String {
        let document = OnDisk {
            version: SKILL_VERSION,
            skill: self,
        };
        // Serializing plain strings, enums and timestamps cannot fail.
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a skill file's text. `path` names it in errors; its file name must be
    /// `{id}.json`. `built_in` says whether the file is one of the embedded built-ins.
    pub fn parse(path: &Path, text: &str, built_in: bool) -> Result<Skill> {
        parse_skill(path, text, built_in, None)
            .map_err(|problems| CatalogError::Invalid { problems })
    }

    /// Reads and checks a user skill file.
    pub fn read(path: &Path) -> Result<Skill> {
        let text = std::fs::read_to_string(path).map_err(CatalogError::io(path))?;
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok());
        parse_skill(path, &text, false, modified)
            .map_err(|problems| CatalogError::Invalid { problems })
    }

    /// Mistakes in the values (not the syntax) of a skill.
    fn issues(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        if !ids::is_valid_id(&self.id) {
            issues.push(
                Issue::new("id", format!("`{}` is not a valid skill id", self.id))
                    .hint(ids::ID_RULE),
            );
        }
        if self.name.trim().is_empty() {
            issues.push(
                Issue::new("name", "the name is empty").hint("give the skill a short display name"),
            );
        } else if self.name.contains('\n') {
            issues.push(
                Issue::new("name", "the name spans several lines")
                    .hint("keep the name on one line; put details in `description`"),
            );
        }
        if !valid_command(&self.skill_command) {
            issues.push(
                Issue::new(
                    "skillCommand",
                    format!("`{}` is not a skill command", self.skill_command),
                )
                .hint(format!(
                    "write `/` and a name of letters, digits, `-`, `_` or `:`, e.g. `/{}`",
                    self.id
                )),
            );
        }
        if self.instructions.trim().is_empty() {
            issues.push(
                Issue::new("instructions", "the instructions are empty")
                    .hint("a skill's instructions are what goes into the prompt; write what the agent should do"),
            );
        }
        issues
    }
}

/// The current time, to the millisecond.
fn now() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

/// True for `/` followed by 1–64 letters, digits, `-`, `_` or `:`.
fn valid_command(command: &str) -> bool {
    command.strip_prefix('/').is_some_and(|name| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
    })
}

/// A mistake in one field's value.
#[derive(Debug)]
struct Issue {
    field: &'static str,
    message: String,
    hint: Option<String>,
}

impl Issue {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Turns value mistakes found in command-line input into one error.
fn issues_error(issues: Vec<Issue>) -> CatalogError {
    let what = issues
        .iter()
        .map(|issue| format!("`{}`", issue.field))
        .collect::<Vec<_>>()
        .join(", ");
    let message = issues
        .iter()
        .map(|issue| match &issue.hint {
            Some(hint) => format!("{} ({hint})", issue.message),
            None => issue.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    CatalogError::BadValue {
        what: format!("skill {what}"),
        message,
    }
}

/// Timestamps as RFC 3339 strings.
mod timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes an RFC 3339 string.
    pub fn serialize<S: Serializer>(value: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads `createdAt`.
    pub fn created<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        read("createdAt", deserializer)
    }

    /// Reads `updatedAt`.
    pub fn updated<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        read("updatedAt", deserializer)
    }

    /// Reads an RFC 3339 string; the error starts with the key's name in backquotes, so it can
    /// be located at the key's value.
    fn read<'de, D: Deserializer<'de>>(
        key: &str,
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<Timestamp>().map(Some).map_err(|err| {
            serde::de::Error::custom(format!(
                "`{key}` is not an RFC 3339 timestamp like 2026-01-20T10:00:00Z: `{text}` ({err})"
            ))
        })
    }
}

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

/// Parses and checks a skill file, reporting every located problem.
fn parse_skill(
    path: &Path,
    text: &str,
    built_in: bool,
    modified: Option<Timestamp>,
) -> std::result::Result<Skill, Vec<Problem>> {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        && !value.is_object()
    {
        let start = text.len() - text.trim_start().len();
        let (line, column) = json::line_column(text, start);
        return Err(vec![
            Problem::at(path, line, column, "a skill file holds one JSON object").hint(
                "write `{ \"id\": ..., \"name\": ..., \"category\": ..., \"instructions\": ... }`",
            ),
        ]);
    }
    let file: SkillFile =
        serde_json::from_str(text).map_err(|err| vec![json_problem(path, text, &err)])?;
    let positions = json::top_level(text);
    let at = |field: &str, message: String| -> Problem {
        match positions.get(field) {
            Some(&(_, value)) => {
                let (line, column) = json::line_column(text, value);
                Problem::at(path, line, column, message)
            }
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
    let named_key = message
        .strip_prefix('`')
        .and_then(|rest| rest.split('`').next())
        .filter(|key| SKILL_KEYS.contains(key))
        .and_then(|key| json::top_level(text).get(key).copied());
    let (line, column) = if let Some((_, value)) = named_key {
        json::line_column(text, value)
    } else if err.line() == 0 {
        (1, 1)
    } else {
        json::token_start(text, err.line(), err.column(), points_at_token)
    };
    let hint = json_hint(&message, err);
    let problem = Problem::at(path, line, column, message);
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

/// Just enough JSON scanning to point at keys and values in text that already parsed.
mod json {
    use std::collections::BTreeMap;

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// Moves serde_json's position (1-based line, 1-based byte column of the token's last
    /// character) to the start of that token, as a 1-based character column.
    pub fn token_start(
        text: &str,
        line: usize,
        column: usize,
        to_token_start: bool,
    ) -> (usize, usize) {
        let Some(line_text) = text.split('\n').nth(line - 1) else {
            return (line, column);
        };
        let bytes = line_text.as_bytes();
        let mut index = column.saturating_sub(1).min(bytes.len());
        if to_token_start && index < bytes.len() {
            if bytes[index] == b'"' {
                // Back to the opening quote, skipping escaped ones.
                let mut i = index;
                while i > 0 {
                    i -= 1;
                    if bytes[i] == b'"' {
                        let backslashes =
                            bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count();
                        if backslashes % 2 == 0 {
                            index = i;
                            break;
                        }
                    }
                }
            } else {
                while index > 0 && !is_delimiter(bytes[index - 1]) {
                    index -= 1;
                }
            }
        }
        let chars = line_text.get(..index).map_or(index, |s| s.chars().count());
        (line, chars + 1)
    }

    fn is_delimiter(byte: u8) -> bool {
        matches!(
            byte,
            b' ' | b'\t' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"'
        )
    }

    /// For each top-level key of the object in `text`: the byte offsets of the key and of its
    /// value. Empty when `text` is not an object.
    pub fn top_level(text: &str) -> BTreeMap<String, (usize, usize)> {
        let bytes = text.as_bytes();
        let mut keys = BTreeMap::new();
        let mut i = skip_ws(bytes, 0);
        if bytes.get(i) != Some(&b'{') {
            return keys;
        }
        i += 1;
        loop {
            i = skip_ws(bytes, i);
            if bytes.get(i) != Some(&b'"') {
                break;
            }
            let key_start = i;
            let Some(key_end) = skip_string(bytes, i) else {
                break;
            };
            let key: String = text
                .get(key_start..key_end)
                .and_then(|raw| serde_json::from_str(raw).ok())
                .unwrap_or_default();
            i = skip_ws(bytes, key_end);
            if bytes.get(i) != Some(&b':') {
                break;
            }
            i = skip_ws(bytes, i + 1);
            let value_start = i;
            let Some(value_end) = skip_value(bytes, i) else {
                break;
            };
            keys.entry(key).or_insert((key_start, value_start));
            i = skip_ws(bytes, value_end);
            if bytes.get(i) == Some(&b',') {
                i += 1;
            } else {
                break;
            }
        }
        keys
    }

    fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    }

    /// The offset just past the string starting at `i`.
    fn skip_string(bytes: &[u8], i: usize) -> Option<usize> {
        let mut j = i + 1;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
        None
    }

    /// The offset just past the value starting at `i`.
    fn skip_value(bytes: &[u8], i: usize) -> Option<usize> {
        match bytes.get(i)? {
            b'"' => skip_string(bytes, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < bytes.len() {
                    match bytes[j] {
                        b'"' => {
                            j = skip_string(bytes, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < bytes.len()
                    && !matches!(bytes[j], b',' | b'}' | b']')
                    && !bytes[j].is_ascii_whitespace()
                {
                    j += 1;
                }
                Some(j)
            }
        }
    }
}

/// The built-in skills, parsed from the embedded files.
pub fn builtin_skills() -> Result<Vec<Skill>> {
    let mut skills = Vec::with_capacity(BUILTIN_SKILLS.len());
    let mut problems = Vec::new();
    for (file, text) in BUILTIN_SKILLS {
        match parse_skill(&builtin_path(file), text, true, None) {
            Ok(skill) => skills.push(skill),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(skills)
    } else {
        Err(CatalogError::Invalid { problems })
    }
}

/// How a built-in skill file is named in messages.
fn builtin_path(file: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/skills/{file}"))
}

/// True when `id` is a built-in skill's id.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_SKILLS
        .iter()
        .any(|(file, _)| file.strip_suffix(".json") == Some(id))
}

/// A new user skill, as `skill new` gives it.
#[derive(Debug, Clone)]
pub struct NewSkill {
    /// The id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-line summary.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Slash name; `/{id}` when `None`.
    pub skill_command: Option<String>,
    /// Session behaviour.
    pub context: SkillContext,
    /// The prompt text.
    pub instructions: String,
}

/// Changes to a user skill; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SkillUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New summary.
    pub description: Option<String>,
    /// New category.
    pub category: Option<Category>,
    /// New slash name.
    pub skill_command: Option<String>,
    /// New session behaviour.
    pub context: Option<SkillContext>,
    /// New prompt text.
    pub instructions: Option<String>,
}

impl SkillUpdate {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.skill_command.is_none()
            && self.context.is_none()
            && self.instructions.is_none()
    }
}

/// The skills a cafe can use: the built-ins and its `.orch/skills/*.json`.
#[derive(Debug, Clone)]
pub struct SkillCatalog {
    orch: OrchDir,
    skills: BTreeMap<String, Skill>,
}

impl SkillCatalog {
    /// Loads the built-ins and the cafe's user skills. Any broken user skill is an error that
    /// lists every problem found, with its file, line and column.
    pub fn load(orch: &OrchDir) -> Result<SkillCatalog> {
        let mut skills: BTreeMap<String, Skill> = builtin_skills()?
            .into_iter()
            .map(|skill| (skill.id.clone(), skill))
            .collect();
        let mut problems = Vec::new();
        for path in crate::layout::files_ending_with(&orch.skills(), ".json")? {
            match Skill::read(&path) {
                Ok(skill) => {
                    if skills.get(&skill.id).is_some_and(|s| s.is_built_in) {
                        let text = std::fs::read_to_string(&path).unwrap_or_default();
                        let (line, column) = json::top_level(&text)
                            .get("id")
                            .map_or((1, 1), |&(_, value)| json::line_column(&text, value));
                        problems.push(
                            Problem::at(
                                &path,
                                line,
                                column,
                                format!("`{}` is the id of a built-in skill", skill.id),
                            )
                            .hint(format!(
                                "built-in skills cannot be replaced; rename this file and its id (e.g. `{}-custom`) and use that id in your recipes",
                                skill.id
                            )),
                        );
                    } else {
                        skills.insert(skill.id.clone(), skill);
                    }
                }
                Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
                Err(other) => return Err(other),
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid { problems });
        }
        Ok(SkillCatalog {
            orch: orch.clone(),
            skills,
        })
    }

    /// Every skill id, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.skills.keys().map(String::as_str).collect()
    }

    /// The skill with this id.
    pub fn get(&self, id: &str) -> Option<&Skill> {
        self.skills.get(id)
    }

    /// Every skill, sorted by id.
    pub fn skills(&self) -> impl Iterator<Item = &Skill> {
        self.skills.values()
    }

    /// The skill with this id, or an error saying how to find the right one.
    pub fn require(&self, id: &str) -> Result<&Skill> {
        self.get(id).ok_or_else(|| CatalogError::NotFound {
            kind: "skill",
            id: id.to_owned(),
            hint: Some("`codecafe skill list` shows the available skills".to_owned()),
        })
    }

    /// Where a user skill with this id is (or would be) stored.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.orch.skill_file(id)
    }

    /// Creates a user skill in `.orch/skills/{id}.json`.
    pub fn create(&mut self, new: NewSkill) -> Result<&Skill> {
        self.check_available(&new.id)?;
        let now = now();
        let skill = Skill {
            skill_command: new.skill_command.unwrap_or_else(|| format!("/{}", new.id)),
            id: new.id,
            name: new.name,
            description: new.description,
            category: new.category,
            context: new.context,
            instructions: new.instructions,
            is_built_in: false,
            created_at: now,
            updated_at: now,
        };
        self.insert_new(skill)
    }

    /// Changes a user skill; `updatedAt` moves, `createdAt` stays.
    pub fn update(&mut self, id: &str, update: SkillUpdate) -> Result<&Skill> {
        self.refuse_builtin(id)?;
        if update.is_empty() {
            return Err(CatalogError::BadValue {
                what: format!("skill update {id}"),
                message: "nothing to change; give at least one of --name, --description, \
                          --category, --command, --context, --instructions, --instructions-file \
                          or --edit"
                    .to_owned(),
            });
        }
        let path = self.orch.skill_file(id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        if !path.is_file() {
            return Err(self.not_found(id));
        }
        // Read the file again under the lock: another process may have changed it.
        let mut skill = Skill::read(&path)?;
        if let Some(name) = update.name {
            skill.name = name;
        }
        if let Some(description) = update.description {
            skill.description = description;
        }
        if let Some(category) = update.category {
            skill.category = category;
        }
        if let Some(command) = update.skill_command {
            skill.skill_command = command;
        }
        if let Some(context) = update.context {
            skill.context = context;
        }
        if let Some(instructions) = update.instructions {
            skill.instructions = instructions;
        }
        let issues = skill.issues();
        if !issues.is_empty() {
            return Err(issues_error(issues));
        }
        skill.updated_at = now().max(skill.created_at);
        storage::write_atomic(&path, skill.to_file_json().as_bytes())?;
        let id = skill.id.clone();
        self.skills.insert(id.clone(), skill);
        Ok(&self.skills[&id])
    }

    /// Removes a user skill's file.
    pub fn remove(&mut self, id: &str) -> Result<()> {
        self.refuse_builtin(id)?;
        let path = self.orch.skill_file(id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.skills.remove(id);
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(id)),
            Err(source) => Err(CatalogError::Io { path, source }),
        }
    }

    /// Copies a skill (built-in or not) to a new, editable user skill.
    pub fn duplicate(
        &mut self,
        id: &str,
        new_id: &str,
        new_name: Option<String>,
    ) -> Result<&Skill> {
        let source = self.require(id)?.clone();
        self.check_available(new_id)?;
        let now = now();
        let skill = Skill {
            id: new_id.to_owned(),
            name: new_name.unwrap_or_else(|| format!("{} (copy)", source.name)),
            skill_command: if source.skill_command == format!("/{id}") {
                format!("/{new_id}")
            } else {
                source.skill_command
            },
            is_built_in: false,
            created_at: now,
            updated_at: now,
            ..source
        };
        self.insert_new(skill)
    }

    /// Writes a skill that must not exist yet.
    fn insert_new(&mut self, skill: Skill) -> Result<&Skill> {
        let issues = skill.issues();
        if !issues.is_empty() {
            return Err(issues_error(issues));
        }
        let path = self.orch.skill_file(&skill.id);
        let _lock = storage::FileLock::acquire(&self.orch.skills())?;
        if path.exists() || self.skills.contains_key(&skill.id) {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: skill.id.clone(),
                hint: Some(format!(
                    "change it with `codecafe skill update {}`, or choose another id",
                    skill.id
                )),
            });
        }
        storage::write_atomic(&path, skill.to_file_json().as_bytes())?;
        let id = skill.id.clone();
        self.skills.insert(id.clone(), skill);
        Ok(&self.skills[&id])
    }

    /// `Ok` when a new user skill may take this id: a valid id, not a built-in's, not taken.
    pub fn check_available(&self, id: &str) -> Result<()> {
        ids::check_id("skill", id)?;
        if is_builtin(id) {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: id.to_owned(),
                hint: Some(format!(
                    "it is a built-in skill; `codecafe skill dup {id} <new-id>` makes an editable \
                     copy under another id"
                )),
            });
        }
        if self.skills.contains_key(id) || self.orch.skill_file(id).exists() {
            return Err(CatalogError::AlreadyExists {
                kind: "skill",
                id: id.to_owned(),
                hint: Some(format!(
                    "change it with `codecafe skill update {id}`, or choose another id"
                )),
            });
        }
        Ok(())
    }

    /// `Ok` when the skill exists and may be changed or removed (it is not a built-in).
    pub fn check_editable(&self, id: &str) -> Result<()> {
        self.refuse_builtin(id)?;
        if self.skills.contains_key(id) {
            Ok(())
        } else {
            Err(self.not_found(id))
        }
    }

    fn refuse_builtin(&self, id: &str) -> Result<()> {
        if is_builtin(id) {
            return Err(CatalogError::BuiltIn {
                kind: "skill",
                id: id.to_owned(),
                hint: format!(
                    "make an editable copy with `codecafe skill dup {id} <new-id>` and use that"
                ),
            });
        }
        Ok(())
    }

    fn not_found(&self, id: &str) -> CatalogError {
        CatalogError::NotFound {
            kind: "skill",
            id: id.to_owned(),
            hint: Some(format!(
                "there is no {}; `codecafe skill list` shows the available skills",
                self.orch.skill_file(id).display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orch() -> (tempfile::TempDir, OrchDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let orch = OrchDir::of_repo(dir.path());
        (dir, orch)
    }

    fn new_skill(id: &str) -> NewSkill {
        NewSkill {
            id: id.to_owned(),
            name: "My skill".to_owned(),
            description: "Does things".to_owned(),
            category: Category::Utility,
            skill_command: None,
            context: SkillContext::Inherit,
            instructions: "Step one.\nStep two.".to_owned(),
        }
    }

    fn problems(result: Result<Skill>) -> Vec<Problem> {
        match result {
            Err(CatalogError::Invalid { problems }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    fn located(text: &str) -> Vec<(usize, usize, String)> {
        problems(Skill::parse(Path::new("x.json"), text, false))
            .into_iter()
            .map(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0), p.message))
            .collect()
    }

    const GOOD: &str = r#"{
  "id": "x",
  "name": "X",
  "category": "review",
  "instructions": "Do it."
}"#;

    #[test]
    fn every_file_in_skills_is_embedded_and_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("skills/ exists")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = BUILTIN_SKILLS
            .iter()
            .map(|(f, _)| (*f).to_owned())
            .collect();
        assert_eq!(
            on_disk, embedded,
            "embed every file of skills/ in BUILTIN_SKILLS, sorted"
        );
        for (file, text) in BUILTIN_SKILLS {
            let on_disk = std::fs::read_to_string(dir.join(file)).expect("read");
            assert_eq!(&on_disk, text, "{file}");
        }
        let skills = builtin_skills().expect("all built-ins are valid");
        assert!(skills.len() >= 10);
        for skill in &skills {
            assert!(skill.is_built_in);
            let lines = skill.instructions.lines().count();
            assert!(
                (10..=30).contains(&lines),
                "{} has {lines} lines of instructions",
                skill.id
            );
            assert!(!skill.description.is_empty(), "{}", skill.id);
        }
        for id in [
            "classify-task",
            "evaluate-complexity",
            "detect-uncertainty",
            "decide-sequence",
            "preflight-check",
            "gather-requirements",
            "build-context",
            "implementation-runner",
            "codex-review-code",
            "review-code",
            "integration-test",
        ] {
            assert!(skills.iter().any(|s| s.id == id), "missing built-in {id}");
        }
        for category in Category::ALL {
            assert!(
                skills.iter().any(|s| s.category == category),
                "no {category} skill"
            );
        }
        let uncertainty = skills
            .iter()
            .find(|s| s.id == "detect-uncertainty")
            .expect("exists");
        assert!(uncertainty.instructions.contains("nextAction: await_user"));
        assert!(uncertainty.instructions.contains("questions"));
    }

    #[test]
    fn the_seed_example_loads() {
        let seed = r#"{
  "id": "classify-task",
  "name": "Task Classification",
  "description": "사용자 요청을 작업 유형으로 분류",
  "category": "planning",
  "skillCommand": "/classify-task",
  "instructions": "Analyze the user request and classify...",
  "isBuiltIn": false,
  "createdAt": "2026-01-20T10:00:00Z"
}"#;
        let skill = Skill::parse(Path::new("classify-task.json"), seed, false).expect("loads");
        assert_eq!(skill.category, Category::Planning);
        assert_eq!(skill.context, SkillContext::Fork);
        assert_eq!(skill.updated_at, skill.created_at);
        assert_eq!(skill.created_at.to_string(), "2026-01-20T10:00:00Z");
    }

    #[test]
    fn defaults_and_round_trip() {
        let skill = Skill::parse(Path::new("x.json"), GOOD, false).expect("loads");
        assert_eq!(skill.skill_command, "/x");
        assert_eq!(skill.description, "");
        let written = skill.to_file_json();
        assert!(
            written.starts_with("{\n  \"version\": 1,\n  \"id\": \"x\""),
            "{written}"
        );
        let again = Skill::parse(Path::new("x.json"), &written, false).expect("reads back");
        assert_eq!(again, skill);
    }

    #[test]
    fn syntax_and_schema_errors_are_located_at_the_token() {
        let unknown = "{\n  \"id\": \"x\",\n  \"bogus\": 1\n}";
        let found = located(unknown);
        assert_eq!((found[0].0, found[0].1), (3, 3), "{found:?}");
        assert!(found[0].2.contains("unknown field `bogus`"));

        let variant = GOOD.replace("\"review\"", "\"reviewing\"");
        let found = located(&variant);
        assert_eq!((found[0].0, found[0].1), (4, 15), "{found:?}");

        let wrong_type = GOOD.replace("\"X\"", "12");
        let found = located(&wrong_type);
        assert_eq!((found[0].0, found[0].1), (3, 11), "{found:?}");
        assert!(found[0].2.contains("invalid type"));

        let missing =
            "{\n  \"id\": \"x\",\n  \"category\": \"review\",\n  \"instructions\": \"i\"\n}";
        let found = located(missing);
        assert_eq!((found[0].0, found[0].1), (5, 1), "{found:?}");
        assert!(found[0].2.contains("missing field `name`"));

        let trailing = "{\n  \"id\": \"x\",\n}";
        let found = located(trailing);
        assert_eq!((found[0].0, found[0].1), (3, 1), "{found:?}");

        let time = GOOD.replace("\"Do it.\"", "\"Do it.\",\n  \"createdAt\": \"yesterday\"");
        let found = located(&time);
        assert_eq!((found[0].0, found[0].1), (6, 16), "{found:?}");
        assert!(found[0].2.contains("RFC 3339"));
    }

    #[test]
    fn snake_case_keys_get_a_camel_case_hint() {
        let text = GOOD.replace(
            "\"instructions\"",
            "\"skill_command\": \"/x\",\n  \"instructions\"",
        );
        let problem = &problems(Skill::parse(Path::new("x.json"), &text, false))[0];
        assert_eq!(
            problem.hint.as_deref(),
            Some("keys are camelCase: write `skillCommand`")
        );
    }

    #[test]
    fn value_errors_are_all_reported_at_their_values() {
        let text = r#"{
  "id": "Bad_Id",
  "name": "",
  "category": "review",
  "skillCommand": "run it",
  "instructions": "  ",
  "isBuiltIn": true
}"#;
        let found = located(text);
        let positions: Vec<(usize, usize)> = found.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(
            positions,
            [(2, 9), (3, 11), (5, 19), (6, 19), (7, 16)],
            "{found:?}"
        );
    }

    #[test]
    fn the_file_name_must_be_the_id() {
        let problems = problems(Skill::parse(Path::new("y.json"), GOOD, false));
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].line, problems[0].column), (Some(2), Some(9)));
        assert!(problems[0].message.contains("differs from the file name"));
    }

    #[test]
    fn a_newer_version_is_refused() {
        let text = GOOD.replacen("{", "{\"version\": 2,", 1);
        let found = located(&text);
        assert!(found[0].2.contains("newer codecafe"), "{found:?}");
    }

    #[test]
    fn create_update_duplicate_remove() {
        let (_dir, orch) = orch();
        let mut catalog = SkillCatalog::load(&orch).expect("loads");
        let builtins = catalog.ids().len();
        let created = catalog.create(new_skill("mine")).expect("creates").clone();
        assert_eq!(created.skill_command, "/mine");
        assert_eq!(created.instructions, "Step one.\nStep two.");
        assert!(orch.skill_file("mine").is_file());

        let reloaded = SkillCatalog::load(&orch).expect("loads");
        assert_eq!(reloaded.ids().len(), builtins + 1);
        assert_eq!(reloaded.get("mine"), Some(&created));

        let updated = catalog
            .update(
                "mine",
                SkillUpdate {
                    name: Some("Renamed".to_owned()),
                    ..SkillUpdate::default()
                },
            )
            .expect("updates")
            .clone();
        assert_eq!(updated.name, "Renamed");
        assert_eq!(
            updated.instructions, created.instructions,
            "instructions are kept"
        );
        assert_eq!(updated.created_at, created.created_at);
        assert!(updated.updated_at >= created.updated_at);

        let updated = catalog
            .update(
                "mine",
                SkillUpdate {
                    instructions: Some("New text.".to_owned()),
                    ..SkillUpdate::default()
                },
            )
            .expect("updates")
            .clone();
        assert_eq!(
            SkillCatalog::load(&orch).expect("loads").get("mine"),
            Some(&updated)
        );

        let copy = catalog
            .duplicate("classify-task", "my-classify", None)
            .expect("dup")
            .clone();
        assert!(!copy.is_built_in);
        assert_eq!(copy.skill_command, "/my-classify");
        assert!(copy.name.ends_with("(copy)"));
        assert_eq!(
            copy.instructions,
            catalog.get("classify-task").expect("there").instructions
        );

        assert!(matches!(
            catalog.create(new_skill("mine")),
            Err(CatalogError::AlreadyExists { .. })
        ));
        assert!(matches!(
            catalog.duplicate("mine", "my-classify", None),
            Err(CatalogError::AlreadyExists { .. })
        ));
        catalog.remove("mine").expect("removes");
        assert!(!orch.skill_file("mine").exists());
        assert!(matches!(
            catalog.remove("mine"),
            Err(CatalogError::NotFound { .. })
        ));
        assert!(matches!(
            catalog.update(
                "mine",
                SkillUpdate {
                    name: Some("n".to_owned()),
                    ..SkillUpdate::default()
                }
            ),
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[test]
    fn builtins_are_read_only() {
        let (_dir, orch) = orch();
        let mut catalog = SkillCatalog::load(&orch).expect("loads");
        let update = SkillUpdate {
            name: Some("x".to_owned()),
            ..SkillUpdate::default()
        };
        let error = catalog
            .update("classify-task", update)
            .expect_err("refused");
        assert!(matches!(error, CatalogError::BuiltIn { .. }));
        assert!(
            error.to_string().contains("skill dup classify-task"),
            "{error}"
        );
        assert!(matches!(
            catalog.remove("classify-task"),
            Err(CatalogError::BuiltIn { .. })
        ));
        let error = catalog
            .create(new_skill("classify-task"))
            .expect_err("refused");
        assert!(error.to_string().contains("skill dup"), "{error}");
    }

    #[test]
    fn a_user_file_with_a_builtin_id_is_an_error() {
        let (_dir, orch) = orch();
        std::fs::create_dir_all(orch.skills()).expect("mkdir");
        let text = GOOD.replace("\"x\"", "\"classify-task\"");
        std::fs::write(orch.skill_file("classify-task"), text).expect("write");
        let error = SkillCatalog::load(&orch).expect_err("refused");
        assert!(
            error
                .to_string()
                .contains(":2:9: `classify-task` is the id of a built-in"),
            "{error}"
        );
    }

    #[test]
    fn bad_cli_values_are_refused_before_writing() {
        let (_dir, orch) = orch();
        let mut catalog = SkillCatalog::load(&orch).expect("loads");
        let mut bad = new_skill("bad");
        bad.instructions = " \n".to_owned();
        bad.skill_command = Some("nope".to_owned());
        let error = catalog.create(bad).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("instructions are empty"), "{message}");
        assert!(message.contains("not a skill command"), "{message}");
        assert!(!orch.skill_file("bad").exists());
        assert!(matches!(
            catalog.create(new_skill("Bad")),
            Err(CatalogError::InvalidId { .. })
        ));
        assert!(matches!(
            catalog.update("mine", SkillUpdate::default()),
            Err(CatalogError::BadValue { .. })
        ));
    }

    #[test]
    fn all_broken_files_are_reported_together() {
        let (_dir, orch) = orch();
        std::fs::create_dir_all(orch.skills()).expect("mkdir");
        std::fs::write(orch.skill_file("a"), "{").expect("write");
        std::fs::write(orch.skill_file("b"), GOOD).expect("write");
        std::fs::write(orch.skills().join("notes.txt"), "ignored").expect("write");
        let Err(CatalogError::Invalid { problems }) = SkillCatalog::load(&orch) else {
            panic!("expected problems");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn categories_and_contexts_parse() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>(), Ok(category));
        }
        assert!("nope".parse::<Category>().is_err());
        assert_eq!("inherit".parse::<SkillContext>(), Ok(SkillContext::Inherit));
        assert!("both".parse::<SkillContext>().is_err());
        assert!(valid_command("/a:b-c_d"));
        assert!(!valid_command("/"));
        assert!(!valid_command("a"));
    }
}
