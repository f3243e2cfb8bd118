//! Glue between the SDK's plain types and the WIT bindings; used by the export macros only.
//!
//! On `wasm32` this module holds the `wit-bindgen` bindings of both plugin worlds and implements
//! their `Guest` traits for any type the export macros mark with [`HasProvider`] or
//! [`HasSignalParser`]. Off `wasm32` it only declares those traits, so plugin crates build and
//! test natively.

use crate::{Provider, SignalParser};

/// Gives the generated `Guest` implementation access to the plugin's one instance.
pub trait HasProvider {
    /// The plugin's provider type.
    type Provider: Provider;
    /// Runs `f` on the instance, creating it with `Default` on first use.
    fn with<R>(f: impl FnOnce(&mut Self::Provider) -> R) -> R;
}

/// Gives the generated `Guest` implementation access to the plugin's one instance.
pub trait HasSignalParser {
    /// The plugin's parser type.
    type Parser: SignalParser;
    /// Runs `f` on the instance, creating it with `Default` on first use.
    fn with<R>(f: impl FnOnce(&mut Self::Parser) -> R) -> R;
}

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs, clippy::all)]
mod wasm {
    pub mod provider_bindings {
        wit_bindgen::generate!({
            path: "../wit/provider",
            world: "codecafe:provider/provider@0.2.0",
            runtime_path: "::codecafe_sdk::__private::wit_bindgen::rt",
            bitflags_path: "::codecafe_sdk::__private::wit_bindgen::rt::bitflags",
            pub_export_macro: true,
            export_macro_name: "export_provider_world",
            default_bindings_module: "::codecafe_sdk::__private::provider_bindings",
        });
    }

    pub mod signals_bindings {
        wit_bindgen::generate!({
            path: "../wit/signals",
            world: "codecafe:signals/signal-parser@0.1.0",
            runtime_path: "::codecafe_sdk::__private::wit_bindgen::rt",
            pub_export_macro: true,
            export_macro_name: "export_signals_world",
            default_bindings_module: "::codecafe_sdk::__private::signals_bindings",
        });
    }

    pub use provider_bindings::export_provider_world;
    pub use signals_bindings::export_signals_world;
    pub use wit_bindgen;

    use super::{HasProvider, HasSignalParser};
    use crate::types as sdk;
    use crate::{Provider, SignalParser};
    use provider_bindings::exports::codecafe::provider::adapter as wit;
    use signals_bindings::exports::codecafe::signals::parser as wit_signals;

    impl<T: HasProvider> wit::Guest for T {
        fn info() -> wit::ProviderInfo {
            T::with(|p| info_to_wit(p.info()))
        }

        fn build_command(invocation: wit::Invocation) -> Result<wit::CommandSpec, wit::BuildError> {
            let invocation = invocation_from_wit(invocation);
            T::with(|p| p.build_command(&invocation))
                .map(command_to_wit)
                .map_err(build_error_to_wit)
        }

        fn parse_output(source: wit::OutputStream, lines: String) -> wit::OutputBatch {
            let source = match source {
                wit::OutputStream::Stdout => sdk::Stream::Stdout,
                wit::OutputStream::Stderr => sdk::Stream::Stderr,
            };
            batch_to_wit(T::with(|p| {
                let mut split = lines.split('\n');
                let first = split.next().unwrap_or_default();
                let mut batch = p.parse_output(source, first);
                for line in split {
                    batch.extend(p.parse_output(source, line));
                }
                batch
            }))
        }

        fn finish_output(exit_code: Option<i32>) -> wit::OutputBatch {
            batch_to_wit(T::with(|p| p.finish_output(exit_code)))
        }

        fn encode_input(text: String) -> Result<Vec<u8>, wit::AdapterError> {
            T::with(|p| p.encode_input(&text)).map_err(adapter_error_to_wit)
        }

        fn encode_approval(
            request_id: String,
            decision: wit::ApprovalDecision,
            reason: Option<String>,
        ) -> Result<Vec<u8>, wit::AdapterError> {
            let decision = match decision {
                wit::ApprovalDecision::Allow => sdk::ApprovalDecision::Allow,
                wit::ApprovalDecision::AllowAlways => sdk::ApprovalDecision::AllowAlways,
                wit::ApprovalDecision::Deny => sdk::ApprovalDecision::Deny,
                wit::ApprovalDecision::Defer => sdk::ApprovalDecision::Defer,
            };
            T::with(|p| p.encode_approval(&request_id, decision, reason.as_deref()))
                .map_err(adapter_error_to_wit)
        }

        fn check_screen(screen: String, title: String) -> wit::ScreenState {
            match T::with(|p| p.check_screen(&screen, &title)) {
                sdk::ScreenState::Idle => wit::ScreenState::Idle,
                sdk::ScreenState::Busy => wit::ScreenState::Busy,
                sdk::ScreenState::WaitingForInput(q) => wit::ScreenState::WaitingForInput(q),
                sdk::ScreenState::Dialog(d) => wit::ScreenState::Dialog(wit::ScreenDialog {
                    kind: match d.kind {
                        sdk::DialogKind::FolderTrust => wit::DialogKind::FolderTrust,
                        sdk::DialogKind::Permission => wit::DialogKind::Permission,
                        sdk::DialogKind::Question => wit::DialogKind::Question,
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

        fn parse_transcript(lines: String) -> wit::OutputBatch {
            batch_to_wit(T::with(|p| {
                let mut batch = sdk::OutputBatch::default();
                for line in lines.split('\n') {
                    batch.extend(p.parse_transcript(line));
                }
                batch
            }))
        }
    }

    fn mode_to_wit(mode: sdk::Mode) -> wit::Mode {
        match mode {
            sdk::Mode::Headless => wit::Mode::Headless,
            sdk::Mode::Interactive => wit::Mode::Interactive,
        }
    }

    fn info_to_wit(info: sdk::ProviderInfo) -> wit::ProviderInfo {
        let c = info.capabilities;
        let mut flags = wit::Capabilities::empty();
        for (on, flag) in [
            (c.resume, wit::Capabilities::RESUME),
            (c.fork, wit::Capabilities::FORK),
            (c.live_input, wit::Capabilities::LIVE_INPUT),
            (c.approvals, wit::Capabilities::APPROVALS),
            (c.usage, wit::Capabilities::USAGE),
            (c.cost, wit::Capabilities::COST),
            (c.screen_check, wit::Capabilities::SCREEN_CHECK),
        ] {
            if on {
                flags |= flag;
            }
        }
        wit::ProviderInfo {
            id: info.id,
            name: info.name,
            version: info.version,
            description: info.description,
            modes: info.modes.into_iter().map(mode_to_wit).collect(),
            capabilities: flags,
            requirements: wit::Requirements {
                programs: info.requirements.programs,
                env: info.requirements.env,
            },
            readiness: info.readiness.map(|r| wit::Readiness {
                program: r.program,
                version_args: r.version_args,
                tested_versions: r.tested_versions,
                login_check: r.login_check,
                login_env: r.login_env,
                login_hint: r.login_hint,
                model_config: r.model_config.map(|m| wit::ModelConfig {
                    files: m.files,
                    key: m.key,
                }),
            }),
        }
    }

    fn invocation_from_wit(i: wit::Invocation) -> sdk::Invocation {
        sdk::Invocation {
            prompt: i.prompt,
            working_dir: i.working_dir,
            model: i.model,
            mode: match i.mode {
                wit::Mode::Headless => sdk::Mode::Headless,
                wit::Mode::Interactive => sdk::Mode::Interactive,
            },
            session: i.session.map(|s| sdk::SessionRef {
                id: s.id,
                fork: s.fork,
            }),
            system_prompt: i.system_prompt,
            policy: sdk::Policy {
                level: match i.policy.level {
                    wit::PermissionLevel::ReadOnly => sdk::PermissionLevel::ReadOnly,
                    wit::PermissionLevel::Edit => sdk::PermissionLevel::Edit,
                    wit::PermissionLevel::Full => sdk::PermissionLevel::Full,
                },
                approvals: match i.policy.approvals {
                    wit::ApprovalPolicy::Ask => sdk::ApprovalPolicy::Ask,
                    wit::ApprovalPolicy::Deny => sdk::ApprovalPolicy::Deny,
                },
                allowed_commands: i.policy.allowed_commands,
                sandbox_available: i.policy.sandbox_available,
            },
            options: i.options,
            session_id: i.session_id,
        }
    }

    fn command_to_wit(c: sdk::CommandSpec) -> wit::CommandSpec {
        wit::CommandSpec {
            program: c.program,
            args: c.args,
            env: c.env,
            stdin: match c.stdin {
                sdk::Stdin::Closed => wit::StdinSpec::Closed,
                sdk::Stdin::Bytes(b) => wit::StdinSpec::Bytes(b),
                sdk::Stdin::KeepOpen(b) => wit::StdinSpec::KeepOpen(b),
            },
            io: match c.io {
                sdk::Io::Pipes => wit::IoKind::Pipes,
                sdk::Io::Pty => wit::IoKind::Pty,
            },
            transcript: c.transcript,
        }
    }

    fn build_error_to_wit(e: sdk::BuildError) -> wit::BuildError {
        match e {
            sdk::BuildError::InvalidOption { key, message } => {
                wit::BuildError::InvalidOption(wit::OptionProblem { key, message })
            }
            sdk::BuildError::UnsupportedMode { mode } => {
                wit::BuildError::UnsupportedMode(mode_to_wit(mode))
            }
            sdk::BuildError::Unsupported { message } => wit::BuildError::Unsupported(message),
            sdk::BuildError::InvalidInvocation { message } => {
                wit::BuildError::InvalidInvocation(message)
            }
        }
    }

    fn adapter_error_to_wit(e: sdk::AdapterError) -> wit::AdapterError {
        match e {
            sdk::AdapterError::Unsupported(m) => wit::AdapterError::Unsupported(m),
            sdk::AdapterError::InvalidInput(m) => wit::AdapterError::InvalidInput(m),
        }
    }

    fn batch_to_wit(b: sdk::OutputBatch) -> wit::OutputBatch {
        wit::OutputBatch {
            events: b.events.into_iter().map(event_to_wit).collect(),
            replies: b.replies,
            close_input: b.close_input,
        }
    }

    fn event_to_wit(e: sdk::AgentEvent) -> wit::AgentEvent {
        use sdk::AgentEvent as E;
        match e {
            E::SessionStarted { id } => wit::AgentEvent::SessionStarted(id),
            E::AssistantText { text } => wit::AgentEvent::AssistantText(text),
            E::Thinking { text } => wit::AgentEvent::Thinking(text),
            E::ToolCall(t) => wit::AgentEvent::ToolCall(wit::ToolCall {
                id: t.id,
                name: t.name,
                input: t.input,
            }),
            E::ToolResult(t) => wit::AgentEvent::ToolResult(wit::ToolResult {
                id: t.id,
                output: t.output,
                is_error: t.is_error,
            }),
            E::FileChange(f) => wit::AgentEvent::FileChange(wit::FileChange {
                path: f.path,
                kind: match f.kind {
                    sdk::ChangeKind::Add => wit::ChangeKind::Add,
                    sdk::ChangeKind::Update => wit::ChangeKind::Update,
                    sdk::ChangeKind::Delete => wit::ChangeKind::Delete,
                },
            }),
            E::Usage(u) => wit::AgentEvent::Usage(wit::Usage {
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                cached_input_tokens: u.cached_input_tokens,
                cache_write_tokens: u.cache_write_tokens,
                cost_usd: u.cost_usd,
                cost_is_session_total: u.cost_is_session_total,
                tokens_are_session_total: u.tokens_are_session_total,
            }),
            E::FinalResult(r) => wit::AgentEvent::FinalResult(wit::FinalResult {
                text: r.text,
                is_error: r.is_error,
            }),
            E::Error { message } => wit::AgentEvent::Error(message),
            E::ApprovalRequest(a) => wit::AgentEvent::ApprovalRequest(wit::ApprovalRequest {
                id: a.id,
                tool: a.tool,
                input: a.input,
                description: a.description,
                rule: a.rule,
            }),
            E::ToolDenied(d) => wit::AgentEvent::ToolDenied(wit::ToolDenial {
                id: d.id,
                tool: d.tool,
                input: d.input,
                reason: d.reason,
            }),
            E::Log { text } => wit::AgentEvent::Log(text),
            E::Other { kind, data } => wit::AgentEvent::Other(wit::OtherEvent { kind, data }),
        }
    }

    impl<T: HasSignalParser> wit_signals::Guest for T {
        fn info() -> wit_signals::ParserInfo {
            let info = T::with(|p| p.info());
            wit_signals::ParserInfo {
                id: info.id,
                name: info.name,
                version: info.version,
                description: info.description,
            }
        }

        fn parse(
            text: String,
            context: wit_signals::StageContext,
        ) -> Result<wit_signals::StageSignals, wit_signals::ParseError> {
            let context = sdk::StageContext {
                stage_id: context.stage_id,
                following_stages: context.following_stages,
                attempt: context.attempt,
            };
            match T::with(|p| p.parse(&text, &context)) {
                Ok(s) => Ok(wit_signals::StageSignals {
                    action: match s.action {
                        sdk::NextAction::Proceed => wit_signals::NextAction::Proceed,
                        sdk::NextAction::AwaitUser(q) => wit_signals::NextAction::AwaitUser(q),
                        sdk::NextAction::Skip(ids) => wit_signals::NextAction::Skip(ids),
                        sdk::NextAction::Retry(r) => wit_signals::NextAction::Retry(r),
                    },
                    complexity: s.complexity.map(|c| match c {
                        sdk::Complexity::Low => wit_signals::Complexity::Low,
                        sdk::Complexity::Medium => wit_signals::Complexity::Medium,
                        sdk::Complexity::High => wit_signals::Complexity::High,
                    }),
                    uncertainties: s.uncertainties,
                    explicit: s.explicit,
                }),
                Err(sdk::SignalError::Malformed { line, message }) => {
                    Err(wit_signals::ParseError::Malformed(
                        wit_signals::MalformedSignals { line, message },
                    ))
                }
                Err(sdk::SignalError::Invalid { message }) => {
                    Err(wit_signals::ParseError::Invalid(message))
                }
            }
        }
    }
}
