//! The data that crosses the plugin boundary, as plain Rust types.
//!
//! These mirror the WIT packages `codecafe:provider@0.2.0` and `codecafe:signals@0.1.0` one to
//! one. Plugins build them; the host receives them (it uses this same module), stores them and
//! streams them as JSON, so every type is `serde`-ready: camelCase keys (the host's one key
//! casing) and kebab-case words for enum values (`assistant-text`, `awaiting-input`).

use serde::{Deserialize, Serialize};

/// How an agent is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Mode {
    /// The agent's non-interactive streaming mode (e.g. `claude -p --output-format stream-json`).
    Headless,
    /// The agent's own TUI in a pseudo-terminal.
    Interactive,
}

/// What a provider and its agent can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// A finished session can be continued by id.
    pub resume: bool,
    /// A session can be forked into a new one that starts from its history.
    pub fork: bool,
    /// Input can be written to a running agent.
    pub live_input: bool,
    /// The agent can ask for approval of a tool call over its protocol.
    pub approvals: bool,
    /// The provider reports token usage.
    pub usage: bool,
    /// The provider reports cost in US dollars.
    pub cost: bool,
    /// The provider can read idle / busy / waiting from a rendered terminal screen.
    pub screen_check: bool,
}

/// What a provider may make the host do: the only programs the host starts for it and the only
/// variables of the user's environment its agent gets (besides a short base list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirements {
    /// Programs the host may start for it: names looked up on PATH, or absolute paths.
    pub programs: Vec<String>,
    /// Variables of the user's environment its agent gets: names, or prefixes ending in `*`
    /// (`ANTHROPIC_*`).
    pub env: Vec<String>,
}

impl Requirements {
    /// Whether `program` (as a command spec names it) is one of the declared programs; `*`
    /// declares any program (for providers that run what their stage names, such as
    /// `command`: the host lets them run only in trusted repositories).
    pub fn allows_program(&self, program: &str) -> bool {
        self.programs.iter().any(|p| p == "*" || p == program)
    }

    /// Whether variable `name` matches a declared name or prefix.
    pub fn wants_env(&self, name: &str) -> bool {
        self.env
            .iter()
            .any(|pattern| env_pattern_matches(pattern, name))
    }
}

/// Whether variable `name` matches `pattern`: a name, or a prefix ending in `*` (`ANTHROPIC_*`).
pub fn env_pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// How `codecafe doctor` tells whether a provider's agent CLI is ready; the host runs the
/// commands, the provider only names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// The CLI's program.
    pub program: String,
    /// Arguments that make it print its version.
    pub version_args: Vec<String>,
    /// The versions the adapter was tested with, a semver requirement (`">=2.1.197, <=2.1.332"`).
    pub tested_versions: String,
    /// Arguments of the CLI's login status command (exit 0 when logged in), if it has one.
    pub login_check: Option<Vec<String>>,
    /// Variables any one of which, set, counts as a key.
    pub login_env: Vec<String>,
    /// What to do when not logged in.
    pub login_hint: String,
    /// Where the CLI's configured default model is (for pricing runs that name no model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_config: Option<ModelConfig>,
}

/// A top-level `key = "value"` of a TOML file: the first of `files` that exists is read;
/// `~/` and `$VAR/` at the start of a path are expanded, and a path whose variable is unset is
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfig {
    /// Candidate files, in order.
    pub files: Vec<String>,
    /// The top-level key.
    pub key: String,
}

/// Identity and abilities of a provider plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    /// Stable id used in recipes (`provider: claude-code`): lowercase letters, digits and `-`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// One line describing the agent it drives.
    pub description: String,
    /// Modes it can run in.
    pub modes: Vec<Mode>,
    /// What it can do.
    pub capabilities: Capabilities,
    /// What it may make the host start and pass on.
    #[serde(default)]
    pub requirements: Requirements,
    /// How to check its agent CLI is ready, if it drives one.
    #[serde(default)]
    pub readiness: Option<Readiness>,
}

/// How far a stage's agent may go on its own, provider-neutral.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionLevel {
    /// Read files and run read-only commands; no edits.
    #[default]
    ReadOnly,
    /// Edit files inside the working directory and run commands confined to it.
    Edit,
    /// No limits besides the working directory.
    Full,
}

impl PermissionLevel {
    /// The name recipes use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Edit => "edit",
            Self::Full => "full",
        }
    }
}

/// What happens to a request beyond the stage's level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// A human decides.
    Ask,
    /// It is refused, and the refusal reported.
    #[default]
    Deny,
}

/// The permission policy of one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// How far the agent may go on its own.
    pub level: PermissionLevel,
    /// What happens beyond it.
    pub approvals: ApprovalPolicy,
    /// Commands the agent may run without asking where no sandbox confines commands (prefixes).
    pub allowed_commands: Vec<String>,
    /// A confining sandbox for commands is available on this machine.
    pub sandbox_available: bool,
}

/// Which earlier agent session to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// The agent's own session or thread id, as reported by [`AgentEvent::SessionStarted`].
    pub id: String,
    /// Start a new session from that history instead of continuing it in place.
    pub fork: bool,
}

/// Everything a provider needs to build the command for one agent run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    /// The fully rendered prompt.
    pub prompt: String,
    /// Absolute path of the working directory (the order's worktree).
    pub working_dir: String,
    /// Model name or alias; `None` means the agent's default.
    pub model: Option<String>,
    /// How to run the agent.
    pub mode: Mode,
    /// Session to resume or fork; `None` starts a fresh one.
    pub session: Option<SessionRef>,
    /// Text to append to the agent's system prompt (house rules).
    pub system_prompt: Option<String>,
    /// The stage's permission policy.
    #[serde(default)]
    pub policy: Policy,
    /// Stage options for this provider; values are JSON texts.
    pub options: Vec<(String, String)>,
    /// A fresh UUID the provider may give a new session up front (Claude Code's
    /// `--session-id`).
    #[serde(default)]
    pub session_id: String,
}

impl Invocation {
    /// A headless invocation of `prompt` in `working_dir` with everything else unset.
    pub fn new(prompt: impl Into<String>, working_dir: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            working_dir: working_dir.into(),
            model: None,
            mode: Mode::Headless,
            session: None,
            system_prompt: None,
            policy: Policy::default(),
            options: Vec::new(),
            session_id: String::new(),
        }
    }

    /// With the permission policy `policy`.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Adds stage option `key` with its value as JSON text (`"\"plan\""`, `"true"`, `"[1]"`).
    ///
    /// ```
    /// use codecafe_sdk::Invocation;
    ///
    /// let invocation = Invocation::new("fix the bug", "/work/tree").with_option("pty", "true");
    /// assert_eq!(invocation.bool_option("pty"), Ok(true));
    /// ```
    pub fn with_option(mut self, key: impl Into<String>, json: impl Into<String>) -> Self {
        self.options.push((key.into(), json.into()));
        self
    }

    /// The raw JSON text of option `key`, if the stage set it.
    pub fn raw_option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Option `key` decoded from JSON, or [`BuildError::InvalidOption`] naming the key and the
    /// expected type when the value does not fit.
    pub fn option<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, BuildError> {
        match self.raw_option(key) {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw).map(Some).map_err(|err| {
                BuildError::invalid_option(key, format!("cannot read {raw}: {err}"))
            }),
        }
    }

    /// A string option that must be one of `accepted`; otherwise [`BuildError::InvalidOption`]
    /// names the value and lists what is accepted.
    ///
    /// ```
    /// use codecafe_sdk::{BuildError, Invocation};
    ///
    /// let invocation = Invocation::new("p", "/w").with_option("sandbox", r#""wide-open""#);
    /// assert_eq!(invocation.choice("approval", &["never"]), Ok(None));
    /// let err = invocation.choice("sandbox", &["read-only", "workspace-write"]);
    /// assert_eq!(
    ///     err,
    ///     Err(BuildError::invalid_option(
    ///         "sandbox",
    ///         "`wide-open` must be one of read-only, workspace-write"
    ///     ))
    /// );
    /// ```
    pub fn choice(&self, key: &str, accepted: &[&str]) -> Result<Option<String>, BuildError> {
        let expected = || format!("must be one of {}", accepted.join(", "));
        match self.option::<serde_json::Value>(key)? {
            None => Ok(None),
            Some(serde_json::Value::String(value)) if accepted.contains(&value.as_str()) => {
                Ok(Some(value))
            }
            Some(serde_json::Value::String(value)) => Err(BuildError::invalid_option(
                key,
                format!("`{value}` {}", expected()),
            )),
            Some(other) => Err(BuildError::invalid_option(
                key,
                format!("{other} {}", expected()),
            )),
        }
    }

    /// A boolean option; unset is `false`. Anything but `true` or `false` is
    /// [`BuildError::InvalidOption`].
    pub fn bool_option(&self, key: &str) -> Result<bool, BuildError> {
        Ok(self.option::<bool>(key)?.unwrap_or(false))
    }

    /// A list-of-strings option (`["--fast", "-v"]`); unset is an empty list. Anything but a
    /// list of strings is [`BuildError::InvalidOption`].
    pub fn string_list(&self, key: &str) -> Result<Vec<String>, BuildError> {
        Ok(self.option::<Vec<String>>(key)?.unwrap_or_default())
    }

    /// Rejects options this provider does not know, so a typo in a recipe is an error rather
    /// than silently ignored.
    pub fn reject_unknown_options(&self, known: &[&str]) -> Result<(), BuildError> {
        match self
            .options
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((key, _)) => Err(BuildError::InvalidOption {
                key: key.clone(),
                message: if known.is_empty() {
                    "this provider takes no options".to_owned()
                } else {
                    format!("unknown option; this provider knows: {}", known.join(", "))
                },
            }),
        }
    }
}

/// How the agent's standard input is set up (as JSON: `{"kind": "keep-open", "bytes": […]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "bytes")]
pub enum Stdin {
    /// Closed: reads see end of file at once.
    Closed,
    /// These bytes are written, then standard input is closed.
    Bytes(Vec<u8>),
    /// These bytes are written and standard input stays open for replies and user input.
    KeepOpen(Vec<u8>),
}

/// How the agent's output is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Io {
    /// Separate stdout and stderr pipes.
    Pipes,
    /// One pseudo-terminal.
    Pty,
}

/// The process the host should start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// Program name (looked up on `PATH`) or absolute path.
    pub program: String,
    /// Arguments, without the program name.
    pub args: Vec<String>,
    /// Environment variables to set for the agent.
    pub env: Vec<(String, String)>,
    /// Standard input.
    pub stdin: Stdin,
    /// Pipes or a pseudo-terminal.
    pub io: Io,
    /// Interactive mode: candidate paths of the agent's transcript (see the WIT
    /// `command-spec.transcript`); empty when it keeps none the host can read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<String>,
}

impl CommandSpec {
    /// `program` with no arguments, stdin closed, on pipes.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Stdin::Closed,
            io: Io::Pipes,
            transcript: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets standard input.
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Sets pipes or a pseudo-terminal.
    pub fn io(mut self, io: Io) -> Self {
        self.io = io;
        self
    }
}

/// Why a command could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum BuildError {
    /// An option has a bad value or is not known to this provider.
    InvalidOption {
        /// The option's key.
        key: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// This provider cannot run in the requested mode.
    UnsupportedMode {
        /// The mode asked for.
        mode: Mode,
    },
    /// The request needs something this provider cannot do.
    Unsupported {
        /// What it is.
        message: String,
    },
    /// The invocation itself is unusable.
    InvalidInvocation {
        /// What is wrong.
        message: String,
    },
}

impl BuildError {
    /// [`BuildError::InvalidOption`] for option `key`: `message` says what is wrong and what
    /// would be accepted (it is shown after the key: ``option `max_turns`: must be 1 or more``).
    pub fn invalid_option(key: &str, message: impl Into<String>) -> Self {
        Self::InvalidOption {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidOption { key, message } => write!(f, "option `{key}`: {message}"),
            Self::UnsupportedMode { mode } => write!(f, "mode {mode:?} is not supported"),
            Self::Unsupported { message } => write!(f, "not supported: {message}"),
            Self::InvalidInvocation { message } => write!(f, "invalid invocation: {message}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Stream {
    /// Standard output (or the pseudo-terminal).
    Stdout,
    /// Standard error.
    Stderr,
}

/// A tool the agent called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    /// The agent's id for the call.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// The tool's input as JSON text.
    pub input: String,
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// The id of the call it answers.
    pub id: String,
    /// Output text.
    pub output: String,
    /// The tool failed or was refused.
    pub is_error: bool,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum ChangeKind {
    /// Created.
    Add,
    /// Modified.
    Update,
    /// Removed.
    Delete,
}

/// A file the agent changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChange {
    /// Path as the agent reported it.
    pub path: String,
    /// How it changed.
    pub kind: ChangeKind,
}

/// Token usage and cost as the agent reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Input tokens not served from a cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cached_input_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Cost in US dollars, when the agent reports it.
    pub cost_usd: Option<f64>,
    /// `cost_usd` is the agent session's total so far (the history it resumed or forked
    /// included), not this run's; the host subtracts what it saw when the session was left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_is_session_total: bool,
    /// The token counts are the agent session's totals so far, not this run's; the host
    /// subtracts what the session had when it was left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tokens_are_session_total: bool,
}

/// The agent's last word for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalResult {
    /// The final answer text; the signal parser reads this.
    pub text: String,
    /// The run failed.
    pub is_error: bool,
}

/// A tool call the agent was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDenial {
    /// The agent's id for the call, if it has one (else empty).
    pub id: String,
    /// Tool name.
    pub tool: String,
    /// The tool's input as JSON text.
    pub input: String,
    /// Why, as the agent says.
    pub reason: String,
}

/// A tool call waiting for the user's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    /// Id to answer with.
    pub id: String,
    /// Tool name.
    pub tool: String,
    /// Tool input as JSON text.
    pub input: String,
    /// Why it needs approval, for the user.
    pub description: String,
    /// The rule the agent proposes for allowing calls like this one for the rest of the order
    /// (`Tool` or `Tool(content)`, e.g. `Bash(cargo test:*)`), when it proposes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// One normalized event from an agent's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "type"
)]
pub enum AgentEvent {
    /// The agent's session or thread id; resume with it.
    SessionStarted {
        /// The id.
        id: String,
    },
    /// Text the assistant wrote.
    AssistantText {
        /// The text.
        text: String,
    },
    /// The assistant's visible reasoning.
    Thinking {
        /// The text.
        text: String,
    },
    /// A tool call.
    ToolCall(ToolCall),
    /// A tool result.
    ToolResult(ToolResult),
    /// A changed file.
    FileChange(FileChange),
    /// Token usage and cost.
    Usage(Usage),
    /// The final result of the run.
    FinalResult(FinalResult),
    /// An error the agent reported.
    Error {
        /// What went wrong.
        message: String,
    },
    /// A tool call waiting for approval.
    ApprovalRequest(ApprovalRequest),
    /// A tool call the agent was refused.
    ToolDenied(ToolDenial),
    /// Diagnostic output that is neither assistant text nor an error.
    Log {
        /// The text.
        text: String,
    },
    /// An event of a kind this interface version has no case for.
    Other {
        /// A short kind name, e.g. `rate-limit`.
        kind: String,
        /// Details as JSON text.
        data: String,
    },
}

impl AgentEvent {
    /// [`AgentEvent::Other`] of `kind` in kebab case (lowercase; `_`, `.`, `/` and spaces become
    /// `-`), so an agent's own names can be passed as they are: `api_retry` → `api-retry`,
    /// `item.updated` → `item-updated`. An empty kind is `unknown`.
    ///
    /// ```
    /// use codecafe_sdk::AgentEvent;
    ///
    /// assert_eq!(
    ///     AgentEvent::other("Rate_Limit", "{}"),
    ///     AgentEvent::Other { kind: "rate-limit".to_owned(), data: "{}".to_owned() }
    /// );
    /// ```
    pub fn other(kind: &str, data: impl Into<String>) -> Self {
        let kind = if kind.is_empty() { "unknown" } else { kind };
        Self::Other {
            kind: kind
                .chars()
                .map(|c| match c {
                    '_' | '.' | '/' | ' ' => '-',
                    c => c.to_ascii_lowercase(),
                })
                .collect(),
            data: data.into(),
        }
    }
}

/// What one piece of output turned into.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputBatch {
    /// Normalized events, in order.
    pub events: Vec<AgentEvent>,
    /// Bytes the host must write to the agent's standard input, in order.
    pub replies: Vec<Vec<u8>>,
    /// After writing the replies, close the agent's standard input (an agent reading streamed
    /// input waits for more otherwise).
    pub close_input: bool,
}

impl OutputBatch {
    /// A batch of these events and no replies.
    pub fn events(events: Vec<AgentEvent>) -> Self {
        Self {
            events,
            replies: Vec::new(),
            close_input: false,
        }
    }

    /// A batch of one event.
    pub fn one(event: AgentEvent) -> Self {
        Self::events(vec![event])
    }

    /// Appends an event.
    pub fn push(&mut self, event: AgentEvent) {
        self.events.push(event);
    }

    /// True when there is nothing in the batch.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.replies.is_empty() && !self.close_input
    }

    /// Ends the agent's turn as failed: an error event and a failed final result, both saying
    /// `message`, and standard input closed (for agents that wait for more input).
    pub fn fail_turn(&mut self, message: String) {
        self.push(AgentEvent::Error {
            message: message.clone(),
        });
        self.push(AgentEvent::FinalResult(FinalResult {
            text: message,
            is_error: true,
        }));
        self.close_input = true;
    }

    /// Appends another batch: its events and replies after these; input closes if either says so.
    pub fn extend(&mut self, other: OutputBatch) {
        self.events.extend(other.events);
        self.replies.extend(other.replies);
        self.close_input |= other.close_input;
    }
}

impl From<Vec<AgentEvent>> for OutputBatch {
    fn from(events: Vec<AgentEvent>) -> Self {
        Self::events(events)
    }
}

/// What a dialog on the agent's screen asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialogKind {
    /// May the agent work in this folder; the host accepts it for its own worktrees only.
    FolderTrust,
    /// May the agent run one tool call; answered like an approval request.
    Permission,
    /// Anything else; the user answers it.
    Question,
}

/// A dialog on the agent's screen and the keys that answer it; each key list is written as
/// separate writes, in order, with a short pause between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenDialog {
    /// What it asks.
    pub kind: DialogKind,
    /// The question as shown.
    pub question: String,
    /// A permission dialog's tool, in the agent's naming.
    pub tool: Option<String>,
    /// What the call acts on as shown, as JSON text (`{}` when the screen does not say).
    pub input: String,
    /// The writes that accept.
    pub accept: Vec<Vec<u8>>,
    /// The writes that accept calls like this one for the rest of the session, if offered.
    pub accept_always: Option<Vec<Vec<u8>>>,
    /// The writes that decline.
    pub decline: Vec<Vec<u8>>,
}

/// What an agent's terminal screen says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum ScreenState {
    /// At its prompt, nothing running.
    Idle,
    /// Working.
    Busy,
    /// Asking the user something in free text; the text is the question shown.
    WaitingForInput(String),
    /// Showing a dialog with fixed answers.
    Dialog(ScreenDialog),
}

/// The user's answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum ApprovalDecision {
    /// Allow this call.
    Allow,
    /// Allow this and similar calls for the rest of the session.
    AllowAlways,
    /// Refuse the call.
    Deny,
    /// Neither: end the agent's turn without running the call; the user decides later and
    /// the host continues the session with the decision.
    Defer,
}

/// An expected failure of an adapter call other than building the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "kind",
    content = "message"
)]
pub enum AdapterError {
    /// The call is not supported by this provider.
    Unsupported(String),
    /// The input could not be handled.
    InvalidInput(String),
}

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported(what) => write!(f, "not supported: {what}"),
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// Identity of a signal parser plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParserInfo {
    /// Stable id used in recipes (`signals: signals-default`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// One line describing the format it reads.
    pub description: String,
}

/// Where a stage sits in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageContext {
    /// The stage that produced the text.
    pub stage_id: String,
    /// Stages that would run after this one, in plan order.
    pub following_stages: Vec<String>,
    /// 1 for the first attempt of the stage.
    pub attempt: u32,
}

/// What the workflow should do after a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "action",
    content = "detail"
)]
pub enum NextAction {
    /// Go on to the next stage.
    Proceed,
    /// Stop and ask the user these questions.
    AwaitUser(Vec<String>),
    /// Skip these stages, then go on.
    Skip(Vec<String>),
    /// Run the stage again, for this reason.
    Retry(String),
}

/// How hard a stage judged the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Complexity {
    /// Small and clear.
    Low,
    /// Some moving parts.
    Medium,
    /// Large or risky.
    High,
}

/// The signals of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSignals {
    /// What to do next.
    pub action: NextAction,
    /// The stage's estimate of the task's complexity.
    pub complexity: Option<Complexity>,
    /// Things the stage was unsure about.
    pub uncertainties: Vec<String>,
    /// True when the text carried an explicit signal block.
    pub explicit: bool,
}

impl StageSignals {
    /// The signals of a stage that said nothing: proceed.
    pub fn proceed() -> Self {
        Self {
            action: NextAction::Proceed,
            complexity: None,
            uncertainties: Vec::new(),
            explicit: false,
        }
    }
}

/// An expected failure of a signal parser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum SignalError {
    /// The text has a signal block that cannot be read.
    Malformed {
        /// 1-based line in the stage's text.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The block is readable but names something impossible.
    Invalid {
        /// What is wrong.
        message: String,
    },
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed { line, message } => write!(f, "signal block, line {line}: {message}"),
            Self::Invalid { message } => write!(f, "signal block: {message}"),
        }
    }
}

impl std::error::Error for SignalError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(options: &[(&str, &str)]) -> Invocation {
        options
            .iter()
            .fold(Invocation::new("p", "/w"), |inv, (k, v)| {
                inv.with_option(*k, *v)
            })
    }

    fn message(result: Result<impl std::fmt::Debug, BuildError>, key: &str) -> String {
        match result {
            Err(BuildError::InvalidOption { key: got, message }) if got == key => message,
            other => panic!("expected an invalid `{key}`, got {other:?}"),
        }
    }

    #[test]
    fn with_option_appends_in_order() {
        let inv = invocation(&[("a", "1"), ("b", "\"x\"")]);
        assert_eq!(
            inv.options,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "\"x\"".to_owned())
            ]
        );
        assert_eq!(inv.raw_option("b"), Some("\"x\""));
        assert_eq!(inv.raw_option("c"), None);
    }

    #[test]
    fn invalid_option_builds_the_variant() {
        let err = BuildError::invalid_option("k", "is wrong");
        assert_eq!(
            err,
            BuildError::InvalidOption {
                key: "k".to_owned(),
                message: "is wrong".to_owned()
            }
        );
        assert_eq!(err.to_string(), "option `k`: is wrong");
    }

    #[test]
    fn choice_accepts_only_the_listed_strings() {
        let inv = invocation(&[
            ("mode", "\"plan\""),
            ("bad", "\"nope\""),
            ("number", "3"),
            ("broken", "{"),
        ]);
        let accepted = &["plan", "auto"];
        assert_eq!(inv.choice("mode", accepted), Ok(Some("plan".to_owned())));
        assert_eq!(inv.choice("unset", accepted), Ok(None));
        assert_eq!(
            message(inv.choice("bad", accepted), "bad"),
            "`nope` must be one of plan, auto"
        );
        assert_eq!(
            message(inv.choice("number", accepted), "number"),
            "3 must be one of plan, auto"
        );
        assert!(message(inv.choice("broken", accepted), "broken").starts_with("cannot read {"));
    }

    #[test]
    fn bool_option_defaults_to_false() {
        let inv = invocation(&[("on", "true"), ("off", "false"), ("text", "\"yes\"")]);
        assert_eq!(inv.bool_option("on"), Ok(true));
        assert_eq!(inv.bool_option("off"), Ok(false));
        assert_eq!(inv.bool_option("unset"), Ok(false));
        assert!(message(inv.bool_option("text"), "text").starts_with("cannot read \"yes\""));
    }

    #[test]
    fn string_list_defaults_to_empty() {
        let inv = invocation(&[
            ("args", r#"["-v","--x"]"#),
            ("one", "\"-v\""),
            ("mixed", "[1]"),
        ]);
        assert_eq!(
            inv.string_list("args"),
            Ok(vec!["-v".to_owned(), "--x".to_owned()])
        );
        assert_eq!(inv.string_list("unset"), Ok(Vec::new()));
        assert!(message(inv.string_list("one"), "one").starts_with("cannot read"));
        assert!(message(inv.string_list("mixed"), "mixed").starts_with("cannot read"));
    }

    #[test]
    fn other_events_have_kebab_case_kinds() {
        for (kind, expected) in [
            ("api_retry", "api-retry"),
            ("item.updated", "item-updated"),
            ("a/b c", "a-b-c"),
            ("Status", "status"),
            ("rate-limit", "rate-limit"),
            ("", "unknown"),
        ] {
            assert_eq!(
                AgentEvent::other(kind, String::from("{}")),
                AgentEvent::Other {
                    kind: expected.to_owned(),
                    data: "{}".to_owned()
                },
                "{kind}"
            );
        }
    }

    #[test]
    fn unknown_options_are_rejected_by_name() {
        let inv = invocation(&[("known", "1"), ("typo", "2")]);
        assert_eq!(inv.reject_unknown_options(&["known", "typo"]), Ok(()));
        assert_eq!(
            message(inv.reject_unknown_options(&["known"]), "typo"),
            "unknown option; this provider knows: known"
        );
        assert_eq!(
            message(inv.reject_unknown_options(&[]), "known"),
            "this provider takes no options"
        );
    }
}
