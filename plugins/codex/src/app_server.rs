//! Codex through `codex app-server`: JSON-RPC over stdio, one message per line, no `"jsonrpc"`
//! field (measured with 0.171.0; see `../shared/AGENT-CLIS.md`). The path when a stage asks the
//! user for approvals: unlike `codex exec --json`, the app server asks before a command or a
//! file change that goes beyond the stage's level, and waits for the answer.
//!
//! The conversation, each step sent when the previous one is answered:
//!
//! ```text
//! → {"id":1,"method":"initialize","params":{"clientInfo":{…},"capabilities":{}}}
//! ← {"id":1,"result":{…}}
//! → {"method":"initialized"}
//! → {"id":2,"method":"thread/start","params":{cwd, model?, sandbox, approvalPolicy, developerInstructions?}}
//!   (or thread/resume {threadId, …} / thread/fork {threadId, …})
//! ← {"id":2,"result":{"thread":{"id":…}}}                       → session-started
//! → {"id":3,"method":"turn/start","params":{"threadId":…,"input":[{"type":"text","text":PROMPT}]}}
//! ← notifications: item/started, item/completed (agentMessage, reasoning, commandExecution,
//!   fileChange), thread/tokenUsage/updated, error, turn/completed {turn:{status}}
//! ← server requests: item/commandExecution/requestApproval, item/fileChange/requestApproval
//!   → approval-request; answered {"id":<same>,"result":{"decision":…}}
//! ```
//!
//! Levels: `read-only` runs in the read-only sandbox with approval policy `untrusted` (codex
//! runs known-safe commands and asks for everything else, all of which is beyond read-only);
//! `edit` in `workspace-write` with `on-request` (work inside the worktree runs; a request to
//! leave the sandbox is asked); `full` in `danger-full-access` with `never`. Decisions: allow →
//! `accept`, always → `acceptForSession` (codex's cache for the session; the host's record
//! covers the rest of the order), deny → `decline` (the item is declined and the turn goes on),
//! defer → `cancel` (the turn ends `interrupted`; the host resumes the thread with
//! `thread/resume` once the user decided). After `turn/completed` standard input is closed,
//! which ends the app server. Requests the adapter does not serve get a JSON-RPC error.

use std::collections::{HashMap, HashSet};

use codecafe_sdk::jsonrpc::{self, Dialect, Message};
use codecafe_sdk::{
    AdapterError, AgentEvent, ApprovalDecision, ApprovalRequest, ChangeKind, FileChange,
    FinalResult, Invocation, OutputBatch, PermissionLevel, Stream, ToolCall, ToolDenial,
    ToolResult, Usage, json,
};
use serde_json::{Value, json};

/// Codex writes and reads JSON-RPC without the `jsonrpc` field.
const RPC: Dialect = Dialect::Bare;

/// Codex's sandbox and approval policy for a level, when the user is asked.
pub(crate) fn policy(level: PermissionLevel) -> (&'static str, &'static str) {
    match level {
        PermissionLevel::ReadOnly => ("read-only", "untrusted"),
        PermissionLevel::Edit => ("workspace-write", "on-request"),
        PermissionLevel::Full => ("danger-full-access", "never"),
    }
}

/// A server request waiting for the user's decision.
#[derive(Debug, Clone)]
struct Pending {
    /// The request's JSON-RPC id, echoed in the answer.
    rpc_id: Value,
    /// The item it is about.
    item: String,
}

/// One app-server conversation: what to send next and what was seen.
#[derive(Debug, Default)]
pub(crate) struct AppServer {
    prompt: String,
    /// `thread/start`, `thread/resume` or `thread/fork`, and its parameters.
    thread_method: &'static str,
    thread_params: Value,
    thread: Option<String>,
    /// Items seen (`item/started`), by id: their input, for approvals and results.
    items: HashMap<String, Value>,
    pending: HashMap<String, Pending>,
    /// Items the user declined or deferred: their `declined` status is a decision, not a
    /// refusal by the sandbox.
    decided: HashSet<String>,
    last_text: String,
    last_error: Option<String>,
    usage: Option<Value>,
    completed: bool,
}

impl AppServer {
    /// The conversation for `invocation`; the first line to write is [`AppServer::greeting`].
    pub(crate) fn new(invocation: &Invocation) -> Self {
        let (sandbox, approval) = policy(invocation.policy.level);
        let mut params = json!({
            "cwd": invocation.working_dir,
            "sandbox": sandbox,
            "approvalPolicy": approval,
        });
        if let Some(model) = &invocation.model {
            params["model"] = Value::String(model.clone());
        }
        if let Some(instructions) = &invocation.system_prompt {
            params["developerInstructions"] = Value::String(instructions.clone());
        }
        let thread_method = match &invocation.session {
            None => "thread/start",
            Some(session) => {
                params["threadId"] = Value::String(session.id.clone());
                if session.fork {
                    "thread/fork"
                } else {
                    "thread/resume"
                }
            }
        };
        Self {
            prompt: invocation.prompt.clone(),
            thread_method,
            thread_params: params,
            ..Self::default()
        }
    }

    /// The first message: `initialize`.
    pub(crate) fn greeting() -> Vec<u8> {
        RPC.request(
            1,
            "initialize",
            &json!({
                "clientInfo": {"name": "codecafe", "title": "codecafe", "version": env!("CARGO_PKG_VERSION")},
                "capabilities": {},
            }),
        )
    }

    /// Normalizes one line of the app server's output.
    pub(crate) fn parse_line(&mut self, source: Stream, text: &str) -> OutputBatch {
        let trimmed = match json::object_line(source, text) {
            std::ops::ControlFlow::Continue(trimmed) => trimmed,
            std::ops::ControlFlow::Break(batch) => return batch,
        };
        let Some(message) = Message::parse(trimmed) else {
            return OutputBatch::one(json::unrecognized(trimmed));
        };
        let mut batch = OutputBatch::default();
        match message {
            Message::Request { id, method, params } => {
                self.request(&method, &id, &params, trimmed, &mut batch);
            }
            Message::Notification { method, params } => {
                self.notification(&method, &params, trimmed, &mut batch);
            }
            Message::Response { id, outcome } => self.response(&id, outcome, &mut batch),
        }
        batch
    }

    /// The process ended: a turn that never completed failed.
    pub(crate) fn finish(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let mut batch = OutputBatch::default();
        if !self.completed {
            let message = match (&self.last_error, exit_code) {
                (Some(error), _) => error.clone(),
                (None, Some(code)) => {
                    format!("codex app-server exited with code {code} before the turn completed")
                }
                (None, None) => "codex app-server was killed before the turn completed".to_owned(),
            };
            // The process is gone: closing its input changes nothing.
            batch.fail_turn(message);
        }
        batch
    }

    /// The answer to approval request `request_id`.
    pub(crate) fn encode_approval(
        &mut self,
        request_id: &str,
        decision: ApprovalDecision,
    ) -> Result<Vec<u8>, AdapterError> {
        let pending = self.pending.remove(request_id).ok_or_else(|| {
            AdapterError::InvalidInput(format!(
                "no approval request `{request_id}` is waiting (already answered, or never asked)"
            ))
        })?;
        let decision = match decision {
            ApprovalDecision::Allow => "accept",
            ApprovalDecision::AllowAlways => "acceptForSession",
            ApprovalDecision::Deny => "decline",
            ApprovalDecision::Defer => "cancel",
        };
        if matches!(decision, "decline" | "cancel") {
            self.decided.insert(pending.item);
        }
        Ok(RPC.result(&pending.rpc_id, &json!({"decision": decision})))
    }

    fn response(&mut self, id: &Value, outcome: Result<Value, Value>, batch: &mut OutputBatch) {
        let result = match jsonrpc::response_result("codex app-server", id, outcome) {
            Ok(result) => result,
            Err(message) => {
                self.fail(message, batch);
                return;
            }
        };
        match id.as_i64() {
            Some(1) => {
                batch.replies.push(RPC.notification("initialized", None));
                batch
                    .replies
                    .push(RPC.request(2, self.thread_method, &self.thread_params));
            }
            Some(2) => {
                let Some(thread) = result["thread"]["id"].as_str() else {
                    self.fail("codex app-server started no thread".to_owned(), batch);
                    return;
                };
                self.thread = Some(thread.to_owned());
                batch.push(AgentEvent::SessionStarted {
                    id: thread.to_owned(),
                });
                batch.replies.push(RPC.request(
                    3,
                    "turn/start",
                    &json!({
                        "threadId": thread,
                        "input": [{"type": "text", "text": self.prompt, "text_elements": []}],
                    }),
                ));
            }
            _ => {}
        }
    }

    fn request(
        &mut self,
        method: &str,
        id: &Value,
        params: &Value,
        raw: &str,
        batch: &mut OutputBatch,
    ) {
        let item = params["itemId"].as_str().unwrap_or_default().to_owned();
        let (tool, input, description, rule) = match method {
            "item/commandExecution/requestApproval" => {
                let command = command_of(params);
                let rule = params["proposedExecpolicyAmendment"]
                    .as_array()
                    .map(|words| {
                        words
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .filter(|prefix| !prefix.is_empty())
                    .map(|prefix| format!("exec({prefix}:*)"));
                let description = params["reason"]
                    .as_str()
                    .map_or_else(|| "Codex wants to run a command".to_owned(), str::to_owned);
                ("exec", json!({"command": command}), description, rule)
            }
            "item/fileChange/requestApproval" => {
                let changes = self
                    .items
                    .get(&item)
                    .and_then(|seen| seen.get("changes"))
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                let first = &changes[0];
                let mut input = json!({"changes": changes});
                if let Some(path) = first["path"].as_str() {
                    input["path"] = Value::String(path.to_owned());
                }
                if let Some(diff) = first["diff"].as_str() {
                    input["diff"] = Value::String(diff.to_owned());
                }
                let description = params["reason"]
                    .as_str()
                    .map_or_else(|| "Codex wants to change files".to_owned(), str::to_owned);
                ("apply_patch", input, description, None)
            }
            _ => {
                // Nothing here serves it: answer so codex does not wait for ever.
                batch.replies.push(RPC.method_not_found(id, method));
                batch.push(AgentEvent::other("server-request", raw));
                return;
            }
        };
        let request_id = id.to_string();
        self.pending.insert(
            request_id.clone(),
            Pending {
                rpc_id: id.clone(),
                item,
            },
        );
        batch.push(AgentEvent::ApprovalRequest(ApprovalRequest {
            id: request_id,
            tool: tool.to_owned(),
            input: input.to_string(),
            description,
            rule,
        }));
    }

    fn notification(&mut self, method: &str, params: &Value, raw: &str, batch: &mut OutputBatch) {
        match method {
            "item/started" => self.item_started(&params["item"], batch),
            "item/completed" => self.item_completed(&params["item"], batch),
            "thread/tokenUsage/updated" => self.usage = Some(params["tokenUsage"]["total"].clone()),
            "error" => {
                let message = params["error"]["message"]
                    .as_str()
                    .unwrap_or("an error")
                    .to_owned();
                if params["willRetry"].as_bool() != Some(true) {
                    self.last_error = Some(message.clone());
                    batch.push(AgentEvent::Error { message });
                } else {
                    batch.push(AgentEvent::other("retry", raw));
                }
            }
            "turn/completed" => self.turn_completed(&params["turn"], batch),
            // Deltas repeat what the completed item says; status and limits are progress.
            "item/agentMessage/delta"
            | "item/reasoning/summaryTextDelta"
            | "item/reasoning/textDelta" => {}
            other => batch.push(AgentEvent::other(other, raw)),
        }
    }

    fn item_started(&mut self, item: &Value, batch: &mut OutputBatch) {
        let Some(id) = item["id"].as_str() else {
            return;
        };
        let call = match item["type"].as_str() {
            Some("commandExecution") => {
                Some(("exec_command", json!({"command": command_of(item)})))
            }
            Some("fileChange") => Some(("apply_patch", json!({"changes": item["changes"]}))),
            _ => None,
        };
        if let Some((name, input)) = call {
            self.items.insert(id.to_owned(), item.clone());
            batch.push(AgentEvent::ToolCall(ToolCall {
                id: id.to_owned(),
                name: name.to_owned(),
                input: input.to_string(),
            }));
        }
    }

    fn item_completed(&mut self, item: &Value, batch: &mut OutputBatch) {
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        let status = item["status"].as_str().unwrap_or_default();
        match item["type"].as_str() {
            Some("agentMessage") => {
                let text = item["text"].as_str().unwrap_or_default().to_owned();
                if !text.is_empty() {
                    self.last_text = text.clone();
                    batch.push(AgentEvent::AssistantText { text });
                }
            }
            Some("reasoning") => {
                let text = ["summary", "content"]
                    .iter()
                    .filter_map(|key| item[key].as_array())
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n");
                if !text.is_empty() {
                    batch.push(AgentEvent::Thinking { text });
                }
            }
            Some(kind @ ("commandExecution" | "fileChange")) => {
                let tool = if kind == "fileChange" {
                    "apply_patch"
                } else {
                    "exec"
                };
                if status == "declined" {
                    if !self.decided.contains(&id) {
                        batch.push(AgentEvent::ToolDenied(ToolDenial {
                            id: id.clone(),
                            tool: tool.to_owned(),
                            input: self.items.get(&id).map_or_else(
                                || "{}".to_owned(),
                                |seen| {
                                    if kind == "fileChange" {
                                        json!({"changes": seen["changes"]}).to_string()
                                    } else {
                                        json!({"command": command_of(seen)}).to_string()
                                    }
                                },
                            ),
                            reason: "Codex declined it (beyond the stage's permissions)".to_owned(),
                        }));
                    }
                    self.items.remove(&id);
                    return;
                }
                if kind == "fileChange" && status == "completed" {
                    for change in item["changes"].as_array().into_iter().flatten() {
                        let kind = match change["kind"]["type"].as_str() {
                            Some("add") => ChangeKind::Add,
                            Some("delete") => ChangeKind::Delete,
                            _ => ChangeKind::Update,
                        };
                        if let Some(path) = change["path"].as_str() {
                            batch.push(AgentEvent::FileChange(FileChange {
                                path: path.to_owned(),
                                kind,
                            }));
                        }
                    }
                }
                let output = item["aggregatedOutput"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let failed = status != "completed"
                    || item["exitCode"].as_i64().is_some_and(|code| code != 0);
                batch.push(AgentEvent::ToolResult(ToolResult {
                    id: id.clone(),
                    output,
                    is_error: failed,
                }));
                self.items.remove(&id);
            }
            _ => {}
        }
    }

    fn turn_completed(&mut self, turn: &Value, batch: &mut OutputBatch) {
        self.completed = true;
        if let Some(total) = self.usage.take() {
            let count = |key: &str| total[key].as_u64().unwrap_or(0);
            let input = count("inputTokens");
            let cached = count("cachedInputTokens");
            batch.push(AgentEvent::Usage(Usage {
                input_tokens: input.saturating_sub(cached),
                output_tokens: count("outputTokens"),
                cached_input_tokens: cached,
                cache_write_tokens: count("cacheWriteInputTokens"),
                cost_usd: None,
                cost_is_session_total: false,
                // `total` is the thread's, its resumed history included.
                tokens_are_session_total: true,
            }));
        }
        match turn["status"].as_str() {
            Some("completed") => batch.push(AgentEvent::FinalResult(FinalResult {
                text: std::mem::take(&mut self.last_text),
                is_error: false,
            })),
            status => {
                let message = turn["error"]["message"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| self.last_error.clone())
                    .unwrap_or_else(|| {
                        format!("the turn ended {}", status.unwrap_or("without a status"))
                    });
                if status != Some("interrupted") {
                    batch.push(AgentEvent::Error {
                        message: message.clone(),
                    });
                }
                batch.push(AgentEvent::FinalResult(FinalResult {
                    text: message,
                    is_error: true,
                }));
            }
        }
        // One turn per process: closing standard input ends the app server.
        batch.close_input = true;
    }

    fn fail(&mut self, message: String, batch: &mut OutputBatch) {
        self.completed = true;
        self.last_error = Some(message.clone());
        batch.fail_turn(message);
    }
}

/// The command an item or request runs: its one parsed action's command, else the shell line.
fn command_of(value: &Value) -> String {
    match value["commandActions"].as_array().map(Vec::as_slice) {
        Some([only]) if only["command"].is_string() => {
            only["command"].as_str().unwrap_or_default().to_owned()
        }
        _ => value["command"].as_str().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
#[path = "app_server_tests.rs"]
mod tests;
