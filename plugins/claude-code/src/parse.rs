//! Reading Claude Code's stream-json output (`claude -p --output-format stream-json --verbose`).
//!
//! One JSON object per line, told apart by `type` (and `subtype` for `system`), wherever that
//! key is in the line (2.1.332 writes `result` and `attachment` lines with `type` in the middle):
//!
//! | line | events |
//! |---|---|
//! | `system`/`init` | `SessionStarted`, once per distinct id (it repeats every streamed-input turn) |
//! | `system`/`permission_denied` (2.1.332) | `ToolDenied` (see [`Denial`]) |
//! | other `system` lines (`status`, `api_retry`, `thinking_tokens`, `hook_started`, ...) | `Other` |
//! | `assistant` | per content block: `AssistantText`, `Thinking`, `ToolCall`; with `error`: `Error` |
//! | `user` | `ToolResult` per tool result, `FileChange` from a Write/Edit `tool_use_result` |
//! | `result` | a `ToolDenied` per permission denial (again, on 2.1.332), `Usage` (with the session's cost), then `FinalResult` |
//! | `control_request` `can_use_tool` | `ApprovalRequest` (other requests are refused with a reply) |
//! | `stream_event` (partial messages) | nothing: the complete `assistant` line follows |
//! | `attachment` (hook results, 2.1.332), `command_lifecycle` (2.1.332) | `Other` |
//! | `rate_limit_event`, unknown types | `Other` |
//! | anything that is not a JSON object | `Log` |
//!
//! Lines are read into small serde structs that name only the fields used and borrow strings
//! from the line where they can; everything else is skipped without being built (new fields,
//! such as the `result` line's `ttft_ms`, `subagent_stats` or `deferred_tool_use` of 2.1.332,
//! cost nothing). Unexpected shapes never panic: a line that does not fit is reported as
//! `Other` or `Log`, never dropped.

use std::collections::HashMap;
use std::ops::ControlFlow;

use codecafe_sdk::json::{self, Str, StrOr};
use codecafe_sdk::{
    AgentEvent, ApprovalRequest, ChangeKind, FileChange, FinalResult, OutputBatch, Stream,
    ToolCall, ToolDenial, ToolResult, Usage,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most bytes of a tool's output kept in a `ToolResult` event.
pub const MAX_TOOL_OUTPUT: usize = 64 * 1024;

/// Tools whose results describe a file they changed.
const EDIT_TOOLS: &[&str] = &["Edit", "MultiEdit", "NotebookEdit"];

/// A tool call waiting for the user's decision, kept until it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    /// The tool's input as JSON text, echoed back when allowed.
    pub input: String,
    /// The permission rules Claude Code suggested, as JSON text, for "allow always".
    pub suggestions: Option<String>,
    /// The tool call's id.
    pub tool_use_id: Option<String>,
}

/// A tool call Claude Code refused to run, as a `system`/`permission_denied` line reports it
/// (2.1.332 and later; earlier versions only list denials in the `result` line's
/// `permission_denials`, which later versions still do too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The tool's name (`Write`, `Bash`, ...).
    pub tool: String,
    /// The tool's input as JSON text, from the `tool_use` block that asked for it (the denial
    /// line does not repeat it); `{}` when that block was not seen.
    pub input: String,
    /// The tool call's id.
    pub tool_use_id: String,
    /// Why, as Claude Code words it (its `message`, else its decision reason).
    pub reason: String,
}

/// What parsing remembers across the lines of one session.
#[derive(Debug, Default)]
pub struct ParseState {
    sessions: Vec<String>,
    tools: HashMap<String, String>,
    /// The inputs of tool calls without a result yet, for [`Denial::input`]; removed when the
    /// result arrives, so a long session does not keep every input it ever saw.
    open_inputs: HashMap<String, String>,
    approvals: HashMap<String, PendingApproval>,
    /// Tool calls the user refused or the host deferred through an approval: their denials are
    /// decisions the host recorded, not refusals by Claude Code's permission mode.
    decided: std::collections::HashSet<String>,
    saw_result: bool,
    last_result_failed: bool,
    active_since_result: bool,
    last_text: String,
}

impl ParseState {
    /// Normalizes one line of output.
    pub fn parse_line(&mut self, source: Stream, line: &str) -> OutputBatch {
        let trimmed = match json::object_line(source, line) {
            ControlFlow::Continue(trimmed) => trimmed,
            ControlFlow::Break(batch) => return batch,
        };
        match serde_json::from_str::<Line<'_>>(trimmed) {
            Ok(parsed) => self.line(parsed, trimmed),
            Err(_) => OutputBatch::one(json::unrecognized(trimmed)),
        }
    }

    /// The process ended: a run that never reported its result failed.
    pub fn finish(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let mut batch = OutputBatch::default();
        if !self.saw_result || self.active_since_result {
            let message = match exit_code {
                Some(0) => "Claude Code exited without reporting a result".to_owned(),
                Some(code) => {
                    format!("Claude Code exited with code {code} before reporting a result")
                }
                None => "Claude Code was killed by a signal before reporting a result".to_owned(),
            };
            batch.push(AgentEvent::Error { message });
            batch.push(AgentEvent::FinalResult(FinalResult {
                text: std::mem::take(&mut self.last_text),
                is_error: true,
            }));
        } else if self.last_result_failed {
            // The failed result already said it; a non-zero exit code adds nothing.
        } else if let Some(code) = exit_code.filter(|code| *code != 0) {
            batch.push(AgentEvent::Error {
                message: format!("Claude Code exited with code {code} after its result"),
            });
        } else if exit_code.is_none() {
            batch.push(AgentEvent::Error {
                message: "Claude Code was killed by a signal after its result".to_owned(),
            });
        }
        batch
    }

    /// Removes and returns a pending approval request.
    pub fn take_approval(&mut self, request_id: &str) -> Option<PendingApproval> {
        self.approvals.remove(request_id)
    }

    /// Notes that tool call `tool_use_id` was refused or deferred by an approval decision, so
    /// Claude Code's report of it is not a denial.
    pub fn decided(&mut self, tool_use_id: &str) {
        self.decided.insert(tool_use_id.to_owned());
    }

    fn line(&mut self, line: Line<'_>, raw: &str) -> OutputBatch {
        let mut batch = OutputBatch::default();
        let kind = line.kind.as_ref().map_or("", Str::as_str);
        match kind {
            "system" => match line.subtype.as_ref().map(Str::as_str) {
                Some("init") => {
                    self.active_since_result = true;
                    if let Some(id) = &line.session_id {
                        self.session(id.as_str(), &mut batch);
                    }
                    if batch.events.is_empty() && line.session_id.is_none() {
                        batch.push(AgentEvent::other("init", raw));
                    }
                    // A repeated init (one per streamed turn) is a known no-op.
                    return batch;
                }
                Some("permission_denied") => match self.permission_denial(&line) {
                    // The real-time form of a denial; the `result` line's
                    // `permission_denials` repeat it (the host counts each call once).
                    Some(denial) => batch.push(AgentEvent::ToolDenied(denial.into())),
                    None => batch.push(AgentEvent::other("permission-denied", raw)),
                },
                Some(subtype) => batch.push(AgentEvent::other(subtype, raw)),
                None => batch.push(AgentEvent::other("system", raw)),
            },
            "assistant" => {
                self.active_since_result = true;
                self.assistant(&line, &mut batch);
            }
            "user" => {
                self.active_since_result = true;
                self.user(&line, &mut batch);
            }
            "result" => self.result(&line, &mut batch),
            "stream_event" => return batch,
            "control_request" => self.control_request(&line, raw, &mut batch),
            "control_cancel_request" => {
                if let Some(id) = &line.request_id {
                    self.approvals.remove(id.as_str());
                }
                batch.push(AgentEvent::other("approval-withdrawn", raw));
            }
            "rate_limit_event" => batch.push(AgentEvent::other("rate-limit", raw)),
            // Hook results (`hook_success`, `hook_deferred_tool`, ...) and the start and end of
            // a command (`state`), some after the `result` line: progress, not output.
            "attachment" => batch.push(AgentEvent::other("attachment", raw)),
            "command_lifecycle" => batch.push(AgentEvent::other("command-lifecycle", raw)),
            // An unknown type, or none (an empty kind is `unknown`).
            kind => batch.push(AgentEvent::other(kind, raw)),
        }
        if batch.is_empty() {
            batch.push(AgentEvent::other(kind, raw));
        }
        batch
    }

    /// The denial a `system`/`permission_denied` line reports: tool, input (from the tool call
    /// seen earlier), tool-use id and reason. `None` for any other line, or a denial line that
    /// names neither a tool nor a tool call.
    fn permission_denial(&self, line: &Line<'_>) -> Option<Denial> {
        let is_denial = line.kind.as_ref().is_some_and(|k| k.as_str() == "system")
            && line
                .subtype
                .as_ref()
                .is_some_and(|s| s.as_str() == "permission_denied");
        if !is_denial
            || line
                .tool_use_id
                .as_ref()
                .is_some_and(|id| self.decided.contains(id.as_str()))
        {
            return None;
        }
        let tool_use_id = line.tool_use_id.as_ref().map_or("", Str::as_str);
        let tool = line
            .tool_name
            .as_ref()
            .map(Str::as_str)
            .filter(|name| !name.is_empty())
            .or_else(|| self.tools.get(tool_use_id).map(String::as_str))
            .unwrap_or_default();
        if tool.is_empty() && tool_use_id.is_empty() {
            return None;
        }
        let reason = [
            line.message.as_ref().and_then(StrOr::as_str),
            line.decision_reason.as_ref().and_then(Value::as_str),
        ]
        .into_iter()
        .flatten()
        .find(|text| !text.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| {
            line.decision_reason
                .as_ref()
                .filter(|reason| reason.is_object())
                .map(Value::to_string)
        })
        .or_else(|| {
            line.decision_reason_type
                .as_ref()
                .map(|kind| kind.as_str().to_owned())
        })
        .unwrap_or_else(|| "permission denied".to_owned());
        Some(Denial {
            tool: tool.to_owned(),
            input: self
                .open_inputs
                .get(tool_use_id)
                .cloned()
                .unwrap_or_else(|| "{}".to_owned()),
            tool_use_id: tool_use_id.to_owned(),
            reason,
        })
    }

    fn session(&mut self, id: &str, batch: &mut OutputBatch) {
        if !id.is_empty() && !self.sessions.iter().any(|seen| seen == id) {
            self.sessions.push(id.to_owned());
            batch.push(AgentEvent::SessionStarted { id: id.to_owned() });
        }
    }

    fn assistant(&mut self, line: &Line<'_>, batch: &mut OutputBatch) {
        let content = line
            .message
            .as_ref()
            .and_then(StrOr::value)
            .and_then(|m| m.content.as_ref());
        if let Some(error) = &line.error {
            // An API failure: a synthetic assistant message whose text explains it.
            let text = match content {
                Some(StrOr::Str(text)) => text.as_str().to_owned(),
                Some(StrOr::Value(blocks)) => blocks
                    .iter()
                    .filter_map(|block| block.text.as_ref().map(Str::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            let code = error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned);
            let message = if text.trim().is_empty() {
                format!("API error: {code}")
            } else {
                text
            };
            batch.push(AgentEvent::Error { message });
            return;
        }
        match content {
            Some(StrOr::Str(text)) => self.text(text.as_str(), batch),
            Some(StrOr::Value(blocks)) => {
                for block in blocks {
                    self.assistant_block(block, batch);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, batch: &mut OutputBatch) {
        if !text.is_empty() {
            self.last_text = text.to_owned();
            batch.push(AgentEvent::AssistantText {
                text: text.to_owned(),
            });
        }
    }

    fn assistant_block(&mut self, block: &Block<'_>, batch: &mut OutputBatch) {
        let kind = block.kind.as_ref().map_or("", Str::as_str);
        match kind {
            "text" => {
                if let Some(text) = &block.text {
                    self.text(text.as_str(), batch);
                }
            }
            "thinking" => {
                if let Some(thinking) = block.thinking.as_ref().filter(|t| !t.as_str().is_empty()) {
                    batch.push(AgentEvent::Thinking {
                        text: thinking.as_str().to_owned(),
                    });
                }
            }
            "tool_use" | "server_tool_use" | "mcp_tool_use" => {
                let id = block
                    .id
                    .as_ref()
                    .map_or_else(String::new, |id| id.as_str().to_owned());
                let name = block
                    .name
                    .as_ref()
                    .map_or_else(String::new, |name| name.as_str().to_owned());
                let input = block
                    .input
                    .as_ref()
                    .map_or_else(|| "{}".to_owned(), Value::to_string);
                if !id.is_empty() {
                    self.tools.insert(id.clone(), name.clone());
                    self.open_inputs.insert(id.clone(), input.clone());
                }
                batch.push(AgentEvent::ToolCall(ToolCall { id, name, input }));
            }
            other_kind => batch.push(AgentEvent::other(
                &format!("content-{other_kind}"),
                json!({"type": other_kind}).to_string(),
            )),
        }
    }

    fn user(&mut self, line: &Line<'_>, batch: &mut OutputBatch) {
        let Some(StrOr::Value(blocks)) = line
            .message
            .as_ref()
            .and_then(StrOr::value)
            .and_then(|m| m.content.as_ref())
        else {
            return;
        };
        let mut change_reported = false;
        for block in blocks {
            if block.kind.as_ref().map(Str::as_str) != Some("tool_result") {
                continue;
            }
            let id = block
                .tool_use_id
                .as_ref()
                .map_or_else(String::new, |id| id.as_str().to_owned());
            self.open_inputs.remove(&id);
            let is_error = block.is_error.unwrap_or(false);
            batch.push(AgentEvent::ToolResult(ToolResult {
                id: id.clone(),
                output: json::truncate(&result_text(block.content.as_ref()), MAX_TOOL_OUTPUT),
                is_error,
            }));
            if is_error || change_reported {
                continue;
            }
            if let Some(StrOr::Value(result)) = &line.tool_use_result {
                let tool = self.tools.get(&id).map(String::as_str);
                if let Some(change) = file_change(result, tool) {
                    change_reported = true;
                    batch.push(AgentEvent::FileChange(change));
                }
            }
        }
    }

    fn result(&mut self, line: &Line<'_>, batch: &mut OutputBatch) {
        self.saw_result = true;
        self.active_since_result = false;
        self.last_text.clear();
        if let Some(id) = &line.session_id {
            self.session(id.as_str(), batch);
        }
        for denial in line.permission_denials.iter().flatten() {
            let tool = denial.tool_name.as_ref().map_or("", Str::as_str);
            let id = denial.tool_use_id.as_ref().map_or("", Str::as_str);
            if self.decided.contains(id) {
                continue;
            }
            let input = denial
                .tool_input
                .as_ref()
                .map(Value::to_string)
                .or_else(|| self.open_inputs.get(id).cloned())
                .unwrap_or_else(|| "{}".to_owned());
            batch.push(AgentEvent::ToolDenied(ToolDenial {
                id: id.to_owned(),
                tool: tool.to_owned(),
                input,
                reason: format!("Claude Code was not allowed to use {tool}"),
            }));
        }
        let subtype = line.subtype.as_ref().map_or("", Str::as_str);
        let failed_subtype = subtype.starts_with("error");
        if failed_subtype {
            let details = match &line.errors {
                Some(Value::Array(errors)) if !errors.is_empty() => format!(
                    ": {}",
                    errors
                        .iter()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                _ => String::new(),
            };
            batch.push(AgentEvent::Error {
                message: format!("Claude Code ended the run with `{subtype}`{details}"),
            });
        }
        if line.usage.is_some() || line.total_cost_usd.is_some() {
            let usage = line.usage.unwrap_or_default();
            batch.push(AgentEvent::Usage(Usage {
                input_tokens: tokens(usage.input_tokens),
                output_tokens: tokens(usage.output_tokens),
                cached_input_tokens: tokens(usage.cache_read_input_tokens),
                cache_write_tokens: tokens(usage.cache_creation_input_tokens),
                // Claude Code's `total_cost_usd` covers the whole session, the history a
                // resumed or forked run starts from included; the host takes the difference.
                cost_usd: line.total_cost_usd.filter(|usd| usd.is_finite()),
                cost_is_session_total: true,
                tokens_are_session_total: false,
            }));
        }
        let is_error = line.is_error.unwrap_or(false) || failed_subtype;
        self.last_result_failed = is_error;
        batch.push(AgentEvent::FinalResult(FinalResult {
            text: line
                .result
                .as_ref()
                .map_or_else(String::new, |r| r.as_str().to_owned()),
            is_error,
        }));
    }

    fn control_request(&mut self, line: &Line<'_>, raw: &str, batch: &mut OutputBatch) {
        let (Some(request_id), Some(request)) = (&line.request_id, &line.request) else {
            batch.push(AgentEvent::other("control-request", raw));
            return;
        };
        let request_id = request_id.as_str();
        let subtype = request.subtype.as_ref().map_or("", Str::as_str);
        if subtype != "can_use_tool" {
            // Nothing here can serve it; answer so Claude Code does not wait for ever.
            let refusal = json!({
                "type": "control_response",
                "response": {
                    "subtype": "error",
                    "request_id": request_id,
                    "error": format!("codecafe does not handle `{subtype}` requests"),
                },
            });
            let mut bytes = refusal.to_string().into_bytes();
            bytes.push(b'\n');
            batch.replies.push(bytes);
            batch.push(AgentEvent::other("control-request", raw));
            return;
        }
        let tool = request
            .tool_name
            .as_ref()
            .map_or_else(String::new, |t| t.as_str().to_owned());
        let input = request
            .input
            .as_ref()
            .map_or_else(|| "{}".to_owned(), Value::to_string);
        let mut description = [&request.title, &request.description]
            .into_iter()
            .flatten()
            .map(|text| text.as_str().to_owned())
            .find(|text| !text.trim().is_empty())
            .or_else(|| {
                request
                    .decision_reason
                    .as_ref()
                    .and_then(Value::as_str)
                    .filter(|text| !text.trim().is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("Claude wants to use {tool}"));
        if let Some(path) = &request.blocked_path {
            description.push_str(&format!(" (outside the allowed paths: {path})"));
        }
        self.approvals.insert(
            request_id.to_owned(),
            PendingApproval {
                input: input.clone(),
                suggestions: request
                    .permission_suggestions
                    .as_ref()
                    .map(Value::to_string),
                tool_use_id: request
                    .tool_use_id
                    .as_ref()
                    .map(|id| id.as_str().to_owned()),
            },
        );
        let rule = request
            .permission_suggestions
            .as_ref()
            .and_then(suggested_rule);
        batch.push(AgentEvent::ApprovalRequest(ApprovalRequest {
            id: request_id.to_owned(),
            tool,
            input,
            description,
            rule,
        }));
    }
}

/// The first rule Claude Code suggests adding (`addRules`), as `Tool(content)` or `Tool`.
fn suggested_rule(suggestions: &Value) -> Option<String> {
    suggestions.as_array()?.iter().find_map(|suggestion| {
        if suggestion.get("type")?.as_str()? != "addRules" {
            return None;
        }
        let rule = suggestion.get("rules")?.as_array()?.first()?;
        let tool = rule.get("toolName")?.as_str()?;
        Some(match rule.get("ruleContent").and_then(Value::as_str) {
            Some(content) if !content.is_empty() => format!("{tool}({content})"),
            _ => tool.to_owned(),
        })
    })
}

fn tokens(value: Option<f64>) -> u64 {
    // `as` saturates; negative and NaN become 0.
    value.map_or(0, |n| n as u64)
}

/// The text of a tool result's `content`: a string, or text blocks joined by newlines.
fn result_text(content: Option<&StrOr<'_, Vec<ResultPart<'_>>>>) -> String {
    match content {
        Some(StrOr::Str(text)) => text.as_str().to_owned(),
        Some(StrOr::Value(parts)) => parts
            .iter()
            .map(|part| match (&part.kind, &part.text) {
                (_, Some(text)) => text.as_str().to_owned(),
                (Some(kind), None) => format!("[{kind}]"),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The file a Write/Edit result changed, if it says so.
fn file_change(result: &ToolUseResult, tool: Option<&str>) -> Option<FileChange> {
    let path = result
        .file_path
        .as_ref()
        .or(result.notebook_path.as_ref())
        .and_then(Value::as_str)
        .filter(|path| !path.is_empty())?;
    let kind = match result.kind.as_ref().and_then(Value::as_str) {
        Some("create") => ChangeKind::Add,
        Some("update") => ChangeKind::Update,
        _ if tool.is_some_and(|tool| EDIT_TOOLS.contains(&tool)) => ChangeKind::Update,
        _ => return None,
    };
    Some(FileChange {
        path: path.to_owned(),
        kind,
    })
}

// ---------------------------------------------------------------------------------------------
// The shapes read from a line
// ---------------------------------------------------------------------------------------------

/// One stream-json line; only the fields the adapter uses.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    subtype: Option<Str<'a>>,
    #[serde(borrow)]
    session_id: Option<Str<'a>>,
    /// An API message (`assistant`, `user`), or a text (`system`/`permission_denied`).
    #[serde(borrow)]
    message: Option<StrOr<'a, Message<'a>>>,
    /// `system`/`permission_denied`: the refused tool and call, and why.
    #[serde(borrow)]
    tool_name: Option<Str<'a>>,
    #[serde(borrow)]
    tool_use_id: Option<Str<'a>>,
    decision_reason: Option<Value>,
    #[serde(borrow)]
    decision_reason_type: Option<Str<'a>>,
    error: Option<Value>,
    #[serde(borrow)]
    tool_use_result: Option<StrOr<'a, ToolUseResult>>,
    is_error: Option<bool>,
    #[serde(borrow)]
    result: Option<Str<'a>>,
    usage: Option<ResultUsage>,
    total_cost_usd: Option<f64>,
    #[serde(borrow)]
    permission_denials: Option<Vec<ListedDenial<'a>>>,
    errors: Option<Value>,
    #[serde(borrow)]
    request_id: Option<Str<'a>>,
    #[serde(borrow)]
    request: Option<ControlRequest<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    content: Option<StrOr<'a, Vec<Block<'a>>>>,
}

/// A content block of an assistant or user message.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    thinking: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    input: Option<Value>,
    #[serde(borrow)]
    tool_use_id: Option<Str<'a>>,
    #[serde(borrow)]
    content: Option<StrOr<'a, Vec<ResultPart<'a>>>>,
    is_error: Option<bool>,
}

/// A part of a tool result's content list.
#[derive(Deserialize)]
struct ResultPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
}

/// The structured result of a tool, as far as file changes go.
#[derive(Deserialize)]
struct ToolUseResult {
    #[serde(rename = "type")]
    kind: Option<Value>,
    #[serde(rename = "filePath")]
    file_path: Option<Value>,
    notebook_path: Option<Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct ResultUsage {
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
    cache_read_input_tokens: Option<f64>,
    cache_creation_input_tokens: Option<f64>,
}

impl From<Denial> for ToolDenial {
    fn from(denial: Denial) -> Self {
        Self {
            id: denial.tool_use_id,
            tool: denial.tool,
            input: denial.input,
            reason: denial.reason,
        }
    }
}

/// An entry of the `result` line's `permission_denials`.
#[derive(Deserialize)]
struct ListedDenial<'a> {
    #[serde(borrow)]
    tool_name: Option<Str<'a>>,
    #[serde(borrow)]
    tool_use_id: Option<Str<'a>>,
    tool_input: Option<Value>,
}

/// The `request` of a `control_request` line.
#[derive(Deserialize)]
struct ControlRequest<'a> {
    #[serde(borrow)]
    subtype: Option<Str<'a>>,
    #[serde(borrow)]
    tool_name: Option<Str<'a>>,
    input: Option<Value>,
    #[serde(borrow)]
    tool_use_id: Option<Str<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
    decision_reason: Option<Value>,
    #[serde(borrow)]
    blocked_path: Option<Str<'a>>,
    permission_suggestions: Option<Value>,
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
