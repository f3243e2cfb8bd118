//! The agent's working directory, as a model request tells it, and the `${CWD}` placeholder it
//! fills in replies.
//!
//! Both CLIs describe their environment to the model in every request, so the server can learn
//! where the agent runs without being told (a test that creates the worktree after starting the
//! server, or one server for several agents, still gets absolute paths right):
//!
//! - Claude Code writes ` - Primary working directory: <path>` in an environment block: in the
//!   top-level `system` prompt up to 2.1.197, in a `{"role": "system"}` entry inside `messages`
//!   from 2.1.332 on (the entry may also follow a tool result).
//! - Codex writes `<cwd><path></cwd>` in an `<environment_context>` input item.
//!
//! A script writes `${CWD}` where the path belongs (e.g. `"file_path": "${CWD}/notes.txt"`);
//! [`fill_cwd`] replaces it in the chosen turn, per request. Without a known directory the
//! placeholder stays as it is, visibly.

use serde_json::Value;

use crate::script::{Block, Turn};
use crate::server::Api;

/// The placeholder replaced by the request's working directory.
pub const CWD_PLACEHOLDER: &str = "${CWD}";

/// The marker before the path in Claude Code's environment block.
const CLAUDE_MARKER: &str = "Primary working directory:";

/// The working directory a model request names, if it names one.
pub fn working_directory(api: Api, body: &Value) -> Option<String> {
    match api {
        Api::Anthropic => claude_working_directory(body),
        Api::Openai => codex_working_directory(body),
    }
}

/// Claude Code's working directory: from the `system` entries of `messages` (2.1.332 and
/// later), else from the top-level `system` prompt (2.1.197 and earlier). The last entry that
/// names one wins, as a later environment block describes the current state.
pub fn claude_working_directory(body: &Value) -> Option<String> {
    let from_messages = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .filter_map(|m| {
            texts(m.get("content"))
                .iter()
                .rev()
                .find_map(|t| after_marker(t))
        })
        .next_back();
    from_messages.or_else(|| {
        texts(body.get("system"))
            .iter()
            .rev()
            .find_map(|t| after_marker(t))
    })
}

/// Codex's working directory: the `<cwd>` of the last input item that has one.
pub fn codex_working_directory(body: &Value) -> Option<String> {
    let items = body.get("input").and_then(Value::as_array)?;
    items.iter().rev().find_map(|item| {
        texts(item.get("content"))
            .iter()
            .rev()
            .find_map(|t| between(t, "<cwd>", "</cwd>"))
    })
}

/// The texts of a `content` / `system` value: a string, or the `text` of each block.
fn texts(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// The rest of the line after Claude's marker, trimmed; `None` when absent or empty.
fn after_marker(text: &str) -> Option<String> {
    let start = text.find(CLAUDE_MARKER)? + CLAUDE_MARKER.len();
    let line = text[start..].lines().next().unwrap_or_default().trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// The trimmed text between `open` and the next `close`; `None` when absent or empty.
fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    let inner = text[start..start + len].trim();
    (!inner.is_empty()).then(|| inner.to_owned())
}

/// `turn` with every `${CWD}` in its texts and tool inputs replaced by `cwd`.
pub fn fill_cwd(turn: &Turn, cwd: &str) -> Turn {
    let mut filled = turn.clone();
    for block in &mut filled.blocks {
        match block {
            Block::Text { text } => replace_in(text, cwd),
            Block::Thinking { thinking, .. } => replace_in(thinking, cwd),
            Block::ToolUse { input, .. } => replace_in_value(input, cwd),
            Block::FunctionCall { arguments, .. } => replace_in_value(arguments, cwd),
            Block::CustomToolCall { input, .. } => replace_in(input, cwd),
        }
    }
    filled
}

/// Whether the turn's blocks mention `${CWD}` (most turns do not: no copy for them).
pub fn mentions_cwd(turn: &Turn) -> bool {
    turn.blocks.iter().any(|block| match block {
        Block::Text { text } => text.contains(CWD_PLACEHOLDER),
        Block::Thinking { thinking, .. } => thinking.contains(CWD_PLACEHOLDER),
        Block::ToolUse { input, .. } => value_mentions(input),
        Block::FunctionCall { arguments, .. } => value_mentions(arguments),
        Block::CustomToolCall { input, .. } => input.contains(CWD_PLACEHOLDER),
    })
}

fn value_mentions(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(CWD_PLACEHOLDER),
        Value::Array(items) => items.iter().any(value_mentions),
        Value::Object(map) => map.values().any(value_mentions),
        _ => false,
    }
}

fn replace_in(text: &mut String, cwd: &str) {
    if text.contains(CWD_PLACEHOLDER) {
        *text = text.replace(CWD_PLACEHOLDER, cwd);
    }
}

/// Replaces in every string of a JSON value (tool inputs are objects, or already serialized
/// argument strings).
fn replace_in_value(value: &mut Value, cwd: &str) {
    match value {
        Value::String(s) => replace_in(s, cwd),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in_value(v, cwd)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_in_value(v, cwd)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The environment block as Claude Code writes it.
    fn env_block(path: &str) -> String {
        format!(
            "# Environment\nYou have been invoked in the following environment: \n - Primary \
             working directory: {path}\n - Is a git repository: true\n - Platform: linux\n"
        )
    }

    #[test]
    fn claude_2_1_332_names_it_in_a_system_entry_of_messages() {
        // The first request: the entry's content is a list of blocks.
        let first = json!({
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                             {"type": "text", "text": "Write notes.txt"}]},
                {"role": "system", "content": [{"type": "text", "text": env_block("/w/repo"),
                                                "cache_control": {"type": "ephemeral"}}]}
            ]
        });
        assert_eq!(claude_working_directory(&first).as_deref(), Some("/w/repo"));
        // Later requests: a string, and another entry after a tool result.
        let later = json!({
            "messages": [
                {"role": "user", "content": "Write notes.txt"},
                {"role": "system", "content": env_block("/w/old")},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Write", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
                {"role": "system", "content": env_block("/w/new dir")}
            ]
        });
        assert_eq!(
            working_directory(Api::Anthropic, &later).as_deref(),
            Some("/w/new dir")
        );
    }

    #[test]
    fn claude_2_1_197_names_it_in_the_system_prompt() {
        let body = json!({
            "system": [{"type": "text", "text": "You are Claude Code."},
                       {"type": "text", "text": env_block("/tmp/old/repo")}],
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "system", "content": "Available agent types: ..."}]
        });
        assert_eq!(
            claude_working_directory(&body).as_deref(),
            Some("/tmp/old/repo")
        );
        let string_system = json!({"system": env_block("/a"), "messages": []});
        assert_eq!(
            claude_working_directory(&string_system).as_deref(),
            Some("/a")
        );
    }

    #[test]
    fn no_block_or_an_empty_one_names_nothing() {
        assert_eq!(claude_working_directory(&json!({})), None);
        assert_eq!(
            claude_working_directory(&json!({"system": "Primary working directory:   \nmore"})),
            None
        );
        assert_eq!(claude_working_directory(&json!({"messages": "odd"})), None);
        assert_eq!(codex_working_directory(&json!({"input": "a string"})), None);
        assert_eq!(
            codex_working_directory(&json!({"input": [{"content": "<cwd></cwd>"}]})),
            None
        );
    }

    #[test]
    fn codex_names_it_in_the_environment_context() {
        let body = json!({"input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text",
             "text": "<environment_context>\n  <cwd>/tmp/x/repo</cwd>\n  <shell>bash</shell>\n</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Do it"}]}
        ]});
        assert_eq!(
            working_directory(Api::Openai, &body).as_deref(),
            Some("/tmp/x/repo")
        );
    }

    #[test]
    fn the_placeholder_is_filled_in_texts_and_tool_inputs() {
        let turn = Turn {
            blocks: vec![
                Block::Text {
                    text: "Writing ${CWD}/a.txt".into(),
                },
                Block::ToolUse {
                    name: "Write".into(),
                    input: json!({"file_path": "${CWD}/a.txt", "list": ["${CWD}"], "n": 1}),
                    id: None,
                },
                Block::FunctionCall {
                    name: "exec_command".into(),
                    arguments: json!("{\"workdir\":\"${CWD}\"}"),
                    call_id: None,
                },
                Block::CustomToolCall {
                    name: "apply_patch".into(),
                    input: "*** Add File: ${CWD}/b.txt".into(),
                    call_id: None,
                },
            ],
            ..Turn::default()
        };
        assert!(mentions_cwd(&turn));
        let filled = fill_cwd(&turn, "/w");
        assert!(!mentions_cwd(&filled));
        let text = serde_json::to_string(&filled.blocks).expect("serializable");
        assert!(text.contains("Writing /w/a.txt") && text.contains("\"file_path\":\"/w/a.txt\""));
        assert!(text.contains("[\"/w\"]") && text.contains("/w/b.txt"));
        assert!(text.contains(r#"{\"workdir\":\"/w\"}"#), "{text}");
        assert!(!mentions_cwd(&Turn::text("no placeholder")));
    }
}
