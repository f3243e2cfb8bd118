//! Reading `codex exec --json` output: one JSON event per line.
//!
//! | event | normalized |
//! |---|---|
//! | `thread.started {thread_id}` | `SessionStarted` (once per id) |
//! | `turn.started` | `Other` (`turn-started`) |
//! | `item.started` of `command_execution` | `ToolCall` named `exec_command`, input `{"command": ...}` |
//! | `item.started` of `mcp_tool_call` | `ToolCall` named `server/tool` |
//! | `item.started` of other items | nothing: the `item.completed` carries them |
//! | `item.completed` `agent_message` / `reasoning` | `AssistantText` / `Thinking` |
//! | `item.completed` `command_execution` | `ToolResult` (`aggregated_output`; error when the exit code is not 0) |
//! | `item.completed` `file_change` | one `FileChange` per change (an `Error` when the patch failed) |
//! | `item.completed` `mcp_tool_call` | `ToolResult` |
//! | `item.completed` of any item with status `declined` | `ToolDenied`, then a failed `ToolResult` for a command or MCP call; see [`Denial`] |
//! | `item.completed` `error` | `Error` |
//! | other items, `item.updated` | `Other` |
//! | `turn.completed {usage}` | `Usage`, then `FinalResult` with the turn's last agent message |
//! | `turn.failed {error}` | `Error`, then a failed `FinalResult` |
//! | `error {message}` | `Error` |
//! | unknown events | `Other`; lines that are not JSON objects and stderr: `Log` |
//!
//! Codex reports `input_tokens` including the cached ones; [`Usage::input_tokens`] counts only
//! the uncached part, so the cached tokens are subtracted.
//!
//! A `declined` item is a call the approval step refused (0.171's `--approve-for-me` reviewer,
//! or a client of `app-server`); `failed` is a call that ran and failed (a command's non-zero
//! exit), which is not a denial.

use std::ops::ControlFlow;

use codecafe_sdk::json::{self, Str};
use codecafe_sdk::{
    AgentEvent, ChangeKind, FileChange, FinalResult, OutputBatch, Stream, ToolCall, ToolDenial,
    ToolResult, Usage,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most bytes of a command's output kept in a `ToolResult` event.
pub const MAX_TOOL_OUTPUT: usize = 64 * 1024;

/// A call codex's approval step refused: an item whose status is `declined`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The tool, named as its `ToolCall` is: `exec_command`, `server/tool` for MCP,
    /// `apply_patch` for a file change, else the item's type.
    pub tool: String,
    /// The tool's input as JSON text, as its `ToolCall` has it (`{"command": ...}` for a
    /// command, `{"changes": [...]}` for a file change).
    pub input: String,
    /// The item's id, which is the `ToolCall`'s id.
    pub tool_use_id: String,
    /// Why, when the item says (`reason`, an error message or output); else a generic text,
    /// as codex 0.171 gives none.
    pub reason: String,
}

/// The reason given when a declined item says nothing.
const DECLINED: &str = "the approval was declined";

/// What parsing remembers across the lines of one run.
#[derive(Debug, Default)]
pub struct ParseState {
    threads: Vec<String>,
    started_calls: Vec<String>,
    last_message: String,
    saw_end: bool,
    last_end_failed: bool,
    active_since_end: bool,
}

impl ParseState {
    /// Normalizes one line of output.
    pub fn parse_line(&mut self, source: Stream, line: &str) -> OutputBatch {
        let trimmed = match json::object_line(source, line) {
            ControlFlow::Continue(trimmed) => trimmed,
            ControlFlow::Break(batch) => return batch,
        };
        let mut batch = OutputBatch::default();
        match serde_json::from_str::<Line<'_>>(trimmed) {
            Ok(parsed) => self.line(parsed, trimmed, &mut batch),
            Err(_) => batch.push(json::unrecognized(trimmed)),
        }
        batch
    }

    /// The process ended: a run whose turn never finished failed.
    pub fn finish(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let mut batch = OutputBatch::default();
        if !self.saw_end || self.active_since_end {
            batch.push(AgentEvent::Error {
                message: match exit_code {
                    Some(0) => "codex exited before its turn completed".to_owned(),
                    Some(code) => {
                        format!("codex exited with code {code} before its turn completed")
                    }
                    None => "codex was killed by a signal before its turn completed".to_owned(),
                },
            });
            batch.push(AgentEvent::FinalResult(FinalResult {
                text: std::mem::take(&mut self.last_message),
                is_error: true,
            }));
        } else if !self.last_end_failed && exit_code != Some(0) {
            batch.push(AgentEvent::Error {
                message: match exit_code {
                    Some(code) => format!("codex exited with code {code} after its turn completed"),
                    None => "codex was killed by a signal after its turn completed".to_owned(),
                },
            });
        }
        batch
    }

    fn line(&mut self, line: Line<'_>, raw: &str, batch: &mut OutputBatch) {
        let kind = line.kind.as_ref().map_or("", Str::as_str);
        match kind {
            "thread.started" => {
                self.active_since_end = true;
                match line.thread_id.as_ref().map(Str::as_str) {
                    Some(id) if !id.is_empty() => {
                        if !self.threads.iter().any(|seen| seen == id) {
                            self.threads.push(id.to_owned());
                            batch.push(AgentEvent::SessionStarted { id: id.to_owned() });
                        }
                        // A repeated thread id is a known no-op.
                        return;
                    }
                    _ => batch.push(AgentEvent::other(kind, raw)),
                }
            }
            "turn.started" => {
                self.active_since_end = true;
                self.last_message.clear();
                batch.push(AgentEvent::other(kind, raw));
            }
            "item.started" => {
                self.active_since_end = true;
                if let Some(item) = &line.item {
                    if let Some(call) = self.item_started(item) {
                        batch.push(call);
                    }
                    return;
                }
                batch.push(AgentEvent::other(kind, raw));
            }
            "item.completed" => {
                self.active_since_end = true;
                match &line.item {
                    Some(item) => self.item_completed(item, raw, batch),
                    None => batch.push(AgentEvent::other(kind, raw)),
                }
            }
            "turn.completed" => {
                let usage = line.usage.unwrap_or_default();
                let input = tokens(usage.input_tokens);
                let cached = tokens(usage.cached_input_tokens);
                batch.push(AgentEvent::Usage(Usage {
                    input_tokens: input.saturating_sub(cached),
                    output_tokens: tokens(usage.output_tokens),
                    cached_input_tokens: cached,
                    cache_write_tokens: tokens(usage.cache_write_input_tokens),
                    cost_usd: None,
                    cost_is_session_total: false,
                    tokens_are_session_total: true,
                }));
                self.end(false, batch);
            }
            "turn.failed" => {
                let message = line
                    .error
                    .as_ref()
                    .and_then(|error| error.get("message"))
                    .and_then(Value::as_str)
                    .map_or_else(|| "the turn failed".to_owned(), str::to_owned);
                batch.push(AgentEvent::Error { message });
                self.end(true, batch);
            }
            "error" => batch.push(error_event(line.message.as_ref())),
            // An unknown type, or none (an empty kind is `unknown`).
            kind => batch.push(AgentEvent::other(kind, raw)),
        }
        if batch.is_empty() {
            batch.push(AgentEvent::other(kind, raw));
        }
    }

    fn end(&mut self, failed: bool, batch: &mut OutputBatch) {
        self.saw_end = true;
        self.last_end_failed = failed;
        self.active_since_end = false;
        batch.push(AgentEvent::FinalResult(FinalResult {
            text: std::mem::take(&mut self.last_message),
            is_error: failed,
        }));
    }

    /// The tool call an `item.started` announces, if it is one; remembered so the completed
    /// item does not announce it again.
    fn item_started(&mut self, item: &Item<'_>) -> Option<AgentEvent> {
        let call = tool_call(item)?;
        if let AgentEvent::ToolCall(ToolCall { id, .. }) = &call {
            if self.started_calls.iter().any(|seen| seen == id) {
                return None;
            }
            self.started_calls.push(id.clone());
        }
        Some(call)
    }

    fn item_completed(&mut self, item: &Item<'_>, raw: &str, batch: &mut OutputBatch) {
        let kind = item.kind.as_ref().map_or("", Str::as_str);
        if let Some(denial) = declined(item) {
            // A refused command or MCP call is closed with a failed result, as Claude Code's
            // refused calls are; a refused patch changed no file.
            if let Some(call) = self.item_started(item) {
                batch.push(call);
            }
            batch.push(AgentEvent::ToolDenied(ToolDenial {
                id: denial.tool_use_id.clone(),
                tool: denial.tool,
                input: denial.input,
                reason: denial.reason.clone(),
            }));
            if matches!(kind, "command_execution" | "mcp_tool_call") {
                batch.push(AgentEvent::ToolResult(ToolResult {
                    id: denial.tool_use_id,
                    output: denial.reason,
                    is_error: true,
                }));
            }
            return;
        }
        let text = || {
            item.text
                .as_ref()
                .map_or_else(String::new, |t| t.as_str().to_owned())
        };
        match kind {
            "agent_message" => {
                let text = text();
                self.last_message.clone_from(&text);
                batch.push(AgentEvent::AssistantText { text });
            }
            "reasoning" => batch.push(AgentEvent::Thinking { text: text() }),
            "command_execution" | "mcp_tool_call" => {
                // A call that finished without being announced (e.g. refused) is announced now.
                if let Some(call) = self.item_started(item) {
                    batch.push(call);
                }
                batch.push(AgentEvent::ToolResult(tool_result(item)));
            }
            "file_change" => {
                let failed = item.status.as_ref().is_some_and(|s| s.as_str() == "failed");
                let changes = item.changes.as_deref().unwrap_or_default();
                if failed {
                    let paths: Vec<&str> = changes
                        .iter()
                        .filter_map(|c| c.path.as_ref().map(Str::as_str))
                        .collect();
                    batch.push(AgentEvent::Error {
                        message: format!("codex could not apply a patch to {}", paths.join(", ")),
                    });
                    return;
                }
                for change in changes {
                    let Some(path) = change.path.as_ref().filter(|p| !p.as_str().is_empty()) else {
                        continue;
                    };
                    let kind = match change.kind.as_ref().map(Str::as_str) {
                        Some("add") => ChangeKind::Add,
                        Some("delete") => ChangeKind::Delete,
                        _ => ChangeKind::Update,
                    };
                    batch.push(AgentEvent::FileChange(FileChange {
                        path: path.as_str().to_owned(),
                        kind,
                    }));
                }
            }
            "error" => batch.push(error_event(item.message.as_ref())),
            "" => batch.push(AgentEvent::other("item", raw)),
            kind => batch.push(AgentEvent::other(kind, raw)),
        }
    }
}

/// The denial a completed item reports: `Some` only when its status is `declined`, never for a
/// call that ran and failed (`failed`, a non-zero exit code).
fn declined(item: &Item<'_>) -> Option<Denial> {
    if item.status.as_ref().map(Str::as_str) != Some("declined") {
        return None;
    }
    let kind = item.kind.as_ref().map_or("", Str::as_str);
    let tool_use_id = item
        .id
        .as_ref()
        .map_or_else(String::new, |id| id.as_str().to_owned());
    let (tool, input) = match tool_call(item) {
        Some(AgentEvent::ToolCall(call)) => (call.name, call.input),
        _ if kind == "file_change" => {
            let changes: Vec<Value> = item
                .changes
                .iter()
                .flatten()
                .map(|c| {
                    json!({
                        "path": c.path.as_ref().map_or("", Str::as_str),
                        "kind": c.kind.as_ref().map_or("", Str::as_str),
                    })
                })
                .collect();
            (
                "apply_patch".to_owned(),
                json!({ "changes": changes }).to_string(),
            )
        }
        _ => (
            if kind.is_empty() { "item" } else { kind }.to_owned(),
            "{}".to_owned(),
        ),
    };
    let error_message = item
        .error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str);
    let reason = [
        item.reason.as_ref().and_then(Value::as_str),
        item.message.as_ref().map(Str::as_str),
        error_message,
        item.aggregated_output.as_ref().map(Str::as_str),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|text| !text.is_empty())
    .unwrap_or(DECLINED)
    .to_owned();
    Some(Denial {
        tool,
        input,
        tool_use_id,
        reason,
    })
}

/// The `ToolCall` for a command or MCP item.
fn tool_call(item: &Item<'_>) -> Option<AgentEvent> {
    let kind = item.kind.as_ref()?.as_str();
    let id = item
        .id
        .as_ref()
        .map_or_else(String::new, |id| id.as_str().to_owned());
    let (name, input) = match kind {
        "command_execution" => (
            "exec_command".to_owned(),
            json!({"command": item.command.as_ref().map_or("", Str::as_str)}).to_string(),
        ),
        "mcp_tool_call" => (
            format!(
                "{}/{}",
                item.server.as_ref().map_or("", Str::as_str),
                item.tool.as_ref().map_or("", Str::as_str)
            ),
            item.arguments
                .as_ref()
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        ),
        _ => return None,
    };
    Some(AgentEvent::ToolCall(ToolCall { id, name, input }))
}

/// The `ToolResult` of a finished command or MCP item.
fn tool_result(item: &Item<'_>) -> ToolResult {
    let id = item
        .id
        .as_ref()
        .map_or_else(String::new, |id| id.as_str().to_owned());
    let failed_status = item
        .status
        .as_ref()
        .is_some_and(|s| matches!(s.as_str(), "failed" | "declined"));
    let (output, is_error) = if item
        .kind
        .as_ref()
        .is_some_and(|k| k.as_str() == "mcp_tool_call")
    {
        let error = item.error.as_ref().filter(|e| !e.is_null()).map(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .map_or_else(|| e.to_string(), str::to_owned)
        });
        match error {
            Some(message) => (message, true),
            None => (mcp_text(item.result.as_ref()), failed_status),
        }
    } else {
        let output = item
            .aggregated_output
            .as_ref()
            .map_or_else(String::new, |o| o.as_str().to_owned());
        let is_error = match item.exit_code {
            Some(code) => code != 0,
            None => failed_status,
        };
        (output, is_error)
    };
    ToolResult {
        id,
        output: json::truncate(&output, MAX_TOOL_OUTPUT),
        is_error,
    }
}

/// The text parts of an MCP tool result (`{content: [{type: text, text}]}`), else its JSON.
fn mcp_text(result: Option<&Value>) -> String {
    let Some(result) = result.filter(|r| !r.is_null()) else {
        return String::new();
    };
    match result.get("content").and_then(Value::as_array) {
        Some(parts) => parts
            .iter()
            .map(|part| {
                part.get("text")
                    .and_then(Value::as_str)
                    .map_or_else(|| part.to_string(), str::to_owned)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => result.to_string(),
    }
}

/// An `error` event or item: its message, or a placeholder when it has none.
fn error_event(message: Option<&Str<'_>>) -> AgentEvent {
    AgentEvent::Error {
        message: message.map_or_else(
            || "codex reported an error".to_owned(),
            |m| m.as_str().to_owned(),
        ),
    }
}

fn tokens(value: Option<f64>) -> u64 {
    // `as` saturates; negative and NaN become 0.
    value.map_or(0, |n| n as u64)
}

// ---------------------------------------------------------------------------------------------
// The shapes read from a line
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    thread_id: Option<Str<'a>>,
    #[serde(borrow)]
    item: Option<Item<'a>>,
    usage: Option<TurnUsage>,
    error: Option<Value>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
    #[serde(borrow)]
    command: Option<Str<'a>>,
    #[serde(borrow)]
    aggregated_output: Option<Str<'a>>,
    exit_code: Option<i64>,
    #[serde(borrow)]
    status: Option<Str<'a>>,
    /// Why a declined item was refused, should a version say (0.171 does not); any JSON, so
    /// an unexpected shape does not cost the line.
    reason: Option<Value>,
    #[serde(borrow)]
    changes: Option<Vec<Change<'a>>>,
    #[serde(borrow)]
    server: Option<Str<'a>>,
    #[serde(borrow)]
    tool: Option<Str<'a>>,
    arguments: Option<Value>,
    result: Option<Value>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow)]
    path: Option<Str<'a>>,
    #[serde(borrow)]
    kind: Option<Str<'a>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct TurnUsage {
    input_tokens: Option<f64>,
    cached_input_tokens: Option<f64>,
    cache_write_input_tokens: Option<f64>,
    output_tokens: Option<f64>,
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
