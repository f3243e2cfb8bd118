//! The `acp` provider: any agent that speaks the Agent Client Protocol (ACP v1) over stdio —
//! `claude-agent-acp`, `opencode acp`, `gemini --acp` and the others — so a recipe can mix
//! them with Claude Code and Codex.
//!
//! Stage options:
//!
//! | option | value | |
//! |---|---|---|
//! | `command` | the agent's argv, e.g. `["opencode", "acp"]`, `["claude-agent-acp"]` | required |
//! | `env` | a map of extra environment variables for the agent | none |
//!
//! The agent's program is repository content that runs a program (like a `command` stage), so
//! the host runs it only for a repository the user trusts; the environment variables of the
//! usual model providers are passed through (a stage's `pass_env` adds more).
//!
//! The conversation (JSON-RPC 2.0, one message per line, through [`codecafe_sdk::jsonrpc`]):
//! `initialize {protocolVersion: 1, clientCapabilities: {fs: off, terminal: off}}` →
//! `session/new {cwd: the worktree, mcpServers: []}` (or `session/load {sessionId, …}` to continue
//! a session, when the agent advertises `loadSession`) → `session/prompt`, whose answer comes
//! when the turn ends (`stopReason`, `usage`); standard input is then closed, which ends the
//! agent. Meanwhile `session/update` notifications become events: message and thought chunks
//! (joined per message), tool calls and their updates, plans, usage (the cost it reports is the
//! session's total). Updates before the prompt (a loaded session replays its history) are not
//! this run's and are skipped.
//!
//! **Permissions.** `session/request_permission` is answered from the stage's level where the
//! level decides it — reading and searching always, edits inside the working directory from
//! `edit` on, everything at `full` — by selecting the offered option of the right kind; beyond
//! the level it becomes an [`AgentEvent::ApprovalRequest`] for the host's approval flow: allow →
//! `allow_once`, always → `allow_always`, deny → `reject_once`, defer → `cancelled` plus
//! `session/cancel` (the turn ends; the host continues the session once the user decided).
//! Requests the client does not offer (`fs/*`, `terminal/*`, despite the capabilities) get a
//! JSON-RPC "method not found" error and the run goes on.

use std::collections::{BTreeMap, HashMap};

use codecafe_sdk::jsonrpc::{self, Dialect, Message};
use codecafe_sdk::{
    AdapterError, AgentEvent, ApprovalDecision, ApprovalRequest, BuildError, Capabilities,
    CommandSpec, FinalResult, Invocation, OutputBatch, PermissionLevel, Provider, ProviderInfo,
    Stdin, Stream, ToolCall, ToolResult, Usage, json, provider_info,
};
use serde_json::{Value, json};

/// ACP is JSON-RPC 2.0.
const RPC: Dialect = Dialect::JsonRpc2;
/// The protocol version spoken.
const PROTOCOL_VERSION: u64 = 1;
/// The options this provider knows.
const OPTIONS: &[&str] = &["command", "env"];
/// Request ids of the adapter's own requests.
const INITIALIZE: i64 = 0;
const SESSION: i64 = 1;
const PROMPT: i64 = 2;

/// The variables of the user's environment an ACP agent may need: the model providers' keys
/// and endpoints, the agents' own settings, proxies and CA bundles.
const ENV: &[&str] = &[
    "ANTHROPIC_*",
    "CLAUDE_*",
    "OPENAI_*",
    "AZURE_OPENAI_*",
    "GEMINI_*",
    "GOOGLE_*",
    "OPENCODE_*",
    "OPENROUTER_*",
    "AWS_*",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
];

/// A permission request waiting for the user.
#[derive(Debug, Clone)]
struct Pending {
    rpc_id: Value,
    options: Vec<Value>,
}

/// The adapter's state for one stage session.
#[derive(Debug, Default)]
pub struct Acp {
    cwd: String,
    prompt: String,
    level: Option<PermissionLevel>,
    continue_session: Option<String>,
    session: Option<String>,
    prompting: bool,
    ended: bool,
    /// The message being streamed (`agent_message_chunk`), and the thought.
    message: String,
    thought: String,
    last_message: String,
    cost: Option<f64>,
    pending: HashMap<String, Pending>,
}

impl Provider for Acp {
    fn info(&self) -> ProviderInfo {
        let mut info = provider_info!(
            "acp",
            "ACP agent",
            "Any agent that speaks the Agent Client Protocol over stdio (`command` names it)."
        );
        info.capabilities = Capabilities {
            resume: true,
            approvals: true,
            usage: true,
            cost: true,
            ..Capabilities::default()
        };
        // Whatever agent the stage names: repository content that runs a program, run only for
        // a repository the user trusts.
        info.requirements.programs = vec!["*".to_owned()];
        info.requirements.env = ENV.iter().map(|v| (*v).to_owned()).collect();
        info
    }

    fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
        invocation.reject_unknown_options(OPTIONS)?;
        if invocation.mode != codecafe_sdk::Mode::Headless {
            return Err(BuildError::UnsupportedMode {
                mode: invocation.mode,
            });
        }
        let argv: Vec<String> = invocation.option("command")?.ok_or_else(|| {
            BuildError::invalid_option(
                "command",
                "required: the agent's command as a list, e.g. [\"opencode\", \"acp\"]",
            )
        })?;
        let Some((program, args)) = argv.split_first().filter(|(p, _)| !p.trim().is_empty()) else {
            return Err(BuildError::invalid_option(
                "command",
                "is empty: name the agent's program",
            ));
        };
        let env: BTreeMap<String, String> = invocation.option("env")?.unwrap_or_default();
        if invocation.prompt.trim().is_empty() {
            return Err(BuildError::InvalidInvocation {
                message: "the prompt is empty".to_owned(),
            });
        }
        if let Some(session) = &invocation.session
            && session.fork
        {
            return Err(BuildError::Unsupported {
                message: "an ACP agent's session cannot be forked here; use `context: inherit` \
                          or start fresh"
                    .to_owned(),
            });
        }
        *self = Self {
            cwd: invocation.working_dir.clone(),
            prompt: invocation.prompt.clone(),
            level: Some(invocation.policy.level),
            continue_session: invocation.session.as_ref().map(|s| s.id.clone()),
            ..Self::default()
        };
        let greeting = RPC.request(
            INITIALIZE,
            "initialize",
            &json!({
                "protocolVersion": PROTOCOL_VERSION,
                "clientCapabilities": {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false},
                "clientInfo": {"name": "codecafe", "version": env!("CARGO_PKG_VERSION")},
            }),
        );
        let mut spec = CommandSpec::new(program.clone())
            .args(args.to_vec())
            .stdin(Stdin::KeepOpen(greeting));
        spec.env = env.into_iter().collect();
        Ok(spec)
    }

    fn parse_output(&mut self, source: Stream, line: &str) -> OutputBatch {
        let trimmed = match json::object_line(source, line) {
            std::ops::ControlFlow::Continue(trimmed) => trimmed,
            std::ops::ControlFlow::Break(batch) => return batch,
        };
        let Some(message) = Message::parse(trimmed) else {
            return OutputBatch::one(json::unrecognized(trimmed));
        };
        let mut batch = OutputBatch::default();
        match message {
            Message::Response { id, outcome } => self.response(&id, outcome, &mut batch),
            Message::Notification { method, params } => {
                if method == "session/update" && self.prompting {
                    self.update(&params["update"], trimmed, &mut batch);
                } else if method != "session/update" {
                    batch.push(AgentEvent::other(&method, trimmed));
                }
            }
            Message::Request { id, method, params } => {
                if method == "session/request_permission" {
                    self.permission(&id, &params, &mut batch);
                } else {
                    batch.replies.push(RPC.method_not_found(&id, &method));
                    batch.push(AgentEvent::other("unserved-request", trimmed));
                }
            }
        }
        batch
    }

    fn finish_output(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let mut batch = OutputBatch::default();
        if !self.ended {
            self.flush(&mut batch);
            let message = match exit_code {
                Some(code) => {
                    format!("the ACP agent exited with code {code} before its turn ended")
                }
                None => "the ACP agent was killed before its turn ended".to_owned(),
            };
            // The process is gone: closing its input changes nothing.
            batch.fail_turn(message);
        }
        batch
    }

    fn encode_approval(
        &mut self,
        request_id: &str,
        decision: ApprovalDecision,
        reason: Option<&str>,
    ) -> Result<Vec<u8>, AdapterError> {
        // ACP's answer carries no reason; the host tells the agent when it continues.
        let _ = reason;
        let pending = self.pending.remove(request_id).ok_or_else(|| {
            AdapterError::InvalidInput(format!(
                "no permission request `{request_id}` is waiting (already answered, or never asked)"
            ))
        })?;
        let kinds: &[&str] = match decision {
            ApprovalDecision::Allow => &["allow_once", "allow_always"],
            ApprovalDecision::AllowAlways => &["allow_always", "allow_once"],
            ApprovalDecision::Deny => &["reject_once", "reject_always"],
            ApprovalDecision::Defer => {
                let mut bytes = RPC.result(
                    &pending.rpc_id,
                    &json!({"outcome": {"outcome": "cancelled"}}),
                );
                bytes.extend(
                    RPC.notification("session/cancel", Some(&json!({"sessionId": self.session}))),
                );
                return Ok(bytes);
            }
        };
        Ok(select(&pending.rpc_id, &pending.options, kinds))
    }
}

codecafe_sdk::export_provider!(Acp);

impl Acp {
    fn response(&mut self, id: &Value, outcome: Result<Value, Value>, batch: &mut OutputBatch) {
        let result = match jsonrpc::response_result("the ACP agent", id, outcome) {
            Ok(result) => result,
            Err(message) => {
                self.end_with_error(message, batch);
                return;
            }
        };
        match id.as_i64() {
            Some(INITIALIZE) => {
                let loads = result["agentCapabilities"]["loadSession"].as_bool() == Some(true);
                let params = json!({"cwd": self.cwd, "mcpServers": []});
                match self.continue_session.clone() {
                    Some(session) if loads => {
                        let mut params = params;
                        params["sessionId"] = Value::String(session);
                        batch
                            .replies
                            .push(RPC.request(SESSION, "session/load", &params));
                    }
                    Some(_) => {
                        batch.push(AgentEvent::Log {
                            text: "the agent cannot load sessions (no `loadSession`): a new one starts".to_owned(),
                        });
                        self.continue_session = None;
                        batch
                            .replies
                            .push(RPC.request(SESSION, "session/new", &params));
                    }
                    None => batch
                        .replies
                        .push(RPC.request(SESSION, "session/new", &params)),
                }
            }
            Some(SESSION) => {
                let Some(session) = result["sessionId"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| self.continue_session.clone())
                else {
                    self.end_with_error("the ACP agent started no session".to_owned(), batch);
                    return;
                };
                batch.push(AgentEvent::SessionStarted {
                    id: session.clone(),
                });
                batch.replies.push(RPC.request(
                    PROMPT,
                    "session/prompt",
                    &json!({"sessionId": session, "prompt": [{"type": "text", "text": self.prompt}]}),
                ));
                self.session = Some(session);
                self.prompting = true;
            }
            Some(PROMPT) => self.turn_ended(&result, batch),
            _ => {}
        }
    }

    /// The answer to `session/prompt`: the turn is over.
    fn turn_ended(&mut self, result: &Value, batch: &mut OutputBatch) {
        self.flush(batch);
        self.ended = true;
        self.prompting = false;
        let usage = &result["usage"];
        if usage.is_object() || self.cost.is_some() {
            let count = |key: &str| usage[key].as_u64().unwrap_or(0);
            let cached = count("cachedReadTokens");
            batch.push(AgentEvent::Usage(Usage {
                // ACP's input tokens include the cached ones.
                input_tokens: count("inputTokens").saturating_sub(cached),
                output_tokens: count("outputTokens") + count("thoughtTokens"),
                cached_input_tokens: cached,
                cache_write_tokens: count("cachedWriteTokens"),
                cost_usd: self.cost,
                // The cost an agent reports in `usage_update` is its session's so far.
                cost_is_session_total: self.cost.is_some(),
                tokens_are_session_total: false,
            }));
        }
        let reason = result["stopReason"].as_str().unwrap_or("end_turn");
        let text = std::mem::take(&mut self.last_message);
        match reason {
            "end_turn" => batch.push(AgentEvent::FinalResult(FinalResult {
                text,
                is_error: false,
            })),
            "cancelled" => batch.push(AgentEvent::FinalResult(FinalResult {
                text: "the turn was cancelled".to_owned(),
                is_error: true,
            })),
            other => {
                let message = format!("the agent stopped: {other}");
                batch.push(AgentEvent::Error {
                    message: message.clone(),
                });
                batch.push(AgentEvent::FinalResult(FinalResult {
                    text: if text.is_empty() { message } else { text },
                    is_error: true,
                }));
            }
        }
        // One turn per process: closing standard input ends the agent.
        batch.close_input = true;
    }

    fn end_with_error(&mut self, message: String, batch: &mut OutputBatch) {
        self.flush(batch);
        self.ended = true;
        batch.fail_turn(message);
    }

    /// One `session/update`.
    fn update(&mut self, update: &Value, raw: &str, batch: &mut OutputBatch) {
        let kind = update["sessionUpdate"].as_str().unwrap_or_default();
        let text = || update["content"]["text"].as_str().unwrap_or_default();
        match kind {
            "agent_message_chunk" => {
                if !self.thought.is_empty() {
                    self.flush(batch);
                }
                self.message.push_str(text());
                return;
            }
            "agent_thought_chunk" => {
                if !self.message.is_empty() {
                    self.flush(batch);
                }
                self.thought.push_str(text());
                return;
            }
            _ => self.flush(batch),
        }
        match kind {
            "tool_call" => batch.push(AgentEvent::ToolCall(ToolCall {
                id: update["toolCallId"].as_str().unwrap_or_default().to_owned(),
                name: tool_name(update),
                input: update["rawInput"].to_string(),
            })),
            "tool_call_update" => {
                let status = update["status"].as_str();
                if matches!(status, Some("completed" | "failed")) {
                    batch.push(AgentEvent::ToolResult(ToolResult {
                        id: update["toolCallId"].as_str().unwrap_or_default().to_owned(),
                        output: tool_output(update),
                        is_error: status == Some("failed"),
                    }));
                }
            }
            "usage_update" => {
                if let Some(amount) = update["cost"]["amount"].as_f64() {
                    self.cost = Some(amount);
                }
            }
            "user_message_chunk" => {}
            other => batch.push(AgentEvent::other(other, raw)),
        }
    }

    /// Emits the message or thought streamed so far.
    fn flush(&mut self, batch: &mut OutputBatch) {
        if !self.message.is_empty() {
            let text = std::mem::take(&mut self.message);
            self.last_message = text.clone();
            batch.push(AgentEvent::AssistantText { text });
        }
        if !self.thought.is_empty() {
            batch.push(AgentEvent::Thinking {
                text: std::mem::take(&mut self.thought),
            });
        }
    }

    /// `session/request_permission`: answered here when the stage's level decides it, else an
    /// approval request for the host.
    fn permission(&mut self, id: &Value, params: &Value, batch: &mut OutputBatch) {
        self.flush(batch);
        let call = &params["toolCall"];
        let options = params["options"].as_array().cloned().unwrap_or_default();
        if self.within_level(call) {
            batch
                .replies
                .push(select(id, &options, &["allow_once", "allow_always"]));
            batch.push(AgentEvent::Log {
                text: format!(
                    "allowed within the stage's permissions: {}",
                    call["title"].as_str().unwrap_or("a tool call")
                ),
            });
            return;
        }
        let request_id = id.to_string();
        self.pending.insert(
            request_id.clone(),
            Pending {
                rpc_id: id.clone(),
                options,
            },
        );
        let input = if call["rawInput"].is_object() {
            call["rawInput"].clone()
        } else {
            json!({"title": call["title"]})
        };
        batch.push(AgentEvent::ApprovalRequest(ApprovalRequest {
            id: request_id,
            tool: tool_name(call),
            input: input.to_string(),
            description: call["title"].as_str().unwrap_or_default().to_owned(),
            rule: None,
        }));
    }

    /// Whether the stage's level allows `call` without asking.
    fn within_level(&self, call: &Value) -> bool {
        let level = self.level.unwrap_or(PermissionLevel::ReadOnly);
        let inside = || {
            call["locations"].as_array().is_some_and(|paths| {
                !paths.is_empty()
                    && paths.iter().all(|l| {
                        l["path"].as_str().is_some_and(|p| {
                            !p.contains("..") && std::path::Path::new(p).starts_with(&self.cwd)
                        })
                    })
            })
        };
        match (call["kind"].as_str().unwrap_or("other"), level) {
            (_, PermissionLevel::Full) => true,
            ("read" | "search" | "think", _) => true,
            ("edit" | "delete" | "move", PermissionLevel::Edit) => inside(),
            _ => false,
        }
    }
}

/// The answer selecting the first offered option of one of `kinds` (in that order); an
/// agent that offers none of them gets "cancelled".
fn select(id: &Value, options: &[Value], kinds: &[&str]) -> Vec<u8> {
    let chosen = kinds.iter().find_map(|kind| {
        options
            .iter()
            .find(|o| o["kind"].as_str() == Some(kind))
            .and_then(|o| o["optionId"].as_str())
    });
    let outcome = match chosen {
        Some(option) => json!({"outcome": "selected", "optionId": option}),
        None => json!({"outcome": "cancelled"}),
    };
    RPC.result(id, &json!({"outcome": outcome}))
}

/// A tool call's name: the agent's own (`name`, or Claude's `_meta.claudeCode.toolName`),
/// else its kind.
fn tool_name(call: &Value) -> String {
    call["name"]
        .as_str()
        .or_else(|| call["_meta"]["claudeCode"]["toolName"].as_str())
        .or_else(|| call["kind"].as_str())
        .unwrap_or("tool")
        .to_owned()
}

/// What a finished tool call returned: its raw output, else the text of its content.
fn tool_output(update: &Value) -> String {
    match &update["rawOutput"] {
        Value::String(text) => text.clone(),
        Value::Null => update["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["content"]["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
