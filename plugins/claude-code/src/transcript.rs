//! Interactive mode: reading Claude Code's session transcript
//! (`<config dir>/projects/<cwd with every non-alphanumeric character replaced by '-'>/<session
//! id>.jsonl`), which the TUI appends to while it runs. Measured with 2.1.197 and 2.1.332 (the
//! recordings are in `tests/transcripts/<version>/interactive/`):
//!
//! | line | events |
//! |---|---|
//! | any line with `sessionId` | `SessionStarted`, once |
//! | `user` with a string (or text blocks): the typed prompt | a new turn starts |
//! | `user` with `tool_result` blocks | `ToolResult`; `ToolDenied` for a call the user rejected; `FileChange` from `toolUseResult` (`type` `create`/`update`, `filePath`) |
//! | `user` `[Request interrupted by user for tool use]` | the turn ended on a rejected call: `FinalResult` |
//! | `user` `[Request interrupted by user]` | the user stopped the turn: `FinalResult` with `is_error` |
//! | `assistant` (one line per content block; lines of one message share `message.id` and repeat its usage) | `AssistantText`, `Thinking`, `ToolCall`; `Usage` once per message, as the running sum of this run; an API error (`isApiErrorMessage`): `Error` |
//! | `system`/`turn_duration` | the end of a turn: `FinalResult` with the text of the turn's last assistant message |
//! | `cost-state` (written as Claude Code exits) | `Usage`: this run's tokens with the session's cost so far (`cost_is_session_total`) |
//! | anything else (`attachment`, `mode`, `permission-mode`, `file-history-*`, `api-request*`, `last-prompt`, `ai-title`, ...), sidechain lines | nothing |
//!
//! A turn that ends on a rejected call writes no `turn_duration`; its interruption marker ends
//! it instead. Usage carries no cost while the TUI runs (the host prices the tokens meanwhile);
//! `cost-state`, written when the host ends the TUI, brings the cost Claude Code counted.
//!
//! A **forked** session (`--resume <id> --fork-session`) starts its new file with a copy of the
//! history (old turns, `turn_duration` lines included) when the first prompt is submitted; those
//! lines are skipped until the prompt typed in this run appears.

use std::collections::{HashMap, HashSet};

use codecafe_sdk::{
    AgentEvent, ChangeKind, FileChange, FinalResult, OutputBatch, ToolCall, ToolDenial, ToolResult,
    Usage,
};
use serde_json::Value;

use crate::parse::MAX_TOOL_OUTPUT;

/// How Claude Code words the result of a call the user rejected in a permission dialog.
const REJECTED: &str = "The user doesn't want to proceed with this tool use";
/// What precedes the user's reason in that result (after "Tab to amend").
const REJECTED_REASON: &str = "the user said:";
/// The marker of a turn that ended on a rejected call.
const INTERRUPTED_FOR_TOOL: &str = "[Request interrupted by user for tool use]";
/// The marker of a turn the user stopped.
const INTERRUPTED: &str = "[Request interrupted by user";

/// What reading a transcript remembers.
#[derive(Debug, Default)]
pub struct TranscriptState {
    session_announced: bool,
    /// A fork's copied history is being skipped.
    catching_up: bool,
    /// Texts typed into the TUI, to find this run's first prompt in a fork.
    typed: Vec<String>,
    /// A prompt of this run was seen and its turn has not ended.
    turn_open: bool,
    /// The text blocks of the turn's last assistant message that had text.
    last_message: Option<String>,
    last_texts: Vec<String>,
    tools: HashMap<String, (String, String)>,
    messages_counted: HashSet<String>,
    usage: Usage,
}

impl TranscriptState {
    /// For a forked session: skip the copied history.
    pub fn forked() -> Self {
        Self {
            catching_up: true,
            ..Self::default()
        }
    }

    /// Notes text typed into the TUI (a prompt, in the fork's case the one to wait for).
    pub fn typed(&mut self, text: &str) {
        let text = text.trim();
        if !text.is_empty() {
            self.typed.push(text.to_owned());
        }
    }

    /// Normalizes one transcript line.
    pub fn parse_line(&mut self, line: &str) -> OutputBatch {
        let mut batch = OutputBatch::default();
        let line = line.trim();
        if line.is_empty() {
            return batch;
        }
        let Ok(Value::Object(line)) = serde_json::from_str::<Value>(line) else {
            batch.push(AgentEvent::Log {
                text: format!(
                    "unreadable transcript line: {}",
                    codecafe_sdk::json::truncate(line, 200)
                ),
            });
            return batch;
        };
        if line.get("isSidechain").and_then(Value::as_bool) == Some(true) {
            return batch;
        }
        if !self.session_announced
            && let Some(id) = line.get("sessionId").and_then(Value::as_str)
            && !id.is_empty()
        {
            self.session_announced = true;
            batch.push(AgentEvent::SessionStarted { id: id.to_owned() });
        }
        let message = line.get("message");
        match line.get("type").and_then(Value::as_str) {
            Some("user") => self.user(&line, message, &mut batch),
            Some("assistant") if !self.catching_up => self.assistant(&line, message, &mut batch),
            Some("system")
                if !self.catching_up
                    && line.get("subtype").and_then(Value::as_str) == Some("turn_duration") =>
            {
                self.end_turn(false, &mut batch);
            }
            Some("cost-state") if !self.catching_up => {
                // Written as Claude Code exits: the session's cost so far (history included,
                // like headless `total_cost_usd`).
                if let Some(total) = line.get("totalCostUSD").and_then(Value::as_f64)
                    && total.is_finite()
                    && total >= 0.0
                {
                    batch.push(AgentEvent::Usage(Usage {
                        cost_usd: Some(total),
                        cost_is_session_total: true,
                        ..self.usage
                    }));
                }
            }
            _ => {}
        }
        batch
    }

    fn end_turn(&mut self, is_error: bool, batch: &mut OutputBatch) {
        if !std::mem::take(&mut self.turn_open) {
            return;
        }
        batch.push(AgentEvent::FinalResult(FinalResult {
            text: self.last_texts.join("\n\n"),
            is_error,
        }));
    }

    fn user(
        &mut self,
        line: &serde_json::Map<String, Value>,
        message: Option<&Value>,
        batch: &mut OutputBatch,
    ) {
        let content = message.and_then(|m| m.get("content"));
        let blocks: &[Value] = match content {
            Some(Value::Array(blocks)) => blocks,
            Some(Value::String(text)) => {
                self.prompt(line, text);
                return;
            }
            _ => return,
        };
        let results: Vec<&Value> = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            .collect();
        if results.is_empty() {
            let text: Vec<&str> = blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            let text = text.join("\n");
            if self.catching_up {
                self.prompt(line, &text);
            } else if text.starts_with(INTERRUPTED_FOR_TOOL) {
                self.end_turn(false, batch);
            } else if text.starts_with(INTERRUPTED) {
                self.end_turn(true, batch);
            } else {
                self.prompt(line, &text);
            }
            return;
        }
        if self.catching_up {
            return;
        }
        let mut change_reported = false;
        for block in results {
            let id = block
                .get("tool_use_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let output = result_text(block.get("content"));
            let is_error = block.get("is_error").and_then(Value::as_bool) == Some(true);
            let (tool, input) = self
                .tools
                .remove(&id)
                .unwrap_or_else(|| (String::new(), "{}".to_owned()));
            batch.push(AgentEvent::ToolResult(ToolResult {
                id: id.clone(),
                output: codecafe_sdk::json::truncate(&output, MAX_TOOL_OUTPUT),
                is_error,
            }));
            if is_error {
                if let Some(reason) = denial_reason(&output) {
                    batch.push(AgentEvent::ToolDenied(ToolDenial {
                        id,
                        tool,
                        input,
                        reason,
                    }));
                }
                continue;
            }
            if !change_reported
                && let Some(change) = line
                    .get("toolUseResult")
                    .and_then(|result| file_change(result, &tool))
            {
                change_reported = true;
                batch.push(AgentEvent::FileChange(change));
            }
        }
    }

    /// A prompt: a new turn, or (catching up in a fork) perhaps the first one of this run.
    fn prompt(&mut self, line: &serde_json::Map<String, Value>, text: &str) {
        if line.get("isMeta").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if self.catching_up {
            // A long paste is stored wrapped (`<pasted_content id="…">…`): contained is enough.
            let text = text.trim();
            if text.is_empty() || !self.typed.iter().any(|typed| text.contains(typed.as_str())) {
                return;
            }
            self.catching_up = false;
        }
        self.turn_open = true;
        self.last_message = None;
        self.last_texts.clear();
    }

    fn assistant(
        &mut self,
        line: &serde_json::Map<String, Value>,
        message: Option<&Value>,
        batch: &mut OutputBatch,
    ) {
        let Some(message) = message else { return };
        let id = message
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let api_error = line.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true)
            || line.get("error").is_some_and(|e| !e.is_null());
        let blocks: Vec<&Value> = match message.get("content") {
            Some(Value::Array(blocks)) => blocks.iter().collect(),
            Some(text @ Value::String(_)) => vec![text],
            _ => Vec::new(),
        };
        for block in blocks {
            let (kind, text) = match block {
                Value::String(text) => ("text", Some(text.as_str())),
                _ => (
                    block
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    block.get("text").and_then(Value::as_str),
                ),
            };
            match kind {
                "text" if api_error => {
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        batch.push(AgentEvent::Error {
                            message: text.to_owned(),
                        });
                    }
                }
                "text" => {
                    let Some(text) = text.filter(|t| !t.is_empty()) else {
                        continue;
                    };
                    if self.last_message.as_deref() != Some(id.as_str()) || id.is_empty() {
                        self.last_message = Some(id.clone());
                        self.last_texts.clear();
                    }
                    self.last_texts.push(text.to_owned());
                    batch.push(AgentEvent::AssistantText {
                        text: text.to_owned(),
                    });
                }
                "thinking" => {
                    if let Some(text) = block
                        .get("thinking")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                    {
                        batch.push(AgentEvent::Thinking {
                            text: text.to_owned(),
                        });
                    }
                }
                "tool_use" | "server_tool_use" | "mcp_tool_use" => {
                    let call_id = block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let name = block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let input = block
                        .get("input")
                        .map_or_else(|| "{}".to_owned(), Value::to_string);
                    if !call_id.is_empty() {
                        self.tools
                            .insert(call_id.clone(), (name.clone(), input.clone()));
                    }
                    batch.push(AgentEvent::ToolCall(ToolCall {
                        id: call_id,
                        name,
                        input,
                    }));
                }
                _ => {}
            }
        }
        if let Some(usage) = message.get("usage").filter(|u| u.is_object())
            && !id.is_empty()
            && !api_error
            && self.messages_counted.insert(id)
        {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            self.usage.input_tokens += count("input_tokens");
            self.usage.output_tokens += count("output_tokens");
            self.usage.cached_input_tokens += count("cache_read_input_tokens");
            self.usage.cache_write_tokens += count("cache_creation_input_tokens");
            batch.push(AgentEvent::Usage(self.usage));
        }
    }
}

/// The text of a tool result's `content`: a string, or its text blocks joined by newlines.
fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| match part.get("text").and_then(Value::as_str) {
                Some(text) => text.to_owned(),
                None => format!(
                    "[{}]",
                    part.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("content")
                ),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Why a failed call was a refusal: the user rejected it in a permission dialog (with their
/// reason when they gave one), or the permission mode did not allow it.
fn denial_reason(output: &str) -> Option<String> {
    if output.starts_with(REJECTED) {
        let reason = output
            .find(REJECTED_REASON)
            .map(|at| output[at + REJECTED_REASON.len()..].trim())
            .filter(|reason| !reason.is_empty());
        return Some(match reason {
            Some(reason) => format!("The user rejected this tool call: {reason}"),
            None => "The user rejected this tool call".to_owned(),
        });
    }
    let refused = output.contains("requested permissions to")
        && output.contains("haven't granted it yet")
        || output.starts_with("Permission to use ") && output.contains("has been denied");
    refused.then(|| output.to_owned())
}

/// The file a Write/Edit result changed, if it says so.
fn file_change(result: &Value, tool: &str) -> Option<FileChange> {
    let path = result
        .get("filePath")
        .or_else(|| result.get("notebook_path"))
        .and_then(Value::as_str)
        .filter(|path| !path.is_empty())?;
    let kind = match result.get("type").and_then(Value::as_str) {
        Some("create") => ChangeKind::Add,
        Some("update") => ChangeKind::Update,
        _ if matches!(tool, "Edit" | "MultiEdit" | "NotebookEdit") => ChangeKind::Update,
        _ => return None,
    };
    Some(FileChange {
        path: path.to_owned(),
        kind,
    })
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
