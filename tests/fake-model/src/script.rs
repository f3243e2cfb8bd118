//! The JSON script that tells the fake model what to answer.
//!
//! ```json
//! {
//!   "anthropic": [
//!     { "blocks": [ { "type": "tool_use", "name": "Write",
//!                     "input": { "file_path": "hello.txt", "content": "hi\n" } } ] },
//!     { "match": "hello.txt", "blocks": [ { "type": "text", "text": "Done." } ] }
//!   ],
//!   "openai": [
//!     { "blocks": [ { "type": "function_call", "name": "exec_command",
//!                     "arguments": { "cmd": "ls" } } ] },
//!     { "blocks": [ { "type": "text", "text": "Listed." } ],
//!       "usage": { "input_tokens": 1200, "output_tokens": 8, "cached_input_tokens": 1000 } }
//!   ],
//!   "side": [ { "match_body": "Generate a title", "blocks": [ { "type": "text", "text": "Title" } ] } ],
//!   "fallback_text": "OK."
//! }
//! ```
//!
//! Each API (`anthropic` = `POST /v1/messages`, `openai` = `POST /v1/responses`) has its own list
//! of turns, consumed in order: one turn answers one model request (or `repeat` requests). A turn
//! is either a list of output `blocks` or an `error`. See [`Turn`] for how requests are matched
//! to turns and how side requests are answered without consuming a turn.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole script: the scripted turns per API plus replies for side requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Turns answered on `POST /v1/messages` (Anthropic Messages API), in order.
    #[serde(default)]
    pub anthropic: Vec<Turn>,
    /// Turns answered on `POST /v1/responses` (OpenAI Responses API), in order.
    #[serde(default)]
    pub openai: Vec<Turn>,
    /// Reusable replies for side requests (title generation, quota checks, ...). They are
    /// never consumed; a side turn needs `match` and/or `match_body` and serves every request
    /// of either API that matches it and is not claimed by the next scripted turn.
    #[serde(default)]
    pub side: Vec<Turn>,
    /// Text of the generic reply given to a request that no turn answers (an unmatched side
    /// request, or any request after the script is exhausted). Defaults to [`DEFAULT_FALLBACK_TEXT`].
    #[serde(default)]
    pub fallback_text: Option<String>,
}

/// Default text of the generic reply for requests that no scripted turn answers.
pub const DEFAULT_FALLBACK_TEXT: &str = "OK.";

impl Script {
    /// Parses a script from JSON text; unknown keys are errors.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parses a script after replacing each `${NAME}` with the JSON-escaped value of the
    /// variable `NAME` (e.g. `${REPO}` with the absolute path of a scratch repository, so a
    /// script can ask for a `Write` to an absolute path). Unknown `${...}` are left as they are;
    /// `${CWD}` left so is filled per request with the agent's working directory
    /// ([`crate::workdir`]).
    pub fn from_json_with_vars(
        text: &str,
        vars: &[(String, String)],
    ) -> Result<Self, serde_json::Error> {
        let mut text = text.to_string();
        for (name, value) in vars {
            let escaped = serde_json::to_string(value)?;
            let inner = escaped
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(&escaped);
            text = text.replace(&format!("${{{name}}}"), inner);
        }
        Self::from_json(&text)
    }

    /// Reads and parses a script file (see [`Script::from_json_with_vars`] for `vars`).
    pub fn load(path: &Path, vars: &[(String, String)]) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read script {}: {e}", path.display()))?;
        Self::from_json_with_vars(&text, vars)
            .map_err(|e| format!("invalid script {}: {e}", path.display()))
    }

    /// The text of the generic fallback reply.
    pub fn fallback(&self) -> &str {
        self.fallback_text
            .as_deref()
            .unwrap_or(DEFAULT_FALLBACK_TEXT)
    }
}

/// One scripted model reply.
///
/// Matching: a request is answered by the next unconsumed turn of its API when that turn's
/// `match` (a substring of the request's *last user input*: the text and tool results of the
/// last Anthropic user message, or the trailing non-assistant items of a Responses `input`) and
/// `match_body` (a substring of the raw request body) both hold — an absent condition holds.
/// A turn without any condition also refuses requests that look like side requests (an
/// Anthropic request without `tools`, e.g. title generation or a quota probe). Requests that
/// the next turn does not take are answered by the first matching [`Script::side`] turn, or
/// else by the generic fallback text; none of these consume a turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Substring that the request's last user input must contain.
    #[serde(default, rename = "match")]
    pub match_text: Option<String>,
    /// Substring that the raw request body (JSON text, system prompt included) must contain.
    #[serde(default)]
    pub match_body: Option<String>,
    /// Output blocks, streamed in order.
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// Token usage to report; estimated from the request and reply sizes when absent.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Answer with an error instead of `blocks`.
    #[serde(default)]
    pub error: Option<ErrorReply>,
    /// Anthropic `stop_reason`; default `tool_use` when a block is a tool use, else `end_turn`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Model name to report; default: the `model` of the request.
    #[serde(default)]
    pub model: Option<String>,
    /// Pause before each SSE event, in milliseconds (capped at [`MAX_DELAY_MS`]).
    #[serde(default)]
    pub delay_ms: u64,
    /// How many requests this turn answers before the next turn is used (default 1). Useful
    /// for errors that a client retries.
    #[serde(default)]
    pub repeat: Option<u32>,
}

/// Upper bound of [`Turn::delay_ms`].
pub const MAX_DELAY_MS: u64 = 60_000;

impl Turn {
    /// A turn that answers with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Turn {
            blocks: vec![Block::Text { text: text.into() }],
            ..Turn::default()
        }
    }

    /// Sets the `match` condition.
    pub fn matching(mut self, needle: impl Into<String>) -> Self {
        self.match_text = Some(needle.into());
        self
    }

    /// How many requests the turn answers.
    pub fn repeat_count(&self) -> u32 {
        self.repeat.unwrap_or(1).max(1)
    }

    /// Whether the turn has a `match` or `match_body` condition.
    pub fn has_condition(&self) -> bool {
        self.match_text.is_some() || self.match_body.is_some()
    }

    /// Whether the turn's conditions hold for a request.
    pub fn matches(&self, last_user_text: &str, raw_body: &str) -> bool {
        self.match_text
            .as_deref()
            .is_none_or(|needle| last_user_text.contains(needle))
            && self
                .match_body
                .as_deref()
                .is_none_or(|needle| raw_body.contains(needle))
    }
}

/// One output block of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Block {
    /// Assistant text (Anthropic `text` block / Responses `message` item with `output_text`).
    Text {
        /// The text.
        text: String,
    },
    /// Reasoning (Anthropic `thinking` block / Responses `reasoning` item with a summary).
    #[serde(alias = "reasoning")]
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Anthropic thinking signature; a fake one is generated when absent.
        #[serde(default)]
        signature: Option<String>,
    },
    /// Anthropic tool call, e.g. `{"type":"tool_use","name":"Bash","input":{"command":"ls"}}`.
    ToolUse {
        /// Tool name (`Write`, `Bash`, `Read`, ...).
        name: String,
        /// Tool input object.
        input: Value,
        /// Tool use id; generated (`toolu_...`) when absent.
        #[serde(default)]
        id: Option<String>,
    },
    /// Responses function call, e.g. `exec_command` with `{"cmd": "ls"}`.
    FunctionCall {
        /// Function name.
        name: String,
        /// Arguments: a JSON object (serialized for the wire) or an already serialized string.
        arguments: Value,
        /// Call id; generated (`call_...`) when absent.
        #[serde(default)]
        call_id: Option<String>,
    },
    /// Responses custom (freeform) tool call, e.g. `apply_patch` with the patch text.
    CustomToolCall {
        /// Tool name.
        name: String,
        /// Raw tool input.
        input: String,
        /// Call id; generated (`call_...`) when absent.
        #[serde(default)]
        call_id: Option<String>,
    },
}

/// Token usage reported for a turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Cached input tokens (Anthropic `cache_read_input_tokens`, Responses
    /// `input_tokens_details.cached_tokens`).
    #[serde(default, alias = "cache_read_input_tokens")]
    pub cached_input_tokens: u64,
    /// Anthropic `cache_creation_input_tokens`.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Responses `output_tokens_details.reasoning_tokens`.
    #[serde(default)]
    pub reasoning_output_tokens: u64,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorReply {
    /// HTTP status (e.g. 500, 529, 429). Ignored when `in_stream` is set (the stream is 200).
    #[serde(default = "default_error_status")]
    pub status: u16,
    /// JSON error body; a typical body for the API and status when absent.
    #[serde(default)]
    pub body: Option<Value>,
    /// Extra response headers (e.g. `retry-after`, `x-should-retry`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Send a 200 SSE stream that fails midway (Anthropic `error` event, Responses
    /// `response.failed`) instead of an HTTP error status.
    #[serde(default)]
    pub in_stream: bool,
}

fn default_error_status() -> u16 {
    500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_block_kind() -> Result<(), serde_json::Error> {
        let script = Script::from_json(
            r#"{
              "anthropic": [
                {"blocks": [{"type": "thinking", "thinking": "hmm"},
                            {"type": "text", "text": "hi"},
                            {"type": "tool_use", "name": "Bash", "input": {"command": "ls"}}],
                 "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 5}},
                {"error": {"status": 529}, "repeat": 2}
              ],
              "openai": [
                {"match": "x", "blocks": [{"type": "reasoning", "thinking": "r"},
                  {"type": "function_call", "name": "exec_command", "arguments": {"cmd": "ls"}},
                  {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch"}]}
              ],
              "fallback_text": "fine"
            }"#,
        )?;
        assert_eq!(script.anthropic.len(), 2);
        assert_eq!(
            script.anthropic[0]
                .usage
                .as_ref()
                .map(|u| u.cached_input_tokens),
            Some(5)
        );
        assert_eq!(script.anthropic[1].repeat_count(), 2);
        assert_eq!(
            script.anthropic[1].error.as_ref().map(|e| e.status),
            Some(529)
        );
        assert_eq!(script.openai[0].blocks.len(), 3);
        assert_eq!(script.fallback(), "fine");
        Ok(())
    }

    #[test]
    fn variables_are_substituted_json_escaped() -> Result<(), serde_json::Error> {
        let text = r#"{"anthropic": [{"blocks": [{"type": "tool_use", "name": "Write",
            "input": {"file_path": "${REPO}/a.txt", "content": "${UNKNOWN}"}}]}]}"#;
        let vars = vec![("REPO".to_string(), "/tmp/odd \"dir\"".to_string())];
        let script = Script::from_json_with_vars(text, &vars)?;
        let Some(Block::ToolUse { input, .. }) = script.anthropic[0].blocks.first() else {
            panic!("expected a tool_use block");
        };
        assert_eq!(input["file_path"], "/tmp/odd \"dir\"/a.txt");
        assert_eq!(input["content"], "${UNKNOWN}");
        Ok(())
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(Script::from_json(r#"{"anthropic": [{"blocks": [], "bogus": 1}]}"#).is_err());
        assert!(Script::from_json(r#"{"nope": []}"#).is_err());
        assert!(Script::from_json(r#"{"openai": [{"blocks": [{"type": "image"}]}]}"#).is_err());
    }

    #[test]
    fn matching_conditions() {
        let turn = Turn::text("a").matching("answer");
        assert!(turn.matches("my answer is 42", ""));
        assert!(!turn.matches("something else", "answer"));
        let mut body_turn = Turn::text("b");
        body_turn.match_body = Some("title".into());
        assert!(body_turn.matches("", "{\"system\":\"make a title\"}"));
        assert!(!body_turn.matches("title", "{}"));
        assert!(Turn::text("c").matches("", ""));
        assert!(!Turn::text("c").has_condition());
    }
}
