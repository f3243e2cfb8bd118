//! The `claude-code` provider: drives Anthropic's Claude Code CLI (`claude`).
//!
//! **Headless** (the default) runs `claude -p --output-format stream-json --verbose` with the
//! prompt on standard input — never as an argument, so neither the argv size limit nor a prompt
//! that starts with `-` can break the command. Its stream-json output becomes normalized events
//! (see the `parse` module).
//!
//! **Interactive** runs Claude Code's own TUI in a pseudo-terminal with no prompt argument: the
//! host answers the folder-trust dialog, waits for the idle prompt and types the prompt with
//! [`Provider::encode_input`]; it reads the screen with [`Provider::check_screen`] (idle, busy,
//! dialogs and the keys that answer them: the `screen` module) and the session's transcript with
//! [`Provider::parse_transcript`] (events, and the end of the turn: the `transcript` module). A
//! new session gets the host's id up front (`--session-id <invocation.session_id>`), a fork too
//! (`--resume <id> --fork-session --session-id <new id>`, accepted by 2.1.332), so the
//! transcript's path is known before Claude Code starts: `$CLAUDE_CONFIG_DIR/projects/*/<id>.jsonl`,
//! else `~/.claude/projects/*/<id>.jsonl` (the folder is the working directory with every
//! non-alphanumeric character replaced by `-`). A plain resume appends to the resumed
//! session's file.
//!
//! The working directory is the process's own (Claude Code has no flag for it). A session is
//! continued with `--resume <id>`, or copied into a new one with `--resume <id> --fork-session`.
//! The invocation's `system_prompt` is appended with `--append-system-prompt`.
//!
//! **Permissions** come from the stage's provider-neutral policy (`permissions:`,
//! `allowed_commands:`), not from options:
//!
//! | level | flags |
//! |---|---|
//! | `read-only` | `--permission-mode default`; read tools and read-only commands (`git status`, `ls`, `cat`, `grep`, ..., plus the stage's `allowed_commands`) allowed; everything else is refused and reported |
//! | `edit` | `--permission-mode acceptEdits` (edits inside the working directory); commands run in Claude Code's own sandbox (bubblewrap on Linux: `--settings {"sandbox":{"enabled":true,...}}`) when the host reports one available, else only the stage's `allowed_commands` |
//! | `full` | `--permission-mode bypassPermissions` (and `IS_SANDBOX=1`, which Claude Code needs to bypass as root) |
//!
//! Stage options:
//!
//! | option | value | flag |
//! |---|---|---|
//! | `allowed_tools` | list of tool rules (`"Bash(git *)"`, `"Edit"`) | `--allowedTools` |
//! | `disallowed_tools` | list of tool rules | `--disallowedTools` |
//! | `max_turns` | positive integer (headless) | `--max-turns` |
//! | `max_budget_usd` | positive number (headless) | `--max-budget-usd` |
//! | `fallback_model` | model name (headless) | `--fallback-model` |
//! | `include_partial_messages` | bool (headless) | `--include-partial-messages` |
//! | `settings` | a settings file path or JSON (a string or an object) | `--settings` |
//! | `mcp_config` | an MCP config file path or JSON (a string or an object) | `--mcp-config` |
//! | `add_dirs` | list of directories | `--add-dir` |
//! | `extra_args` | list of arguments, appended verbatim | |
//!
//! `permission_mode` and `approvals` are refused with a hint to the stage's `permissions:` and
//! `approvals:`.
//!
//! **Approvals.** With the policy's approvals `ask` the run uses `--input-format stream-json
//! --permission-prompt-tool stdio`: the prompt goes in as a stream-json user message, standard
//! input stays open, and a tool call that needs permission arrives as a `can_use_tool`
//! `control_request`, which becomes an [`AgentEvent::ApprovalRequest`]; the user's decision goes
//! back as the `control_response` that [`Provider::encode_approval`] builds (the shapes are those
//! of `@anthropic-ai/claude-agent-sdk`'s `sdk.d.ts`): allow (with Claude Code's proposed rules
//! for "always"), deny with the user's reason, or **defer** — deny with `interrupt`, which ends
//! the turn without running the call so the host can resume the session once the user decided
//! (the call and Claude Code's report of it are then no denial). The request carries the first
//! rule Claude Code proposes (`Bash(cargo test:*)`). Further input can be sent with
//! [`Provider::encode_input`]. In this mode Claude Code waits for more input after each
//! `result`, so the batch with the final result asks the host to close standard input.

mod parse;
mod screen;
mod transcript;

use codecafe_sdk::{
    AdapterError, ApprovalDecision, ApprovalPolicy, BuildError, Capabilities, CommandSpec,
    Invocation, Io, Mode, OutputBatch, PermissionLevel, Provider, ProviderInfo, Readiness,
    Requirements, ScreenState, Stdin, Stream,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The program started for both modes.
pub const PROGRAM: &str = "claude";

/// The options this provider knows.
const OPTIONS: &[&str] = &[
    "allowed_tools",
    "disallowed_tools",
    "max_turns",
    "max_budget_usd",
    "fallback_model",
    "include_partial_messages",
    "settings",
    "mcp_config",
    "add_dirs",
    "extra_args",
];

/// Options of earlier versions that the stage's permission policy replaces, with the hint.
const REPLACED: &[(&str, &str)] = &[
    (
        "permission_mode",
        "the stage's `permissions: read-only | edit | full` sets Claude Code's permission mode",
    ),
    (
        "approvals",
        "the stage's `approvals: ask | deny` decides what happens beyond its `permissions`",
    ),
];

/// The options that only make sense with `-p` (headless).
const HEADLESS_ONLY: &[&str] = &[
    "max_turns",
    "max_budget_usd",
    "fallback_model",
    "include_partial_messages",
];

/// Commands a read-only stage may run: they read, never write (as `Bash(<prefix>:*)` rules).
const READ_ONLY_COMMANDS: &[&str] = &[
    "git status",
    "git diff",
    "git log",
    "git show",
    "git ls-files",
    "git grep",
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "grep",
    "pwd",
];

/// The tools that only read.
const READ_TOOLS: &[&str] = &["Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite"];

/// The variables of the user's environment Claude Code may need: its own settings, Anthropic
/// credentials and endpoints, Bedrock / Vertex / Foundry, proxies and CA bundles, and the
/// switches that keep it quiet.
const ENV: &[&str] = &[
    "ANTHROPIC_*",
    "CLAUDE_*",
    "AWS_*",
    "CLOUD_ML_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "DISABLE_AUTOUPDATER",
    "DISABLE_NON_ESSENTIAL_MODEL_CALLS",
    "MCP_TIMEOUT",
];

/// How text reaches the running agent, decided when the command is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum InputChannel {
    /// Standard input is closed once the prompt is written: no live input.
    #[default]
    Closed,
    /// `--input-format stream-json` with standard input kept open.
    StreamJson,
    /// The TUI in a pseudo-terminal: keystrokes.
    Terminal,
}

/// The Claude Code adapter. One instance serves one stage session; it keeps what parsing needs
/// (sessions seen, tool names by call id, pending approval requests).
#[derive(Debug, Default)]
pub struct ClaudeCode {
    input: InputChannel,
    state: parse::ParseState,
    transcript: transcript::TranscriptState,
}

impl Provider for ClaudeCode {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            id: "claude-code".to_owned(),
            name: "Claude Code".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Anthropic's Claude Code CLI (`claude`), headless stream-json or its TUI."
                .to_owned(),
            modes: vec![Mode::Headless, Mode::Interactive],
            capabilities: Capabilities {
                resume: true,
                fork: true,
                live_input: true,
                approvals: true,
                usage: true,
                cost: true,
                screen_check: true,
            },
            requirements: Requirements {
                programs: vec![PROGRAM.to_owned()],
                env: ENV.iter().map(|v| (*v).to_owned()).collect(),
            },
            readiness: Some(Readiness {
                program: PROGRAM.to_owned(),
                version_args: vec!["--version".to_owned()],
                tested_versions: ">=2.1.197, <=2.1.332".to_owned(),
                login_check: Some(vec!["auth".to_owned(), "status".to_owned()]),
                login_env: vec![
                    "ANTHROPIC_API_KEY".to_owned(),
                    "ANTHROPIC_AUTH_TOKEN".to_owned(),
                    "CLAUDE_CODE_OAUTH_TOKEN".to_owned(),
                    "CLAUDE_CODE_USE_BEDROCK".to_owned(),
                    "CLAUDE_CODE_USE_VERTEX".to_owned(),
                    "CLAUDE_CODE_USE_FOUNDRY".to_owned(),
                ],
                login_hint: "run `claude` once and log in (`/login`), or set ANTHROPIC_API_KEY"
                    .to_owned(),
                // Claude Code reports its cost itself.
                model_config: None,
            }),
        }
    }

    fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
        let options = Options::read(invocation)?;
        let (spec, input) = match invocation.mode {
            Mode::Headless => headless(invocation, &options)?,
            Mode::Interactive => interactive(invocation, &options)?,
        };
        self.input = input;
        self.transcript = match &invocation.session {
            Some(session) if session.fork => transcript::TranscriptState::forked(),
            _ => transcript::TranscriptState::default(),
        };
        Ok(spec)
    }

    fn parse_output(&mut self, source: Stream, line: &str) -> OutputBatch {
        let mut batch = self.state.parse_line(source, line);
        // With streamed input Claude Code waits for the next message after its `result`;
        // closing standard input lets it exit once the turn is over.
        if self.input == InputChannel::StreamJson
            && batch
                .events
                .iter()
                .any(|e| matches!(e, codecafe_sdk::AgentEvent::FinalResult(_)))
        {
            batch.close_input = true;
        }
        batch
    }

    fn finish_output(&mut self, exit_code: Option<i32>) -> OutputBatch {
        self.state.finish(exit_code)
    }

    fn encode_input(&mut self, text: &str) -> Result<Vec<u8>, AdapterError> {
        match self.input {
            InputChannel::StreamJson => Ok(user_message(text)),
            InputChannel::Terminal => {
                self.transcript.typed(text);
                Ok(screen::typed_input(text))
            }
            InputChannel::Closed => Err(AdapterError::Unsupported(
                "a headless Claude Code run reads its prompt and closes standard input; answer \
                 by resuming the session"
                    .to_owned(),
            )),
        }
    }

    fn encode_approval(
        &mut self,
        request_id: &str,
        decision: ApprovalDecision,
        reason: Option<&str>,
    ) -> Result<Vec<u8>, AdapterError> {
        if self.input != InputChannel::StreamJson {
            return Err(AdapterError::Unsupported(
                "approvals need a headless stage with `approvals: ask`".to_owned(),
            ));
        }
        let pending = self.state.take_approval(request_id).ok_or_else(|| {
            AdapterError::InvalidInput(format!(
                "no approval request `{request_id}` is waiting (already answered, withdrawn, or \
                 never asked)"
            ))
        })?;
        if matches!(decision, ApprovalDecision::Deny | ApprovalDecision::Defer)
            && let Some(id) = &pending.tool_use_id
        {
            self.state.decided(id);
        }
        Ok(approval_response(request_id, &pending, decision, reason))
    }

    fn check_screen(&mut self, screen: &str, title: &str) -> ScreenState {
        screen::check(screen, title)
    }

    fn parse_transcript(&mut self, line: &str) -> OutputBatch {
        self.transcript.parse_line(line)
    }
}

codecafe_sdk::export_provider!(ClaudeCode);

// ---------------------------------------------------------------------------------------------
// Options and commands
// ---------------------------------------------------------------------------------------------

/// One string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A JSON value given as its text (a path or JSON) or as an object (serialized for the flag).
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrObject {
    Text(String),
    Object(serde_json::Map<String, Value>),
}

/// The stage options and policy, checked.
#[derive(Debug, Default)]
struct Options {
    permission_mode: &'static str,
    allowed_tools: Vec<String>,
    disallowed_tools: Vec<String>,
    max_turns: Option<u64>,
    max_budget_usd: Option<f64>,
    fallback_model: Option<String>,
    include_partial_messages: bool,
    settings: Option<String>,
    mcp_config: Option<String>,
    add_dirs: Vec<String>,
    approvals: bool,
    extra_args: Vec<String>,
}

/// Claude Code's own sandbox, for `edit` stages on a machine that has one: commands run
/// confined to the working directory without asking.
fn sandbox_settings() -> serde_json::Map<String, Value> {
    let mut settings = serde_json::Map::new();
    settings.insert(
        "sandbox".to_owned(),
        json!({"enabled": true, "autoAllowBashIfSandboxed": true, "allowUnsandboxedCommands": false}),
    );
    settings
}

impl Options {
    fn read(invocation: &Invocation) -> Result<Self, BuildError> {
        for (key, hint) in REPLACED {
            if invocation.raw_option(key).is_some() {
                return Err(BuildError::invalid_option(
                    key,
                    format!("is replaced: {hint}"),
                ));
            }
        }
        invocation.reject_unknown_options(OPTIONS)?;
        if invocation.mode == Mode::Interactive
            && let Some(key) = HEADLESS_ONLY
                .iter()
                .find(|key| invocation.raw_option(key).is_some())
        {
            return Err(BuildError::invalid_option(
                key,
                "applies to headless runs only (`claude -p`); remove it for interactive mode",
            ));
        }
        let policy = &invocation.policy;
        let approvals = policy.approvals == ApprovalPolicy::Ask;
        let max_turns = match invocation.option::<Value>("max_turns")? {
            None => None,
            Some(value) => Some(value.as_u64().filter(|turns| *turns >= 1).ok_or_else(|| {
                BuildError::invalid_option(
                    "max_turns",
                    "must be a whole number of turns, 1 or more",
                )
            })?),
        };
        let max_budget_usd = match invocation.option::<Value>("max_budget_usd")? {
            None => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .filter(|usd| usd.is_finite() && *usd > 0.0)
                    .ok_or_else(|| {
                        BuildError::invalid_option(
                            "max_budget_usd",
                            "must be a positive number of US dollars",
                        )
                    })?,
            ),
        };
        let mut allowed_tools = list(invocation, "allowed_tools")?;
        let mut settings = text_or_object(invocation, "settings")?;
        let commands = |prefixes: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            prefixes.map(|c| format!("Bash({}:*)", c.trim())).collect()
        };
        let permission_mode = match policy.level {
            PermissionLevel::ReadOnly => {
                allowed_tools.extend(READ_TOOLS.iter().map(|t| (*t).to_owned()));
                allowed_tools.extend(commands(
                    &mut READ_ONLY_COMMANDS
                        .iter()
                        .copied()
                        .chain(policy.allowed_commands.iter().map(String::as_str)),
                ));
                "default"
            }
            PermissionLevel::Edit => {
                match (&mut settings, policy.sandbox_available) {
                    // Commands run confined to the worktree by Claude Code's own sandbox.
                    (None, true) => {
                        settings = Some(Value::Object(sandbox_settings()).to_string());
                    }
                    (Some(text), true) if text.trim_start().starts_with('{') => {
                        let mut merged: serde_json::Map<String, Value> =
                            serde_json::from_str(text).unwrap_or_default();
                        merged.extend(sandbox_settings());
                        *text = Value::Object(merged).to_string();
                    }
                    // No sandbox (or settings from a file): only the allowed commands run.
                    _ => allowed_tools.extend(commands(
                        &mut policy.allowed_commands.iter().map(String::as_str),
                    )),
                }
                "acceptEdits"
            }
            PermissionLevel::Full => "bypassPermissions",
        };
        Ok(Self {
            permission_mode,
            allowed_tools,
            disallowed_tools: list(invocation, "disallowed_tools")?,
            max_turns,
            max_budget_usd,
            fallback_model: text(invocation, "fallback_model")?,
            include_partial_messages: invocation.bool_option("include_partial_messages")?,
            settings,
            mcp_config: text_or_object(invocation, "mcp_config")?,
            add_dirs: list(invocation, "add_dirs")?,
            approvals,
            extra_args: invocation.string_list("extra_args")?,
        })
    }

    /// The flags both modes share, in a stable order.
    fn common_flags(&self, invocation: &Invocation, args: &mut Vec<String>) {
        if let Some(model) = &invocation.model {
            flag(args, "--model", model);
        }
        flag(args, "--permission-mode", self.permission_mode);
        if let Some(settings) = &self.settings {
            flag(args, "--settings", settings);
        }
        if let Some(config) = &self.mcp_config {
            flag(args, "--mcp-config", config);
        }
        // These take several values; each is its own argument, and an option or `--` follows.
        for (name, values) in [
            ("--allowedTools", &self.allowed_tools),
            ("--disallowedTools", &self.disallowed_tools),
            ("--add-dir", &self.add_dirs),
        ] {
            if !values.is_empty() {
                args.push(name.to_owned());
                args.extend(values.iter().cloned());
            }
        }
        if let Some(system_prompt) = &invocation.system_prompt {
            flag(args, "--append-system-prompt", system_prompt);
        }
        if let Some(session) = &invocation.session {
            flag(args, "--resume", &session.id);
            if session.fork {
                args.push("--fork-session".to_owned());
            }
        }
    }

    /// The environment both modes share.
    fn env(&self) -> Vec<(String, String)> {
        if self.permission_mode == "bypassPermissions" {
            // As root, Claude Code refuses to bypass permissions unless told it is sandboxed.
            vec![("IS_SANDBOX".to_owned(), "1".to_owned())]
        } else {
            Vec::new()
        }
    }
}

/// `claude -p --output-format stream-json --verbose ...` with the prompt on stdin.
fn headless(
    invocation: &Invocation,
    options: &Options,
) -> Result<(CommandSpec, InputChannel), BuildError> {
    check_session(invocation)?;
    if invocation.prompt.trim().is_empty() {
        return Err(BuildError::InvalidInvocation {
            message: "the prompt is empty; a headless Claude Code run needs one".to_owned(),
        });
    }
    let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
        .map(str::to_owned)
        .to_vec();
    if options.approvals {
        args.extend(
            [
                "--input-format",
                "stream-json",
                "--permission-prompt-tool",
                "stdio",
            ]
            .map(str::to_owned),
        );
    }
    if options.include_partial_messages {
        args.push("--include-partial-messages".to_owned());
    }
    if let Some(fallback) = &options.fallback_model {
        flag(&mut args, "--fallback-model", fallback);
    }
    if let Some(turns) = options.max_turns {
        flag(&mut args, "--max-turns", &turns.to_string());
    }
    if let Some(usd) = options.max_budget_usd {
        flag(&mut args, "--max-budget-usd", &usd.to_string());
    }
    options.common_flags(invocation, &mut args);
    args.extend(options.extra_args.iter().cloned());
    let (stdin, input) = if options.approvals {
        (
            Stdin::KeepOpen(user_message(&invocation.prompt)),
            InputChannel::StreamJson,
        )
    } else {
        (
            Stdin::Bytes(invocation.prompt.clone().into_bytes()),
            InputChannel::Closed,
        )
    };
    let mut spec = CommandSpec::new(PROGRAM).args(args).stdin(stdin);
    spec.env = options.env();
    Ok((spec, input))
}

/// `claude [--session-id <new id>] ...` in a pseudo-terminal; the host types the prompt.
fn interactive(
    invocation: &Invocation,
    options: &Options,
) -> Result<(CommandSpec, InputChannel), BuildError> {
    check_session(invocation)?;
    let mut args = Vec::new();
    options.common_flags(invocation, &mut args);
    let new_id = invocation.session_id.trim();
    let continues = invocation.session.as_ref().filter(|session| !session.fork);
    if continues.is_none() && !new_id.is_empty() {
        // A new session, or the fork's new copy, under the host's id.
        flag(&mut args, "--session-id", new_id);
    }
    args.extend(options.extra_args.iter().cloned());
    let transcript_id = match continues {
        Some(session) => session.id.trim(),
        None => new_id,
    };
    let mut spec = CommandSpec::new(PROGRAM)
        .args(args)
        .stdin(Stdin::KeepOpen(Vec::new()))
        .io(Io::Pty);
    spec.env = options.env();
    spec.transcript = transcript_paths(transcript_id);
    Ok((spec, InputChannel::Terminal))
}

/// Where Claude Code keeps session `id`'s transcript: under `$CLAUDE_CONFIG_DIR` when set, else
/// `~/.claude`, in the project folder of the working directory (`*`: any).
fn transcript_paths(id: &str) -> Vec<String> {
    let plain = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !plain {
        return Vec::new();
    }
    vec![
        format!("$CLAUDE_CONFIG_DIR/projects/*/{id}.jsonl"),
        format!("~/.claude/projects/*/{id}.jsonl"),
    ]
}

fn check_session(invocation: &Invocation) -> Result<(), BuildError> {
    match &invocation.session {
        Some(session) if session.id.trim().is_empty() => Err(BuildError::InvalidInvocation {
            message: "the session to resume has an empty id".to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Appends `name value`, or `name=value` when the value starts with `-` (so the CLI's option
/// parser cannot take it for an option).
fn flag(args: &mut Vec<String>, name: &str, value: &str) {
    if value.starts_with('-') {
        args.push(format!("{name}={value}"));
    } else {
        args.push(name.to_owned());
        args.push(value.to_owned());
    }
}

/// A list-of-strings option (one string counts as a list of one); blanks are errors.
fn list(invocation: &Invocation, key: &str) -> Result<Vec<String>, BuildError> {
    let values = match invocation.option::<OneOrMany>(key)? {
        None => return Ok(Vec::new()),
        Some(OneOrMany::One(value)) => vec![value],
        Some(OneOrMany::Many(values)) => values,
    };
    if values.iter().any(|value| value.trim().is_empty()) {
        return Err(BuildError::invalid_option(key, "has an empty entry"));
    }
    Ok(values)
}

/// A non-empty string option.
fn text(invocation: &Invocation, key: &str) -> Result<Option<String>, BuildError> {
    match invocation.option::<String>(key)? {
        Some(value) if value.trim().is_empty() => Err(BuildError::invalid_option(key, "is empty")),
        other => Ok(other),
    }
}

/// A path-or-JSON option: a non-empty string, or an object given as JSON text.
fn text_or_object(invocation: &Invocation, key: &str) -> Result<Option<String>, BuildError> {
    match invocation.option::<TextOrObject>(key) {
        Ok(None) => Ok(None),
        Ok(Some(TextOrObject::Text(value))) if value.trim().is_empty() => {
            Err(BuildError::invalid_option(key, "is empty"))
        }
        Ok(Some(TextOrObject::Text(value))) => Ok(Some(value)),
        Ok(Some(TextOrObject::Object(object))) => Ok(Some(Value::Object(object).to_string())),
        Err(_) => Err(BuildError::invalid_option(
            key,
            "must be a file path or JSON text (a string), or a JSON object",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// stream-json input
// ---------------------------------------------------------------------------------------------

/// A stream-json user message line, as the Agent SDK writes it.
fn user_message(text: &str) -> Vec<u8> {
    let message = json!({
        "type": "user",
        "session_id": "",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
        "parent_tool_use_id": null,
    });
    let mut bytes = message.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

/// The `control_response` line that answers a `can_use_tool` request.
fn approval_response(
    request_id: &str,
    pending: &parse::PendingApproval,
    decision: ApprovalDecision,
    reason: Option<&str>,
) -> Vec<u8> {
    let input: Value = serde_json::from_str(&pending.input).unwrap_or_else(|_| json!({}));
    let mut result = match decision {
        ApprovalDecision::Allow | ApprovalDecision::AllowAlways => {
            json!({"behavior": "allow", "updatedInput": input})
        }
        ApprovalDecision::Deny => json!({
            "behavior": "deny",
            "message": match reason {
                Some(reason) => format!("The user denied this tool call: {reason}"),
                None => "The user denied this tool call.".to_owned(),
            },
        }),
        // The turn ends here (`interrupt`); the session is resumed once the user decided.
        ApprovalDecision::Defer => json!({
            "behavior": "deny",
            "message": reason.unwrap_or(
                "This call waits for the user's approval; the session continues once they decide.",
            ),
            "interrupt": true,
        }),
    };
    if decision == ApprovalDecision::AllowAlways
        && let Some(suggestions) = pending
            .suggestions
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .filter(Value::is_array)
    {
        result["updatedPermissions"] = suggestions;
    }
    if let Some(tool_use_id) = &pending.tool_use_id {
        result["toolUseID"] = Value::String(tool_use_id.clone());
    }
    let response = json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": request_id, "response": result},
    });
    let mut bytes = response.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests;
