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
//! | `context` | `fork` (default) or `inherit` | `inherit` continues the previous stage's agent session; `fork` starts a copy of it where the provider can fork sessions, else a fresh one |
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

mod catalog;
mod json_position;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::ids;

pub use catalog::{NewSkill, SkillCatalog, SkillUpdate, builtin_skills, is_builtin};
use parse::parse_skill;

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
    /// A forked copy of the previous stage's session where the provider can fork sessions,
    /// else a fresh one.
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
    /// Whether the stage continues the previous agent session or starts its own.
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
