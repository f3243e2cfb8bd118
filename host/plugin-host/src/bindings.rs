//! Typed bindings of the plugin worlds and their conversion to the SDK's plain types.
//!
//! Providers are linked in two versions side by side: `codecafe:provider@0.2.0` (the current
//! one) and `codecafe:provider@0.1.0` (plugins built before 0.2: they declare no requirements,
//! get no permission policy and report no denials). The rest of codecafe never sees a wasmtime
//! type: values cross into [`codecafe_sdk::types`] here, in one place.

use codecafe_sdk::types as sdk;

/// Bindings of `codecafe:provider/provider@0.2.0`.
pub(crate) mod provider {
    wasmtime::component::bindgen!({
        path: "../../wit/provider",
        world: "codecafe:provider/provider@0.2.0",
    });
}

/// Bindings of `codecafe:provider/provider@0.1.0`.
pub(crate) mod provider_v1 {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/provider@0.1.0",
        world: "codecafe:provider/provider@0.1.0",
    });
}

/// Bindings of `codecafe:signals/signal-parser@0.1.0`.
pub(crate) mod signals {
    wasmtime::component::bindgen!({
        path: "../../wit/signals",
        world: "codecafe:signals/signal-parser@0.1.0",
    });
}

use signals::exports::codecafe::signals::parser as wit_signals;

/// The token counts and cost of a WIT `usage` of either version, as an SDK `Usage` whose
/// session-total flags are false (a 0.1 plugin's figures are its run's).
macro_rules! usage_counts {
    ($u:expr) => {
        sdk::Usage {
            input_tokens: $u.input_tokens,
            output_tokens: $u.output_tokens,
            cached_input_tokens: $u.cached_input_tokens,
            cache_write_tokens: $u.cache_write_tokens,
            cost_usd: $u.cost_usd,
            cost_is_session_total: false,
            tokens_are_session_total: false,
        }
    };
}

/// The conversions both provider versions share (their types have the same names and shapes
/// where they overlap), generated once per version's module.
macro_rules! shared_conversions {
    ($wit:path) => {
        use codecafe_sdk::types as sdk;
        use $wit as wit;

        pub(crate) fn mode_from_wit(mode: wit::Mode) -> sdk::Mode {
            match mode {
                wit::Mode::Headless => sdk::Mode::Headless,
                wit::Mode::Interactive => sdk::Mode::Interactive,
            }
        }

        pub(crate) fn mode_to_wit(mode: sdk::Mode) -> wit::Mode {
            match mode {
                sdk::Mode::Headless => wit::Mode::Headless,
                sdk::Mode::Interactive => wit::Mode::Interactive,
            }
        }

        pub(crate) fn capabilities_from_wit(flags: wit::Capabilities) -> sdk::Capabilities {
            sdk::Capabilities {
                resume: flags.contains(wit::Capabilities::RESUME),
                fork: flags.contains(wit::Capabilities::FORK),
                live_input: flags.contains(wit::Capabilities::LIVE_INPUT),
                approvals: flags.contains(wit::Capabilities::APPROVALS),
                usage: flags.contains(wit::Capabilities::USAGE),
                cost: flags.contains(wit::Capabilities::COST),
                screen_check: flags.contains(wit::Capabilities::SCREEN_CHECK),
            }
        }

        pub(crate) fn session_to_wit(s: &Option<sdk::SessionRef>) -> Option<wit::SessionRef> {
            s.as_ref().map(|s| wit::SessionRef {
                id: s.id.clone(),
                fork: s.fork,
            })
        }

        /// A command spec's fields both versions have, with `transcript` as given.
        fn command_fields(
            program: String,
            args: Vec<String>,
            env: Vec<(String, String)>,
            stdin: wit::StdinSpec,
            io: wit::IoKind,
            transcript: Vec<String>,
        ) -> sdk::CommandSpec {
            sdk::CommandSpec {
                program,
                args,
                env,
                stdin: match stdin {
                    wit::StdinSpec::Closed => sdk::Stdin::Closed,
                    wit::StdinSpec::Bytes(b) => sdk::Stdin::Bytes(b),
                    wit::StdinSpec::KeepOpen(b) => sdk::Stdin::KeepOpen(b),
                },
                io: match io {
                    wit::IoKind::Pipes => sdk::Io::Pipes,
                    wit::IoKind::Pty => sdk::Io::Pty,
                },
                transcript,
            }
        }

        pub(crate) fn build_error_from_wit(e: wit::BuildError) -> sdk::BuildError {
            match e {
                wit::BuildError::InvalidOption(p) => sdk::BuildError::InvalidOption {
                    key: p.key,
                    message: p.message,
                },
                wit::BuildError::UnsupportedMode(mode) => sdk::BuildError::UnsupportedMode {
                    mode: mode_from_wit(mode),
                },
                wit::BuildError::Unsupported(message) => sdk::BuildError::Unsupported { message },
                wit::BuildError::InvalidInvocation(message) => {
                    sdk::BuildError::InvalidInvocation { message }
                }
            }
        }

        pub(crate) fn stream_to_wit(s: sdk::Stream) -> wit::OutputStream {
            match s {
                sdk::Stream::Stdout => wit::OutputStream::Stdout,
                sdk::Stream::Stderr => wit::OutputStream::Stderr,
            }
        }

        pub(crate) fn adapter_error_from_wit(e: wit::AdapterError) -> sdk::AdapterError {
            match e {
                wit::AdapterError::Unsupported(m) => sdk::AdapterError::Unsupported(m),
                wit::AdapterError::InvalidInput(m) => sdk::AdapterError::InvalidInput(m),
            }
        }

        pub(crate) fn batch_from_wit(b: wit::OutputBatch) -> sdk::OutputBatch {
            sdk::OutputBatch {
                events: b.events.into_iter().map(event_from_wit).collect(),
                replies: b.replies,
                close_input: b.close_input,
            }
        }

        /// The events both versions have; `None` for a version's own.
        fn shared_event_from_wit(e: wit::AgentEvent) -> Result<sdk::AgentEvent, wit::AgentEvent> {
            use sdk::AgentEvent as E;
            Ok(match e {
                wit::AgentEvent::SessionStarted(id) => E::SessionStarted { id },
                wit::AgentEvent::AssistantText(text) => E::AssistantText { text },
                wit::AgentEvent::Thinking(text) => E::Thinking { text },
                wit::AgentEvent::ToolCall(t) => E::ToolCall(sdk::ToolCall {
                    id: t.id,
                    name: t.name,
                    input: t.input,
                }),
                wit::AgentEvent::ToolResult(t) => E::ToolResult(sdk::ToolResult {
                    id: t.id,
                    output: t.output,
                    is_error: t.is_error,
                }),
                wit::AgentEvent::FileChange(f) => E::FileChange(sdk::FileChange {
                    path: f.path,
                    kind: match f.kind {
                        wit::ChangeKind::Add => sdk::ChangeKind::Add,
                        wit::ChangeKind::Update => sdk::ChangeKind::Update,
                        wit::ChangeKind::Delete => sdk::ChangeKind::Delete,
                    },
                }),
                wit::AgentEvent::FinalResult(r) => E::FinalResult(sdk::FinalResult {
                    text: r.text,
                    is_error: r.is_error,
                }),
                wit::AgentEvent::Error(message) => E::Error { message },
                wit::AgentEvent::Log(text) => E::Log { text },
                wit::AgentEvent::Other(o) => E::Other {
                    kind: o.kind,
                    data: o.data,
                },
                #[allow(unreachable_patterns)]
                other => return Err(other),
            })
        }
    };
}

/// The current provider version, `0.2.0`.
pub(crate) mod v2 {
    shared_conversions!(super::provider::exports::codecafe::provider::adapter);

    pub(crate) fn command_from_wit(c: wit::CommandSpec) -> sdk::CommandSpec {
        command_fields(c.program, c.args, c.env, c.stdin, c.io, c.transcript)
    }

    pub(crate) fn screen_from_wit(s: wit::ScreenState) -> sdk::ScreenState {
        match s {
            wit::ScreenState::Idle => sdk::ScreenState::Idle,
            wit::ScreenState::Busy => sdk::ScreenState::Busy,
            wit::ScreenState::WaitingForInput(q) => sdk::ScreenState::WaitingForInput(q),
            wit::ScreenState::Dialog(d) => sdk::ScreenState::Dialog(sdk::ScreenDialog {
                kind: match d.kind {
                    wit::DialogKind::FolderTrust => sdk::DialogKind::FolderTrust,
                    wit::DialogKind::Permission => sdk::DialogKind::Permission,
                    wit::DialogKind::Question => sdk::DialogKind::Question,
                },
                question: d.question,
                tool: d.tool,
                input: d.input,
                accept: d.accept,
                accept_always: d.accept_always,
                decline: d.decline,
            }),
        }
    }

    pub(crate) fn info_from_wit(info: wit::ProviderInfo) -> sdk::ProviderInfo {
        sdk::ProviderInfo {
            id: info.id,
            name: info.name,
            version: info.version,
            description: info.description,
            modes: info.modes.into_iter().map(mode_from_wit).collect(),
            capabilities: capabilities_from_wit(info.capabilities),
            requirements: sdk::Requirements {
                programs: info.requirements.programs,
                env: info.requirements.env,
            },
            readiness: info.readiness.map(|r| sdk::Readiness {
                program: r.program,
                version_args: r.version_args,
                tested_versions: r.tested_versions,
                login_check: r.login_check,
                login_env: r.login_env,
                login_hint: r.login_hint,
                model_config: r.model_config.map(|m| sdk::ModelConfig {
                    files: m.files,
                    key: m.key,
                }),
            }),
        }
    }

    pub(crate) fn invocation_to_wit(i: &sdk::Invocation) -> wit::Invocation {
        wit::Invocation {
            prompt: i.prompt.clone(),
            working_dir: i.working_dir.clone(),
            model: i.model.clone(),
            mode: mode_to_wit(i.mode),
            session: session_to_wit(&i.session),
            system_prompt: i.system_prompt.clone(),
            policy: wit::Policy {
                level: match i.policy.level {
                    sdk::PermissionLevel::ReadOnly => wit::PermissionLevel::ReadOnly,
                    sdk::PermissionLevel::Edit => wit::PermissionLevel::Edit,
                    sdk::PermissionLevel::Full => wit::PermissionLevel::Full,
                },
                approvals: match i.policy.approvals {
                    sdk::ApprovalPolicy::Ask => wit::ApprovalPolicy::Ask,
                    sdk::ApprovalPolicy::Deny => wit::ApprovalPolicy::Deny,
                },
                allowed_commands: i.policy.allowed_commands.clone(),
                sandbox_available: i.policy.sandbox_available,
            },
            options: i.options.clone(),
            session_id: i.session_id.clone(),
        }
    }

    pub(crate) fn event_from_wit(e: wit::AgentEvent) -> sdk::AgentEvent {
        match shared_event_from_wit(e) {
            Ok(event) => event,
            Err(wit::AgentEvent::Usage(u)) => sdk::AgentEvent::Usage(sdk::Usage {
                cost_is_session_total: u.cost_is_session_total,
                tokens_are_session_total: u.tokens_are_session_total,
                ..usage_counts!(u)
            }),
            Err(wit::AgentEvent::ToolDenied(d)) => sdk::AgentEvent::ToolDenied(sdk::ToolDenial {
                id: d.id,
                tool: d.tool,
                input: d.input,
                reason: d.reason,
            }),
            Err(wit::AgentEvent::ApprovalRequest(a)) => {
                sdk::AgentEvent::ApprovalRequest(sdk::ApprovalRequest {
                    id: a.id,
                    tool: a.tool,
                    input: a.input,
                    description: a.description,
                    rule: a.rule,
                })
            }
            // Every other case is shared.
            Err(_) => sdk::AgentEvent::other("unknown", "{}"),
        }
    }

    pub(crate) fn decision_to_wit(d: sdk::ApprovalDecision) -> wit::ApprovalDecision {
        match d {
            sdk::ApprovalDecision::Allow => wit::ApprovalDecision::Allow,
            sdk::ApprovalDecision::AllowAlways => wit::ApprovalDecision::AllowAlways,
            sdk::ApprovalDecision::Deny => wit::ApprovalDecision::Deny,
            sdk::ApprovalDecision::Defer => wit::ApprovalDecision::Defer,
        }
    }
}

/// The previous provider version, `0.1.0`.
pub(crate) mod v1 {
    shared_conversions!(super::provider_v1::exports::codecafe::provider::adapter);

    /// A 0.1 plugin names no transcript.
    pub(crate) fn command_from_wit(c: wit::CommandSpec) -> sdk::CommandSpec {
        command_fields(c.program, c.args, c.env, c.stdin, c.io, Vec::new())
    }

    /// A 0.1 plugin knows no dialogs.
    pub(crate) fn screen_from_wit(s: wit::ScreenState) -> sdk::ScreenState {
        match s {
            wit::ScreenState::Idle => sdk::ScreenState::Idle,
            wit::ScreenState::Busy => sdk::ScreenState::Busy,
            wit::ScreenState::WaitingForInput(q) => sdk::ScreenState::WaitingForInput(q),
        }
    }

    /// A 0.1 plugin declares no requirements and names no readiness check.
    pub(crate) fn info_from_wit(info: wit::ProviderInfo) -> sdk::ProviderInfo {
        sdk::ProviderInfo {
            id: info.id,
            name: info.name,
            version: info.version,
            description: info.description,
            modes: info.modes.into_iter().map(mode_from_wit).collect(),
            capabilities: capabilities_from_wit(info.capabilities),
            requirements: sdk::Requirements::default(),
            readiness: None,
        }
    }

    /// A 0.1 plugin gets no permission policy (it did not know of one).
    pub(crate) fn invocation_to_wit(i: &sdk::Invocation) -> wit::Invocation {
        wit::Invocation {
            prompt: i.prompt.clone(),
            working_dir: i.working_dir.clone(),
            model: i.model.clone(),
            mode: mode_to_wit(i.mode),
            session: session_to_wit(&i.session),
            system_prompt: i.system_prompt.clone(),
            options: i.options.clone(),
        }
    }

    /// A 0.1 plugin's cost is its run's.
    pub(crate) fn event_from_wit(e: wit::AgentEvent) -> sdk::AgentEvent {
        match shared_event_from_wit(e) {
            Ok(event) => event,
            Err(wit::AgentEvent::Usage(u)) => sdk::AgentEvent::Usage(usage_counts!(u)),
            Err(wit::AgentEvent::ApprovalRequest(a)) => {
                sdk::AgentEvent::ApprovalRequest(sdk::ApprovalRequest {
                    id: a.id,
                    tool: a.tool,
                    input: a.input,
                    description: a.description,
                    rule: None,
                })
            }
            // Every other case is shared.
            Err(_) => sdk::AgentEvent::other("unknown", "{}"),
        }
    }

    /// 0.1 has no `defer`: the call is refused (the user decides later all the same).
    pub(crate) fn decision_to_wit(d: sdk::ApprovalDecision) -> wit::ApprovalDecision {
        match d {
            sdk::ApprovalDecision::Allow => wit::ApprovalDecision::Allow,
            sdk::ApprovalDecision::AllowAlways => wit::ApprovalDecision::AllowAlways,
            sdk::ApprovalDecision::Deny | sdk::ApprovalDecision::Defer => {
                wit::ApprovalDecision::Deny
            }
        }
    }
}

/// Bytes of text and data in a batch, to enforce the per-call output cap.
pub(crate) fn batch_size(b: &sdk::OutputBatch) -> usize {
    use sdk::AgentEvent as E;
    let events: usize = b
        .events
        .iter()
        .map(|e| match e {
            E::SessionStarted { id: s }
            | E::AssistantText { text: s }
            | E::Thinking { text: s }
            | E::Error { message: s }
            | E::Log { text: s } => s.len(),
            E::ToolCall(t) => t.id.len() + t.name.len() + t.input.len(),
            E::ToolResult(t) => t.id.len() + t.output.len(),
            E::FileChange(f) => f.path.len(),
            E::Usage(_) => 40,
            E::FinalResult(r) => r.text.len(),
            E::ApprovalRequest(a) => {
                a.id.len()
                    + a.tool.len()
                    + a.input.len()
                    + a.description.len()
                    + a.rule.as_ref().map_or(0, String::len)
            }
            E::ToolDenied(d) => d.id.len() + d.tool.len() + d.input.len() + d.reason.len(),
            E::Other { kind, data } => kind.len() + data.len(),
        })
        .sum();
    events + b.replies.iter().map(Vec::len).sum::<usize>()
}

pub(crate) fn parser_info_from_wit(i: wit_signals::ParserInfo) -> sdk::ParserInfo {
    sdk::ParserInfo {
        id: i.id,
        name: i.name,
        version: i.version,
        description: i.description,
    }
}

pub(crate) fn context_to_wit(c: &sdk::StageContext) -> wit_signals::StageContext {
    wit_signals::StageContext {
        stage_id: c.stage_id.clone(),
        following_stages: c.following_stages.clone(),
        attempt: c.attempt,
    }
}

pub(crate) fn signals_size(
    r: &Result<wit_signals::StageSignals, wit_signals::ParseError>,
) -> usize {
    match r {
        Ok(s) => {
            let action = match &s.action {
                wit_signals::NextAction::Proceed => 0,
                wit_signals::NextAction::AwaitUser(l) | wit_signals::NextAction::Skip(l) => {
                    l.iter().map(String::len).sum()
                }
                wit_signals::NextAction::Retry(r) => r.len(),
            };
            action + s.uncertainties.iter().map(String::len).sum::<usize>()
        }
        Err(wit_signals::ParseError::Malformed(m)) => m.message.len(),
        Err(wit_signals::ParseError::Invalid(m)) => m.len(),
    }
}

pub(crate) fn signals_from_wit(
    r: Result<wit_signals::StageSignals, wit_signals::ParseError>,
) -> Result<sdk::StageSignals, sdk::SignalError> {
    match r {
        Ok(s) => Ok(sdk::StageSignals {
            action: match s.action {
                wit_signals::NextAction::Proceed => sdk::NextAction::Proceed,
                wit_signals::NextAction::AwaitUser(q) => sdk::NextAction::AwaitUser(q),
                wit_signals::NextAction::Skip(ids) => sdk::NextAction::Skip(ids),
                wit_signals::NextAction::Retry(r) => sdk::NextAction::Retry(r),
            },
            complexity: s.complexity.map(|c| match c {
                wit_signals::Complexity::Low => sdk::Complexity::Low,
                wit_signals::Complexity::Medium => sdk::Complexity::Medium,
                wit_signals::Complexity::High => sdk::Complexity::High,
            }),
            uncertainties: s.uncertainties,
            explicit: s.explicit,
        }),
        Err(wit_signals::ParseError::Malformed(m)) => Err(sdk::SignalError::Malformed {
            line: m.line,
            message: m.message,
        }),
        Err(wit_signals::ParseError::Invalid(message)) => {
            Err(sdk::SignalError::Invalid { message })
        }
    }
}
